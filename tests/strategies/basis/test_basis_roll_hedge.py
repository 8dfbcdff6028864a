"""The roll keeps the hedge, and the borrowing is seen (scenario basis/roll_hedge_rally: two rolls
on 4 %-up days in a rally, financed at 5 %/yr): the default `roll.sizing: spot_hedge` keeps the
net delta within 1 % of the spot; `old_leg_delta` is still selectable and drifts roll after roll;
the financing charges, the minimum cash and the gross leverage are recomputed from the exports."""

from __future__ import annotations

import csv
import io
import math
from functools import cache
from typing import Any

import pytest

from sim.core.instruments import binance_quarterly
from sim.run import RunResult, run
from sim.strategies.basis.book import BasisBook
from tests.strategies.basis.basis_outputs import result, table

RALLY = "basis/roll_hedge_rally"
ROLL_DAYS = ("2021-03-24", "2021-06-23")
CV = 100.0


@cache
def _with(overrides: tuple[tuple[str, Any], ...]) -> RunResult:
    return run(RALLY, dict(overrides))


def _rows(r: RunResult, name: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(r.exports[name])))
    for row in rows:
        for k, v in row.items():
            try:
                row[k] = float(v) if v != "" else math.nan
            except ValueError:
                pass
    return rows


def _error_after_rolls(daily: list[dict[str, Any]]) -> list[float]:
    by_day = {d["date"]: d for d in daily}
    return [by_day[day]["net_delta_pct_of_spot"] for day in ROLL_DAYS]


def test_the_default_roll_sizing_keeps_the_hedge_within_1pct_of_the_spot() -> None:
    s = result(RALLY).summary
    assert s["roll_sizing"] == "spot_hedge"
    assert [(r["day"], r["from"], r["to"]) for r in s["rolls"]] == [
        ("2021-03-24", "BTCUSD_210326", "BTCUSD_210625"), ("2021-06-23", "BTCUSD_210625", "BTCUSD_210924")]
    daily = table(RALLY, "daily_pnl_tracker.csv")
    spot = [d["spot_price"] for d in daily]
    assert spot[-1] > 1.35 * spot[0], "the market rallied"
    by_day = {d["date"]: d for d in daily}
    for day in ROLL_DAYS:  # each roll day rose about 4 %
        prev = daily[[d["date"] for d in daily].index(day) - 1]
        assert by_day[day]["spot_price"] > 1.03 * prev["spot_price"], day
    held = [d for d in daily if d["date"] < "2021-06-24"]  # every mark with the book on
    assert all(abs(d["net_delta_pct_of_spot"]) < 1.0 for d in held), [d["net_delta_pct_of_spot"] for d in held]
    assert s["rehedges"] == 0, "nothing for the end-of-day re-hedge to fix"
    # the new short's fills hedge what the roll set out to hedge: the whole spot (the only short rolls)
    fills = table(RALLY, "fills.csv")
    spot_btc = sum(f["qty"] for f in fills if f["symbol"] == "BTCUSDT" and f["side"] == "BUY")
    for roll in s["rolls"]:
        assert roll["hedge_target_btc"] == pytest.approx(spot_btc, rel=0.005)
        assert abs(roll["hedge_sold_btc"] - roll["hedge_target_btc"]) < 0.01 * spot_btc
        sold = [f for f in fills if f["symbol"] == roll["to"] and f["ts"].startswith(roll["day"])]
        assert sum(f["qty"] for f in sold) == roll["sold_contracts"]
        assert sum(f["qty"] * CV / f["price"] for f in sold) == pytest.approx(roll["hedge_sold_btc"], abs=1e-5)
        # after the roll the new short is the only one: the tracker's net delta is spot − its BTC hedge
        mark = by_day[roll["day"]]
        assert mark["net_delta_btc"] == pytest.approx(spot_btc - roll["hedge_sold_btc"], abs=1e-6)
        assert mark["net_delta_pct_of_spot"] == pytest.approx(100 * mark["net_delta_btc"] / spot_btc, rel=1e-9)


def test_the_old_leg_delta_rule_is_still_selectable_and_drifts_roll_after_roll() -> None:
    old = _with((("roll.sizing", "old_leg_delta"),))
    s = old.summary
    assert s["roll_sizing"] == "old_leg_delta"
    daily = _rows(old, "daily_pnl_tracker.csv")
    first, second = _error_after_rolls(daily)
    assert first > 1.0, "converted at the first minute, the new short hedges too little after a 4 % day"
    assert second > first + 1.0, "the error carries over and the second roll adds its own"
    # each roll carries the old leg's delta: the second roll's target is what the first one sold
    r1, r2 = s["rolls"]
    assert r2["hedge_target_btc"] == pytest.approx(r1["hedge_sold_btc"], abs=1e-6)
    default = result(RALLY).summary["rolls"]
    assert [r["sold_contracts"] for r in s["rolls"]] != [r["sold_contracts"] for r in default]
    default_first, default_second = _error_after_rolls(table(RALLY, "daily_pnl_tracker.csv"))
    assert abs(default_first) < first and abs(default_second) < second


def test_financing_is_charged_daily_on_negative_cash_and_is_in_the_value() -> None:
    s = result(RALLY).summary
    rate = s["financing_rate_annual"]
    assert rate == 0.05
    daily = table(RALLY, "daily_pnl_tracker.csv")
    prev_cost, charged_days = 0.0, 0
    for d in daily:
        charge = d["financing_cost_usd"] - prev_cost
        before = d["cash_usd"] + charge  # the charge is taken from cash at the mark
        assert charge == pytest.approx(max(0.0, -before) * rate / 365.0, abs=1e-6), d["date"]
        charged_days += charge > 0
        prev_cost = d["financing_cost_usd"]
    assert charged_days > 80 and s["financing_cost_usd"] == pytest.approx(prev_cost, abs=0.005)
    # financing changes no trade: on a small scenario the value with interest is the value without
    # it less the interest, every day (the daily PnL follows, see test_basis_accounting)
    neutral = "basis/year_end_roll_rally_neutral"
    charged = run(neutral, {"financing_rate_annual": 0.05})
    assert charged.exports["fills.csv"] == result(neutral).exports["fills.csv"]
    with_interest, free = _rows(charged, "daily_pnl_tracker.csv"), table(neutral, "daily_pnl_tracker.csv")
    assert with_interest[-1]["financing_cost_usd"] > 0 and free[-1]["financing_cost_usd"] == 0.0
    for a, b in zip(free, with_interest):
        assert a["portfolio_value_usd"] - b["portfolio_value_usd"] == pytest.approx(b["financing_cost_usd"], abs=1e-6)
    assert (result(neutral).summary["total_pnl_usd"] - charged.summary["total_pnl_usd"]
            == pytest.approx(charged.summary["financing_cost_usd"], abs=0.011))


def test_min_cash_and_peak_gross_leverage_match_the_exports() -> None:
    s = result(RALLY).summary
    daily = table(RALLY, "daily_pnl_tracker.csv")
    # the summary's minimum is over every fill and charge, so at most the lowest cash of any mark;
    # here it is the second roll's day, when the short's loss on the rally is paid out
    assert s["min_cash_usd"] <= min(d["cash_usd"] for d in daily) + 0.005
    assert s["min_cash_date"] == "2021-06-23" and s["min_cash_usd"] < -300_000
    # gross leverage at each mark from the positions rebuilt from the fills
    fills = table(RALLY, "fills.csv")
    qty: dict[str, float] = {}
    peak, i = (0.0, ""), 0
    for d in daily:
        # the day's mark is at 00:00 of the next day; the programs' fills of day d are all stamped on d
        while i < len(fills) and fills[i]["ts"][:10] <= d["date"]:
            f = fills[i]
            qty[f["symbol"]] = qty.get(f["symbol"], 0.0) + (f["qty"] if f["side"] == "BUY" else -f["qty"])
            i += 1
        gross = abs(qty.get("BTCUSDT", 0.0)) * d["spot_price"] + sum(
            abs(n) * CV for sym, n in qty.items() if sym != "BTCUSDT")
        lev = gross / d["portfolio_value_usd"]
        assert d["gross_leverage"] == pytest.approx(lev, rel=1e-9, abs=1e-12), d["date"]
        if lev > peak[0]:
            peak = (lev, d["date"])
    assert (s["peak_gross_leverage"], s["peak_gross_leverage_date"]) == (round(peak[0], 4), peak[1])
    assert s["peak_gross_leverage"] > 2.0, "the realized futures losses are paid with borrowed cash"


def test_the_book_charges_interest_only_on_negative_cash() -> None:
    book = BasisBook(1000.0, {"BTCUSD_210326": binance_quarterly("BTCUSD_210326")})
    assert book.charge_financing(0.05) == 0.0 and book.cash == 1000.0 and book.financing == 0.0
    book.spot_fill(+1, 0.1, 40_000.0, 4.0)  # 4,000 USD of spot and a 4 USD fee on 1,000 of capital
    assert book.cash == pytest.approx(-3004.0)
    assert book.charge_financing(0.0) == 0.0
    charge = book.charge_financing(0.05)
    assert charge == pytest.approx(3004.0 * 0.05 / 365) and book.financing == pytest.approx(charge)
    assert book.cash == pytest.approx(-3004.0 - charge)
    # the identity: value = capital + spot PnL − fees − financing
    assert book.value({}, 41_000.0) == pytest.approx(1000.0 + 100.0 - 4.0 - charge)
    assert book.gross_notional(41_000.0) == pytest.approx(4100.0)

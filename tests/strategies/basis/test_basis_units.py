"""Units of the basis trade (DESIGN §9): inverse PnL signs, the inverse-averaged entry, the
quarterly expiry calendar 2021–2027, and contract values (100 USD vs 1 USD)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.core.expiry import (binance_symbol, current_and_next, days_to_expiry, expiry_of_symbol, last_friday,
                              quarterly_expiry_ns)
from sim.core.instruments import binance_quarterly, bybit_inverse_quarterly
from sim.strategies.basis.inverse_ledger import InversePosition

Q1 = binance_quarterly("BTCUSD_210326")


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


# -- PnL signs (the seed's "Notes on PnL signs") ------------------------------------------------

@pytest.mark.parametrize(("side", "exit_px", "sign"), [
    (+1, 44_000.0, +1),  # long, price up: gain
    (+1, 36_000.0, -1),  # long, price down: loss
    (-1, 44_000.0, -1),  # short closed higher than entry: 1/exit < 1/entry → negative
    (-1, 36_000.0, +1),  # short closed lower than entry: positive
])
def test_inverse_pnl_signs(side: int, exit_px: float, sign: int) -> None:
    p = InversePosition(Q1)
    p.fill(side, 10, 40_000.0, spot_px=40_000.0)
    assert p.unrealized_btc(exit_px) * sign > 0
    r = p.fill(-side, 10, exit_px, spot_px=exit_px)
    assert r is not None and r.btc * sign > 0 and r.usd * sign > 0
    expected = side * 10 * 100 * (1 / 40_000.0 - 1 / exit_px)
    assert r.btc == pytest.approx(expected, rel=1e-12)
    assert r.usd == pytest.approx(expected * exit_px, rel=1e-12)
    assert p.contracts == 0 and p.realized_btc == pytest.approx(expected, rel=1e-12)


def test_seed_formula_for_a_short_buyback() -> None:
    # seed 001: BTC PnL = 100 × qty × (1/buyback − 1/entry) for a short of qty contracts
    p = InversePosition(Q1)
    p.fill(-1, 50, 50_000.0, spot_px=49_000.0)
    r = p.fill(+1, 20, 40_000.0, spot_px=39_500.0)
    assert r is not None and r.btc == pytest.approx(100 * 20 * (1 / 40_000 - 1 / 50_000), rel=1e-12)


# -- inverse-averaged entry -------------------------------------------------------------------

def test_entry_is_the_contract_weighted_average_of_inverse_prices() -> None:
    p = InversePosition(Q1)
    p.fill(-1, 10, 40_000.0, spot_px=40_000.0)
    p.fill(-1, 30, 50_000.0, spot_px=50_000.0)
    assert p.entry_inv == pytest.approx((10 / 40_000 + 30 / 50_000) / 40, rel=1e-15)
    assert p.entry_price == pytest.approx(40 / (10 / 40_000 + 30 / 50_000))  # harmonic, not 47 500
    before = p.entry_inv
    r = p.fill(+1, 15, 45_000.0, spot_px=45_000.0)  # a partial close does not move the average
    assert p.entry_inv == before and p.contracts == -25
    assert r is not None and r.btc == pytest.approx(-15 * 100 * (before - 1 / 45_000), rel=1e-12)
    p.fill(-1, 5, 60_000.0, spot_px=60_000.0)  # adding again does
    assert p.entry_inv == pytest.approx((25 * before + 5 / 60_000) / 30, rel=1e-15)


def test_a_fill_through_zero_closes_then_opens_at_its_price() -> None:
    p = InversePosition(Q1)
    p.fill(+1, 10, 40_000.0, spot_px=40_000.0)
    r = p.fill(-1, 25, 42_000.0, spot_px=42_000.0)
    assert r is not None and r.contracts == 10
    assert p.contracts == -15 and p.entry_price == pytest.approx(42_000.0)


@given(st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(1, 50), st.floats(20_000, 80_000)), min_size=1,
                max_size=30), st.floats(20_000, 80_000))
def test_btc_pnl_adds_up_whatever_the_path(fills: list[tuple[int, int, float]], mark: float) -> None:
    """Realized + unrealized BTC PnL = Σ over fills of −signed·CV/price + position·CV/mark, the
    inverse cash flow identity; it holds only with the inverse-averaged entry."""
    p = InversePosition(Q1)
    cash = 0.0
    for side, n, px in fills:
        p.fill(side, n, px, spot_px=px)
        cash += side * n * 100 / px  # BTC paid for a buy (inverse: a long pays CV/price per contract)
    total = p.realized_btc + p.unrealized_btc(mark)
    assert total == pytest.approx(cash - p.contracts * 100 / mark, rel=1e-9, abs=1e-9)


def test_fees_in_btc_on_the_notional_and_in_usd_at_spot() -> None:
    p = InversePosition(Q1)
    p.fill(-1, 10, 50_000.0, spot_px=49_900.0, fee_bps=5)
    assert p.fees_btc == pytest.approx(10 * 100 / 50_000 * 5 / 10_000)
    assert p.fees_usd == pytest.approx(p.fees_btc * 49_900.0)


def test_delta_models() -> None:
    p = InversePosition(Q1)
    p.fill(-1, 100, 50_000.0, spot_px=50_000.0)
    assert p.delta_btc(50_000.0) == pytest.approx(-0.2)
    assert p.delta_btc(70_000.0) == pytest.approx(-0.2)  # usd_neutral: unchanged in a rally
    assert p.delta_btc(70_000.0, "seed") == pytest.approx(-100 * 100 / 70_000)  # the seed's drifts


# -- expiry calendar --------------------------------------------------------------------------

def test_the_seeds_quarterlies_expire_on_their_dates() -> None:
    for sym, day in (("BTCUSD_210326", "2021-03-26"), ("BTCUSD_210625", "2021-06-25"),
                     ("BTCUSD_210924", "2021-09-24"), ("BTCUSD_211231", "2021-12-31")):
        e = quarterly_expiry_ns(2000 + int(sym[7:9]), int(sym[9:11]))
        assert e == ns(f"{day}T08:00:00") == expiry_of_symbol(sym)
        assert binance_symbol(e) == sym


@pytest.mark.parametrize("year", range(2021, 2028))
def test_quarterly_expiries_are_the_last_friday_at_0800_utc(year: int) -> None:
    import calendar

    for month in (3, 6, 9, 12):
        d = last_friday(year, month)
        assert (d.month, d.weekday(), d.hour) == (month, calendar.FRIDAY, 8)
        assert d.day + 7 > calendar.monthrange(year, month)[1], "a later Friday exists in the month"
        assert quarterly_expiry_ns(year, month) == int(d.timestamp()) * 1_000_000_000


def test_known_expiries_2022_to_2027() -> None:
    assert [binance_symbol(quarterly_expiry_ns(y, m)) for y, m in
            ((2022, 3), (2023, 6), (2024, 9), (2025, 12), (2026, 3), (2027, 12))] == [
        "BTCUSD_220325", "BTCUSD_230630", "BTCUSD_240927", "BTCUSD_251226", "BTCUSD_260327", "BTCUSD_271231"]


def test_current_and_next_roll_across_a_year_end() -> None:
    cur, nxt = current_and_next(ns("2021-12-30T00:00:00"))
    assert (binance_symbol(cur), binance_symbol(nxt)) == ("BTCUSD_211231", "BTCUSD_220325")
    cur, nxt = current_and_next(ns("2021-12-31T08:00:00"))  # at the delivery instant it is gone
    assert (binance_symbol(cur), binance_symbol(nxt)) == ("BTCUSD_220325", "BTCUSD_220624")
    assert days_to_expiry(ns("2021-12-29T08:00:00"), quarterly_expiry_ns(2021, 12)) == 2.0


def test_an_instruments_own_delivery_time_wins() -> None:
    moved = {(2021, 12): ns("2021-12-24T08:00:00")}  # Bybit settled Dec 2021 on the 24th
    cur, nxt = current_and_next(ns("2021-12-20T00:00:00"), moved)
    assert cur == ns("2021-12-24T08:00:00") and binance_symbol(nxt) == "BTCUSD_220325"
    cur, _ = current_and_next(ns("2021-12-25T00:00:00"), moved)
    assert binance_symbol(cur) == "BTCUSD_220325"


# -- contract values --------------------------------------------------------------------------

def test_a_1_usd_contract_is_100_times_the_count_of_a_100_usd_one() -> None:
    bybit = bybit_inverse_quarterly("BTCUSDH21", ns("2021-03-26T08:00:00"))
    for usd in (1_000_000.0, 123_456.0, 50_000.0):
        assert bybit.contracts_for_usd(usd) == 100 * Q1.contracts_for_usd(usd) + int(usd % 100)
    assert Q1.contracts_for_usd(1_000_000.0) == 10_000 and bybit.contracts_for_usd(1_000_000.0) == 1_000_000
    b, q = InversePosition(bybit), InversePosition(Q1)
    b.fill(-1, 1_000_000, 50_000.0, spot_px=50_000.0)
    q.fill(-1, 10_000, 50_000.0, spot_px=50_000.0)
    assert b.unrealized_btc(40_000.0) == pytest.approx(q.unrealized_btc(40_000.0), rel=1e-12)

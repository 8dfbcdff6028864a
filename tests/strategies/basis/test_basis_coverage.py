"""Each behaviour the basis scenarios cover (their `covers:` lists), shown in the run's outputs."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from tests.strategies.basis.basis_outputs import result, table

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios" / "basis"
NEUTRAL, SEED = "basis/year_end_roll_rally_neutral", "basis/year_end_roll_rally_seed"
THIN, PARTIAL = "basis/entry_low_volume_sweep", "basis/roll_partial_fills"

REQUIRED = {
    "entry_completes_24h", "entry_behind_aggressive", "contract_choice_by_basis", "pov_cap_binding",
    "final_sweep_completes", "roll_at_2_days", "roll_year_end", "roll_partial_slice", "rehedge_triggered",
    "rehedge_not_triggered", "delta_usd_neutral_vs_seed", "unwind_flat", "fees_charged",
    # shown in test_basis_roll_hedge.py
    "roll_sizing_spot_hedge", "roll_sizing_old_leg_delta_drifts", "financing_on_negative_cash",
}


def test_the_basis_scenarios_cover_every_required_behaviour() -> None:
    covered: set[str] = set()
    for p in SCENARIOS.glob("*.yaml"):
        covered |= set(yaml.safe_load(p.read_text()).get("covers", []))
    assert covered == REQUIRED


def _fills_of(scenario: str, reason_prefix: str) -> list[dict]:
    orders = {o["order_id"]: o for o in table(scenario, "orders.csv")}
    return [f for f in table(scenario, "fills.csv") if orders[f["order_id"]]["reason"].startswith(reason_prefix)]


def test_entry_completes_within_its_day() -> None:
    fills = _fills_of(NEUTRAL, "entry")
    spot = sum(f["qty"] for f in fills if f["symbol"] == "BTCUSDT")
    first_px = table(NEUTRAL, "entry_day_exec_log.csv")[0]["spot_px"]
    assert abs(spot - 1_000_000 / first_px) / spot < 0.01, "the capital's worth of spot is bought"
    assert all(f["ts"] < "2021-12-28T00:00:00" for f in fills), "every entry fill lands on the entry day"
    hedge_btc = sum(f["qty"] * 100 / f["price"] for f in fills if f["symbol"] != "BTCUSDT")
    assert abs(hedge_btc - spot) / spot < 0.02, "the short's BTC delta (contracts × CV / price) offsets the spot"


def test_current_vs_next_is_chosen_by_the_higher_annualized_basis() -> None:
    rows = [r for r in table(NEUTRAL, "entry_day_exec_log.csv") if r["slot"] < 96]
    early = {r["fut_symbol"] for r in rows if r["ts"] < "2021-12-27T11:00"}
    late = {r["fut_symbol"] for r in rows if r["ts"] >= "2021-12-27T13:00"}
    assert early == {"BTCUSD_211231"}, "60 bps with 4 days left is the richer carry"
    assert late == {"BTCUSD_220325"}, "8 bps with 4 days left is poorer than 12 %/yr"


def test_the_participation_cap_binds_and_the_entry_turns_aggressive_when_behind() -> None:
    rows = [r for r in table(THIN, "entry_day_exec_log.csv") if r["slot"] < 96]
    bound = [r for r in rows if r["child_btc"] > 0 and abs(r["child_btc"] - r["pov_cap_btc"]) <= 1e-5 + 1e-9]
    assert len(bound) > 80, "nearly every slot is sized by the cap"
    late = [r["pov"] for r in rows if r["slot"] >= 48]
    assert min(late) > 0.12, "behind schedule, participation rises above its 10 % base (gain 0.8 × the lag)"
    assert sum(r["aggressive"] for r in rows) > 80
    # aggressive buys are priced above the mid
    orders = [o for o in table(THIN, "orders.csv") if o["reason"].startswith("entry slot") and o["symbol"] == "BTCUSDT"]
    assert orders and all(o["side"] == "BUY" for o in orders)


def test_the_final_sweep_completes_the_entry_and_the_unwind() -> None:
    entry = table(THIN, "entry_day_exec_log.csv")
    sweep = [r for r in entry if r["slot"] == 96]
    assert len(sweep) == 1 and sweep[0]["fill_spot_btc"] > 5.0, "most of the thin-market entry is swept"
    bought = sum(r["fill_spot_btc"] for r in entry)
    assert abs(bought - math.floor(1_000_000 / entry[0]["spot_px"] / 1e-5) * 1e-5) < 0.01
    market = [o for o in table(THIN, "orders.csv") if o["type"] == "market"]
    assert market and all(o["state"] == "filled" for o in market)
    assert result(THIN).summary["flat_at_end"]


def test_a_short_rolls_two_days_before_expiry_into_the_next_quarter_across_the_year_end() -> None:
    rolls = [{k: r[k] for k in ("day", "from", "to")} for r in result(NEUTRAL).summary["rolls"]]
    assert rolls == [{"day": "2021-12-29", "from": "BTCUSD_211231", "to": "BTCUSD_220325"}]
    log = table(NEUTRAL, "rollover_exec_log.csv")
    assert log and all(r["ts"].startswith("2021-12-29") for r in log)
    bought = sum(r["filled_qty"] for r in log if r["side"] == "BUY")
    entry_short = sum(f["qty"] for f in _fills_of(NEUTRAL, "entry") if f["symbol"] == "BTCUSD_211231")
    assert bought == entry_short, "every 211231 contract is bought back"
    assert result(NEUTRAL).summary["rolls"][0]["bought_contracts"] == bought
    partial = [{k: r[k] for k in ("day", "from", "to")} for r in result(PARTIAL).summary["rolls"]]
    assert partial == [{"day": "2021-06-23", "from": "BTCUSD_210625", "to": "BTCUSD_210924"}]


def test_partially_filled_roll_slices_lose_no_contract() -> None:
    log = table(PARTIAL, "rollover_exec_log.csv")
    by_slot: dict[float, dict[str, float]] = {}
    for r in log:
        by_slot.setdefault(r["slot"], {})[r["side"]] = r["filled_qty"]
    lopsided = [s for s, d in by_slot.items() if (d.get("BUY", 0) == 0) != (d.get("SELL", 0) == 0)]
    assert len(lopsided) >= 5, "with p = 0.35 some slices fill one leg only"
    entry_short = sum(f["qty"] for f in _fills_of(PARTIAL, "entry") if f["symbol"] == "BTCUSD_210625")
    rehedged = sum(f["qty"] * (1 if f["side"] == "SELL" else -1) for f in _fills_of(PARTIAL, "delta hedge")
                   if f["symbol"] == "BTCUSD_210625")
    assert sum(r["filled_qty"] for r in log if r["side"] == "BUY") == entry_short + rehedged
    assert not any(r["symbol"] == "BTCUSD_210625" for r in table(PARTIAL, "pnl_tracker.csv") if r["source"] == "unwind")


def test_rehedge_with_the_seed_delta_in_a_rally_and_not_with_the_usd_neutral_one() -> None:
    spot = [r["spot_price"] for r in table(NEUTRAL, "daily_pnl_tracker.csv")]
    assert spot[-1] > 1.1 * spot[0], "the market rallied"
    assert table(NEUTRAL, "rehedge_log.csv") == []
    seed_rows = table(SEED, "rehedge_log.csv")
    assert seed_rows and all(r["side"] == "SELL" and r["net_delta_btc"] > 0 for r in seed_rows), \
        "the seed's delta drifts long in a rally and sells more futures"
    assert result(NEUTRAL).summary["delta_model"] == "usd_neutral" and result(SEED).summary["delta_model"] == "seed"


def test_the_unwind_ends_flat_and_fees_are_charged() -> None:
    for sc in (NEUTRAL, SEED, THIN, PARTIAL):
        s = result(sc).summary
        assert s["flat_at_end"], sc
        last = table(sc, "daily_pnl_tracker.csv")[-1]
        assert last["futures_unrealized_pnl_usd"] == 0.0
        assert not [a for a in table(sc, "alerts.csv") if a["kind"] in ("not_flat", "program_incomplete")]
        fills = table(sc, "fills.csv")
        assert all(f["fee"] > 0 for f in fills), "maker and taker fees are positive in the 2021 schedule"
        assert s["fees_usd"] > 0, sc
        assert abs(last["fees_usd"] - s["fees_usd"]) < 0.01, sc

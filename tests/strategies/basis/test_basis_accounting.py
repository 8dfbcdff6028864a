"""The accounting identity on every basis scenario: the final portfolio value less the capital is
the spot PnL (from the spot fills alone) plus the futures PnL realized over every fill less fees
and financing, to the cent; and each day's PnL is the change in the portfolio value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario.manifest import data_root
from tests.strategies.basis.basis_outputs import result, table

SCENARIOS = sorted(p.stem for p in (Path(__file__).resolve().parents[3] / "scenarios" / "basis").glob("*.yaml"))


@pytest.mark.parametrize("name", SCENARIOS)
def test_accounting_identity(name: str) -> None:
    sc = f"basis/{name}"
    if name.startswith("binance") and data_root() is None:
        pytest.skip("needs the recorded data")
    daily = table(sc, "daily_pnl_tracker.csv")
    capital = result(sc).summary["capital_usd"]
    prev = capital
    for d in daily:
        assert abs(d["daily_pnl_usd"] - (d["portfolio_value_usd"] - prev)) < 0.01, d["date"]
        parts = (capital + d["spot_mtm_pnl_usd"] + d["futures_unrealized_pnl_usd"] + d["futures_realized_pnl_usd"]
                 - d["fees_usd"] - d["financing_cost_usd"])
        assert abs(d["portfolio_value_usd"] - parts) < 0.01, d["date"]
        prev = d["portfolio_value_usd"]
    fills = table(sc, "fills.csv")
    spot = [f for f in fills if f["symbol"] == "BTCUSDT"]
    spot_pnl = sum(f["price"] * f["qty"] * (1 if f["side"] == "SELL" else -1) for f in spot)
    futures_realized = sum(r["pnl_usd"] for r in table(sc, "pnl_tracker.csv"))
    final = daily[-1]
    assert result(sc).summary["flat_at_end"]
    assert abs(final["spot_mtm_pnl_usd"] - spot_pnl) < 0.01
    assert abs(final["futures_realized_pnl_usd"] - futures_realized) < 0.01
    assert abs((final["portfolio_value_usd"] - capital)
               - (spot_pnl + futures_realized - final["fees_usd"] - final["financing_cost_usd"])) < 0.01


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_fill_is_strictly_after_its_decision(name: str) -> None:
    sc = f"basis/{name}"
    if name.startswith("binance") and data_root() is None:
        pytest.skip("needs the recorded data")
    decided = {o["order_id"]: o["decision_ts"] for o in table(sc, "orders.csv")}
    fills = table(sc, "fills.csv")
    assert fills
    for f in fills:
        assert f["ts"] > decided[f["order_id"]], f  # ISO timestamps of one format compare in time order

"""The Bybit adapter on spot and inverse instruments against the emulator: quantities in the
instrument's own unit, fees reaching the pipeline in the quote currency, and the position the
adapter keeps agreeing with the exchange's (for spot: the base coin's balance beyond the desk's
inventory at start)."""

from __future__ import annotations

import csv
import io

import pytest

from sim.live.run import run_live
from tests.emulator.emulator_process import KEY, SECRET, emulator, state

SPOT = "tests/fixtures/emulator/probe_spot_session.yaml"
INVERSE = "tests/fixtures/emulator/probe_inverse.yaml"
TAKER = 5e-4  # the scenarios' config: taker_fee_bps 5


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _session(scenario: str) -> tuple[object, dict]:
    with emulator(scenario) as base:
        live = run_live(scenario, endpoint=base, api_key=KEY, api_secret=SECRET, max_wall_s=120)
        return live, state(base)


def test_a_spot_session_pays_buy_fees_in_btc_and_keeps_the_coin_balance_as_its_position() -> None:
    live, ex = _session(SPOT)
    fills = _rows(live.exports["fills.csv"])  # type: ignore[attr-defined]
    orders = _rows(live.exports["orders.csv"])  # type: ignore[attr-defined]
    assert len(fills) == len(orders) == 6 and {o["state"] for o in orders} == {"filled"}
    btc_fees = 0.0
    for f in fills:
        qty, px, fee = float(f["qty"]), float(f["price"]), float(f["fee"])
        # Every fee in USDT in the pipeline: a buy's BTC fee converted at its own fill price.
        assert fee == pytest.approx(qty * px * TAKER, rel=1e-9)
        if f["side"] == "buy":
            btc_fees += qty * TAKER
    adapter = live.adapter  # type: ignore[attr-defined]
    assert adapter.spot_inventory == 1
    # The account's BTC moved by the trades less the fees paid in BTC; the adapter agrees.
    btc = next(c for c in ex["wallet"]["coin"] if c["coin"] == "BTC")
    assert float(btc["walletBalance"]) - 1.0 == pytest.approx(-btc_fees, abs=1e-12)
    assert adapter.our_position == pytest.approx(adapter.exchange_position, abs=1e-12)
    assert live.summary["halted"] is None and live.summary["final_qty"] == 0.0  # type: ignore[attr-defined]
    assert ex["position"] is None  # spot has none


@pytest.fixture(scope="module")
def inverse() -> tuple[object, dict]:
    return _session(INVERSE)


def test_an_inverse_session_trades_usd_contracts_and_converts_btc_fees(inverse: tuple[object, dict]) -> None:
    live, ex = inverse
    fills = _rows(live.exports["fills.csv"])  # type: ignore[attr-defined]
    assert len(fills) == 6 and {f["qty"] for f in fills} == {"100.0"}
    for f in fills:
        # Bybit charges contracts / price x rate in BTC; the pipeline sees it x price in USD.
        assert float(f["fee"]) == pytest.approx(100 * TAKER, rel=1e-9)
    assert float(ex["position"]["size"]) == 0.0 and live.summary["final_qty"] == 0.0  # type: ignore[attr-defined]
    assert live.summary["adapter"]["fills"] == ex["executions"] == 6  # type: ignore[attr-defined]
    assert live.summary["halted"] is None  # type: ignore[attr-defined]
    assert live.adapter.instrument.contract_type == "InversePerpetual"  # type: ignore[attr-defined]
    assert live.adapter.instrument.settle_coin == "BTC"  # type: ignore[attr-defined]


def test_funding_and_the_ticker_come_from_the_api(inverse: tuple[object, dict]) -> None:
    from decimal import Decimal

    live, ex = inverse
    adapter = live.adapter  # type: ignore[attr-defined]
    # At connect: the last 24 settlements (eight days of 8-hourly rates) up to the session's start,
    # on the emulator's venue clock (the scenario's times shifted by whole minutes).
    start_ms = 1709251200000 + ex["clock"]["offset_ms"]
    assert len(adapter.funding_history) == 24 and adapter.funding_history[-1] == (start_ms, Decimal("0.0001"))
    assert [t for t, _ in adapter.funding_history] == [start_ms - 8 * 3600_000 * k for k in range(23, -1, -1)]
    # During the session: the tickers stream (only a WebSocket ticker carries a cross sequence).
    assert adapter.ticker.cross_seq is not None and adapter.ticker.symbol == "BTCUSD"
    assert adapter.ticker.next_funding_time_ms == start_ms + 8 * 3600_000
    assert adapter.ticker.funding_rate == Decimal("0.0001")

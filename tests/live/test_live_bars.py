"""Bars-mode live: a session whose pipeline reads 1-minute klines takes them from the exchange's
`kline.1` stream (confirmed candles only) and builds exactly the bars and features the replay of
the same klines builds; the adapter also keeps the instrument's ticker and reads funding from the
API at start."""

from __future__ import annotations

import pytest

from sim.live.run import run_live
from sim.run import run
from tests.emulator.emulator_process import KEY, SECRET, emulator

SCENARIO = "features/binance_spot_klines_bars_mode"


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, str], dict[str, str], object]:
    replay = run(SCENARIO)
    # The whole window fast-forwarded: the client reads the candles as fast as they come.
    with emulator(SCENARIO, "--fast-until", "2024-08-06T00:00:00Z", "--clock", "scenario") as base:
        live = run_live(SCENARIO, endpoint=base, api_key=KEY, api_secret=SECRET, max_wall_s=240)
    return replay.exports, live.exports, live


def test_bars_and_features_from_the_kline_stream_equal_the_replay(both) -> None:  # noqa: ANN001
    replay, live, _ = both
    assert replay["bars.csv"].count("\n") > 2000  # two days of minutes
    for name in ("bars.csv", "features.csv", "signals.csv"):
        assert live[name] == replay[name], f"{name} differs between the live session and the replay"


def test_the_adapter_subscribed_klines_and_tickers_not_ticks(both) -> None:  # noqa: ANN001
    _, _, session = both
    adapter = session.adapter
    topics = [t for t, _sym in adapter.public.topics]
    assert topics == ["kline.1.{symbol}", "tickers.{symbol}"]
    assert session.summary["late_ticks"] == 0 and session.summary["halted"] is None
    # Read from the API at connect: the ticker, and the perpetual's funding interval.
    assert adapter.ticker is not None and adapter.ticker.symbol == "BTCUSDT"
    assert adapter.instrument is not None and adapter.instrument.funding_interval_min == 480

"""Klines as a bot warms up from them, against Bybit's v5 documentation: REST market/kline.mdx
and WebSocket websocket/public/kline.mdx, for linear, inverse and spot (the `market` fixture runs
each test once per category on the probe market), plus a bars scenario whose one-minute klines
are folded into the longer intervals. Driven by unmodified pybit (REST) and raw WebSocket reads
(every message as sent). Each docstring names the page of github.com/bybit-exchange/docs
(docs/v5/...) it checks. Tickers and the order book: test_conformance_market_book.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from tests.emulator.conformance_helpers import code, wait
from tests.emulator.emulator_process import emulator, pybit_http
from tests.emulator.market_data_helpers import (  # noqa: F401 - `market` is a module-scoped fixture
    SYMBOL,
    RawStream,
    fold,
    frozen,
    market,
    market_ms,
    refusal,
)

INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")
MINUTES = {"D": 1440, "W": 10080}
DAY, WEEK = 86_400_000, 7 * 86_400_000


def _aligned(start: int, interval: str) -> bool:
    if interval == "M":
        d = datetime.fromtimestamp(start / 1000, tz=timezone.utc)
        return (d.day, d.hour, d.minute, d.second, d.microsecond) == (1, 0, 0, 0, 0)
    if interval == "W":
        return (start - 4 * DAY) % WEEK == 0 and datetime.fromtimestamp(start / 1000, tz=timezone.utc).weekday() == 0
    return start % (MINUTES.get(interval, 0) * 60_000 or int(interval) * 60_000) == 0


def _klines(s, category: str, interval: str, **kw) -> list[list[str]]:  # noqa: ANN001
    return s.get_kline(category=category, symbol=SYMBOL[category], interval=interval, **kw)["result"]["list"]


def test_every_interval_is_listed_newest_first_on_its_utc_boundaries(market: tuple[str, str]) -> None:
    """docs/v5/market/kline.mdx (interval 1 3 5 15 30 60 120 240 360 720 D W M; list "Sort in
    reverse by startTime"): every interval answers, newest first, each candle starting on its
    interval's UTC boundary (a week on Monday, a month on its first day)."""
    base, cat = market
    s = pybit_http(base)
    for interval in INTERVALS:
        rows = _klines(s, cat, interval, limit=1000)
        assert rows, interval
        starts = [int(r[0]) for r in rows]
        assert starts == sorted(starts, reverse=True) and len(set(starts)) == len(starts), interval
        assert all(_aligned(t, interval) for t in starts), (interval, starts)
        assert all(len(r) == 7 and all(isinstance(x, str) and x for x in r) for r in rows), interval


def test_longer_intervals_are_the_fold_of_their_minutes(market: tuple[str, str]) -> None:
    """docs/v5/market/kline.mdx (list[0..6]: startTime, open, high, low, close, volume, turnover):
    a 3-, 5- or 15-minute candle and the day's opens at its first minute's open, closes at its
    last minute's close, spans their highs and lows and sums their volume and turnover."""
    base, cat = market
    s = pybit_http(base)
    minutes = _klines(s, cat, "1", limit=1000)
    for interval in ("3", "5", "15", "D"):
        for row in _klines(s, cat, interval, limit=1000):
            start = int(row[0])
            span = MINUTES.get(interval, 0) or int(interval)
            inside = [m for m in minutes if start <= int(m[0]) < start + span * 60_000]
            o, h, lo, c, v, t = fold(inside)
            assert [float(x) for x in row[1:5]] == [o, h, lo, c], (interval, row)
            slack = 5e-9 * (len(inside) + 1)  # every sum is written to 8 decimals
            assert float(row[5]) == pytest.approx(v, abs=slack) and float(row[6]) == pytest.approx(t, abs=slack)


def test_turnover_is_in_the_quote_coin_except_for_inverse(market: tuple[str, str]) -> None:
    """docs/v5/market/kline.mdx (volume: base coin for USDT contracts, USD for inverse;
    turnover: quote coin for USDT contracts, base coin BTC for inverse): turnover over volume (or
    volume over turnover, inverse) is an average price inside the candle (within the 8 decimals the
    sum is written to)."""
    base, cat = market
    for row in _klines(pybit_http(base), cat, "1", limit=1000):
        _, _, h, lo, _, v, t = (float(x) for x in row)
        if cat == "inverse":  # BTC, to 8 decimals as Bybit writes it
            assert v / h - 5e-9 <= t <= v / lo + 5e-9, row
        else:
            assert v * lo - 5e-9 <= t <= v * h + 5e-9, row


def test_a_minute_is_built_from_the_prints_of_that_minute(market: tuple[str, str]) -> None:
    """docs/v5/market/kline.mdx against docs/v5/market/recent-trade.mdx: a closed minute's open,
    high, low, close and volume are those of the prints stamped inside it. (Spot's recent-trade
    lists at most 60 prints, less than a minute of this market: linear and inverse only.)"""
    base, cat = market
    if cat == "spot":
        pytest.skip("spot's recent-trade holds less than a minute of prints")
    s = pybit_http(base)
    trades = s.get_public_trade_history(category=cat, symbol=SYMBOL[cat], limit=1000)["result"]["list"]
    oldest = min(int(t["time"]) for t in trades)
    closed = [r for r in _klines(s, cat, "1", limit=1000)[1:] if int(r[0]) > oldest]
    assert closed
    for row in closed:
        start = int(row[0])
        inside = sorted((t for t in trades if start <= int(t["time"]) < start + 60_000), key=lambda t: int(t["seq"]))
        prices = [float(t["price"]) for t in inside]
        assert prices, row  # the probe market prints every minute
        assert [float(x) for x in row[1:5]] == [prices[0], max(prices), min(prices), prices[-1]], row
        assert float(row[5]) == pytest.approx(sum(float(t["size"]) for t in inside), rel=1e-9)


def test_start_end_and_limit_pick_candles_by_their_start(market: tuple[str, str]) -> None:
    """docs/v5/market/kline.mdx (start, end: timestamps in ms; limit [1, 1000] default 200; the
    request example start=..., end=... answers the candles starting from `start` to `end`
    inclusive): the range is inclusive of both ends and `limit` keeps its newest candles; with
    `start` alone the page starts there (pybit issue #186: start=9999&limit=1 answers the
    earliest candle)."""
    base, cat = market
    s = pybit_http(base)
    every = _klines(s, cat, "1", limit=1000)
    assert len(every) >= 6
    lo, hi = int(every[-2][0]), int(every[1][0])
    assert _klines(s, cat, "1", start=lo, end=hi) == every[1:-1]
    assert _klines(s, cat, "1", start=lo, end=hi, limit=2) == every[1:3]
    assert _klines(s, cat, "1", limit=1) == every[:1]
    assert _klines(s, cat, "1", end=hi - 1) == every[2:]
    assert _klines(s, cat, "1", start=lo, limit=2) == every[-3:-1]  # from `start` on
    assert code(lambda: _klines(s, cat, "1", limit=1001))[0] == 10001


def test_the_open_candle_is_pushed_unconfirmed_then_closed_once_confirmed(market: tuple[str, str]) -> None:
    """docs/v5/websocket/public/kline.mdx (confirm false while the candle is open, true once it
    has closed; push frequency 1-60 s): the open candle is pushed at most once a second of
    market time, then the closed candle once, as REST lists it; the next candle starts where it
    ended. Same for kline.3."""
    base, cat = market
    sym = SYMBOL[cat]
    stream = RawStream(base, cat, [f"kline.1.{sym}", f"kline.3.{sym}"])
    assert stream.ack["success"] is True

    def closed(topic: str) -> list[dict]:
        return [m["data"][0] for m in stream.topic(topic) if m["data"][0]["confirm"]]

    def next_started(topic: str) -> bool:
        first = closed(topic)
        return bool(first) and any(m["data"][0]["start"] > first[0]["start"] for m in stream.topic(topic))

    stream.until(lambda _: len(closed(f"kline.1.{sym}")) >= 2 and next_started(f"kline.1.{sym}")
                 and next_started(f"kline.3.{sym}"), timeout=30)
    stream.close()
    frozen(base)
    s = pybit_http(base)
    for interval in ("1", "3"):
        msgs = stream.topic(f"kline.{interval}.{sym}")
        k = closed(f"kline.{interval}.{sym}")[0]
        length = int(interval) * 60_000
        assert (k["end"], k["interval"], k["timestamp"]) == (k["start"] + length - 1, interval, k["end"] + 1)
        opened = [m for m in msgs if not m["data"][0]["confirm"] and m["data"][0]["start"] == k["start"]]
        assert opened and all(m["ts"] <= k["end"] for m in opened)
        assert all(b["ts"] - a["ts"] >= 1000 for a, b in zip(opened, opened[1:]))
        assert all(m["data"][0]["timestamp"] <= m["ts"] for m in opened)
        row = _klines(s, cat, interval, start=k["start"], end=k["start"])
        assert row == [[str(k["start"]), k["open"], k["high"], k["low"], k["close"], k["volume"], k["turnover"]]]
        after = [m["data"][0]["start"] for m in msgs if m["data"][0]["start"] > k["start"]]
        assert after and after[0] == k["end"] + 1


def test_every_documented_topic_is_served_and_others_are_refused(market: tuple[str, str]) -> None:
    """docs/v5/websocket/public/kline.mdx (intervals), orderbook.mdx (depths 1, 50, 200, 1000 for
    linear, inverse and spot), ticker.mdx; docs/v5/error.mdx: another interval, another depth or
    another symbol is refused ("handler not found", as Bybit refuses a topic it has no handler for)."""
    base, cat = market
    sym = SYMBOL[cat]
    good = [f"kline.{iv}.{sym}" for iv in INTERVALS] + [f"orderbook.{d}.{sym}" for d in (1, 50, 200, 1000)]
    good += [f"tickers.{sym}", f"publicTrade.{sym}"]
    for chunk in (good[i:i + 10] for i in range(0, len(good), 10)):  # spot takes 10 args a request
        s = RawStream(base, cat, chunk)
        s.close()
        assert s.ack["success"] is True, (chunk, s.ack)
    for topic in (f"kline.2.{sym}", f"kline.1D.{sym}", f"orderbook.25.{sym}", f"orderbook.500.{sym}",
                  f"kline.1.ETH{sym[3:]}", f"orderbook.50.ETH{sym[3:]}", f"tickers.ETH{sym[3:]}"):
        ack = refusal(base, cat, topic)
        assert (ack["success"], ack["ret_msg"]) == (False, f"error:handler not found,topic:{topic}")


@pytest.fixture(scope="module")
def bars() -> Iterator[str]:
    # Three hours of one-minute bars replayed as fast as they are read, while a client is subscribed.
    with emulator("features/binance_spot_klines_bars_mode", "--start", "now", "--pause-without-clients",
                  "--fast-until", "2024-08-04T03:00:00Z") as url:
        yield url


def test_a_bars_scenario_folds_its_one_minute_klines_into_every_interval(bars: str) -> None:
    """docs/v5/market/kline.mdx: in a bars scenario the one-minute klines are the data's own and
    every longer interval (here 60, 120 and D) is their fold."""
    stream = RawStream(bars, "linear", ["publicTrade.BTCUSDT"])  # no prints in a bars scenario: nothing to read
    wait(lambda: market_ms(bars) >= datetime(2024, 8, 4, 3, tzinfo=timezone.utc).timestamp() * 1000, timeout=60)
    stream.close()
    frozen(bars)
    s = pybit_http(bars)
    minutes = _klines(s, "linear", "1", limit=1000)
    assert len(minutes) >= 180
    for interval, span in (("60", 60), ("120", 120), ("D", 1440)):
        for row in _klines(s, "linear", interval, limit=2):
            inside = [m for m in minutes if int(row[0]) <= int(m[0]) < int(row[0]) + span * 60_000]
            o, h, lo, c, v, _ = fold(inside)
            assert [float(x) for x in row[1:5]] == [o, h, lo, c], (interval, row)
            assert float(row[5]) == pytest.approx(v, abs=5e-9 * (len(inside) + 1)), (interval, row)

"""Tickers and the order book as a bot warms up from them, against Bybit's v5 documentation:
REST market/tickers.mdx and market/orderbook.mdx, WebSocket websocket/public/ticker.mdx and
orderbook.mdx, for linear, inverse and spot (the `market` fixture runs each test once per
category on the probe market, fast-forwarded eight minutes in). Driven by unmodified pybit (REST)
and raw WebSocket reads (pybit merges deltas, so what is sent is read without it). Each
docstring names the page of github.com/bybit-exchange/docs (docs/v5/...) or the fixture of
shared/fixtures/bybit/ it checks. Klines: test_conformance_market_data.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.conformance_helpers import code, set_position, wait
from tests.emulator.emulator_process import pybit_http
from tests.emulator.emulator_raw import post
from tests.emulator.market_data_helpers import SYMBOL, RawStream, frozen, market  # noqa: F401 - fixture

FIXTURES = Path("/work/shared/fixtures/bybit")
# market/tickers.mdx, the Linear/Inverse and Spot response tables.
REST_DERIVATIVE = {"symbol", "lastPrice", "indexPrice", "markPrice", "prevPrice24h", "price24hPcnt", "highPrice24h",
                   "lowPrice24h", "prevPrice1h", "openInterest", "openInterestValue", "singleOpenInterest",
                   "singleOpenInterestValue", "turnover24h", "volume24h", "fundingRate", "nextFundingTime",
                   "predictedDeliveryPrice", "basisRate", "basis", "deliveryFeeRate", "deliveryTime", "ask1Size",
                   "bid1Price", "ask1Price", "bid1Size", "preOpenPrice", "preQty", "curPreListingPhase",
                   "fundingIntervalHour", "fundingCap", "basisRateYear"}
REST_SPOT = {"symbol", "bid1Price", "bid1Size", "ask1Price", "ask1Size", "lastPrice", "prevPrice24h", "price24hPcnt",
             "highPrice24h", "lowPrice24h", "turnover24h", "volume24h", "usdIndexPrice"}
# Fields a perpetual has no value for: Bybit's own perpetual example sends "" ("0" for deliveryTime).
NO_VALUE = {"predictedDeliveryPrice", "basisRate", "basis", "deliveryFeeRate", "basisRateYear", "preOpenPrice", "preQty",
            "curPreListingPhase"}
# websocket/public/ticker.mdx, the Spot table.
WS_SPOT = {"symbol", "lastPrice", "highPrice24h", "lowPrice24h", "prevPrice24h", "volume24h", "turnover24h",
           "price24hPcnt", "usdIndexPrice"}


def _number(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


def _ticker(s: Any, cat: str) -> dict[str, str]:
    return s.get_tickers(category=cat, symbol=SYMBOL[cat])["result"]["list"][0]


def test_the_rest_ticker_has_every_documented_field_and_numbers_where_bybit_has_them(market: tuple[str, str]) -> None:
    """docs/v5/market/tickers.mdx (response tables per category; the inverse perpetual example
    for the fields a perpetual leaves "")."""
    base, cat = market
    t = _ticker(pybit_http(base), cat)
    assert set(t) == (REST_SPOT if cat == "spot" else REST_DERIVATIVE)
    for k, v in t.items():
        if k in NO_VALUE:
            assert v == "", k
        elif k != "symbol":
            assert _number(v), (k, v)
    if cat != "spot":
        assert (t["deliveryTime"], t["fundingIntervalHour"]) == ("0", "8")


def test_24h_figures_come_from_the_tape_since_the_data_began(market: tuple[str, str]) -> None:
    """docs/v5/market/tickers.mdx (prevPrice24h, price24hPcnt, highPrice24h, lowPrice24h,
    prevPrice1h, turnover24h, volume24h): eight minutes into the data, the last 24 h (and hour)
    reach back before it, so the figures are those of every minute since it began."""
    base, cat = market
    s = pybit_http(base)
    t = _ticker(s, cat)
    rows = [[float(x) for x in r] for r in s.get_kline(category=cat, symbol=SYMBOL[cat], interval="1",
                                                       limit=1000)["result"]["list"]]
    first = rows[-1][1]
    assert float(t["prevPrice24h"]) == first
    assert float(t["lastPrice"]) == rows[0][4]
    assert (float(t["highPrice24h"]), float(t["lowPrice24h"])) == (max(r[2] for r in rows), min(r[3] for r in rows))
    # Each sum is written to 8 decimals: the minutes' rounding adds up to at most 5e-9 apiece.
    slack = 5e-9 * (len(rows) + 1)
    assert float(t["volume24h"]) == pytest.approx(sum(r[5] for r in rows), abs=slack)
    assert float(t["turnover24h"]) == pytest.approx(sum(r[6] for r in rows), abs=slack)
    places = 4 if cat == "spot" else 6  # as Bybit's examples write it: 0.0068 (spot), 0.017103
    assert float(t["price24hPcnt"]) == round((rows[0][4] - first) / first, places)
    if cat != "spot":
        assert float(t["prevPrice1h"]) == first


def test_the_ticker_stream_has_the_fields_of_the_recorded_message(market: tuple[str, str]) -> None:
    """shared/fixtures/bybit/ws_ticker_linear.json (a recorded linear ticker) and
    docs/v5/websocket/public/ticker.mdx (the spot table): the first message is a snapshot with
    every field, numbers where the recording has numbers."""
    base, cat = market
    stream = RawStream(base, cat, [f"tickers.{SYMBOL[cat]}"])
    first = stream.until(lambda ms: ms and ms[0])
    stream.close()
    assert (first["topic"], first["type"]) == (f"tickers.{SYMBOL[cat]}", "snapshot")
    assert isinstance(first["cs"], int) and isinstance(first["ts"], int)
    data = first["data"]
    if cat == "spot":
        assert set(data) == WS_SPOT
        return
    recorded = json.loads((FIXTURES / "ws_ticker_linear.json").read_text())["data"]
    assert set(recorded) <= set(data)
    for k, v in recorded.items():
        assert _number(data[k]) == _number(v), (k, data[k])


def test_derivative_tickers_stream_deltas_of_changed_fields_and_spot_snapshots(market: tuple[str, str]) -> None:
    """docs/v5/websocket/public/ticker.mdx ("If a response param is not found in the message,
    then its value has not changed"; "Spot & Option tickers message are snapshot only"; push
    frequency derivatives 100 ms, spot 50 ms): after the snapshot, linear and inverse send
    deltas carrying the symbol and exactly the fields that changed; spot sends whole snapshots."""
    base, cat = market
    stream = RawStream(base, cat, [f"tickers.{SYMBOL[cat]}"])
    stream.until(lambda ms: len(ms) >= 12)
    stream.close()
    frozen(base)
    msgs = stream.messages
    assert [m["cs"] for m in msgs] == sorted({m["cs"] for m in msgs})
    gap = 50 if cat == "spot" else 100
    assert all(b["ts"] - a["ts"] >= gap for a, b in zip(msgs[1:], msgs[2:]))
    if cat == "spot":
        assert all(m["type"] == "snapshot" and set(m["data"]) == WS_SPOT for m in msgs)
        return
    view = dict(msgs[0]["data"])
    for m in msgs[1:]:
        assert m["type"] == "delta" and m["data"]["symbol"] == SYMBOL[cat]
        changed = {k: v for k, v in m["data"].items() if k != "symbol"}
        assert changed and set(changed) <= set(view)
        assert all(view[k] != v for k, v in changed.items()), changed
        view.update(changed)


def test_open_interest_is_the_accounts_own_position(market: tuple[str, str]) -> None:
    """docs/v5/market/tickers.mdx (openInterest both sides, singleOpenInterest single side, their
    values): the account's open position is the only open interest the emulator knows — single
    side its size, both sides twice that (the position and the market's opposite one)."""
    base, cat = market
    s = pybit_http(base)
    if cat == "spot":  # spot's ticker lists no open interest at all
        ticker = s.get_tickers(category=cat, symbol=SYMBOL[cat])["result"]["list"][0]
        assert not {"openInterest", "openInterestValue", "singleOpenInterest"} & set(ticker)
        return
    qty = 0.01 if cat == "linear" else 100.0
    stream = RawStream(base, cat, [f"publicTrade.{SYMBOL[cat]}"])  # the market runs while the order fills
    try:
        set_position(s, cat, SYMBOL[cat], qty, f"oi-{cat}")
        t = wait(lambda: (r := _ticker(s, cat))["singleOpenInterest"] != "0" and r)
        mark = float(t["markPrice"])
        value = qty / mark if cat == "inverse" else qty * mark
        assert (float(t["singleOpenInterest"]), float(t["openInterest"])) == (qty, 2 * qty)
        assert float(t["singleOpenInterestValue"]) == pytest.approx(value, abs=1e-8)
        assert float(t["openInterestValue"]) == pytest.approx(2 * value, abs=1e-8)
        set_position(s, cat, SYMBOL[cat], 0.0, f"oi-{cat}-flat")
        assert wait(lambda: _ticker(s, cat)["openInterest"] == "0")
    finally:
        stream.close()


def _apply(book: dict[str, list[list[str]]], delta: dict[str, Any]) -> None:
    for side in ("b", "a"):
        levels = dict(book[side])
        for px, sz in delta[side]:
            if sz == "0":
                del levels[px]  # a level the delta removes must be on the book
            else:
                levels[px] = sz
        book[side] = sorted(levels.items(), key=lambda lv: float(lv[0]), reverse=side == "b")


def test_deep_books_start_with_a_snapshot_and_deltas_rebuild_the_quote(market: tuple[str, str]) -> None:
    """docs/v5/websocket/public/orderbook.mdx ("Process snapshot/delta": a snapshot once
    subscribed, then deltas; size 0 deletes, a new price is inserted, a known one updated; `u`
    in sequence; the ts-before-type note) and shared/fixtures/bybit/ws_orderbook_delta.json:
    depths 50, 200 and 1000 stream the same book, which after every delta is the level-1 quote
    of the same `seq` — the level the scenario has, no invented depth."""
    base, cat = market
    sym = SYMBOL[cat]
    deep = [f"orderbook.{d}.{sym}" for d in (50, 200, 1000)]
    stream = RawStream(base, cat, [f"orderbook.1.{sym}", *deep])
    stream.until(lambda _: len(stream.topic(deep[0])) >= 30)
    stream.close()
    frozen(base)
    level1 = {m["data"]["seq"]: m["data"] for m in stream.topic(f"orderbook.1.{sym}")}
    streams = [stream.topic(t) for t in deep]
    n = min(len(x) for x in streams)
    assert [[m["data"] for m in x[1:n]] for x in streams[1:]] == [[m["data"] for m in streams[0][1:n]]] * 2
    snap, deltas = streams[0][0], streams[0][1:]
    assert snap["type"] == "snapshot" and all(m["type"] == "delta" for m in deltas)
    order = ["topic", "ts", "type"] if cat == "spot" else ["topic", "type", "ts"]
    assert list(snap)[:3] == order and list(deltas[0])[:3] == order
    assert list(stream.topic(f"orderbook.1.{sym}")[0])[:3] == ["topic", "ts", "type"]
    assert [m["data"]["u"] for m in deltas] == list(range(snap["data"]["u"] + 1, snap["data"]["u"] + 1 + len(deltas)))
    book = {"b": [tuple(lv) for lv in snap["data"]["b"]], "a": [tuple(lv) for lv in snap["data"]["a"]]}
    assert len(book["b"]) <= 1 and len(book["a"]) <= 1
    for m in deltas:
        _apply(book, m["data"])
        top = level1[m["data"]["seq"]]
        assert [list(lv) for lv in book["b"]] == top["b"] and [list(lv) for lv in book["a"]] == top["a"]
    assert any(sz == "0" for m in deltas for px, sz in m["data"]["b"] + m["data"]["a"])


def test_the_rest_book_takes_every_documented_limit(market: tuple[str, str]) -> None:
    """docs/v5/market/orderbook.mdx (limit: spot [1, 1000] default 1; linear & inverse [1, 1000]
    default 25; result s, b, a, ts, u, seq, cts) and shared/fixtures/bybit/http_get_orderbook.json:
    every limit answers the one level a side the scenario has; outside the range is 10001."""
    base, cat = market
    s = pybit_http(base)
    sym = SYMBOL[cat]
    for limit in (None, 1, 25, 50, 200, 1000):
        kw = {} if limit is None else {"limit": limit}
        r = s.get_orderbook(category=cat, symbol=sym, **kw)["result"]
        assert set(r) == {"s", "b", "a", "ts", "u", "seq", "cts"}
        assert (r["s"], len(r["b"]), len(r["a"])) == (sym, 1, 1)
        assert float(r["b"][0][0]) < float(r["a"][0][0]) and r["u"] > 0 and r["seq"] >= r["u"] and r["ts"] >= r["cts"]
    for limit in (0, 1001):
        assert code(lambda: s.get_orderbook(category=cat, symbol=sym, limit=limit))[0] == 10001


def test_after_withheld_market_data_the_deep_book_starts_again_from_a_snapshot(market: tuple[str, str]) -> None:
    """docs/v5/websocket/public/orderbook.mdx ("If there is a problem on Bybit's end, a snapshot
    will be re-sent, which is guaranteed to contain the latest data"): once a stale spell (a
    fault that withholds public data) ends, a deep-book subscriber is sent a snapshot again, and
    deltas continue from its `u`."""
    base, cat = market
    topic = f"orderbook.50.{SYMBOL[cat]}"
    stream = RawStream(base, cat, [topic])
    stream.until(lambda _: len(stream.topic(topic)) >= 3)
    status, answer = post(base, "/emulator/faults", {"kind": "stale", "duration_ms": 3000})
    assert status == 200, answer
    snaps = stream.until(lambda _: (s := [m for m in stream.topic(topic)[1:] if m["type"] == "snapshot"])
                         and len(stream.topic(topic)) > stream.topic(topic).index(s[0]) + 2 and s)
    stream.close()
    msgs = stream.topic(topic)
    i = msgs.index(snaps[0])
    assert msgs[i]["data"]["u"] > msgs[i - 1]["data"]["u"]
    assert [m["data"]["u"] for m in msgs[i + 1:i + 3]] == [msgs[i]["data"]["u"] + 1, msgs[i]["data"]["u"] + 2]

"""Shared steps of the market-data conformance tests: emulators that have fast-forwarded through
half the probe market and then replay it at 60x (a minute of market a second) while a client is
subscribed, raw public WebSocket subscriptions (pybit
merges deltas into snapshots, so what Bybit actually sends is read without it), and the
arithmetic of folding one-minute candles into longer ones."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websocket

from tests.emulator.conformance_helpers import INVERSE, PLAIN, SPOT
from tests.emulator.emulator_process import emulator, state

#: Market time stands still while no public client is subscribed: a test runs the market with a
#: stream open (`run_market`), and what it then reads over REST is one frozen instant.
FAST = ("--start", "now", "--speed", "60", "--pause-without-clients", "--fast-until", "2024-03-01T00:08:00Z")
#: Where the fast-forward ends: eight of the probe's sixteen data minutes, read at once.
WARM_MS = 1709251200000 + 8 * 60_000
SYMBOL = {"linear": "BTCUSDT", "inverse": "BTCUSD", "spot": "BTCUSDT"}
SCENARIO = {"linear": PLAIN, "inverse": INVERSE, "spot": SPOT}


@pytest.fixture(scope="module", params=["linear", "inverse", "spot"])
def market(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(base URL, category) of an emulator serving the probe market in each category."""
    with emulator(SCENARIO[request.param], *FAST) as url:
        stream = RawStream(url, request.param, [f"publicTrade.{SYMBOL[request.param]}"])
        end = time.monotonic() + 30
        while market_ms(url) < WARM_MS:
            assert time.monotonic() < end, "the fast-forward did not reach its end"
            time.sleep(0.05)
        stream.close()
        frozen(url)
        yield url, request.param


class RawStream:
    """One public WebSocket connection, subscribed to `topics`, keeping every message it reads."""

    def __init__(self, base: str, category: str, topics: list[str]) -> None:
        self.ws = websocket.create_connection(base.replace("http", "ws") + f"/v5/public/{category}", timeout=10)
        self.ws.send(json.dumps({"op": "subscribe", "req_id": "md", "args": topics}))
        self.ack = self._next()
        self.messages: list[dict[str, Any]] = []

    def _next(self) -> dict[str, Any]:
        return json.loads(self.ws.recv())

    def until(self, pred: Callable[[list[dict[str, Any]]], Any], timeout: float = 20.0) -> Any:
        """Reads messages until `pred(messages)` holds; returns what it returned."""
        end = time.monotonic() + timeout
        while not (got := pred(self.messages)):
            assert time.monotonic() < end, f"timed out after {len(self.messages)} messages"
            self.messages.append(self._next())
        return got

    def topic(self, topic: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("topic") == topic]

    def close(self) -> None:
        self.ws.close()


def market_ms(base: str) -> int:
    return int(state(base)["market_ms"])


def frozen(base: str) -> int:
    """Waits until market time has stopped (no subscriber left); returns it."""
    last = market_ms(base)
    while True:
        time.sleep(0.2)
        now = market_ms(base)
        if now == last:
            return now
        last = now


def run_market(base: str, category: str, minutes: float) -> int:
    """Lets market time run `minutes` further (a trade stream open meanwhile), then freezes it."""
    start = market_ms(base)
    s = RawStream(base, category, [f"publicTrade.{SYMBOL[category]}"])
    end = time.monotonic() + 60
    while market_ms(base) < start + minutes * 60_000:
        assert time.monotonic() < end, "the market did not move"
        time.sleep(0.1)
    s.close()
    return frozen(base)


def refusal(base: str, category: str, topic: str) -> dict[str, Any]:
    """The reply to subscribing to `topic` alone."""
    s = RawStream(base, category, [topic])
    s.close()
    return s.ack


def fold(minutes: list[list[str]]) -> tuple[float, float, float, float, float, float]:
    """(open, high, low, close, volume, turnover) of one-minute rows given newest first."""
    rows = [[float(x) for x in r] for r in reversed(minutes)]
    return (rows[0][1], max(r[2] for r in rows), min(r[3] for r in rows), rows[-1][4], sum(r[5] for r in rows),
            sum(r[6] for r in rows))

"""Shared steps of the conformance tests: unmodified pybit against a real emulator process,
waiting for an order to settle, reading retCodes, flattening the position between tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pybit.exceptions import InvalidRequestError

from tests.emulator.emulator_process import emulator, state

FINAL = ("Filled", "Cancelled", "Rejected", "PartiallyFilledCanceled")
#: The probe scenarios' market (tests/fixtures/emulator/probe_plain.yaml) at 2x real time: its
#: 16 data minutes last 8 wall minutes, a quote every ~0.1 s of wall time.
PLAIN = "tests/fixtures/emulator/probe_plain.yaml"
SPOT = "tests/fixtures/emulator/probe_spot.yaml"
INVERSE = "tests/fixtures/emulator/probe_inverse.yaml"
PACED = ("--start", "now", "--speed", "2")


def wait(pred: Callable[[], Any], timeout: float = 20.0, every: float = 0.1) -> Any:
    end = time.monotonic() + timeout
    while not (got := pred()):
        assert time.monotonic() < end, "timed out"
        time.sleep(every)  # REST polls stay well inside the 50/s query limits
    return got


def code(call: Callable[[], object]) -> tuple[int, str]:
    """(retCode, retMsg) of a call Bybit refuses."""
    with pytest.raises(InvalidRequestError) as e:
        call()
    return e.value.status_code, str(e.value.message)


def order_row(s: Any, category: str, link: str, *, final: bool = True) -> dict[str, Any]:
    """The order `link` as order/realtime lists it, once final (or at once)."""
    def row() -> dict[str, Any] | None:
        rows = s.get_open_orders(category=category, orderLinkId=link)["result"]["list"]
        if rows and (not final or rows[0]["orderStatus"] in FINAL):
            return rows[0]
        return None
    return wait(row)


def book(s: Any, category: str, symbol: str) -> tuple[float, float, float]:
    """(bid, ask, mark) from the ticker, once there is a quote."""
    t = wait(lambda: (r := s.get_tickers(category=category, symbol=symbol)["result"]["list"][0])["bid1Price"] and r)
    mark = float(t["markPrice"]) if t.get("markPrice") else (float(t["bid1Price"]) + float(t["ask1Price"])) / 2
    return float(t["bid1Price"]), float(t["ask1Price"]), mark


def await_order_pushes(s: Any, got: Callable[[], bool], tag: str) -> None:
    """Returns once the private order topic is live. pybit does not expose the subscription's
    acknowledgement, so IOC probes far from the book go out until one's order push comes back
    (`got` says whether one has); subscribe the other private topics first, on the same socket."""
    for k in range(20):
        bid = float(s.get_orderbook(category="linear", symbol="BTCUSDT")["result"]["b"][0][0])
        s.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001",
                      price=f"{bid - 5:.1f}", timeInForce="IOC", orderLinkId=f"{tag}-probe-{k}")
        deadline = time.monotonic() + 0.5
        while not got() and time.monotonic() < deadline:
            time.sleep(0.02)
        if got():
            return
    raise AssertionError("no order push within 10 s")


def position_size(s: Any, category: str, symbol: str) -> float:
    """Signed size of the one-way position."""
    p = s.get_positions(category=category, symbol=symbol)["result"]["list"][0]
    return float(p["size"]) * (1 if p["side"] == "Buy" else -1 if p["side"] == "Sell" else 0)


def set_position(s: Any, category: str, symbol: str, target: float, tag: str) -> None:
    """Trades the position to `target` (signed) with one market order and waits for it."""
    now = position_size(s, category, symbol)
    delta = round(target - now, 8)
    if delta == 0:
        return
    qty = f"{abs(delta):.3f}" if category != "inverse" else str(int(abs(delta)))
    s.place_order(category=category, symbol=symbol, side="Buy" if delta > 0 else "Sell", orderType="Market",
                  qty=qty, orderLinkId=tag)
    order_row(s, category, tag)
    wait(lambda: abs(position_size(s, category, symbol) - target) < 1e-9)


def paced(url: str) -> str:
    """`url` once its replay runs at its speed: on the wall timeline it first runs the minute's
    elapsed part at once, and a test reading the book during that burst would act on a stale one."""
    wait(lambda: state(url)["paced"])
    return url


@pytest.fixture(scope="module")
def linear() -> Iterator[str]:
    with emulator(PLAIN, *PACED) as url:
        yield paced(url)


@pytest.fixture(scope="module")
def inverse() -> Iterator[str]:
    with emulator(INVERSE, *PACED) as url:
        yield paced(url)

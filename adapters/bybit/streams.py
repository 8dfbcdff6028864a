"""pybit WebSocket connections under supervision.

pybit hides failures (shared/reference/pybit-notes.md): an exception in a callback, an unknown
topic or a failed auth closes the socket *for good* from inside its thread, with nothing reaching
the caller; its own reconnect loop retries back to back with no delay. So here:
- every callback only puts the raw message on the session's queue and never raises;
- pybit's own restart is off (`restart_on_error=False`, one usable connection attempt per build);
- a `Stream` knows its subscriptions and can be rebuilt whole; the `Supervisor` notices a dead
  one (`exited`, or the socket no longer connected, or no message for longer than the stream's
  silence limit) and rebuilds it after an exponential backoff — immediately, then 1, 2, 4 … s,
  capped at 60 s (spec §10.3) — and reports each rebuild so the adapter can reconcile over REST;
- a private stream counts as up only once pybit has set `auth` (it never raises on failure).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("adapters.bybit.streams")

BACKOFF_CAP_S = 60.0
AUTH_TIMEOUT_S = 5.0


def backoff_delay(failures: int, base_s: float = 1.0, cap_s: float = BACKOFF_CAP_S) -> float:
    """Seconds to wait before attempt number `failures` + 1: 0 for the first retry, then base,
    2×base, 4×base … never more than the cap."""
    if failures <= 0:
        return 0.0
    return min(base_s * 2 ** (failures - 1), cap_s)


def _ws_class() -> type:
    import pybit.unified_trading as ut

    class RoutedWebSocket(ut.WebSocket):  # type: ignore[misc,name-defined]
        """pybit's WebSocket with its host replaced by `base` (a loopback emulator) when given;
        Bybit's paths are kept, pybit checks them."""

        def __init__(self, base: str | None, **kw: Any) -> None:
            self._routed_base = base  # set before the base __init__, which connects
            super().__init__(**kw)

        def _connect(self, url: str) -> None:
            if self._routed_base:
                url = self._routed_base.rstrip("/") + url[url.index("/v5/"):]
            super()._connect(url)

    return RoutedWebSocket


@dataclass
class Stream:
    """One connection: a channel (linear, spot, inverse or private) and its topics."""

    channel: str
    #: pybit topic templates and their symbol: ("orderbook.1.{symbol}", "BTCUSDT"), ("order", None)
    topics: list[tuple[str, str | None]]
    inbox: queue.Queue[tuple[str, dict[str, Any]]]
    network: str
    ws_base: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    silence_limit_s: float | None = None  # None: silence is not a failure (private streams)
    ws: Any = None
    built_at: float = 0.0
    last_message: float = 0.0
    builds: int = 0
    clock: Callable[[], float] = field(default=time.monotonic)  # sim-determinism: allowed (live I/O)

    def _callback(self, msg: dict[str, Any]) -> None:
        # Runs on pybit's socket thread: never raise here, pybit would close the socket for good.
        try:
            self.last_message = self.clock()
            if str(msg.get("topic", "")).startswith("orderbook."):
                # pybit hands over a reference to its own book, which later deltas mutate.
                data = msg.get("data") or {}
                msg = {**msg, "data": {k: [list(lv) for lv in v] if isinstance(v, list) else v for k, v in data.items()}}
            self.inbox.put((self.channel, msg))
        except Exception:  # pragma: no cover - queue.put on an unbounded queue does not fail
            log.exception("bybit %s: callback failed", self.channel)

    def build(self) -> None:
        """(Re)connects and subscribes; raises if the connection or the auth fails."""
        self.close()
        cls = _ws_class()
        kw: dict[str, Any] = {"testnet": self.network == "testnet", "channel_type": self.channel,
                              # pybit raises after its last attempt even when that attempt
                              # connected, so 2 means: one attempt that can succeed.
                              "restart_on_error": False, "retries": 2}
        if self.channel == "private":
            kw.update(api_key=self.api_key, api_secret=self.api_secret)
        ws = cls(self.ws_base, **kw)
        self.ws = ws
        if self.channel == "private":
            deadline = self.clock() + AUTH_TIMEOUT_S
            while not ws.auth:
                if ws.exited or self.clock() > deadline:
                    self.close()
                    raise ConnectionError("bybit private stream: authentication failed or timed out")
                time.sleep(0.01)  # sim-determinism: allowed (waiting for pybit's auth flag)
        for template, symbol in self.topics:
            if not ws.is_connected():
                self.close()
                raise ConnectionError(f"bybit {self.channel} stream: closed while subscribing")
            ws.subscribe(topic=template, callback=self._callback, symbol=symbol if symbol is not None else False)
        self.builds += 1
        self.built_at = self.last_message = self.clock()

    def alive(self) -> bool:
        ws = self.ws
        if ws is None or ws.exited or not ws.is_connected():
            return False
        if self.silence_limit_s is not None and self.clock() - self.last_message > self.silence_limit_s:
            return False
        return True

    def close(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.exit()
            except Exception:  # already closed under us
                pass


@dataclass
class Supervisor:
    """Keeps streams up: rebuilds a dead one after the backoff, and says when it did."""

    streams: list[Stream]
    on_rebuilt: Callable[[Stream], None]
    on_down: Callable[[Stream, str], None]
    backoff_base_s: float = 1.0
    clock: Callable[[], float] = field(default=time.monotonic)  # sim-determinism: allowed (live I/O)
    failures: dict[str, int] = field(default_factory=dict)
    next_try: dict[str, float] = field(default_factory=dict)
    down: dict[str, bool] = field(default_factory=dict)
    rebuilds: int = 0

    def check(self) -> None:
        now = self.clock()
        for s in self.streams:
            if s.alive():
                continue
            if not self.down.get(s.channel):
                self.down[s.channel] = True
                reason = "silent" if s.ws is not None and s.ws.is_connected() else "disconnected"
                self.on_down(s, reason)
                self.failures[s.channel] = 0
                self.next_try[s.channel] = now
            if now < self.next_try.get(s.channel, now):
                continue
            try:
                s.build()
            except Exception as e:  # connection refused, auth failure, pybit giving up
                n = self.failures.get(s.channel, 0) + 1
                self.failures[s.channel] = n
                self.next_try[s.channel] = self.clock() + backoff_delay(n, self.backoff_base_s)
                log.warning("bybit %s: rebuild failed (%s); next try in %.1f s", s.channel, e,
                            backoff_delay(n, self.backoff_base_s))
                continue
            self.down[s.channel] = False
            self.rebuilds += 1
            self.on_rebuilt(s)

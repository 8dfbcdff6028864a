"""Alerts of a live session to one generic webhook (spec §15.1), without ever blocking trading.

Every alert is one HTTP POST (`Content-Type: application/json`) of one canonical JSON object
(UTF-8, keys sorted, no spaces, no NaN), schema 1:

    {"details": {...}, "kind": "kill_switch", "message": "daily loss 512.00 >= 500.00",
     "mode": "live", "network": "testnet", "run_id": "2024-06-01T00-00-00Z", "schema": 1,
     "seq": 7, "symbol": "BTCUSDT", "ts_ms": 1717200000000}

- `kind`: one of `AlertKind`; anything else is a programming error (`ValueError` from `send`).
- `ts_ms`: the injected clock's time when `send` was called (Unix ms), never the wall clock here.
- `mode`, `network`, `symbol`, `run_id`: from the sender's `context` (null when not given).
- `seq`: 1, 2, 3, ... per sender, given at `send`; with `run_id` it identifies an alert, so a
  receiver can drop retried duplicates and see gaps. Alerts are delivered one at a time, in `seq` order.
- `details`: a JSON object; strings are redacted, values JSON cannot hold are turned into strings.

Delivery runs on a daemon thread: up to `1 + retries` attempts, waiting `backoff_s * 2**i` (capped
at 30 s) between them; a non-2xx answer (redirects included), a connection error or a timeout is a
failed attempt. A failure is logged (logger `sim.live.alerts`), never raised, and never alerted through
the hook that failed. With `log_path`, every alert is appended there as one JSON line, the payload's
keys plus `"delivered"` (true/false; null in log-only mode, `url=None`), `"attempts"` and `"error"`.
The webhook URL is itself a secret (it holds the token) and is never logged.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

SCHEMA = 1
CONTEXT_KEYS = ("mode", "network", "run_id", "symbol")
MAX_BACKOFF_S = 30.0
log = logging.getLogger("sim.live.alerts")


class AlertKind(StrEnum):
    """What an alert is about. Spec §15.2 (all equal severity) and the Bybit adapter's own kinds."""

    KILL_SWITCH = "kill_switch"  # daily loss limit breached
    DATA_STALE = "data_stale"  # no quotes for more than the stale limit
    VA_INVALID = "va_invalid"  # fewer than min_va_bins (20) bins in the value-area histogram
    HIGH_AMBIGUOUS_FRACTION = "high_ambiguous_fraction"  # ambiguous_trade_frac > 0.35
    POSITION_MISMATCH = "position_mismatch"  # exchange and our position differ
    SHADOW_DIVERGENCE = "shadow_divergence"  # paper and live signals differ
    LEVERAGE_CAP = "leverage_cap"  # position reduced to stay under max leverage
    ORDER_CANCELLED_BY_EXCHANGE = "order_cancelled_by_exchange"
    BAD_MESSAGE = "bad_message"  # an exchange message that could not be parsed

    @classmethod
    def parse(cls, kind: str) -> AlertKind:
        """The kind named `kind`; `ValueError` listing the known ones otherwise."""
        try:
            return cls(kind)
        except ValueError:
            raise ValueError(f"unknown alert kind {kind!r}; known: {', '.join(k.value for k in cls)}") from None


def canonical_json(obj: Any) -> str:
    """The one JSON text of `obj`: sorted keys, no whitespace, UTF-8 characters kept, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def ns_to_ms_clock(now_ns: Callable[[], int]) -> Callable[[], int]:
    """An alert clock (Unix ms) from a `sim.core.clock` clock's `now_ns`."""
    return lambda: now_ns() // 1_000_000


@dataclass
class _Pending:
    seq: int
    kind: str
    body: bytes
    payload: dict[str, Any]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib turns a redirected POST into a body-less GET that "succeeds"; a redirect is a failure here.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_STOP = object()


class WebhookAlerter:
    """Sends alerts to `url` (None: log only) from a background thread. See the module docstring.

    `clock` returns Unix milliseconds (see `ns_to_ms_clock`); `redact` masks secrets in every string
    that leaves (`Secrets.redact`, or `str` when there are none). `send` is thread-safe. Call `close`
    at shutdown: it delivers what is queued, within its timeout.
    """

    def __init__(self, url: str | None, *, context: Mapping[str, str | None], clock: Callable[[], int],
                 redact: Callable[[str], str], retries: int = 5, backoff_s: float = 0.5,
                 timeout_s: float = 5.0, log_path: Path | None = None, max_queue: int = 10_000) -> None:
        unknown = sorted(set(context) - set(CONTEXT_KEYS))
        if unknown:
            raise ValueError(f"unknown alert context keys {unknown}; allowed: {', '.join(CONTEXT_KEYS)}")
        if retries < 0 or backoff_s < 0 or timeout_s <= 0:
            raise ValueError("retries and backoff_s must be >= 0 and timeout_s > 0")
        self.url = url
        self.clock = clock
        self.redact = redact
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s
        self.log_path = log_path
        self._context = {k: None if context.get(k) is None else redact(str(context[k])) for k in CONTEXT_KEYS}
        self._seq = 0
        self._lock = threading.Lock()  # makes seq order and queue order the same
        self._file_lock = threading.Lock()
        self.max_queue = max_queue
        # Unbounded, with the bound checked in send(): close() must never block putting its sentinel.
        self._queue: queue.Queue[_Pending | object] = queue.Queue()
        self._abort = threading.Event()  # set by close() on timeout: stop retrying, log the rest
        self._closed = False
        self._opener = urllib.request.build_opener(_NoRedirect())
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="webhook-alerter", daemon=True)
        self._thread.start()

    def send(self, kind: str, message: str, details: Mapping[str, Any] | None = None) -> int:
        """Queues an alert and returns its `seq` at once. `ValueError` for an unknown kind."""
        k = AlertKind.parse(kind)
        ts_ms = int(self.clock())
        with self._lock:
            self._seq += 1
            payload = {**self._context, "schema": SCHEMA, "kind": k.value, "message": self.redact(str(message)),
                       "ts_ms": ts_ms, "seq": self._seq, "details": self._clean(dict(details or {}))}
            item = _Pending(self._seq, k.value, canonical_json(payload).encode("utf-8"), payload)
            if self._closed:
                self._record(item, None if self.url is None else False, 0, "alerter closed")
                return item.seq
            if self._queue.qsize() >= self.max_queue:
                # A hook down for a long time while alerts keep coming: drop rather than grow without
                # bound; the receiver sees the gap in seq and the local log keeps the alert.
                log.error("alert seq=%d (%s) dropped: %d alerts already queued", item.seq, item.kind, self.max_queue)
                self._record(item, None if self.url is None else False, 0, "queue full")
            else:
                self._queue.put_nowait(item)
        return item.seq

    def close(self, timeout: float = 10.0) -> bool:
        """Delivers what is queued, for at most `timeout` seconds; then stops retrying and logs what is
        left as undelivered. True when everything queued was handled within `timeout`. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            return True
        self._abort.set()
        # The attempt in flight ends within its own timeout; the rest are only logged.
        self._thread.join(self.timeout_s + 1.0)
        return False

    def __enter__(self) -> WebhookAlerter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _clean(self, value: Any) -> Any:
        # Details must always serialise: an alert about a failure must not fail on its details.
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else repr(value)
        if isinstance(value, Mapping):
            return {self.redact(str(key)): self._clean(v) for key, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return self.redact(str(value))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, _Pending)
            try:
                if self.url is None:
                    self._record(item, None, 0, None)
                elif self._abort.is_set():
                    self._record(item, False, 0, "alerter closed before delivery")
                else:
                    self._deliver(item, self.url)
            except Exception:  # noqa: BLE001 - the alert thread must outlive any one alert
                log.exception("alert seq=%d (%s): unexpected error while sending", item.seq, item.kind)
                self._record(item, False, 0, "internal error")

    def _deliver(self, item: _Pending, url: str) -> None:
        error = ""
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt and self._abort.wait(min(self.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)):
                break
            attempts += 1
            error = self._post(url, item.body)
            if not error:
                self._record(item, True, attempts, None)
                return
            log.warning("alert seq=%d (%s): attempt %d of %d failed: %s",
                        item.seq, item.kind, attempts, self.retries + 1, error)
        log.error("alert seq=%d (%s) NOT delivered after %d attempts (%s): %s",
                  item.seq, item.kind, attempts, error, item.payload["message"])
        self._record(item, False, attempts, error)

    def _post(self, url: str, body: bytes) -> str:
        """'' on a 2xx answer, else why not. The reason never contains the URL."""
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "btc-replay-sim-alerts/1"})
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                resp.read()
                status = int(resp.status)
        except urllib.error.HTTPError as e:
            e.close()
            return f"HTTP {e.code}"
        except urllib.error.URLError as e:
            return self.redact(f"connection failed: {e.reason}")
        except (OSError, ValueError, http.client.HTTPException) as e:  # read timeouts, bad URL, bad answer
            return self.redact(f"{type(e).__name__}: {e}")
        return "" if 200 <= status < 300 else f"HTTP {status}"

    def _record(self, item: _Pending, delivered: bool | None, attempts: int, error: str | None) -> None:
        if self.log_path is None:
            return
        line = canonical_json({**item.payload, "delivered": delivered, "attempts": attempts, "error": error})
        try:
            with self._file_lock, self.log_path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError:
            log.exception("alert seq=%d (%s): cannot append to the alert log", item.seq, item.kind)

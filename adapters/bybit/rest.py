"""Bybit v5 REST through pybit's `HTTP`, with our own rate-limit handling and error types.

pybit's built-in retries are switched off (`retry_codes={-1}`, one attempt): on 10006 it sleeps
until the reset header and re-sends, and when its attempts run out it raises a generic error that
has lost the retCode (see shared/reference/pybit-notes.md). Here every reply's
`X-Bapi-Limit-Status` / `X-Bapi-Limit-Reset-Timestamp` is read: a call waits before it is sent
when the endpoint's budget is spent, and a 10006 waits for the reset and is re-sent a bounded
number of times — safe for order placement because every order carries its `orderLinkId`.

`base_url` points the client at a loopback emulator; None means Bybit itself (testnet or
mainnet). Numbers go out as decimal strings, never floats (pybit would send `str(1e-05)`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .messages import BybitApiError, check_envelope

log = logging.getLogger("adapters.bybit.rest")

RATE_LIMIT_CODE = 10006
MAX_RATE_LIMIT_RETRIES = 5


@dataclass
class LimitState:
    """The latest rate-limit headers of one endpoint."""

    limit: int | None = None
    remaining: int | None = None
    reset_ms: int | None = None


def dec_str(x: Decimal | float | int | str) -> str:
    """A quantity or price as the decimal string Bybit wants: `0.001`, `62000.1`, never `1e-05`."""
    d = x if isinstance(x, Decimal) else Decimal(repr(x)) if isinstance(x, float) else Decimal(str(x))
    text = format(d.normalize(), "f")
    return text


class BybitRest:
    def __init__(self, *, network: str, api_key: str | None, api_secret: str | None,
                 base_url: str | None = None, timeout_s: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep, wall_ms: Callable[[], int] | None = None) -> None:
        from pybit.unified_trading import HTTP

        if network not in ("testnet", "mainnet"):
            raise ValueError(f"network must be testnet or mainnet, got {network!r}")
        self.http = HTTP(testnet=network == "testnet", api_key=api_key, api_secret=api_secret, timeout=timeout_s,
                         max_retries=1, retry_codes={-1}, return_response_headers=True, log_requests=False)
        if base_url:
            self.http.endpoint = base_url.rstrip("/")
            self.http.client.trust_env = False  # a loopback server is never reached through a proxy
        self.limits: dict[str, LimitState] = {}
        self._sleep = sleep
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)  # sim-determinism: allowed (live I/O)
        self.rate_limited = 0  # 10006 replies seen (each was waited out and re-sent)

    def _wait_for_budget(self, what: str) -> None:
        st = self.limits.get(what)
        if st and st.remaining is not None and st.remaining <= 0 and st.reset_ms:
            delay = (st.reset_ms - self._wall_ms()) / 1000
            if delay > 0:
                self._sleep(min(delay, 5.0))

    def _record(self, what: str, headers: Any) -> None:
        if not headers:
            return

        def h(name: str) -> int | None:
            v = headers.get(name)
            return int(v) if v not in (None, "") else None

        self.limits[what] = LimitState(h("X-Bapi-Limit"), h("X-Bapi-Limit-Status"), h("X-Bapi-Limit-Reset-Timestamp"))

    def call(self, method: str, what: str, **params: Any) -> dict[str, Any]:
        """Calls one pybit method; returns the whole reply (envelope and `result`), or raises
        `BybitApiError` for a non-zero retCode."""
        from pybit.exceptions import InvalidRequestError

        params = {k: v for k, v in params.items() if v is not None}
        for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            self._wait_for_budget(what)
            try:
                reply = getattr(self.http, method)(**params)
            except InvalidRequestError as e:
                self._record(what, e.resp_headers)
                if e.status_code == RATE_LIMIT_CODE and attempt < MAX_RATE_LIMIT_RETRIES:
                    self.rate_limited += 1
                    st = self.limits.get(what)
                    wait = ((st.reset_ms if st and st.reset_ms else self._wall_ms() + 1000) - self._wall_ms()) / 1000
                    log.warning("bybit %s: rate limited (10006), waiting %.3f s", what, max(wait, 0.0))
                    self._sleep(min(max(wait, 0.01), 5.0))
                    continue
                raise BybitApiError(int(e.status_code), str(e.message), what) from None
            body, _elapsed, headers = reply
            self._record(what, headers)
            check_envelope(body, what)
            return body
        raise AssertionError("unreachable")

"""Per-endpoint rate limits for the loopback Bybit-v5 emulator (bybit-v5.md §9), plus a fault hook.

Each (caller, endpoint) pair gets a rolling 1-second window: a request at t counts against every
request in (t - 1000, t]. The caller is whatever the server passes as `who` — the API key for
signed endpoints, the client IP for public ones. Every decision carries Bybit's three
`X-Bapi-Limit*` headers. Pure: the server passes its clock as `now_ms`.

Choices (see the module constants):
- Limits are the UTA 2.0 defaults for linear/inverse; the check does not see the category, so
  spot's higher create/cancel limits (20/s) are not modelled — the stricter value is used.
- Public market endpoints: 120/s per IP per endpoint, i.e. the whole per-IP HTTP budget of
  600 requests / 5 s on a single endpoint. Generous on purpose: tests that poll market data
  should not trip it, while a runaway loop still does.
- Paths in no table: /v5/market/* get the public limit, anything else 10/s (the lowest
  private limit besides fee-rate), so an unlisted endpoint is never unlimited.
- Refused requests do not count against the window (a client that backs off until the reset
  timestamp is then let through), and forced refusals neither.
- X-Bapi-Limit-Reset-Timestamp: `now_ms` while requests remain (Bybit sends "roughly now" when
  not over the limit), otherwise the instant the oldest counted request leaves the window, which
  is strictly after `now_ms`. Never in the past: pybit sleeps until this time and crashes on a
  negative sleep (pybit-notes §1).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

RATE_LIMIT_CODE = 10006
RATE_LIMIT_MSG = "Too many visits. Exceeded the API Rate Limit."

WINDOW_MS = 1000

#: Public market data: per IP, per endpoint (see the module docstring).
PUBLIC_LIMIT = 120
#: Any other endpoint missing from DEFAULT_LIMITS.
FALLBACK_LIMIT = 10

#: Requests per second per caller per endpoint (bybit-v5.md §9, linear/inverse values).
DEFAULT_LIMITS: Mapping[str, int] = {
    "/v5/order/create": 10,
    "/v5/order/amend": 10,
    "/v5/order/cancel": 10,
    "/v5/order/cancel-all": 10,
    "/v5/order/create-batch": 10,
    "/v5/order/amend-batch": 10,
    "/v5/order/cancel-batch": 10,
    "/v5/order/realtime": 50,
    "/v5/order/history": 50,
    "/v5/execution/list": 50,
    "/v5/position/list": 50,
    "/v5/position/set-leverage": 10,
    "/v5/position/switch-mode": 10,
    "/v5/account/wallet-balance": 50,
    "/v5/account/fee-rate": 5,
    "/v5/account/info": 50,
    "/v5/market/time": PUBLIC_LIMIT,
    "/v5/market/instruments-info": PUBLIC_LIMIT,
    "/v5/market/tickers": PUBLIC_LIMIT,
    "/v5/market/kline": PUBLIC_LIMIT,
    "/v5/market/recent-trade": PUBLIC_LIMIT,
    "/v5/market/orderbook": PUBLIC_LIMIT,
    "/v5/market/funding/history": PUBLIC_LIMIT,
}


@dataclass(frozen=True)
class LimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        """The rate-limit headers Bybit puts on every response (bybit-v5.md §9)."""
        return {
            "X-Bapi-Limit": str(self.limit),
            "X-Bapi-Limit-Status": str(self.remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(self.reset_ms),
        }


@dataclass(frozen=True)
class _Forced:
    who: str | None
    path: str | None
    until_ms: int

    def matches(self, who: str, path: str) -> bool:
        return (self.who is None or self.who == who) and (self.path is None or self.path == path)


class RateLimiter:
    """Rolling 1-second windows per (caller, endpoint path).

    `limits` overrides or extends DEFAULT_LIMITS (path -> requests/s); `scale` multiplies every
    limit (rounded down, at least 1) so tests can hit a limit with few requests.
    Not thread-safe: the server calls it from its one event loop.
    """

    def __init__(self, limits: Mapping[str, int] | None = None, scale: float = 1.0) -> None:
        if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive number, got {scale!r}")
        table = dict(DEFAULT_LIMITS)
        for path, limit in (limits or {}).items():
            if not path.startswith("/") or isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"rate limit for {path!r} must be a path and a positive integer, got {limit!r}")
            table[path] = limit
        self._scale = scale
        self._limits = {p: self._scaled(n) for p, n in table.items()}
        self._windows: dict[tuple[str, str], deque[int]] = {}
        self._forced: list[_Forced] = []

    def _scaled(self, limit: int) -> int:
        return max(1, math.floor(limit * self._scale))

    def limit_for(self, path: str) -> int:
        """Requests per second allowed on `path` (after scaling)."""
        if path in self._limits:
            return self._limits[path]
        return self._scaled(PUBLIC_LIMIT if path.startswith("/v5/market/") else FALLBACK_LIMIT)

    def force(self, who: str | None, path: str | None, until_ms: int) -> None:
        """Fault injection: refuse every request of `who` (None: everyone) on `path` (None: every
        path) with 10006 while `now_ms < until_ms`."""
        self._forced.append(_Forced(who, path, int(until_ms)))

    def clear_forced(self) -> None:
        self._forced.clear()

    def check(self, who: str, path: str, now_ms: int) -> LimitDecision:
        """Count one request of `who` on `path` at `now_ms` if allowed, and say what to answer."""
        limit = self.limit_for(path)
        # Forgotten once over, so the list stays as short as the faults currently active.
        self._forced = [f for f in self._forced if f.until_ms > now_ms]
        forced_until = max((f.until_ms for f in self._forced if f.matches(who, path)), default=None)
        if forced_until is not None:
            return LimitDecision(False, limit, 0, forced_until)

        window = self._windows.setdefault((who, path), deque())
        while window and window[0] <= now_ms - WINDOW_MS:
            window.popleft()
        if len(window) >= limit:
            return LimitDecision(False, limit, 0, window[0] + WINDOW_MS)
        # A clock that steps back (never expected) must not make the deque unsorted.
        window.append(max(now_ms, window[-1]) if window else now_ms)
        remaining = limit - len(window)
        reset = now_ms if remaining > 0 else window[0] + WINDOW_MS
        return LimitDecision(True, limit, remaining, max(reset, now_ms))

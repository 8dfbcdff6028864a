"""Raw HTTP and WebSocket calls to a running emulator, for tests that send what no client library
would: invalid UTF-8, JSON arrays, wrong types, malformed frames. Requests are signed as pybit
signs them (bybit-v5.md §2), over the exact bytes sent."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

from adapters.emulator.auth import sign_rest
from tests.emulator.emulator_process import KEY, SECRET

RECV_WINDOW = "5000"


def signed_headers(payload: bytes | str) -> dict[str, str]:
    """Bybit's auth headers over `payload` (the raw query or body). A body that is not UTF-8 is
    signed over its bytes read as latin-1: the emulator must refuse it before any signature check."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    ts = str(time.time_ns() // 1_000_000)
    return {"X-BAPI-API-KEY": KEY, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": RECV_WINDOW,
            "X-BAPI-SIGN-TYPE": "2", "X-BAPI-SIGN": sign_rest(SECRET, ts, KEY, RECV_WINDOW, text)}


def call(base: str, method: str, path: str, query: str = "", body: bytes | None = None, *,
         signed: bool = True, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(HTTP status, parsed JSON body — or the raw text if it is not JSON) of one request."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        h = {"Content-Type": "application/json"} if method == "POST" else {}
        if signed:
            h.update(signed_headers(query if method == "GET" else (body or b"")))
        h.update(headers or {})
        target = path + (f"?{query}" if query else "")
        conn.request(method, target, body=body if method == "POST" else None, headers=h)
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw.decode("utf-8", "replace")
    finally:
        conn.close()


def post(base: str, path: str, params: Any) -> tuple[int, Any]:
    """A signed POST of `params` as JSON (any JSON value, NaN and Infinity included)."""
    return call(base, "POST", path, body=json.dumps(params).encode())


def get(base: str, path: str, query: str, *, signed: bool = True) -> tuple[int, Any]:
    return call(base, "GET", path, query, signed=signed)


def healthy(base: str, category: str = "linear", symbol: str = "BTCUSDT") -> None:
    """The emulator still answers a valid signed request, and logged no internal error."""
    status, answer = get(base, "/v5/order/realtime", f"category={category}&symbol={symbol}")
    assert status == 200 and answer["retCode"] == 0, answer
    status, st = call(base, "GET", "/emulator/state", signed=False)
    assert status == 200
    assert not [line for line in st["log"] if line.startswith("internal error")], st["log"]

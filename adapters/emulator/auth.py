"""API keys and request authentication for the loopback Bybit-v5 emulator (bybit-v5.md §2, §3).

Pure functions: the server hands in the headers, the raw payload and its clock (`now_ms`); nothing
here reads the wall clock, so every rule is testable at exact boundaries.

REST (`check_rest`) — checks run in this order, the first failure wins:
  1. `X-BAPI-API-KEY` missing or not in the key store -> 10003 "API key is invalid."
     (a missing key is reported like an unknown one: the caller cannot be identified either way,
     and 10003 is what a client on the wrong host — the common real-world case — sees.)
  2. `X-BAPI-TIMESTAMP` or `X-BAPI-SIGN` missing, a timestamp / recv-window that is not a plain
     non-negative integer, a recv-window of 0, or an `X-BAPI-SIGN-TYPE` other than "2" (HMAC;
     RSA keys are not emulated) -> 10001 (request parameter error). 10001 rather than 10002
     because pybit retries 10002 with a wider recv-window, which can never fix a malformed header.
  3. The window rule `now - recv_window <= timestamp < now + 1000` -> 10002. recv-window defaults
     to 5000 when its header is absent.
  4. The signature: lower-case hex HMAC-SHA256 over `timestamp + key + recv_window + payload`,
     where payload is the raw query string (GET) or raw body (POST) exactly as received and the
     timestamp / recv-window are the header strings exactly as received -> else 10004.
     Upper-case hex is refused: Bybit documents lower-case and pybit sends lower-case.
Key before timestamp before signature: the secret is needed for the signature, and the cheap
clock check first means a skewed client sees 10002 (which pybit handles) rather than 10004.

WebSocket (`check_ws_auth`) for `{"op":"auth","args":[key, expires, sig]}`: wrong argument count
or types -> 10001; unknown key -> 10003; `expires <= now_ms` (must be in the future) -> 10001
"Params Error" (the documented WS-auth failure codes are 10001 and 10004; expiry is a parameter
problem); bad signature over "GET/realtime" + str(expires) -> 10004.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

OK = 0
PARAM_ERROR = 10001
TIMESTAMP_ERROR = 10002
INVALID_KEY = 10003
SIGN_ERROR = 10004

#: recv-window Bybit assumes when the header is absent.
DEFAULT_RECV_WINDOW_MS = 5000
#: How far a request timestamp may run ahead of the server clock.
FUTURE_TOLERANCE_MS = 1000

INVALID_KEY_MSG = "API key is invalid."

_UINT = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class ApiKey:
    key: str
    secret: str


class KeyStore:
    """The API keys the emulator accepts: key -> secret. Immutable after construction."""

    def __init__(self, keys: Iterable[ApiKey] = ()) -> None:
        secrets: dict[str, str] = {}
        for k in keys:
            if not k.key or not k.secret:
                raise ValueError("API key and secret must be non-empty")
            if k.key in secrets and secrets[k.key] != k.secret:
                raise ValueError(f"API key {k.key!r} given twice with different secrets")
            secrets[k.key] = k.secret
        self._secrets = secrets

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str] | ApiKey] | Mapping[str, str]) -> KeyStore:
        """From (key, secret) pairs, ApiKey objects or a key -> secret mapping."""
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        return cls(p if isinstance(p, ApiKey) else ApiKey(p[0], p[1]) for p in items)

    def secret(self, key: str) -> str | None:
        return self._secrets.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._secrets

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._secrets))

    def __len__(self) -> int:
        return len(self._secrets)


@dataclass(frozen=True)
class AuthResult:
    """Outcome of an authentication check. `api_key` is set whenever the key was recognised
    (also on 10001/10002/10004, so the server can rate-limit and log per key)."""

    ok: bool
    ret_code: int
    ret_msg: str
    api_key: str | None = None


def _hmac_hex(secret: str, message: str) -> str:
    # surrogatepass: a payload holding a lone surrogate (no valid request can) must fail the
    # signature check like any other altered payload, not raise; valid text encodes as UTF-8.
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def sign_rest(secret: str, timestamp: str, key: str, recv_window: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of timestamp + key + recv_window + payload (bybit-v5.md §2)."""
    return _hmac_hex(secret, f"{timestamp}{key}{recv_window}{payload}")


def sign_ws(secret: str, expires: int) -> str:
    """Lower-case hex HMAC-SHA256 of "GET/realtime" + expires (bybit-v5.md §3)."""
    return _hmac_hex(secret, f"GET/realtime{expires}")


def _fail(code: int, msg: str, key: str | None = None) -> AuthResult:
    return AuthResult(False, code, msg, key)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    # First occurrence wins, so a duplicate header in another case cannot override the original.
    out: dict[str, str] = {}
    for name, value in headers.items():
        out.setdefault(name.lower(), value)
    return out


def _signatures_equal(given: str, expected: str) -> bool:
    # compare_digest refuses non-ASCII str, and a non-ASCII signature is simply wrong.
    if not given.isascii():
        return False
    return hmac.compare_digest(given, expected)


def check_rest(headers: Mapping[str, str], payload: str, now_ms: int, keys: KeyStore) -> AuthResult:
    """Authenticate one private REST request. `payload` is the raw query string (GET, without
    the "?") or the raw body (POST), exactly as received. See the module docstring for the rules."""
    h = _lower_headers(headers)
    key = h.get("x-bapi-api-key")
    if not key:
        return _fail(INVALID_KEY, INVALID_KEY_MSG)
    secret = keys.secret(key)
    if secret is None:
        return _fail(INVALID_KEY, INVALID_KEY_MSG)

    ts_text = h.get("x-bapi-timestamp")
    sign = h.get("x-bapi-sign")
    rw_text = h.get("x-bapi-recv-window")
    sign_type = h.get("x-bapi-sign-type")
    if ts_text is None:
        return _fail(PARAM_ERROR, "params error: X-BAPI-TIMESTAMP header is missing", key)
    if not sign:
        return _fail(PARAM_ERROR, "params error: X-BAPI-SIGN header is missing", key)
    if not _UINT.fullmatch(ts_text):
        return _fail(PARAM_ERROR, f"params error: X-BAPI-TIMESTAMP {ts_text!r} is not an integer", key)
    if rw_text is not None and not (_UINT.fullmatch(rw_text) and int(rw_text) > 0):
        return _fail(PARAM_ERROR, f"params error: X-BAPI-RECV-WINDOW {rw_text!r} is not a positive integer", key)
    if sign_type is not None and sign_type != "2":
        return _fail(PARAM_ERROR, f"params error: X-BAPI-SIGN-TYPE {sign_type!r} is not supported (only 2, HMAC)", key)

    timestamp = int(ts_text)
    recv_window = int(rw_text) if rw_text is not None else DEFAULT_RECV_WINDOW_MS
    if not (now_ms - recv_window <= timestamp < now_ms + FUTURE_TOLERANCE_MS):
        return _fail(
            TIMESTAMP_ERROR,
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{timestamp}],server_timestamp[{now_ms}],recv_window[{recv_window}]",
            key,
        )

    # Sign over the header text as received: a recv-window of "05000" is signed as "05000". When
    # the header is absent the client signed with nothing in its place, not with the default.
    origin = f"{ts_text}{key}{rw_text or ''}{payload}"
    if not _signatures_equal(sign, _hmac_hex(secret, origin)):
        return _fail(SIGN_ERROR, f"error sign! origin_string[{origin}]", key)
    return AuthResult(True, OK, "OK", key)


def check_ws_auth(args: object, now_ms: int, keys: KeyStore) -> AuthResult:
    """Authenticate a WebSocket `{"op":"auth","args":[key, expires, sig]}` request. `expires` may
    be an int (what pybit sends) or a string of digits."""
    if not isinstance(args, list | tuple) or len(args) != 3:
        return _fail(PARAM_ERROR, "Params Error: auth args must be [api_key, expires, signature]")
    key, expires, sig = args
    if not isinstance(key, str) or not isinstance(sig, str):
        return _fail(PARAM_ERROR, "Params Error: api_key and signature must be strings")
    if isinstance(expires, bool):  # bool is an int subclass; True is not a timestamp
        return _fail(PARAM_ERROR, "Params Error: expires must be an integer (ms)")
    if isinstance(expires, str) and _UINT.fullmatch(expires):
        expires_text = expires
    elif isinstance(expires, int) and expires >= 0:
        expires_text = str(expires)
    else:
        return _fail(PARAM_ERROR, "Params Error: expires must be an integer (ms)")

    secret = keys.secret(key)
    if secret is None:
        return _fail(INVALID_KEY, INVALID_KEY_MSG)
    if int(expires_text) <= now_ms:
        return _fail(PARAM_ERROR, f"Params Error: request expired (expires {expires_text} <= server time {now_ms})", key)
    if not _signatures_equal(sig, _hmac_hex(secret, f"GET/realtime{expires_text}")):
        return _fail(SIGN_ERROR, "error sign! invalid signature", key)
    return AuthResult(True, OK, "", key)

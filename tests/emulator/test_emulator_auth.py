"""The emulator's request authentication accepts exactly what pybit signs and refuses the rest
with Bybit's retCodes: 10001 malformed, 10002 outside the recv-window, 10003 key, 10004 sign."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pybit import _helpers
from pybit._websocket_stream import _WebSocketManager
from pybit.unified_trading import HTTP

from adapters.emulator.auth import (
    ApiKey,
    AuthResult,
    KeyStore,
    check_rest,
    check_ws_auth,
    sign_rest,
    sign_ws,
)

KEY, SECRET = "emuKey123", "emuSecretXYZ"
KEYS = KeyStore.from_pairs([(KEY, SECRET), ("other", "otherSecret")])
NOW = 1_721_347_020_000


def _pybit_request(monkeypatch: pytest.MonkeyPatch, method: str, path: str, params: dict, ts: int,
                   recv_window: int = 5000) -> tuple[dict[str, str], str]:
    """Headers and raw payload exactly as pybit would put them on the wire at local time `ts`."""
    monkeypatch.setattr(_helpers, "generate_timestamp", lambda: ts)
    session = HTTP(testnet=True, api_key=KEY, api_secret=SECRET, recv_window=recv_window)
    payload = session.prepare_payload(method, session._clean_query(dict(params)))
    headers = session._prepare_headers(payload, recv_window)
    request = session._prepare_request(method, f"{session.endpoint}{path}", payload, headers)
    raw = urlsplit(request.url).query if method == "GET" else request.body
    return dict(request.headers), raw


def _headers(ts: int | str = NOW, key: str = KEY, secret: str = SECRET, recv_window: str | None = "5000",
             payload: str = "") -> dict[str, str]:
    h = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": str(ts), "X-BAPI-SIGN-TYPE": "2"}
    if recv_window is not None:
        h["X-BAPI-RECV-WINDOW"] = recv_window
    h["X-BAPI-SIGN"] = sign_rest(secret, str(ts), key, recv_window or "", payload)
    return h


def test_a_get_signed_by_pybit_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    headers, raw = _pybit_request(monkeypatch, "GET", "/v5/position/list",
                                  {"category": "linear", "symbol": "BTCUSDT", "limit": 5}, ts=NOW)
    assert raw == "category=linear&limit=5&symbol=BTCUSDT"  # sorted, as pybit-notes says
    result = check_rest(headers, raw, NOW, KEYS)
    assert result == AuthResult(True, 0, "OK", KEY)


def test_a_post_signed_by_pybit_passes_and_a_reserialised_body_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    order = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
             "qty": "0.001", "price": 50000.0, "positionIdx": 0, "orderLinkId": "t-1"}
    headers, raw = _pybit_request(monkeypatch, "POST", "/v5/order/create", order, ts=NOW)
    assert check_rest(headers, raw, NOW, KEYS).ok
    # The server must verify the bytes received, not its own re-encoding of the parsed body.
    compact = json.dumps(json.loads(raw), separators=(",", ":"))
    assert compact != raw
    assert check_rest(headers, compact, NOW, KEYS).ret_code == 10004


def test_header_names_are_case_insensitive() -> None:
    lower = {k.lower(): v for k, v in _headers().items()}
    assert check_rest(lower, "", NOW, KEYS).ok


@pytest.mark.parametrize(("offset", "ok"), [
    (-5000, True),   # exactly recv_window old: still inside (server - recv_window <= ts)
    (-5001, False),
    (0, True),
    (999, True),     # ts < server + 1000
    (1000, False),
])
def test_the_timestamp_window_on_both_sides(offset: int, ok: bool) -> None:
    result = check_rest(_headers(ts=NOW + offset), "", NOW, KEYS)
    assert result.ok is ok
    if not ok:
        assert result.ret_code == 10002
        assert result.ret_msg.startswith("invalid request, please check your server timestamp or recv_window param")
        assert result.api_key == KEY


def test_recv_window_defaults_to_5000_when_the_header_is_absent() -> None:
    assert check_rest(_headers(ts=NOW - 5000, recv_window=None), "", NOW, KEYS).ok
    assert check_rest(_headers(ts=NOW - 5001, recv_window=None), "", NOW, KEYS).ret_code == 10002
    # A wider window, as pybit sends after a 10002 retry (+2500 ms).
    assert check_rest(_headers(ts=NOW - 7000, recv_window="7500"), "", NOW, KEYS).ok


def test_unknown_or_missing_key_is_10003() -> None:
    unknown = check_rest(_headers(key="nope"), "", NOW, KEYS)
    assert (unknown.ok, unknown.ret_code, unknown.ret_msg, unknown.api_key) == (False, 10003, "API key is invalid.", None)
    missing = _headers()
    del missing["X-BAPI-API-KEY"]
    assert check_rest(missing, "", NOW, KEYS).ret_code == 10003


def test_a_wrong_secret_or_payload_is_10004() -> None:
    wrong_secret = check_rest(_headers(secret="guess"), "", NOW, KEYS)
    assert (wrong_secret.ret_code, wrong_secret.api_key) == (10004, KEY)
    assert wrong_secret.ret_msg.startswith("error sign!")
    assert check_rest(_headers(payload="category=linear"), "category=spot", NOW, KEYS).ret_code == 10004
    # Another known key's secret does not sign for this key.
    assert check_rest(_headers(secret="otherSecret"), "", NOW, KEYS).ret_code == 10004


def test_upper_case_hex_is_refused() -> None:
    h = _headers()
    h["X-BAPI-SIGN"] = h["X-BAPI-SIGN"].upper()
    assert check_rest(h, "", NOW, KEYS).ret_code == 10004


@pytest.mark.parametrize(("header", "value"), [
    ("X-BAPI-TIMESTAMP", None),
    ("X-BAPI-SIGN", None),
    ("X-BAPI-TIMESTAMP", "17e11"),
    ("X-BAPI-TIMESTAMP", "-1"),
    ("X-BAPI-TIMESTAMP", " 1721347020000"),
    ("X-BAPI-RECV-WINDOW", "5s"),
    ("X-BAPI-RECV-WINDOW", "0"),
    ("X-BAPI-SIGN-TYPE", "1"),
])
def test_missing_or_malformed_headers_are_10001(header: str, value: str | None) -> None:
    h = _headers()
    if value is None:
        del h[header]
    else:
        h[header] = value
    result = check_rest(h, "", NOW, KEYS)
    assert (result.ok, result.ret_code, result.api_key) == (False, 10001, KEY)
    assert header in result.ret_msg


def test_checks_run_key_then_timestamp_then_signature() -> None:
    # Stale timestamp and bad signature: the timestamp is reported.
    assert check_rest(_headers(ts=NOW - 60_000, secret="guess"), "", NOW, KEYS).ret_code == 10002
    # Unknown key with everything else wrong too: the key is reported.
    assert check_rest(_headers(key="nope", ts=NOW - 60_000), "", NOW, KEYS).ret_code == 10003


@given(payload=st.text(max_size=300), lag=st.integers(min_value=0, max_value=5000))
def test_any_payload_signed_with_the_right_secret_passes(payload: str, lag: int) -> None:
    ts = NOW - lag
    assert check_rest(_headers(ts=ts, payload=payload), payload, NOW, KEYS).ok


@given(payload=st.text(min_size=1, max_size=200), data=st.data())
def test_any_single_character_change_to_the_payload_fails(payload: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(payload) - 1))
    c = data.draw(st.characters().filter(lambda ch: ch != payload[i]))
    tampered = payload[:i] + c + payload[i + 1:]
    assert check_rest(_headers(payload=payload), tampered, NOW, KEYS).ret_code == 10004


@given(data=st.data())
def test_any_single_character_change_to_the_signature_fails(data: st.DataObject) -> None:
    h = _headers(payload="category=linear")
    sig = h["X-BAPI-SIGN"]
    i = data.draw(st.integers(0, len(sig) - 1))
    c = data.draw(st.characters().filter(lambda ch: ch != sig[i]))
    h["X-BAPI-SIGN"] = sig[:i] + c + sig[i + 1:]
    assert check_rest(h, "category=linear", NOW, KEYS).ret_code == 10004


def test_sign_rest_matches_a_known_vector() -> None:
    # hmac.new(b"secret", b"1000key5000a=1", sha256).hexdigest(), computed independently.
    import hashlib
    import hmac
    expected = hmac.new(b"secret", b"1000key5000a=1", hashlib.sha256).hexdigest()
    assert sign_rest("secret", "1000", "key", "5000", "a=1") == expected
    assert expected == expected.lower() and len(expected) == 64


# -- key store -------------------------------------------------------------------------------

def test_key_store_construction() -> None:
    store = KeyStore.from_pairs({"a": "s1", "b": "s2"})
    assert list(store) == ["a", "b"] and len(store) == 2 and "a" in store
    assert store.secret("b") == "s2" and store.secret("c") is None
    assert KeyStore.from_pairs([ApiKey("a", "s1")]).secret("a") == "s1"
    with pytest.raises(ValueError, match="different secrets"):
        KeyStore.from_pairs([("a", "s1"), ("a", "s2")])
    with pytest.raises(ValueError, match="non-empty"):
        KeyStore.from_pairs([("a", "")])


# -- WebSocket auth --------------------------------------------------------------------------

def _pybit_ws_auth_args(monkeypatch: pytest.MonkeyPatch, local_ms: int) -> list:
    """The args of the auth frame pybit's stream manager sends at local time `local_ms`."""
    sent: list[str] = []

    class _Socket:
        def send(self, text: str) -> None:
            sent.append(text)

    monkeypatch.setattr(_helpers, "generate_timestamp", lambda: local_ms)
    manager = _WebSocketManager(lambda m: None, "test", testnet=True, api_key=KEY, api_secret=SECRET)
    manager.ws = _Socket()
    manager._auth()
    frame = json.loads(sent[0])
    assert frame["op"] == "auth"
    return frame["args"]


def test_ws_auth_from_pybit_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    args = _pybit_ws_auth_args(monkeypatch, NOW)
    assert args[1] == NOW + 1000  # private_auth_expire = 1 s, sent as an int
    assert check_ws_auth(args, NOW, KEYS) == AuthResult(True, 0, "", KEY)
    assert check_ws_auth(args, NOW + 999, KEYS).ok


def test_ws_auth_expired_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    args = _pybit_ws_auth_args(monkeypatch, NOW)
    for now in (NOW + 1000, NOW + 5000):  # expires must be strictly in the future
        result = check_ws_auth(args, now, KEYS)
        assert (result.ok, result.ret_code) == (False, 10001)
        assert "expired" in result.ret_msg


def test_ws_auth_bad_sign_unknown_key_and_bad_args() -> None:
    expires = NOW + 1000
    good = sign_ws(SECRET, expires)
    assert check_ws_auth([KEY, expires, good], NOW, KEYS).ok
    assert check_ws_auth([KEY, str(expires), good], NOW, KEYS).ok  # digits as a string
    assert check_ws_auth([KEY, expires, sign_ws("guess", expires)], NOW, KEYS).ret_code == 10004
    assert check_ws_auth([KEY, expires + 1, good], NOW, KEYS).ret_code == 10004
    assert check_ws_auth(["nope", expires, good], NOW, KEYS).ret_code == 10003
    for bad in ([KEY, expires], [KEY, expires, good, "x"], "not a list", None,
                [KEY, True, good], [KEY, 1.5e12, good], [KEY, "soon", good], [1, expires, good]):
        assert check_ws_auth(bad, NOW, KEYS).ret_code == 10001, bad

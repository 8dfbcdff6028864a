"""The shared parts of Bybit v5 message parsing: the two error types, the strict accessor every
parser reads a message through (`_Obj`), and the REST envelope.

`_Obj` turns Bybit's strings into Decimal and int, refuses JSON floats (already imprecise), and
names the message kind, list index and key in every error (`execution[2].execPrice: ...`). The
parsers in `messages.py` (WebSocket) and `rest_messages.py` (REST) are built on it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any


class BybitMessageError(ValueError):
    """A message that does not have the shape we rely on (missing key, bad number, bad topic)."""


class BybitApiError(RuntimeError):
    """A REST reply with retCode != 0 (Bybit answers business errors with HTTP 200)."""

    def __init__(self, ret_code: int, ret_msg: str, what: str) -> None:
        super().__init__(f"bybit {what}: retCode {ret_code}: {ret_msg}")
        self.ret_code = ret_code
        self.ret_msg = ret_msg
        self.what = what


_INT_RE = re.compile(r"-?[0-9]+")


def _show(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


class _Obj:
    """A JSON object and its path in the message, so every error points at the bad key."""

    __slots__ = ("d", "path")

    def __init__(self, d: Any, path: str) -> None:
        if not isinstance(d, dict):
            raise BybitMessageError(f"{path}: not an object: {_show(d)}")
        self.d = d
        self.path = path

    def err(self, key: str, what: str) -> BybitMessageError:
        return BybitMessageError(f"{self.path}.{key}: {what}: {_show(self.d.get(key))}")

    def has(self, key: str) -> bool:
        return key in self.d

    def raw(self, key: str) -> Any:
        if key not in self.d:
            raise BybitMessageError(f"{self.path}.{key}: missing")
        return self.d[key]

    def text(self, key: str) -> str:
        v = self.raw(key)
        if not isinstance(v, str):
            raise self.err(key, "not a string")
        return v

    def opt_text(self, key: str) -> str | None:
        return None if self.d.get(key) is None else self.text(key)

    def dec(self, key: str) -> Decimal:
        v = self.raw(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return Decimal(v)
        # floats are refused (precision already lost), and so are " 1", "NaN", "Infinity"
        try:
            d = Decimal(v) if isinstance(v, str) and v == v.strip() else None
        except InvalidOperation:
            d = None
        if d is None or not d.is_finite():
            raise self.err(key, "not a decimal")
        return d

    def dec_or_none(self, key: str) -> Decimal | None:
        """Key required; "" or null (Bybit's "no value") -> None."""
        v = self.raw(key)
        return None if v is None or v == "" else self.dec(key)

    def opt_dec(self, key: str) -> Decimal | None:
        """Key may be absent; absent, "" or null -> None."""
        return self.dec_or_none(key) if key in self.d else None

    def price_or_none(self, key: str) -> Decimal | None:
        """Key required; "", null and 0 -> None (a zero price means "none yet")."""
        d = self.dec_or_none(key)
        return None if d is None or d == 0 else d

    def integer(self, key: str) -> int:
        v = self.raw(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, str) and _INT_RE.fullmatch(v):
            return int(v)
        raise self.err(key, "not an int")

    def opt_int(self, key: str) -> int | None:
        """Key may be absent; absent, "" or null -> None."""
        return None if self.d.get(key) in (None, "") else self.integer(key)

    def flag(self, key: str) -> bool:
        v = self.raw(key)
        if not isinstance(v, bool):
            raise self.err(key, "not a bool")
        return v

    def opt_flag(self, key: str) -> bool | None:
        return None if self.d.get(key) is None else self.flag(key)

    def side(self, key: str, *, flat_ok: bool = False) -> int:
        v = self.raw(key)
        if v == "Buy":
            return 1
        if v == "Sell":
            return -1
        if v == "" and flat_ok:
            return 0
        raise self.err(key, "not a side")

    def obj(self, key: str) -> _Obj:
        return _Obj(self.raw(key), f"{self.path}.{key}")

    def items(self, key: str, path: str | None = None) -> list[_Obj]:
        """The objects of a list under `key`, with paths `path[i]` (default `self.path.key[i]`)."""
        v = self.raw(key)
        if not isinstance(v, list):
            raise self.err(key, "not a list")
        base = f"{self.path}.{key}" if path is None else path
        return [_Obj(x, f"{base}[{i}]") for i, x in enumerate(v)]


def _envelope(resp: dict, what: str) -> tuple[_Obj, _Obj]:
    top = _Obj(resp, what)
    code, msg = top.integer("retCode"), top.text("retMsg")
    if code != 0:
        raise BybitApiError(code, msg, what)
    return top, top.obj("result")


def check_envelope(resp: dict, what: str) -> dict:
    """The `result` of a successful reply; raises BybitApiError when retCode != 0."""
    return _envelope(resp, what)[1].d

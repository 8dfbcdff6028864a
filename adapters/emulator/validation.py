"""Input validation for the loopback Bybit-v5 emulator: request bodies and query strings, typed
parameters, and the instrument's quantity and price bounds on order create and amend.

Every refusal is an `ApiError` — a Bybit-style business error answered with HTTP 200 and a
non-zero retCode — so malformed input can never reach the exchange's arithmetic (where a list
would be unhashable, "1e400" would overflow a float and a Decimal modulo could trap). The codes
and messages are those of Bybit's v5 "Error Codes" page (docs/v5/error.mdx in
bybit-exchange/docs: the UTA table for linear and inverse, the "Spot Trade" table for spot);
where that page names no code for a rule, the choice is recorded in
docs/DECISIONS.md ("Emulator input validation").

Parameters arrive as strings from a GET query and as any JSON type from a POST body. Bybit's
order parameters are strings, but a JSON number is accepted for numeric ones (pybit passes
prices through as the caller gave them); a boolean, list, object or null never is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, DecimalException, InvalidOperation, localcontext
from typing import Any

PARAMS = 10001

#: Longest numeric text accepted; Bybit's widest quantities and prices are a few dozen digits,
#: and a bound keeps Decimal arithmetic on attacker-sized numbers out of the request path.
MAX_NUMBER_CHARS = 64
#: Longest id text (orderId is a UUID; orderLinkId is at most 36 characters).
MAX_ID_CHARS = 64
#: Bybit's wire integers (ms timestamps, limits) fit in a signed 64-bit integer.
MAX_INT = 2**63 - 1

TIME_IN_FORCE = ("GTC", "IOC", "FOK", "PostOnly", "RPI")

#: Spot instruments list no maxPrice; Bybit bounds spot prices by its price-limit band instead,
#: which the emulator does not model. An absolute cap (linear BTCUSDT's maxPrice) keeps prices
#: that no float can hold out of the matching engine (docs/DECISIONS.md ("Emulator input validation")).
SPOT_MAX_PRICE = Decimal("1999999.80")

_INT_TEXT = re.compile(r"-?[0-9]{1,19}")


class ApiError(Exception):
    """A business error: Bybit answers it with HTTP 200 and this retCode."""

    def __init__(self, ret_code: int, ret_msg: str) -> None:
        super().__init__(f"{ret_code}: {ret_msg}")
        self.ret_code, self.ret_msg = ret_code, ret_msg


def params_error(detail: str) -> ApiError:
    return ApiError(PARAMS, f"params error: {detail}")


# -- request payloads ---------------------------------------------------------------------------

def body_params(raw: bytes) -> dict[str, Any]:
    """A POST body as parameters: empty, or a UTF-8 JSON object."""
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise params_error("body is not valid UTF-8") from None
    # ValueError covers malformed JSON and integers too long to convert; RecursionError a body
    # nested deeper than the parser's stack.
    except (ValueError, RecursionError):
        raise params_error("body is not JSON") from None
    if not isinstance(parsed, dict):
        raise params_error(f"body must be a JSON object, not {type(parsed).__name__}")
    return parsed


def query_params(raw_query: str) -> dict[str, str]:
    """A GET query as parameters, the text kept as sent (the signature covers the raw query, and
    pybit sends no percent-escapes for the values the emulator reads). A later duplicate wins."""
    return {k: v for k, v in (p.split("=", 1) for p in raw_query.split("&") if "=" in p)}


# -- typed parameters ---------------------------------------------------------------------------

def _present(params: Mapping[str, Any], key: str) -> bool:
    v = params.get(key)
    return v is not None and v != ""


def text(params: Mapping[str, Any], key: str, *, required: bool = False, max_len: int = MAX_ID_CHARS) -> str | None:
    """A string parameter; None when absent or empty (and not required)."""
    if not _present(params, key):
        if required:
            raise params_error(f"{key} is required")
        return None
    v = params[key]
    if not isinstance(v, str):
        raise params_error(f"{key} must be a string")
    if len(v) > max_len:
        raise params_error(f"{key} is longer than {max_len} characters")
    return v


def choice(params: Mapping[str, Any], key: str, allowed: tuple[str, ...], *, default: str | None = None,
           required: bool = False) -> str | None:
    v = text(params, key, required=required)
    if v is None:
        return default
    if v not in allowed:
        raise params_error(f"{key} invalid: {v!r} is not one of {', '.join(allowed)}")
    return v


def integer(params: Mapping[str, Any], key: str, *, default: int | None = None, lo: int = 0,
            hi: int = MAX_INT) -> int | None:
    """An integer parameter in [lo, hi]: a JSON integer or a string of decimal digits."""
    if not _present(params, key):
        return default
    v = params[key]
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise params_error(f"{key} must be an integer")
    if isinstance(v, str):
        if not _INT_TEXT.fullmatch(v):
            raise params_error(f"{key} must be an integer, got {v[:MAX_ID_CHARS]!r}")
        v = int(v)
    if not lo <= v <= hi:
        raise params_error(f"{key} {v} is out of range [{lo}, {hi}]")
    return v


def page_limit(params: Mapping[str, Any], *, default: int, hi: int) -> int:
    """A list endpoint's `limit`, in [1, hi] as the endpoint's page documents it."""
    v = integer(params, "limit", default=default, lo=1, hi=hi)
    assert v is not None
    return v


def flag(params: Mapping[str, Any], key: str) -> bool:
    """A boolean parameter: JSON true/false or their text; absent is false."""
    if params.get(key) is None:
        return False
    v = params[key]
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v in ("true", "false"):
        return v == "true"
    raise params_error(f"{key} must be a boolean")


def decimal(params: Mapping[str, Any], key: str, *, required: bool = True) -> Decimal | None:
    """A finite decimal parameter: a numeric string or a JSON number."""
    if not _present(params, key):
        if required:
            raise params_error(f"{key} is required")
        return None
    v = params[key]
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise params_error(f"{key} must be a decimal string")
    s = v if isinstance(v, str) else repr(v)
    if len(s) > MAX_NUMBER_CHARS:
        raise params_error(f"{key} invalid: more than {MAX_NUMBER_CHARS} characters")
    try:
        d = Decimal(s.strip())
    except InvalidOperation:
        raise params_error(f"{key} invalid: {s!r}") from None
    if not d.is_finite():
        raise params_error(f"{key} invalid: {s!r}")
    return d


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True if `value` is a whole number of `step`s. Decimal's `%` traps when the quotient has
    more digits than the context's precision (1e60 % 0.001); such a value is treated as off-step
    (bounds are checked first, so only out-of-range numbers get that far)."""
    try:
        with localcontext() as ctx:
            ctx.prec = 80
            return value % step == 0
    except DecimalException:
        return False


# -- instrument bounds --------------------------------------------------------------------------

def _d(row: Mapping[str, Any], key: str) -> Decimal | None:
    v = row.get(key)
    return Decimal(v) if isinstance(v, str) and v else None


@dataclass(frozen=True)
class Bounds:
    """The order limits an instrument lists in `instruments-info` (bybit-v5.md §6), read from the
    very row the emulator serves, so what a client reads is what the order API enforces."""

    category: str
    qty_step: Decimal
    tick: Decimal
    min_qty: Decimal
    max_limit_qty: Decimal
    max_market_qty: Decimal
    min_price: Decimal
    max_price: Decimal | None
    min_notional: Decimal | None  # linear's minNotionalValue (quote coin)
    min_amount: Decimal | None  # spot's minOrderAmt (quote coin)
    max_amount: Decimal | None  # spot's maxOrderAmt (quote coin)
    quote_precision: Decimal | None  # spot

    @classmethod
    def from_instrument(cls, category: str, row: Mapping[str, Any]) -> Bounds:
        lot, price = row["lotSizeFilter"], row["priceFilter"]
        tick = Decimal(price["tickSize"])
        if category == "spot":
            step = Decimal(lot["basePrecision"])
            return cls(category, step, tick, Decimal(lot["minOrderQty"]), Decimal(lot["maxLimitOrderQty"]),
                       Decimal(lot["maxMarketOrderQty"]), tick, SPOT_MAX_PRICE, None, _d(lot, "minOrderAmt"),
                       _d(lot, "maxOrderAmt"), _d(lot, "quotePrecision"))
        return cls(category, Decimal(lot["qtyStep"]), tick, Decimal(lot["minOrderQty"]), Decimal(lot["maxOrderQty"]),
                   Decimal(lot["maxMktOrderQty"]), Decimal(price["minPrice"]), _d(price, "maxPrice"),
                   _d(lot, "minNotionalValue"), None, None, None)

    @property
    def spot(self) -> bool:
        return self.category == "spot"

    def check_qty(self, qty: Decimal, order_type: str) -> None:
        """A base-coin quantity (contracts for inverse) against minOrderQty, the limit or market
        maximum and qtyStep (basePrecision on spot)."""
        if qty <= 0:
            raise params_error(f"qty {qty} must be positive")
        top = self.max_market_qty if order_type == "Market" else self.max_limit_qty
        if self.spot:
            # Error Codes, "Spot Trade": 170136 below the minimum, 170137 too many decimals;
            # 170381 for above the maximum (see docs/DECISIONS.md ("Emulator input validation")).
            if qty < self.min_qty:
                raise ApiError(170136, "Order quantity lower than the minimum.")
            if qty > top:
                raise ApiError(170381, "Order quantity too large.")
            if not is_multiple(qty, self.qty_step):
                raise ApiError(170137, "Order volume decimal too long")
            return
        # Error Codes, "UTA": no dedicated code for quantity bounds; Bybit answers them with
        # 10001 and these texts (docs/DECISIONS.md ("Emulator input validation")).
        if qty < self.min_qty:
            raise ApiError(PARAMS, "The number of contracts exceeds minimum limit allowed")
        if qty > top:
            raise ApiError(PARAMS, "The number of contracts exceeds maximum limit allowed: too large")
        if not is_multiple(qty, self.qty_step):
            raise params_error(f"qty {qty} is not a positive multiple of {self.qty_step}")

    def check_quote_amount(self, amount: Decimal) -> None:
        """A spot market order's quantity given in the quote coin (marketUnit=quoteCoin)."""
        assert self.quote_precision is not None
        if amount <= 0:
            raise params_error(f"qty {amount} must be positive")
        # Error Codes, "Spot Trade": 170140 value below minOrderAmt, 170124 amount too large,
        # 170148 market order amount decimal too long.
        if self.min_amount is not None and amount < self.min_amount:
            raise ApiError(170140, "Order value exceeded lower limit.")
        if self.max_amount is not None and amount > self.max_amount:
            raise ApiError(170124, "Order amount too large.")
        if not is_multiple(amount, self.quote_precision):
            raise ApiError(170148, "Market order amount decimal too long")

    def check_price(self, price: Decimal) -> None:
        """A limit price against priceFilter: minPrice, maxPrice, tickSize."""
        if price <= 0:
            raise params_error(f"price {price} must be positive")
        if self.spot:
            # Error Codes, "Spot Trade": 170133 below the minimum, 170132 too high, 170134 too
            # many decimals.
            if price < self.min_price:
                raise ApiError(170133, "Order price lower than the minimum.")
            if self.max_price is not None and price > self.max_price:
                raise ApiError(170132, "Order price too high.")
            if not is_multiple(price, self.tick):
                raise ApiError(170134, "Order price decimal too long.")
            return
        # Error Codes, "UTA": 110003 "Order price exceeds the allowable range".
        if price < self.min_price or (self.max_price is not None and price > self.max_price):
            raise ApiError(110003, "Order price exceeds the allowable range.")
        if not is_multiple(price, self.tick):
            raise params_error(f"price {price} is not a positive multiple of {self.tick}")

    def check_value(self, qty: Decimal, price: Decimal, *, reduce_only: bool) -> None:
        """Order value bounds: linear's minNotionalValue (110094; a reduce-only order closes what is
        held and is exempt) and spot's minOrderAmt / maxOrderAmt (170140 / 170124)."""
        if not price.is_finite():
            return  # no market price yet (a NaN quote): nothing to compare
        value = qty * price
        if self.spot:
            if self.min_amount is not None and value < self.min_amount:
                raise ApiError(170140, "Order value exceeded lower limit.")
            if self.max_amount is not None and value > self.max_amount:
                raise ApiError(170124, "Order amount too large.")
        elif self.min_notional is not None and not reduce_only and value < self.min_notional:
            raise ApiError(110094, "Order notional value below the lower limit")

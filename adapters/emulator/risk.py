"""Bybit's pre-trade checks for the emulator: what an order must pass before it reaches the
matching engine, and the unified account's margin for a derivative.

- **Price band** (account/set-price-limit.mdx, market/instrument.mdx `riskParameters`): the
  highest price a buy and the lowest price a sell may carry. With the index and mark both the
  emulator's mark (the mid of the last quote) the order-book premium is zero, and the futures
  formula min(Mark × (1 + Y), max(Index, Mark × (1 + X) + α·0)) reduces to Mark × (1 + X); the
  spot one reduces to Index × (1 + x) likewise (sell: × (1 − X)). What happens to a price outside
  it is the account's "limit price action": by default futures move the price to the band's edge
  and spot rejects (account/get-user-setting-config.mdx); `set-limit-px-action` switches it.
- **Reduce-only at placement** (error.mdx 110017): a reduce-only order needs a position on the
  other side; the engine then caps it at that position when it executes.
- **Position mode** (create-order.mdx `positionIdx`): the account is in one-way mode, so only
  positionIdx 0 is accepted.
- **Margin** (linear and inverse, cross margin of a unified account): leverage per symbol
  (position/leverage.mdx), initial margin = value / leverage, maintenance margin = value × the
  first risk-limit tier's rate, available balance = equity − position IM − order IM; an order
  whose initial margin does not fit is refused with 110007. Simplifications: one risk tier, no
  fee-to-close in the margin, and an order's margin is counted at its own price (a market order
  at the touch).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from typing import TYPE_CHECKING, Any

from .contract import Contract, num
from .validation import TIME_IN_FORCE, ApiError, choice, decimal, flag, params_error

if TYPE_CHECKING:
    from .account import EmOrder, EmPosition, Wallet
    from .tape import Published

#: Maintenance margin rate of the first risk-limit tier of BTCUSDT / BTCUSD (market/risk-limit.mdx:
#: maintenanceMargin 0.005 for riskId 1); every position is taken to sit in that tier.
MAINTENANCE_RATE = 0.005
#: The leverage a symbol has before set-leverage is called (what positions reported before).
DEFAULT_LEVERAGE = Decimal(10)


@dataclass(frozen=True)
class PriceBand:
    """The band of one instrument: ratios X and Y and its tick."""

    x: Decimal
    y: Decimal
    tick: Decimal

    def edges(self, mark: float) -> tuple[Decimal, Decimal]:
        """(highest buy price, lowest sell price) at `mark`, on the tick grid inside the band."""
        m = Decimal(repr(mark))
        hi = (m * (1 + self.x) / self.tick).to_integral_value(ROUND_FLOOR) * self.tick
        lo = (m * (1 - self.x) / self.tick).to_integral_value(ROUND_CEILING) * self.tick
        return hi, lo

    def apply(self, side: int, price: Decimal, mark: float, *, adjust: bool, spot: bool) -> Decimal:
        """The price the order keeps: `price` inside the band; outside it, the band's edge when
        `adjust`, else the category's refusal."""
        if mark != mark:
            return price  # no quote yet: no mark to draw a band around
        hi, lo = self.edges(mark)
        if side > 0 and price > hi:
            if adjust:
                return hi
            # Error Codes: Spot Trade 170193, UTA 110121 (docs/DECISIONS.md ("Emulator conformance")).
            raise ApiError(170193, f"Buy order price cannot be higher than {hi}.") if spot else \
                ApiError(110121, f"Order price cannot be higher than {hi}, the price limitation")
        if side < 0 and price < lo:
            if adjust:
                return lo
            raise ApiError(170194, f"Sell order price cannot be lower than {lo}.") if spot else \
                ApiError(110120, f"Order price cannot be smaller than {lo}, the price limitation")
        return price


def check_reduce_only(position_size: float, side: int) -> None:
    """A reduce-only order needs a position on the other side (Error Codes, UTA: 110017)."""
    if position_size == 0.0 or (position_size > 0) == (side > 0):
        raise ApiError(110017, "orderQty will be truncated to zero")


def check_position_idx(idx: int | None) -> None:
    """One-way mode: positionIdx 0 (or absent); 1 and 2 are hedge-mode legs."""
    if idx not in (None, 0):
        raise ApiError(10001, "position idx not match position mode")


@dataclass
class Margin:
    """The margin side of a derivative account: the symbol's leverage and the arithmetic of
    initial and maintenance margin in the settle coin."""

    contract: Contract
    max_leverage: Decimal
    leverage: Decimal = DEFAULT_LEVERAGE

    def set_leverage(self, buy: Decimal, sell: Decimal) -> None:
        """position/leverage.mdx: one-way mode needs buy == sell in [1, max]; 110043 when unchanged."""
        if buy != sell:
            raise ApiError(10001, "params error: buyLeverage must equal sellLeverage in one-way mode")
        if not Decimal(1) <= buy <= self.max_leverage or buy != buy.quantize(Decimal("0.01")):
            raise ApiError(10001, f"params error: leverage {buy} is not in [1, {self.max_leverage}] by 0.01")
        if buy == self.leverage:
            raise ApiError(110043, "Set leverage has not been modified.")
        self.leverage = buy.normalize()  # "5.00" is listed as Bybit lists it: "5"

    def value(self, qty: float, price: float) -> float:
        """Value of `qty` at `price` in the settle coin (USDT for linear, BTC for inverse)."""
        return self.contract.position_value(qty, price) if price > 0 else 0.0

    def initial(self, qty: float, price: float) -> float:
        return self.value(qty, price) / float(self.leverage)

    def maintenance(self, qty: float, price: float) -> float:
        return self.value(qty, price) * MAINTENANCE_RATE


def opening_qty(position_size: float, side: int, qty: float, reduce_only: bool) -> float:
    """The part of an order of `side` and `qty` that opens exposure: what is left after it has
    closed the position on the other side (a reduce-only order opens nothing)."""
    if reduce_only:
        return 0.0
    closes = abs(position_size) if position_size and (position_size > 0) != (side > 0) else 0.0
    return max(qty - closes, 0.0)


class PreTradeChecks:
    """The emulated exchange's pre-trade checks and margin figures (mixed into
    `EmulatedExchange`, whose state they read: the position, the open orders, the wallet)."""

    category: str
    mark: float
    band: PriceBand
    adjust_out_of_band: dict[str, bool]
    margin: Margin | None
    position: EmPosition
    orders: dict[str, EmOrder]
    wallet: Wallet
    contract: Contract
    feed: Any
    config: Any

    if TYPE_CHECKING:  # EmulatedExchange's
        def _best(self, side: int) -> Decimal: ...
        def _check_symbol(self, params: dict[str, Any]) -> None: ...
        def _position_msg(self) -> Published: ...

    def _time_in_force(self, params: dict[str, Any], otype: str | None) -> str:
        """create-order.mdx: GTC when not given; a market order always runs as IOC (a market
        PostOnly goes to the engine, which rejects it with EC_MarketOrderCannotBePostOnly); RPI is
        for approved market makers only (Error Codes, UTA: 110119)."""
        tif = choice(params, "timeInForce", TIME_IN_FORCE) or "GTC"
        if tif == "RPI":
            raise ApiError(110119, "Order failed. RPI orders are restricted to approved market makers only")
        if otype == "Market" and tif != "PostOnly":
            return "IOC"
        return tif

    def _in_band(self, side: int, price: Decimal) -> Decimal:
        spot = self.category == "spot"
        adjust = self.adjust_out_of_band["spot" if spot else "futures"]
        return self.band.apply(side, price, self.mark, adjust=adjust, spot=spot)

    def set_limit_px_action(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[Published]]:
        """account/set-price-limit.mdx: `modifyEnable` true moves an out-of-band price to the
        band's edge, false rejects it; linear and inverse share the futures setting."""
        category = choice(params, "category", ("linear", "inverse", "spot"), required=True)
        if not isinstance(params.get("modifyEnable"), bool) and params.get("modifyEnable") not in ("true", "false"):
            raise params_error("modifyEnable is required (true or false)")
        self.adjust_out_of_band["spot" if category == "spot" else "futures"] = flag(params, "modifyEnable")
        self._changed(account=True)
        return {}, []

    def user_setting_config(self) -> dict[str, Any]:
        """account/get-user-setting-config.mdx (note lpaPerp's inverted sense: true rejects)."""
        return {"lpaSpot": self.adjust_out_of_band["spot"], "lpaPerp": not self.adjust_out_of_band["futures"],
                "deltaEnable": False, "smsef": False, "fmsef": False}

    def _check_margin(self, side: int, qty: Decimal, price: Decimal | None, reduce_only: bool) -> None:
        """110007 when the initial margin of what the order opens exceeds the available balance."""
        assert self.margin is not None
        if price is None and self.feed.engine.last_quote() is None:
            return  # a market order before the first quote: no price to value it at
        px = float(price) if price is not None else float(self._best(side))
        need = self.margin.initial(opening_qty(self.position.size, side, float(qty), reduce_only), px)
        if need > 0 and need - self.available() > 1e-12:
            raise ApiError(110007, "Available balance is insufficient")

    def order_im(self) -> float:
        """Initial margin the open orders hold: each at its price for what it would open."""
        if self.margin is None:
            return 0.0
        total = 0.0
        for o in self.orders.values():
            if o.is_open and o.price is not None:
                total += self.margin.initial(opening_qty(self.position.size, o.side, o.leaves(), o.reduce_only),
                                             float(o.price))
        return total

    def position_im_mm(self) -> tuple[float, float]:
        """(positionIM, positionMM) of the position, valued at the mark (positionIMByMp)."""
        if self.margin is None or self.position.size == 0.0 or self.mark != self.mark:
            return 0.0, 0.0
        size = abs(self.position.size)
        return self.margin.initial(size, self.mark), self.margin.maintenance(size, self.mark)

    def available(self) -> float:
        """The settle coin's equity less the position's and the open orders' initial margin."""
        c = self.contract
        p = self.position
        upl = c.unrealised(p.size, p.entry, self.mark) if p.size and self.mark == self.mark else 0.0
        return self.wallet.balance(c.settle) + upl - self.position_im_mm()[0] - self.order_im()

    def set_leverage(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[Published]]:
        self._check_symbol(params)
        if self.margin is None:
            raise params_error("spot has no leverage to set")
        buy, sell = decimal(params, "buyLeverage"), decimal(params, "sellLeverage")
        assert buy is not None and sell is not None
        self.margin.set_leverage(buy, sell)
        self._changed(account=True)
        return {}, [self._position_msg()]

    def position_row(self) -> dict[str, Any]:
        """The position as position/list and the position push give it, with its margin."""
        im, mm = self.position_im_mm()
        lev = num(self.margin.leverage) if self.margin is not None else "10"
        return self.position.wire(self.mark, lev, im, mm, self.config.taker_fee_bps / 10_000)


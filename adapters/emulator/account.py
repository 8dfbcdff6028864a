"""The emulated account: orders, executions, the one-way position and the wallet, kept in the
shapes Bybit v5 reports them (decimal strings, millisecond times), for one instrument of one
category; the category's arithmetic (fees, values, PnL, wallet rows) is its `Contract`.

Everything here is bookkeeping over what the matching engine decided; nothing here matches.
Amounts that come from the engine as floats are written with `repr`, the shortest text that
reads back as the same float, so a client parsing them sees exactly the engine's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .contract import Contract, num

__all__ = ["EmExecution", "EmOrder", "EmPosition", "OPEN_STATUSES", "Wallet", "bybit_code", "cancel_fields", "num",
           "side_name"]


def side_name(side: int) -> str:
    return {1: "Buy", -1: "Sell", 0: ""}[side]


OPEN_STATUSES = ("New", "PartiallyFilled")


def bybit_code(reason: str) -> str:
    """The Bybit code an engine reason begins with ("EC_NoImmediateQtyToFill: ..." -> the code)."""
    return reason.split(":", 1)[0].strip()


def cancel_fields(reason: str) -> tuple[str, str]:
    """(cancelType, rejectReason) of a cancel (enum.mdx cancelType, rejectReason). A requested
    cancel has no reason: CancelByUser. The engine's own cancels carry Bybit's code: an IOC, FOK or
    PostOnly order the market did not take as asked is `Cancelled` with that `EC_` rejectReason
    and cancelType UNKNOWN; a reduce-only order with nothing (left) to reduce is
    CancelByReduceOnly."""
    code = bybit_code(reason)
    if not code:
        return "CancelByUser", "EC_NoError"
    if code.startswith("EC_"):
        return "UNKNOWN", code
    return code, "EC_NoError"


def _zero(x: float) -> str:
    return num(x) if x else "0"


@dataclass
class EmOrder:
    order_id: str
    link_id: str
    category: str
    symbol: str
    side: int
    order_type: str  # Limit | Market
    price: Decimal | None
    qty: Decimal
    time_in_force: str
    reduce_only: bool
    created_ms: int
    engine_id: int
    status: str = "Created"
    cum_qty: float = 0.0
    cum_value: float = 0.0
    cum_fee: float = 0.0  # in the settle coin (linear, inverse)
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    updated_ms: int = 0
    market_unit: str = ""  # spot market orders: baseCoin | quoteCoin, as the order gave it
    base_qty: Decimal | None = None  # what is matched, when `qty` is in the quote coin
    lock_price: float | None = None  # spot: the price the unfilled part holds funds at
    fees: dict[str, float] = field(default_factory=dict)  # cumulative fee per coin
    closed_pnl: float = 0.0  # derivatives: what its closing fills realised, after their fees

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES or self.status == "Created"

    @property
    def match_qty(self) -> Decimal:
        """The quantity the engine matches (the base coin's, for a quote-coin spot order)."""
        return self.base_qty if self.base_qty is not None else self.qty

    def leaves(self) -> float:
        return max(float(self.match_qty) - self.cum_qty, 0.0)

    def wire(self, c: Contract) -> dict[str, Any]:
        leaves = self.leaves() if self.status in OPEN_STATUSES else 0.0
        avg = c.avg_price(self.cum_qty, self.cum_value) if self.cum_qty > 0 else None
        fee_coin = c.order_fee_coin(self.side, self.fees)
        cum_fee = num(self.fees.get(fee_coin, 0.0) if c.category == "spot" else self.cum_fee)
        row = {
            "category": self.category, "symbol": self.symbol, "orderId": self.order_id,
            "orderLinkId": self.link_id, "blockTradeId": "", "side": side_name(self.side),
            "positionIdx": 0, "orderStatus": self.status, "cancelType": self.cancel_type,
            "rejectReason": self.reject_reason, "timeInForce": self.time_in_force, "isLeverage": "",
            "price": num(self.price) if self.price is not None else "0", "qty": num(self.qty),
            "avgPrice": num(avg) if avg is not None else "", "leavesQty": c.qty_text(leaves),
            "leavesValue": num(c.leaves_value(leaves, float(self.price))) if self.price is not None else "0",
            "cumExecQty": c.qty_text(self.cum_qty), "cumExecValue": num(self.cum_value), "cumExecFee": cum_fee,
            "orderType": self.order_type, "stopOrderType": "", "orderIv": "", "triggerPrice": "",
            "takeProfit": "", "stopLoss": "", "triggerBy": "", "tpTriggerBy": "", "slTriggerBy": "",
            "triggerDirection": 0, "placeType": "", "lastPriceOnCreated": "", "closeOnTrigger": False,
            "reduceOnly": self.reduce_only, "smpGroup": 0, "smpType": "None", "smpOrderId": "",
            "slLimitPrice": "0", "tpLimitPrice": "0", "tpslMode": "", "createType": "CreateByUser",
            "marketUnit": self.market_unit, "createdTime": str(self.created_ms),
            "updatedTime": str(self.updated_ms or self.created_ms), "feeCurrency": fee_coin,
        }
        if c.has_positions:
            row["closedPnl"] = num(self.closed_pnl)  # websocket/private/order.mdx (derivatives)
        if c.category != "inverse":
            # Linear and spot report fees per coin; inverse has only cumExecFee (bybit-v5.md §3).
            row["cumFeeDetail"] = {coin: num(v) for coin, v in sorted(self.fees.items())}
        return row


@dataclass(frozen=True)
class EmExecution:
    exec_id: str
    order: EmOrder | None  # None for a funding settlement
    category: str
    symbol: str
    side: int
    price: float
    qty: float
    fee: float
    fee_rate: float
    is_maker: bool
    exec_type: str  # Trade | Funding
    time_ms: int
    mark: float
    seq: int
    closed_size: float = 0.0
    fee_coin: str = "USDT"
    pnl: float = 0.0  # execPnl: what this fill realised by closing (websocket/private/execution.mdx)

    def wire(self, c: Contract) -> dict[str, Any]:
        o = self.order
        return {
            "category": self.category, "symbol": self.symbol, "execId": self.exec_id,
            "orderId": o.order_id if o else "", "orderLinkId": o.link_id if o else "",
            "side": side_name(self.side), "orderPrice": num(o.price) if o and o.price is not None else "0",
            "orderQty": num(o.qty) if o else "0",
            "leavesQty": c.qty_text(o.leaves()) if o else "0",
            "orderType": o.order_type if o else "UNKNOWN", "stopOrderType": "",
            "execPrice": num(self.price), "execQty": c.qty_text(self.qty),
            "execValue": num(c.exec_value(self.price, self.qty)),
            "execFee": num(self.fee), "feeCurrency": self.fee_coin, "feeRate": num(self.fee_rate),
            "execType": self.exec_type, "execTime": str(self.time_ms), "isMaker": self.is_maker,
            "markPrice": num(self.mark), "indexPrice": "", "underlyingPrice": "", "blockTradeId": "",
            "closedSize": c.qty_text(self.closed_size), "seq": self.seq, "createType": "CreateByUser",
            "tradeIv": "", "markIv": "", "extraFees": "", "execPnl": num(self.pnl),
        }


@dataclass
class EmPosition:
    """A one-way position: signed size, average entry, realised PnL (settle coin, before fees),
    and the current holding's realised PnL after fees and funding (`cur_realised`, Bybit's
    curRealisedPnl: it starts again when the position is opened afresh or flipped)."""

    contract: Contract
    size: float = 0.0
    entry: float = 0.0
    realised: float = 0.0
    cum_realised: float = 0.0
    cur_realised: float = 0.0
    updated_ms: int = 0
    seq: int = 0

    def apply(self, side: int, price: float, qty: float) -> float:
        """Applies a fill; returns the size it closed."""
        step = self.contract.fill(self.size, self.entry, side, price, qty)
        if self.size == 0.0 or (step.size != 0.0 and (step.size > 0) != (self.size > 0)):
            self.cur_realised = 0.0  # a new holding (opened, or the rest of a flip)
        if step.closed:
            self.realised += step.pnl
            self.cum_realised += step.pnl
            self.cur_realised += step.pnl
        self.size, self.entry = step.size, step.entry
        return step.closed

    def break_even(self, taker_rate: float) -> float:
        """position.mdx breakEvenPrice: (entry × qty − realised) / (qty − |qty| × max(taker rate,
        0.00055)), qty signed and realised the current holding's (curRealisedPnl). Linear only:
        the formula is in price × qty, which inverse's PnL is not."""
        q = self.size
        if q == 0.0:
            return 0.0
        return (self.entry * q - self.cur_realised) / (q - abs(q) * max(taker_rate, 0.00055))

    def wire(self, mark: float, leverage: str = "10", im: float = 0.0, mm: float = 0.0,
             taker_rate: float = 0.0) -> dict[str, Any]:
        c = self.contract
        side = 0 if self.size == 0 else (1 if self.size > 0 else -1)
        upl = c.unrealised(self.size, self.entry, mark) if self.size and mark == mark else 0.0
        be = _zero(self.break_even(taker_rate)) if c.category == "linear" else ""
        return {
            "category": c.category, "symbol": c.symbol, "positionIdx": 0, "riskId": 1,
            "riskLimitValue": "2000000", "side": side_name(side), "size": c.qty_text(abs(self.size)),
            "avgPrice": num(self.entry), "entryPrice": num(self.entry),
            "positionValue": num(c.position_value(abs(self.size), self.entry)), "tradeMode": 0, "autoAddMargin": 0,
            "positionStatus": "Normal", "leverage": leverage, "markPrice": num(mark if mark == mark else 0.0),
            "liqPrice": "", "bustPrice": "", "positionIM": _zero(im), "positionIMByMp": _zero(im),
            "positionMM": _zero(mm), "positionMMByMp": _zero(mm), "positionBalance": _zero(im), "breakEvenPrice": be,
            "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "sessionAvgPrice": "",
            "unrealisedPnl": num(upl), "curRealisedPnl": num(self.cur_realised),
            "cumRealisedPnl": num(self.cum_realised),
            "adlRankIndicator": 0, "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
            "createdTime": "0", "updatedTime": str(self.updated_ms), "seq": self.seq,
        }


@dataclass
class Wallet:
    """The unified account's coins: deposits, plus realised PnL, minus fees and funding (in the
    settle coin), plus what spot fills bought and sold."""

    contract: Contract
    balances: dict[str, float]
    positions: list[EmPosition] = field(default_factory=list)

    def credit(self, coin: str, amount: float) -> None:
        self.balances[coin] = self.balances.get(coin, 0.0) + amount

    def balance(self, coin: str) -> float:
        return self.balances.get(coin, 0.0)

    def wire(self, mark: float, locked: dict[str, float] | None = None,
             coins: tuple[str, ...] | None = None,
             margin: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> dict[str, Any]:
        c = self.contract
        upl = sum(c.unrealised(p.size, p.entry, mark) for p in self.positions if p.size)
        cum = sum(p.cum_realised for p in self.positions)
        return c.wallet_wire(self.balances, upl, cum, locked or {}, mark, coins, margin)

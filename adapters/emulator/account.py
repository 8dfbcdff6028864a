"""The emulated account: orders, executions, the one-way position and the wallet, kept in the
shapes Bybit v5 reports them (decimal strings, millisecond times), for a linear USDT contract.

Everything here is bookkeeping over what the matching engine decided; nothing here matches.
Amounts that come from the engine as floats are written with `repr`, the shortest text that
reads back as the same float, so a client parsing them sees exactly the engine's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def num(x: float | Decimal | int) -> str:
    """A number as Bybit writes it: a decimal string (floats by their shortest round-trip text)."""
    if isinstance(x, float):
        return repr(x + 0.0)  # -0.0 -> 0.0
    return str(x)


def side_name(side: int) -> str:
    return {1: "Buy", -1: "Sell", 0: ""}[side]


OPEN_STATUSES = ("New", "PartiallyFilled")


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
    cum_fee: float = 0.0
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    updated_ms: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES or self.status == "Created"

    def wire(self) -> dict[str, Any]:
        leaves = max(float(self.qty) - self.cum_qty, 0.0) if self.status in OPEN_STATUSES else 0.0
        avg = self.cum_value / self.cum_qty if self.cum_qty > 0 else None
        return {
            "category": self.category, "symbol": self.symbol, "orderId": self.order_id,
            "orderLinkId": self.link_id, "blockTradeId": "", "side": side_name(self.side),
            "positionIdx": 0, "orderStatus": self.status, "cancelType": self.cancel_type,
            "rejectReason": self.reject_reason, "timeInForce": self.time_in_force, "isLeverage": "",
            "price": num(self.price) if self.price is not None else "0", "qty": num(self.qty),
            "avgPrice": num(avg) if avg is not None else "", "leavesQty": num(leaves),
            "leavesValue": num(leaves * float(self.price)) if self.price is not None else "0",
            "cumExecQty": num(self.cum_qty), "cumExecValue": num(self.cum_value), "cumExecFee": num(self.cum_fee),
            "orderType": self.order_type, "stopOrderType": "", "orderIv": "", "triggerPrice": "",
            "takeProfit": "", "stopLoss": "", "triggerBy": "", "tpTriggerBy": "", "slTriggerBy": "",
            "triggerDirection": 0, "placeType": "", "lastPriceOnCreated": "", "closeOnTrigger": False,
            "reduceOnly": self.reduce_only, "smpGroup": 0, "smpType": "None", "smpOrderId": "",
            "slLimitPrice": "0", "tpLimitPrice": "0", "tpslMode": "", "createType": "CreateByUser",
            "marketUnit": "", "createdTime": str(self.created_ms), "updatedTime": str(self.updated_ms or self.created_ms),
            "feeCurrency": "",
        }


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

    def wire(self) -> dict[str, Any]:
        o = self.order
        return {
            "category": self.category, "symbol": self.symbol, "execId": self.exec_id,
            "orderId": o.order_id if o else "", "orderLinkId": o.link_id if o else "",
            "side": side_name(self.side), "orderPrice": num(o.price) if o and o.price is not None else "0",
            "orderQty": num(o.qty) if o else "0",
            "leavesQty": num(max(float(o.qty) - o.cum_qty, 0.0)) if o else "0",
            "orderType": o.order_type if o else "UNKNOWN", "stopOrderType": "",
            "execPrice": num(self.price), "execQty": num(self.qty), "execValue": num(self.price * self.qty),
            "execFee": num(self.fee), "feeCurrency": "USDT", "feeRate": num(self.fee_rate),
            "execType": self.exec_type, "execTime": str(self.time_ms), "isMaker": self.is_maker,
            "markPrice": num(self.mark), "indexPrice": "", "underlyingPrice": "", "blockTradeId": "",
            "closedSize": num(self.closed_size), "seq": self.seq, "createType": "CreateByUser",
            "tradeIv": "", "markIv": "", "extraFees": "",
        }


@dataclass
class EmPosition:
    """A one-way linear position: signed size, average entry, realised PnL (before fees)."""

    category: str
    symbol: str
    size: float = 0.0
    entry: float = 0.0
    realised: float = 0.0
    cum_realised: float = 0.0
    updated_ms: int = 0
    seq: int = 0

    def apply(self, side: int, price: float, qty: float) -> float:
        """Applies a fill; returns the size it closed."""
        signed = side * qty
        closed = 0.0
        if self.size == 0.0 or (self.size > 0) == (signed > 0):
            total = abs(self.size) + qty
            self.entry = (self.entry * abs(self.size) + price * qty) / total
            self.size += signed
        else:
            closed = min(qty, abs(self.size))
            direction = 1.0 if self.size > 0 else -1.0
            pnl = closed * (price - self.entry) * direction
            self.realised += pnl
            self.cum_realised += pnl
            rest = qty - closed
            self.size += signed
            if abs(self.size) < 1e-12:
                self.size, self.entry = 0.0, 0.0
            elif rest > 0:
                self.entry = price  # flipped: the rest opens at this price
        return closed

    def wire(self, mark: float, leverage: str = "10") -> dict[str, Any]:
        side = 0 if self.size == 0 else (1 if self.size > 0 else -1)
        upl = (mark - self.entry) * self.size if self.size and mark == mark else 0.0
        return {
            "category": self.category, "symbol": self.symbol, "positionIdx": 0, "riskId": 1,
            "riskLimitValue": "2000000", "side": side_name(side), "size": num(abs(self.size)),
            "avgPrice": num(self.entry), "entryPrice": num(self.entry),
            "positionValue": num(abs(self.size) * self.entry), "tradeMode": 0, "autoAddMargin": 0,
            "positionStatus": "Normal", "leverage": leverage, "markPrice": num(mark if mark == mark else 0.0),
            "liqPrice": "", "bustPrice": "", "positionIM": "0", "positionMM": "0", "positionBalance": "0",
            "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "sessionAvgPrice": "",
            "unrealisedPnl": num(upl), "curRealisedPnl": num(self.realised), "cumRealisedPnl": num(self.cum_realised),
            "adlRankIndicator": 0, "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
            "createdTime": "0", "updatedTime": str(self.updated_ms), "seq": self.seq,
        }


@dataclass
class Wallet:
    """The unified account's USDT: deposits + realised PnL − fees − funding."""

    balance: float
    positions: list[EmPosition] = field(default_factory=list)

    def wire(self, marks: dict[str, float]) -> dict[str, Any]:
        upl = sum((marks.get(p.symbol, p.entry) - p.entry) * p.size for p in self.positions if p.size)
        equity = self.balance + upl
        coin = {
            "coin": "USDT", "equity": num(equity), "usdValue": num(equity), "walletBalance": num(self.balance),
            "free": "", "locked": "0", "spotHedgingQty": "0", "borrowAmount": "0", "availableToWithdraw": "",
            "accruedInterest": "0", "totalOrderIM": "0", "totalPositionIM": "0", "totalPositionMM": "0",
            "unrealisedPnl": num(upl), "cumRealisedPnl": num(sum(p.cum_realised for p in self.positions)),
            "bonus": "0", "marginCollateral": True, "collateralSwitch": True, "availableToBorrow": "",
        }
        return {
            "accountType": "UNIFIED", "accountLTV": "0", "accountIMRate": "0", "accountMMRate": "0",
            "totalEquity": num(equity), "totalWalletBalance": num(self.balance), "totalMarginBalance": num(equity),
            "totalAvailableBalance": num(equity), "totalPerpUPL": num(upl), "totalInitialMargin": "0",
            "totalMaintenanceMargin": "0", "coin": [coin],
        }

"""`sim emulator ... --state FILE`: the venue's account kept across restarts.

What a client was told about its account lives in FILE: orders (open and closed), executions,
the position, the wallet's coins, leverage and the limit-price settings, the id and sequence
counters, the market time reached and the venue clock's offset. The file is rewritten whole —
a temporary file beside it, flushed, then renamed over it, so a reader (or a crash) only ever
sees a complete state:
- after every change of the account — each order call and each fill or funding settlement (the
  engine's events and the settings calls; see `EmulatedExchange._changed`), before the REST
  reply or the push leaves, so nothing a client was told is missing from the file;
- when only market time moved, at most every `MARKET_EVERY_S` seconds of wall time, and when the
  server stops (`sim emulator` saves once more after a clean shutdown).

A restart with the same FILE (`restore`) moves the engine to the saved market time without
publishing the tape it skips (the replay's market data up to then is dropped, as already sent),
puts the account back, returns each open order to the matching engine (at the back of the
queue of its price) and resumes the replay from there on the saved venue timeline
(`VenueClock.restore`). See docs/DECISIONS.md ("Emulator state across restarts").

A FILE that cannot be read or parsed, or that was written for another scenario, category or
format version, is refused with one line naming it (`UserInputError`, exit 2).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import weakref
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from sim.core.errors import UserInputError

from .account import EmExecution, EmOrder

if TYPE_CHECKING:
    from .exchange import EmulatedExchange

VERSION = 1
MARKET_EVERY_S = 0.25


def _decimal_text(v: str) -> str:
    try:
        if not Decimal(v).is_finite():
            raise ValueError
    except (InvalidOperation, ValueError):
        raise ValueError(f"not a decimal number: {v[:40]!r}") from None
    return v


DecimalText = Annotated[str, AfterValidator(_decimal_text)]
Side = Literal[1, -1]
STATUSES = Literal["Created", "New", "PartiallyFilled", "Filled", "Cancelled", "PartiallyFilledCanceled", "Rejected"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SavedOrder(_Strict):
    order_id: str
    link_id: str
    side: Side
    order_type: Literal["Limit", "Market"]
    price: DecimalText | None
    qty: DecimalText
    time_in_force: Literal["GTC", "IOC", "FOK", "PostOnly", "RPI"]
    reduce_only: bool
    created_ms: int
    status: STATUSES
    cum_qty: float
    cum_value: float
    cum_fee: float
    cancel_type: str
    reject_reason: str
    updated_ms: int
    market_unit: str
    base_qty: DecimalText | None
    lock_price: float | None
    fees: dict[str, float]
    closed_pnl: float


class SavedExecution(_Strict):
    exec_id: str
    order_id: str | None
    side: Side
    price: float
    qty: float
    fee: float
    fee_rate: float
    is_maker: bool
    exec_type: Literal["Trade", "Funding"]
    time_ms: int
    mark: float
    seq: int
    closed_size: float
    fee_coin: str
    pnl: float


class SavedPosition(_Strict):
    size: float
    entry: float
    realised: float
    cum_realised: float
    cur_realised: float
    updated_ms: int
    seq: int


class SavedState(_Strict):
    version: int
    scenario: str
    symbol: str
    category: str
    window_ns: tuple[int, int]
    clock: str
    market_ns: int
    clock_offset_ms: int
    counters: dict[str, int]
    orders: list[SavedOrder]
    executions: list[SavedExecution]
    position: SavedPosition
    balances: dict[str, float]
    leverage: DecimalText | None
    adjust_out_of_band: dict[str, bool]


def _identity(ex: EmulatedExchange) -> dict[str, Any]:
    return {"scenario": ex.scenario.spec.name, "symbol": ex.symbol, "category": ex.category,
            "window_ns": (ex.start_ns, ex.end_ns), "clock": ex.clock.mode}


def snapshot(ex: EmulatedExchange) -> dict[str, Any]:
    """The exchange's account as the file's JSON object."""
    p = ex.position
    return {
        "version": VERSION, **_identity(ex), "market_ns": ex.market_ns, "clock_offset_ms": ex.clock.offset_ms,
        "counters": {"orders": ex._n_orders, "engine": ex._n_engine, "seq": ex._seq,
                     "orders_accepted": ex.orders_accepted},
        "orders": [{
            "order_id": o.order_id, "link_id": o.link_id, "side": o.side, "order_type": o.order_type,
            "price": str(o.price) if o.price is not None else None, "qty": str(o.qty),
            "time_in_force": o.time_in_force, "reduce_only": o.reduce_only, "created_ms": o.created_ms,
            "status": o.status, "cum_qty": o.cum_qty, "cum_value": o.cum_value, "cum_fee": o.cum_fee,
            "cancel_type": o.cancel_type, "reject_reason": o.reject_reason, "updated_ms": o.updated_ms,
            "market_unit": o.market_unit, "base_qty": str(o.base_qty) if o.base_qty is not None else None,
            "lock_price": o.lock_price, "fees": dict(o.fees), "closed_pnl": o.closed_pnl,
        } for o in ex.orders.values()],
        "executions": [{
            "exec_id": e.exec_id, "order_id": e.order.order_id if e.order else None, "side": e.side,
            "price": e.price, "qty": e.qty, "fee": e.fee, "fee_rate": e.fee_rate, "is_maker": e.is_maker,
            "exec_type": e.exec_type, "time_ms": e.time_ms, "mark": e.mark, "seq": e.seq,
            "closed_size": e.closed_size, "fee_coin": e.fee_coin, "pnl": e.pnl,
        } for e in ex.executions],
        "position": {"size": p.size, "entry": p.entry, "realised": p.realised, "cum_realised": p.cum_realised,
                     "cur_realised": p.cur_realised, "updated_ms": p.updated_ms, "seq": p.seq},
        "balances": dict(ex.wallet.balances),
        "leverage": str(ex.margin.leverage) if ex.margin is not None else None,
        "adjust_out_of_band": dict(ex.adjust_out_of_band),
    }


def write(ex: EmulatedExchange, path: Path) -> None:
    """Writes the state atomically: a temporary file in FILE's folder, then renamed over FILE."""
    text = json.dumps(snapshot(ex), separators=(",", ":"), allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path, ex: EmulatedExchange) -> SavedState:
    """FILE's state, checked to be this emulator's; UserInputError (one line) otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserInputError(f"{path}: --state: cannot read the file: {e.strerror or e}") from None
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UserInputError(f"{path}: --state: not an emulator state file (not JSON)") from None
    version = parsed.get("version") if isinstance(parsed, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserInputError(f"{path}: --state: not an emulator state file (no format version)")
    if version != VERSION:
        raise UserInputError(f"{path}: --state: format version {version}, this emulator reads {VERSION}")
    try:
        state = SavedState.model_validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UserInputError(f"{path}: --state: not an emulator state file ({where}: {first['msg']})") from None
    known = {o.order_id for o in state.orders}
    if any(e.order_id is not None and e.order_id not in known for e in state.executions):
        raise UserInputError(f"{path}: --state: an execution names an order the file does not have")
    want = _identity(ex)
    for key in ("scenario", "symbol", "category", "window_ns", "clock"):
        got = getattr(state, key)
        if (tuple(got) if key == "window_ns" else got) != want[key]:
            raise UserInputError(f"{path}: --state: saved for {key} {got!r}, this emulator serves {want[key]!r}")
    if state.market_ns < ex.start_ns:
        raise UserInputError(f"{path}: --state: market time {state.market_ns} is before the scenario's window")
    return state


def restore(ex: EmulatedExchange, state: SavedState) -> None:
    """Puts a saved account back into a freshly built exchange and its engine."""
    ex.clock.restore(state.clock_offset_ms)
    ex.advance(state.market_ns)  # the skipped tape and the engine's market events are dropped
    c = state.counters
    ex._n_orders, ex._n_engine, ex._seq = c.get("orders", 0), c.get("engine", 0), c.get("seq", 0)
    ex.orders_accepted = c.get("orders_accepted", 0)
    for s in state.orders:
        o = EmOrder(s.order_id, s.link_id, ex.category, ex.symbol, s.side, s.order_type,
                    Decimal(s.price) if s.price is not None else None, Decimal(s.qty), s.time_in_force,
                    s.reduce_only, s.created_ms, 0, status=s.status, cum_qty=s.cum_qty, cum_value=s.cum_value,
                    cum_fee=s.cum_fee, cancel_type=s.cancel_type, reject_reason=s.reject_reason,
                    updated_ms=s.updated_ms, market_unit=s.market_unit,
                    base_qty=Decimal(s.base_qty) if s.base_qty is not None else None, lock_price=s.lock_price,
                    fees=dict(s.fees), closed_pnl=s.closed_pnl)
        ex.orders[o.order_id] = o
        if o.link_id:
            ex._by_link[o.link_id] = o
    for e in state.executions:
        ex.executions.append(EmExecution(
            e.exec_id, ex.orders.get(e.order_id) if e.order_id else None, ex.category, ex.symbol, e.side, e.price,
            e.qty, e.fee, e.fee_rate, e.is_maker, e.exec_type, e.time_ms, e.mark, e.seq, e.closed_size, e.fee_coin,
            e.pnl))
    p = ex.position
    p.size, p.entry, p.realised, p.cum_realised = (state.position.size, state.position.entry,
                                                    state.position.realised, state.position.cum_realised)
    p.cur_realised, p.updated_ms, p.seq = state.position.cur_realised, state.position.updated_ms, state.position.seq
    ex.wallet.balances.clear()
    ex.wallet.balances.update(state.balances)
    if ex.margin is not None and state.leverage is not None:
        ex.margin.leverage = Decimal(state.leverage)
    ex.adjust_out_of_band.update(state.adjust_out_of_band)
    # The open orders go back into the engine; its acknowledgement is not news to anyone.
    for o in ex.orders.values():
        if o.is_open and o.price is not None:
            _, n = ex._engine_key(o)
            o.engine_id = n
            ex.feed.engine.submit_order(n, o.side, "limit", o.leaves(), ex.market_ns, limit_px=float(o.price),
                                        slippage_ticks=ex.slippage, time_in_force=o.time_in_force,
                                        reduce_only=o.reduce_only)
    updated = {o.order_id: o.updated_ms for o in ex.orders.values()}
    ex.advance(ex.market_ns)
    for o in ex.orders.values():
        o.updated_ms = updated[o.order_id]


class StateKeeper:
    """Saves the exchange's state to FILE after each change of the account, and after market time
    alone moved at most every `MARKET_EVERY_S` seconds (wall time: it paces disk writes only)."""

    def __init__(self, ex: EmulatedExchange, path: Path) -> None:
        # A weak reference: the exchange holds its keeper, and a cycle would leave the exchange (and
        # its engine, which must be freed on the thread that made it) to the garbage collector.
        self._ex, self.path = weakref.ref(ex), path
        self._last = 0.0

    def changed(self, account: bool) -> None:
        now = time.monotonic()  # sim-determinism: allowed (paces disk writes; nothing served depends on it)
        if account or now - self._last >= MARKET_EVERY_S:
            self.save()
            self._last = now

    def save(self) -> None:
        ex = self._ex()
        if ex is not None:
            write(ex, self.path)


def attach(ex: EmulatedExchange, path: Path) -> None:
    """`--state FILE`: restores FILE into `ex` when it exists, then keeps it up to date."""
    if path.exists():
        restore(ex, read(path, ex))
    if not path.parent.is_dir():
        raise UserInputError(f"{path}: --state: the folder {path.parent} does not exist")
    keeper = StateKeeper(ex, path)
    try:
        keeper.save()
    except OSError as e:
        raise UserInputError(f"{path}: --state: cannot write the file: {e.strerror or e}") from None
    ex.keeper = keeper

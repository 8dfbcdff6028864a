"""The scriptable fault plan of the loopback Bybit-v5 emulator.

A scenario lists faults under `emulator: {faults: [...]}`; each is one strict frozen model, chosen
by its `kind`:

  disconnect  close the WebSocket connections of `stream` (public | private | all; private
              covers /v5/private and /v5/trade)
  drop        silently drop the next `count` pushes of `topic` on `stream`
  delay       hold each push of `topic` on `stream` for `delay_ms`, for `duration_ms` after firing
  reject      answer the next `count` order-create requests with `ret_code` / `ret_msg`
  rate_limit  refuse `path` with 10006 for `duration_ms` (RateLimiter.force)
  stale       publish no public market data for `duration_ms` while matching goes on

Triggers: `at` (market time, the scenario's clock: epoch ms or an ISO-8601 string with a UTC
offset) or `after_orders` (fires once the N-th order-create has been accepted). A scripted fault
needs exactly one; a fault posted to the control endpoint has none and fires at once
(`FaultPlan.inject_now`).

`FaultPlan` is pure state: the server tells it the time and the order count, and asks per message
whether to drop / delay it. `due()` returns what has just fired; the server performs the actions
(disconnect, rate_limit via RateLimiter.force) while the plan itself keeps the state of drop, delay,
reject and stale. All times given to one plan must be on one clock — the market clock the
triggers use. Not thread-safe: the server calls it from its one event loop.

Topic matching: a fault's `topic` matches a message topic equal to it or starting with it plus
"." — "execution" covers "execution.linear", "publicTrade" covers "publicTrade.BTCUSDT". No topic
means every topic of the stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator

from sim.core.errors import validation_key_and_message

Stream = Literal["public", "private", "all"]

#: retMsg used when a reject fault gives only a ret_code (bybit-v5.md §8).
REJECT_MESSAGES: dict[int, str] = {
    10001: "Request parameter error.",
    10006: "Too many visits. Exceeded the API Rate Limit.",
    10016: "Server error.",
    110004: "Insufficient wallet balance",
    110007: "Insufficient available balance",
    110012: "Insufficient available balance",
    110017: "Order quantity would be truncated to zero",
    110020: "Not allowed to have more than 500 active orders",
    110042: "Currently pre-delivery, only reduce-only orders are allowed",
    110094: "Order value does not meet the minimum",
    170131: "Insufficient balance.",
}
DEFAULT_REJECT_CODE = 110007

#: Private WS channels; every other channel name (linear, inverse, spot, option, public...) is public.
_PRIVATE_STREAMS = frozenset({"private", "trade"})


def stream_class(stream: str) -> Literal["public", "private"]:
    """'private' for the private and trade channels, 'public' for any market-data channel."""
    return "private" if stream in _PRIVATE_STREAMS else "public"


def _parse_at(value: Any) -> Any:
    """Epoch ms stays; an ISO-8601 string with a zero UTC offset becomes epoch ms."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither epoch ms nor an ISO-8601 time") from None
    if moment.utcoffset() != timedelta(0):
        # A naive or non-UTC time is ambiguous against a scenario clock that is UTC.
        raise ValueError(f"{value!r} must be UTC (end in 'Z' or '+00:00')")
    return (moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)) // timedelta(milliseconds=1)


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: StrictInt | None = Field(None, ge=0)
    after_orders: StrictInt | None = Field(None, ge=1)

    @field_validator("at", mode="before")
    @classmethod
    def _at_to_ms(cls, value: Any) -> Any:
        return _parse_at(value)

    @property
    def has_trigger(self) -> bool:
        return self.at is not None or self.after_orders is not None

    @model_validator(mode="after")
    def _one_trigger_at_most(self) -> _Fault:
        if self.at is not None and self.after_orders is not None:
            raise ValueError("give one trigger: 'at' or 'after_orders', not both")
        return self


class DisconnectFault(_Fault):
    kind: Literal["disconnect"]
    stream: Stream = "all"


class DropFault(_Fault):
    kind: Literal["drop"]
    stream: Stream = "all"
    topic: str | None = Field(None, min_length=1)
    count: StrictInt = Field(1, ge=1)


class DelayFault(_Fault):
    kind: Literal["delay"]
    stream: Stream = "all"
    topic: str | None = Field(None, min_length=1)
    delay_ms: StrictInt = Field(gt=0)
    # How long after firing pushes keep being held; None means delay_ms (one stall's worth).
    duration_ms: StrictInt | None = Field(None, gt=0)

    @property
    def active_ms(self) -> int:
        return self.duration_ms if self.duration_ms is not None else self.delay_ms


class RejectFault(_Fault):
    kind: Literal["reject"]
    count: StrictInt = Field(1, ge=1)
    ret_code: StrictInt = Field(DEFAULT_REJECT_CODE, ge=1)
    ret_msg: str | None = None

    @property
    def message(self) -> str:
        if self.ret_msg is not None:
            return self.ret_msg
        return REJECT_MESSAGES.get(self.ret_code, "Order rejected (injected fault).")


class RateLimitFault(_Fault):
    kind: Literal["rate_limit"]
    path: str = Field("/v5/order/create", pattern=r"^/")
    who: str | None = None  # API key or client IP; None refuses everyone
    duration_ms: StrictInt = Field(gt=0)


class StaleFault(_Fault):
    kind: Literal["stale"]
    duration_ms: StrictInt = Field(gt=0)


FaultSpec = Annotated[
    DisconnectFault | DropFault | DelayFault | RejectFault | RateLimitFault | StaleFault,
    Field(discriminator="kind"),
]

FAULT_KINDS: dict[str, type[_Fault]] = {
    "disconnect": DisconnectFault,
    "drop": DropFault,
    "delay": DelayFault,
    "reject": RejectFault,
    "rate_limit": RateLimitFault,
    "stale": StaleFault,
}


def parse_fault(raw: Any, where: str = "fault") -> FaultSpec:
    """One fault from a mapping; ValueError "<where>.<key>: <problem>" on bad input. Validated
    through the concrete class (not the union) so error locations name the key only."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(raw).__name__}")
    kind = raw.get("kind")
    if kind is None:
        raise ValueError(f"{where}.kind: required key is missing")
    cls = FAULT_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"{where}.kind: {kind!r} is not one of {', '.join(FAULT_KINDS)}")
    try:
        return cls.model_validate(raw)  # type: ignore[return-value]
    except ValidationError as e:
        key, msg = validation_key_and_message(e.errors(), prefix=where)
        raise ValueError(f"{key}: {msg.removeprefix('Value error, ')}") from None


def _topic_matches(pattern: str | None, topic: str) -> bool:
    return pattern is None or topic == pattern or topic.startswith(pattern + ".")


def _stream_matches(pattern: Stream, stream: str) -> bool:
    return pattern == "all" or pattern == stream_class(stream)


class FaultPlan:
    """Faults waiting for their trigger, and the state of those that have fired."""

    def __init__(self, faults: list[FaultSpec] | tuple[FaultSpec, ...] = ()) -> None:
        self._pending: list[FaultSpec] = []
        for f in faults:
            self.schedule(f)
        self.fired: list[tuple[int, FaultSpec]] = []
        self._drops: list[list[Any]] = []  # [DropFault, remaining]
        self._delays: list[tuple[int, DelayFault]] = []  # (active until, fault)
        self._rejects: list[list[Any]] = []  # [RejectFault, remaining]
        self._stale_until = 0

    @classmethod
    def from_config(cls, raw: Any, origin: str) -> FaultPlan:
        """From a scenario's `emulator.faults` list. ValueError with a one-line message naming
        `origin`, the fault's index and the key; every scripted fault needs exactly one trigger."""
        if raw is None:
            return cls()
        if not isinstance(raw, list):
            raise ValueError(f"{origin}: emulator.faults: expected a list, got {type(raw).__name__}")
        faults = []
        for i, item in enumerate(raw):
            where = f"emulator.faults[{i}]"
            try:
                spec = parse_fault(item, where)
            except ValueError as e:
                raise ValueError(f"{origin}: {e}") from None
            if not spec.has_trigger:
                raise ValueError(f"{origin}: {where}: needs a trigger: 'at' (market time) or 'after_orders'")
            faults.append(spec)
        return cls(faults)

    # -- triggering ------------------------------------------------------------------------

    @property
    def pending(self) -> tuple[FaultSpec, ...]:
        """Scheduled faults that have not fired yet, in plan order."""
        return tuple(self._pending)

    def schedule(self, spec: FaultSpec) -> None:
        """Add a fault that waits for its trigger."""
        if not spec.has_trigger:
            raise ValueError("a scheduled fault needs a trigger: 'at' or 'after_orders' (use inject_now)")
        self._pending.append(spec)

    def due(self, market_ms: int, orders_accepted: int) -> list[FaultSpec]:
        """Fire, once each and in plan order, the faults whose trigger has been reached:
        `at <= market_ms` or `after_orders <= orders_accepted`. Returns them so the server can act
        on disconnect / rate_limit; the plan activates the rest itself."""
        fired, waiting = [], []
        for spec in self._pending:
            hit = (spec.at is not None and spec.at <= market_ms) or (
                spec.after_orders is not None and spec.after_orders <= orders_accepted
            )
            (fired if hit else waiting).append(spec)
        self._pending = waiting
        for spec in fired:
            self._activate(spec, market_ms)
        return fired

    def inject_now(self, spec: FaultSpec | Mapping[str, Any], now_ms: int) -> FaultSpec:
        """Fire an untriggered fault (from the control endpoint) at `now_ms` (market clock).
        A mapping (the posted JSON) is validated first; ValueError names the bad key."""
        if isinstance(spec, Mapping):
            spec = parse_fault(dict(spec))
        if spec.has_trigger:
            raise ValueError("an injected fault fires now and takes no trigger; use schedule() for 'at'/'after_orders'")
        self._activate(spec, now_ms)
        return spec

    def _activate(self, spec: FaultSpec, now_ms: int) -> None:
        self.fired.append((now_ms, spec))
        if isinstance(spec, DropFault):
            self._drops.append([spec, spec.count])
        elif isinstance(spec, DelayFault):
            self._delays.append((now_ms + spec.active_ms, spec))
        elif isinstance(spec, RejectFault):
            self._rejects.append([spec, spec.count])
        elif isinstance(spec, StaleFault):
            self._stale_until = max(self._stale_until, now_ms + spec.duration_ms)

    # -- per-message state -----------------------------------------------------------------

    def should_drop(self, stream: str, topic: str) -> bool:
        """True if this push must be dropped; uses up one count of the first matching fault."""
        for entry in self._drops:
            spec, remaining = entry
            if remaining > 0 and _stream_matches(spec.stream, stream) and _topic_matches(spec.topic, topic):
                entry[1] -= 1
                self._drops = [e for e in self._drops if e[1] > 0]
                return True
        return False

    def delay_for(self, stream: str, topic: str, now_ms: int) -> int:
        """How long (ms) to hold a push of `topic` on `stream` made at `now_ms`; 0 for none. With
        overlapping delay faults the longest applies."""
        self._delays = [(until, spec) for until, spec in self._delays if until > now_ms]
        return max(
            (spec.delay_ms for _, spec in self._delays
             if _stream_matches(spec.stream, stream) and _topic_matches(spec.topic, topic)),
            default=0,
        )

    def next_order_rejection(self) -> tuple[int, str] | None:
        """(ret_code, ret_msg) for this order-create if a reject fault is armed (uses one count)."""
        if not self._rejects:
            return None
        entry = self._rejects[0]
        entry[1] -= 1
        if entry[1] == 0:
            self._rejects.pop(0)
        return entry[0].ret_code, entry[0].message

    def reject_next_order(self) -> int | None:
        """The ret_code to reject this order-create with, or None (uses one count)."""
        rejection = self.next_order_rejection()
        return rejection[0] if rejection else None

    @property
    def stale_until_ms(self) -> int:
        """Public market data is withheld while now < this (0: never stale)."""
        return self._stale_until

    def is_stale(self, now_ms: int) -> bool:
        return now_ms < self._stale_until

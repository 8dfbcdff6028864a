"""The emulator's fault plan: strict validation naming the key, triggers that fire once in plan
order, and the per-message state (drop, delay, reject, stale) the server consults."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from adapters.emulator.faults import (
    DEFAULT_REJECT_CODE,
    DelayFault,
    DisconnectFault,
    DropFault,
    FaultPlan,
    FaultSpec,
    RateLimitFault,
    RejectFault,
    StaleFault,
    parse_fault,
    stream_class,
)

ORIGIN = "scenarios/emulator/faults.yaml"
T0 = 1_721_347_020_000  # 2024-07-18T23:57:00Z


def _error(raw: object) -> str:
    with pytest.raises(ValueError) as e:
        FaultPlan.from_config(raw, ORIGIN)
    return str(e.value)


@pytest.mark.parametrize(("faults", "expected"), [
    ([{"kind": "stale", "at": T0}], "emulator.faults[0].duration_ms: required key is missing"),
    ([{"kind": "drop", "at": T0}, {"kind": "drop", "after_orders": 1, "cuont": 2}],
     "emulator.faults[1].cuont: unknown key"),
    ([{"kind": "explode", "at": T0}], "emulator.faults[0].kind: 'explode' is not one of"),
    ([{"at": T0}], "emulator.faults[0].kind: required key is missing"),
    ([{"kind": "drop"}], "emulator.faults[0]: needs a trigger"),
    ([{"kind": "drop", "at": T0, "after_orders": 2}], "emulator.faults[0]: give one trigger"),
    ([{"kind": "drop", "at": "2024-07-18T23:57:00"}], "emulator.faults[0].at: '2024-07-18T23:57:00' must be UTC"),
    ([{"kind": "drop", "at": "2024-07-18T23:57:00+02:00"}], "emulator.faults[0].at:"),
    ([{"kind": "drop", "at": "yesterday"}], "emulator.faults[0].at: 'yesterday' is neither epoch ms"),
    ([{"kind": "drop", "at": T0, "count": 0}], "emulator.faults[0].count: Input should be greater than or equal to 1"),
    ([{"kind": "drop", "at": T0, "count": True}], "emulator.faults[0].count:"),
    ([{"kind": "drop", "at": T0, "count": "2"}], "emulator.faults[0].count:"),
    ([{"kind": "disconnect", "at": T0, "stream": "linear"}], "emulator.faults[0].stream:"),
    ([{"kind": "delay", "at": T0, "topic": "order"}], "emulator.faults[0].delay_ms: required key is missing"),
    ([{"kind": "rate_limit", "at": T0, "duration_ms": 10, "path": "v5/order/create"}], "emulator.faults[0].path:"),
    ([{"kind": "reject", "after_orders": 0}], "emulator.faults[0].after_orders:"),
    (["drop"], "emulator.faults[0]: expected a mapping"),
    ({"kind": "drop"}, "emulator.faults: expected a list"),
])
def test_bad_faults_are_one_line_errors_naming_origin_index_and_key(faults: object, expected: str) -> None:
    message = _error(faults)
    assert message.startswith(f"{ORIGIN}: ")
    assert expected in message
    assert "\n" not in message


def test_a_full_plan_parses_with_defaults() -> None:
    plan = FaultPlan.from_config([
        {"kind": "disconnect", "at": "2024-07-18T23:57:00Z"},
        {"kind": "drop", "after_orders": 2, "topic": "execution", "stream": "private", "count": 3},
        {"kind": "delay", "at": T0 + 1, "topic": "order", "delay_ms": 300},
        {"kind": "reject", "after_orders": 1},
        {"kind": "rate_limit", "at": T0, "duration_ms": 2000},
        {"kind": "stale", "at": "2024-07-18T23:58:00+00:00", "duration_ms": 5000},
    ], ORIGIN)
    d, drop, delay, reject, rate, stale = plan.pending
    assert d == DisconnectFault(kind="disconnect", at=T0, stream="all")
    assert (drop.stream, drop.topic, drop.count) == ("private", "execution", 3)
    assert (delay.delay_ms, delay.active_ms, delay.stream) == (300, 300, "all")
    assert (reject.count, reject.ret_code, reject.message) == (1, 110007, "Insufficient available balance")
    assert (rate.path, rate.who, rate.duration_ms) == ("/v5/order/create", None, 2000)
    assert stale.at == T0 + 60_000
    assert FaultPlan.from_config(None, ORIGIN).pending == ()
    assert FaultPlan.from_config([], ORIGIN).pending == ()


def test_specs_are_frozen_and_the_union_validates_control_posts() -> None:
    spec = parse_fault({"kind": "reject", "ret_code": 110004})
    with pytest.raises(ValidationError):
        spec.count = 5  # type: ignore[misc]
    adapter = TypeAdapter(FaultSpec)
    assert isinstance(adapter.validate_python({"kind": "stale", "duration_ms": 10}), StaleFault)
    assert isinstance(adapter.validate_json('{"kind": "disconnect", "stream": "private"}'), DisconnectFault)
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "stale", "duration_ms": 10, "extra": 1})


def test_due_fires_each_fault_once_in_plan_order() -> None:
    plan = FaultPlan.from_config([
        {"kind": "disconnect", "at": T0 + 500, "stream": "public"},
        {"kind": "reject", "after_orders": 2},
        {"kind": "disconnect", "at": T0 + 100, "stream": "private"},
    ], ORIGIN)
    assert plan.due(T0 + 99, 1) == []
    assert plan.due(T0 + 100, 1) == [plan.fired[0][1]]
    assert plan.fired[0][1].stream == "private"
    # Both remaining become due at once: they come back in plan order.
    both = plan.due(T0 + 1000, 5)
    assert [type(f) for f in both] == [DisconnectFault, RejectFault]
    assert both[0].stream == "public"
    assert plan.due(T0 + 10_000, 50) == []
    assert plan.pending == ()
    assert [t for t, _ in plan.fired] == [T0 + 100, T0 + 1000, T0 + 1000]


def test_after_orders_fires_when_the_nth_order_is_accepted() -> None:
    plan = FaultPlan.from_config([{"kind": "stale", "after_orders": 3, "duration_ms": 1000}], ORIGIN)
    assert plan.due(T0, 2) == []
    assert len(plan.due(T0 + 5, 3)) == 1
    assert plan.stale_until_ms == T0 + 1005


def test_drop_counts_down_per_matching_message() -> None:
    plan = FaultPlan()
    plan.inject_now(DropFault(kind="drop", stream="private", topic="execution", count=2), T0)
    assert not plan.should_drop("private", "order")
    assert not plan.should_drop("linear", "execution")  # a public channel
    assert not plan.should_drop("private", "executionX")
    assert plan.should_drop("private", "execution.linear")
    assert plan.should_drop("private", "execution")
    assert not plan.should_drop("private", "execution")


def test_drop_on_public_streams_and_without_topic() -> None:
    plan = FaultPlan()
    plan.inject_now(DropFault(kind="drop", stream="public", topic="publicTrade"), T0)
    plan.inject_now(DropFault(kind="drop", count=2), T0)  # any stream, any topic
    assert plan.should_drop("linear", "publicTrade.BTCUSDT")  # the publicTrade fault
    assert plan.should_drop("inverse", "publicTrade.BTCUSD")  # falls to the catch-all
    assert plan.should_drop("private", "wallet")
    assert not plan.should_drop("spot", "publicTrade.BTCUSDT")


@given(count=st.integers(1, 20), messages=st.lists(st.sampled_from(["order", "execution", "position"]), max_size=60))
def test_exactly_count_matching_messages_are_dropped(count: int, messages: list[str]) -> None:
    plan = FaultPlan()
    plan.inject_now(DropFault(kind="drop", topic="order", count=count), T0)
    dropped = [m for m in messages if plan.should_drop("private", m)]
    assert dropped == ["order"] * min(count, messages.count("order"))


def test_reject_counts_down_in_fifo_order() -> None:
    plan = FaultPlan.from_config([
        {"kind": "reject", "after_orders": 1, "count": 2},
        {"kind": "reject", "after_orders": 1, "ret_code": 110094},
        {"kind": "reject", "after_orders": 1, "ret_code": 123456, "ret_msg": "custom"},
        {"kind": "reject", "after_orders": 1, "ret_code": 999999},
    ], ORIGIN)
    assert plan.reject_next_order() is None  # not fired yet
    plan.due(T0, 1)
    assert plan.reject_next_order() == DEFAULT_REJECT_CODE == 110007
    assert plan.next_order_rejection() == (110007, "Insufficient available balance")
    assert plan.next_order_rejection() == (110094, "Order value does not meet the minimum")
    assert plan.next_order_rejection() == (123456, "custom")
    assert plan.next_order_rejection() == (999999, "Order rejected (injected fault).")
    assert plan.reject_next_order() is None


def test_delay_applies_for_its_duration_and_the_longest_wins() -> None:
    plan = FaultPlan()
    plan.inject_now(DelayFault(kind="delay", topic="order", delay_ms=300), T0)
    plan.inject_now(DelayFault(kind="delay", stream="private", delay_ms=50, duration_ms=2000), T0)
    assert plan.delay_for("private", "order", T0) == 300
    assert plan.delay_for("private", "wallet", T0) == 50
    assert plan.delay_for("linear", "orderbook.50.BTCUSDT", T0) == 0
    assert plan.delay_for("private", "order", T0 + 299) == 300
    assert plan.delay_for("private", "order", T0 + 300) == 50  # the 300 ms fault is over
    assert plan.delay_for("private", "order", T0 + 2000) == 0


def test_stale_window() -> None:
    plan = FaultPlan()
    assert plan.stale_until_ms == 0 and not plan.is_stale(T0)
    plan.inject_now(StaleFault(kind="stale", duration_ms=1000), T0)
    plan.inject_now(StaleFault(kind="stale", duration_ms=200), T0 + 100)  # does not shorten it
    assert plan.is_stale(T0) and plan.is_stale(T0 + 999)
    assert not plan.is_stale(T0 + 1000)
    assert plan.stale_until_ms == T0 + 1000


def test_inject_now_fires_at_once_and_refuses_a_trigger() -> None:
    plan = FaultPlan()
    spec = RateLimitFault(kind="rate_limit", duration_ms=500, who="k1")
    assert plan.inject_now(spec, T0) is spec
    assert plan.fired == [(T0, spec)]
    with pytest.raises(ValueError, match="takes no trigger"):
        plan.inject_now(StaleFault(kind="stale", duration_ms=1, at=T0), T0)
    with pytest.raises(ValueError, match="needs a trigger"):
        plan.schedule(StaleFault(kind="stale", duration_ms=1))
    plan.schedule(StaleFault(kind="stale", duration_ms=1, after_orders=1))
    assert len(plan.due(T0, 1)) == 1


def test_inject_now_takes_the_posted_json_as_is() -> None:
    plan = FaultPlan()
    spec = plan.inject_now({"kind": "reject", "count": 2, "ret_code": 110004}, T0)
    assert isinstance(spec, RejectFault) and plan.fired == [(T0, spec)]
    assert plan.next_order_rejection() == (110004, "Insufficient wallet balance")
    with pytest.raises(ValueError, match=r"^fault\.count: Input should be greater than or equal to 1$"):
        plan.inject_now({"kind": "drop", "count": 0}, T0)
    with pytest.raises(ValueError, match="takes no trigger"):
        plan.inject_now({"kind": "drop", "at": T0}, T0)


def test_stream_class() -> None:
    assert [stream_class(s) for s in ("private", "trade", "linear", "inverse", "spot", "public")] == [
        "private", "private", "public", "public", "public", "public"]

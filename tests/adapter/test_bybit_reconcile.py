"""The continuous reconciliation rule (`adapters.bybit.reconcile`), push by push, without a venue:
a fill's execution and position pushes in either order agree; another client's fill does not."""

from __future__ import annotations

from adapters.bybit.reconcile import PushReconciler, disagrees, in_flight

TOL = 0.0005  # half of a 0.001 step


def _agrees(r: PushReconciler, exchange: float, ours_total: float, open_orders: list[tuple[int, float]]) -> bool:
    return not disagrees(exchange, ours_total - r.unreflected(), in_flight(open_orders), TOL)


def test_the_position_push_first_is_covered_by_the_order_in_flight() -> None:
    r = PushReconciler(exchange_seq=3)
    assert r.position(7)  # our buy of 0.01 filled at seq 7; its execution push is still on its way
    assert _agrees(r, 0.01, 0.0, [(1, 0.01)])
    assert not _agrees(r, 0.01, 0.0, [])  # with nothing of ours in flight the same push is a mismatch
    r.fill(7, 0.01)
    assert _agrees(r, 0.01, 0.01, [])


def test_the_execution_push_first_is_not_yet_in_the_held_position() -> None:
    r = PushReconciler(exchange_seq=3)
    r.fill(7, 0.01)  # the held position (seq 3) does not include it
    assert r.unreflected() == 0.01 and _agrees(r, 0.0, 0.01, [])
    assert r.position(7) and r.unreflected() == 0.0 and _agrees(r, 0.01, 0.01, [])


def test_an_older_position_push_is_ignored() -> None:
    r = PushReconciler(exchange_seq=9)
    assert not r.position(8) and r.exchange_seq == 9
    assert r.position(None) and r.exchange_seq is None  # no seq: as of every fill seen


def test_a_foreign_fill_beyond_a_step_disagrees_and_float_noise_does_not() -> None:
    r = PushReconciler(exchange_seq=5)
    r.fill(5, 0.01)
    assert not _agrees(r, 0.011, 0.01, [])  # one step more than ours
    assert not _agrees(r, 0.015, 0.01, [(-1, 0.01)])  # a sell in flight cannot explain a larger long
    assert _agrees(r, 0.01 + 1e-12, 0.01, [])


def test_in_flight_is_the_unfilled_rest_by_side() -> None:
    assert in_flight([(1, 0.02), (-1, 0.005), (1, 0.0), (-1, 0.001)]) == (-0.006, 0.02)

"""The emulator's rate limiter: rolling 1-second windows per caller and endpoint, Bybit's
X-Bapi-Limit* headers with a reset time never in the past, and the force() fault hook."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.emulator.ratelimit import (
    DEFAULT_LIMITS,
    FALLBACK_LIMIT,
    PUBLIC_LIMIT,
    RATE_LIMIT_CODE,
    RATE_LIMIT_MSG,
    LimitDecision,
    RateLimiter,
)

CREATE = "/v5/order/create"
T = 1_721_347_020_000


def test_constants_and_the_limits_table() -> None:
    assert RATE_LIMIT_CODE == 10006
    assert RATE_LIMIT_MSG == "Too many visits. Exceeded the API Rate Limit."
    rl = RateLimiter()
    expected = {CREATE: 10, "/v5/order/amend": 10, "/v5/order/cancel": 10, "/v5/order/cancel-all": 10,
                "/v5/order/realtime": 50, "/v5/order/history": 50, "/v5/execution/list": 50,
                "/v5/position/list": 50, "/v5/account/wallet-balance": 50, "/v5/account/fee-rate": 5,
                "/v5/account/info": 50, "/v5/market/tickers": PUBLIC_LIMIT}
    assert {p: rl.limit_for(p) for p in expected} == expected
    assert rl.limit_for("/v5/market/something-new") == PUBLIC_LIMIT
    assert rl.limit_for("/v5/asset/transfer") == FALLBACK_LIMIT


def test_the_limit_is_reached_then_refused_until_the_oldest_request_leaves_the_window() -> None:
    rl = RateLimiter()
    decisions = [rl.check("k", CREATE, T) for _ in range(10)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == list(range(9, -1, -1))
    assert decisions[0].reset_ms == T  # requests remain: "roughly now"
    assert decisions[-1].reset_ms == T + 1000  # none remain: when the window frees up
    refused = rl.check("k", CREATE, T + 999)
    assert refused == LimitDecision(False, 10, 0, T + 1000)
    assert rl.check("k", CREATE, T + 1000).allowed


def test_the_window_rolls_rather_than_resetting_on_second_boundaries() -> None:
    rl = RateLimiter()
    for _ in range(5):
        assert rl.check("k", CREATE, T).allowed
    for _ in range(5):
        assert rl.check("k", CREATE, T + 500).allowed
    assert rl.check("k", CREATE, T + 999).reset_ms == T + 1000
    # At T+1000 the five from T have left; the five from T+500 still count.
    for _ in range(5):
        assert rl.check("k", CREATE, T + 1000).allowed
    late = rl.check("k", CREATE, T + 1200)
    assert (late.allowed, late.reset_ms) == (False, T + 1500)


def test_refused_requests_do_not_use_up_the_window() -> None:
    rl = RateLimiter(limits={CREATE: 2})
    rl.check("k", CREATE, T)
    rl.check("k", CREATE, T + 100)
    for t in range(T + 200, T + 1000, 50):
        assert not rl.check("k", CREATE, t).allowed
    assert rl.check("k", CREATE, T + 1000).allowed  # only the request at T left


def test_callers_and_endpoints_have_separate_windows() -> None:
    rl = RateLimiter(limits={CREATE: 1})
    assert rl.check("k1", CREATE, T).allowed
    assert not rl.check("k1", CREATE, T).allowed
    assert rl.check("k2", CREATE, T).allowed
    assert rl.check("k1", "/v5/order/cancel", T).allowed


def test_headers() -> None:
    rl = RateLimiter()
    assert rl.check("k", "/v5/account/fee-rate", T).headers() == {
        "X-Bapi-Limit": "5", "X-Bapi-Limit-Status": "4", "X-Bapi-Limit-Reset-Timestamp": str(T)}


def test_scale_and_overrides() -> None:
    rl = RateLimiter(scale=0.2)
    assert rl.limit_for(CREATE) == 2
    assert rl.limit_for("/v5/account/fee-rate") == 1
    assert RateLimiter(scale=0.001).limit_for("/v5/order/realtime") == 1  # never below 1
    assert RateLimiter(scale=3).limit_for(CREATE) == 30
    over = RateLimiter(limits={CREATE: 3, "/v5/custom": 7}, scale=2)
    assert (over.limit_for(CREATE), over.limit_for("/v5/custom"), over.limit_for("/v5/order/amend")) == (6, 14, 20)
    assert DEFAULT_LIMITS[CREATE] == 10  # overrides leave the module table alone
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="scale"):
            RateLimiter(scale=bad)
    for limits in ({CREATE: 0}, {CREATE: True}, {"order/create": 5}):
        with pytest.raises(ValueError, match="rate limit"):
            RateLimiter(limits=limits)


def test_force_refuses_matching_requests_until_the_given_time() -> None:
    rl = RateLimiter()
    rl.force(None, CREATE, until_ms=T + 500)
    refused = rl.check("k", CREATE, T)
    assert refused == LimitDecision(False, 10, 0, T + 500)
    assert not rl.check("other", CREATE, T + 499).allowed  # None: every caller
    assert rl.check("k", "/v5/order/cancel", T).allowed  # other paths untouched
    after = rl.check("k", CREATE, T + 500)
    # Forced refusals used none of the window.
    assert (after.allowed, after.remaining) == (True, 9)


def test_force_by_caller_and_for_every_path() -> None:
    rl = RateLimiter()
    rl.force("k1", None, until_ms=T + 100)
    assert not rl.check("k1", CREATE, T).allowed
    assert not rl.check("k1", "/v5/market/tickers", T).allowed
    assert rl.check("k2", CREATE, T).allowed
    # Overlapping forces: the latest end is reported.
    rl.force("k1", CREATE, until_ms=T + 900)
    assert rl.check("k1", CREATE, T + 50).reset_ms == T + 900
    assert rl.check("k1", "/v5/order/cancel", T + 150).allowed
    rl.clear_forced()
    assert rl.check("k1", CREATE, T + 200).allowed


@given(
    steps=st.lists(
        st.tuples(st.integers(0, 400), st.sampled_from(["a", "b"]),
                  st.sampled_from([CREATE, "/v5/account/fee-rate", "/v5/market/kline"])),
        max_size=200,
    ),
    force_at=st.integers(0, 50), force_len=st.integers(1, 3000),
)
def test_reset_is_never_in_the_past_and_strictly_ahead_when_refused(
    steps: list[tuple[int, str, str]], force_at: int, force_len: int
) -> None:
    rl = RateLimiter(scale=0.3)
    now = T
    for i, (gap, who, path) in enumerate(steps):
        now += gap
        if i == force_at:
            rl.force(who, None, now + force_len)
        d = rl.check(who, path, now)
        assert d.reset_ms >= now
        assert 0 <= d.remaining < d.limit or (not d.allowed and d.remaining == 0)
        if not d.allowed:
            assert d.reset_ms > now
            assert d.remaining == 0
        assert int(d.headers()["X-Bapi-Limit-Reset-Timestamp"]) >= now


@given(times=st.lists(st.integers(0, 5000), min_size=1, max_size=120))
def test_never_more_than_the_limit_in_any_one_second(times: list[int]) -> None:
    rl = RateLimiter(limits={CREATE: 4})
    accepted = [T + t for t in sorted(times) if rl.check("k", CREATE, T + t).allowed]
    for t in accepted:
        assert sum(1 for u in accepted if t - 1000 < u <= t) <= 4

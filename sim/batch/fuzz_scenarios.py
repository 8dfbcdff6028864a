"""Random scenarios for `sim fuzz`, drawn as hypothesis strategies so that a failing one shrinks.

A scenario is drawn from a strategy's fuzz space (`StrategyPlugin.fuzz_space()`, plain data):

    {"market": {...},            # what market to draw (below)
     "overrides": {KEY: RANGE},  # config keys or dotted strategy parameters, split by the plugin
     "fixed": {KEY: VALUE}}      # always set

A RANGE is `[lo, hi]` (integers when both ends are, else floats rounded to 6 digits), or
`{"one_of": [v, ...]}`; a key starting with `_` names a group whose `one_of` values are mappings
of several keys drawn together (e.g. slot count and slot length). The first value of a `one_of`
is where shrinking goes, so it should be the ordinary one.

`"market"` is one market or a list of them (one is drawn, the first the ordinary one); a market's
own `"fixed"` keys are set whenever it is drawn (e.g. the config a market needs). Markets, in the
scenario layer's vocabulary:
* `{"kind": "ticks", "lead_minutes_key": K, "extra_lead": [lo, hi], "tail_minutes_key": K2,
  "segments": [lo, hi]}`: the seeded tick generator's segment script — a rotation as long as the
  drawn value of config key K (the warm-up) plus `extra_lead` minutes, so a value area exists,
  then a random list of segments (rotate, walk, quiet, drift, poke, hold_outside, gap,
  flash_crash, stale), then a walk longer than config key K2 (the end-of-run flatten) so that
  orders sent at the end still meet quotes; trade and quote rates drawn low to normal (a rare
  quote keeps a market order working across minute closes; the closing walk is made liquid
  enough that the end-of-run flatten fills). The window is exactly the script.
* `{"kind": "minute_bars", ...the same keys as ticks}`: a synthetic spot market of 1-minute klines
  (a `basis_market` with no futures) — a calm lead, random drift segments, a calm tail.
* `{"kind": "basis_market", "days": [lo, hi]}`: a synthetic `basis_market` of whole UTC days
  ending on or a day before a quarterly's delivery day, spot as random drift segments, the expiring
  quarterly and the next one with random basis curves.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from sim.core.expiry import binance_symbol, quarterly_expiry_ns

NS_PER_S = 1_000_000_000
#: quotes a second the closing walk of a ticks market has at least (its activity is raised to it)
LIQUID_QUOTES_PER_S = 0.5

#: the tick generator's segment types and the ranges the fuzzer draws their parameters from
_SIDE = st.sampled_from(["low", "high"])
_VOL = st.sampled_from([1.0, 0.5, 0.3])
SEGMENTS = {
    "rotate": st.fixed_dictionaries({"type": st.just("rotate"), "minutes": st.integers(2, 30),
                                     "half_width_bps": st.sampled_from([10, 5, 20, 40])}),
    "walk": st.fixed_dictionaries({"type": st.just("walk"), "minutes": st.integers(1, 20)}),
    "quiet": st.fixed_dictionaries({"type": st.just("quiet"), "minutes": st.integers(1, 20)}),
    "drift": st.fixed_dictionaries({"type": st.just("drift"), "minutes": st.integers(1, 20),
                                    "move_bps": st.integers(-60, 60)}),
    "poke": st.fixed_dictionaries({
        "type": st.just("poke"), "side": _SIDE, "beyond_ticks": st.integers(5, 120),
        "close_inside_ticks": st.integers(0, 60), "approach_minutes": st.integers(0, 3),
        "after_minutes": st.integers(0, 5), "activity": st.sampled_from([1, 2, 4]), "vol_mult": _VOL}),
    "hold_outside": st.fixed_dictionaries({
        "type": st.just("hold_outside"), "side": _SIDE, "closes": st.integers(1, 6),
        "beyond_ticks": st.integers(5, 80), "approach_minutes": st.integers(0, 3),
        "activity": st.sampled_from([1, 2, 3]), "vol_mult": _VOL}),
    "gap": st.fixed_dictionaries({
        "type": st.just("gap"), "level": _SIDE, "clear_ticks": st.integers(5, 40),
        "jump_ticks": st.integers(0, 20), "approach_minutes": st.integers(1, 3), "after_minutes": st.integers(1, 10)}),
    "flash_crash": st.fixed_dictionaries({
        "type": st.just("flash_crash"), "drop_bps": st.integers(10, 120), "drop_seconds": st.integers(5, 30),
        "recovery_frac": st.sampled_from([0.5, 0.0, 0.25, 1.0]), "recovery_seconds": st.integers(5, 60),
        "offset_seconds": st.integers(0, 30)}),
    "stale": st.fixed_dictionaries({"type": st.just("stale"), "seconds": st.integers(30, 240),
                                    "offset_seconds": st.integers(0, 50)}),
}


#: the segments the value-area rules act on are drawn twice as often as the others
_SEGMENT = st.one_of(*SEGMENTS.values(), SEGMENTS["poke"], SEGMENTS["hold_outside"])


def value(spec: Any) -> st.SearchStrategy[Any]:
    """A strategy for one RANGE of the grammar."""
    if isinstance(spec, dict) and set(spec) == {"one_of"}:
        return st.sampled_from(list(spec["one_of"]))
    if isinstance(spec, (list, tuple)) and len(spec) == 2:
        lo, hi = spec
        if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
            return st.integers(lo, hi)
        return st.floats(float(lo), float(hi), allow_nan=False).map(lambda x: round(x, 6))
    raise ValueError(f"fuzz space: {spec!r} is neither [lo, hi] nor {{one_of: [...]}}")


@st.composite
def overrides(draw: st.DrawFn, space: dict[str, Any]) -> dict[str, Any]:
    """The fuzz space's fixed values and a draw of every range, keys in the space's order."""
    out = dict(space.get("fixed", {}))
    for key, spec in space.get("overrides", {}).items():
        v = draw(value(spec))
        if key.startswith("_"):
            out.update(v)
        else:
            out[key] = v
    return out


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def ticks_market(draw: st.DrawFn, m: dict[str, Any], drawn: dict[str, Any]) -> dict[str, Any]:
    """`window`, `seed`, `instrument` and `synthetic` sections of a tick-generator scenario."""
    lead = int(drawn.get(m.get("lead_minutes_key", ""), 60)) + draw(value(m.get("extra_lead", [0, 30])))
    tail = int(drawn.get(m.get("tail_minutes_key", ""), 5)) + draw(st.integers(3, 10))
    lo, hi = m.get("segments", [1, 6])
    middle = draw(st.lists(_SEGMENT, min_size=lo, max_size=hi))
    quote_rate = draw(st.sampled_from([6, 2, 0.5, 0.1, 0.03]))
    last: dict[str, Any] = {"type": "walk", "minutes": tail}
    if quote_rate < LIQUID_QUOTES_PER_S:
        # A thin market must still quote at the end, or the end-of-run flatten cannot fill and the
        # book ends open (outside what README's accounting identity is about).
        last["activity"] = math.ceil(LIQUID_QUOTES_PER_S / quote_rate)
    segments = [{"type": "rotate", "minutes": max(lead, 1), "half_width_bps": draw(st.sampled_from([10, 20, 5]))},
                *middle, last]
    from sim.scenario.segments import parse_segments

    seconds = sum(s.duration_s for s in parse_segments(segments))
    start = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=draw(st.sampled_from([0, 22, 23])))
    end = start + timedelta(seconds=seconds)
    return {
        "window": {"start": _iso(start), "end": _iso(end)},
        "seed": draw(st.integers(0, 100_000)),
        "instrument": {"symbol": "BTCUSDT", "tick_size": 0.1, "qty_step": 0.001},
        "synthetic": {
            "generator": "ticks",
            "start_price": draw(st.sampled_from([62000.0, 30000.0])),
            "params": {"trade_rate_per_s": draw(st.sampled_from([2, 1, 3])),
                       "quote_rate_per_s": quote_rate},
            "segments": segments,
        },
    }


#: quarterly deliveries a synthetic basis market may end at (COIN-M quarterlies of 2021-2022)
_QUARTERS = [(2021, 3), (2021, 6), (2021, 9), (2021, 12), (2022, 3), (2022, 6)]


def _next_quarter(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 3) if month == 12 else (year, month + 3)


@st.composite
def basis_market(draw: st.DrawFn, m: dict[str, Any]) -> dict[str, Any]:
    """`window`, `seed` and `basis_market` sections: whole days ending on or a day before a
    quarterly's delivery day (so that a short in it is due to roll inside the window), that
    quarterly and the next one."""
    year, month = draw(st.sampled_from(_QUARTERS))
    expiry_ns = quarterly_expiry_ns(year, month)
    nxt_ns = quarterly_expiry_ns(*_next_quarter(year, month))
    delivery_day = datetime.fromtimestamp(expiry_ns // NS_PER_S, tz=UTC).replace(hour=0)
    end = delivery_day - timedelta(days=draw(st.sampled_from([0, 1])))
    days = draw(value(m.get("days", [3, 5])))
    start = end - timedelta(days=days)
    minutes = days * 1440
    n_seg = draw(st.integers(1, 3))
    cuts = sorted(draw(st.lists(st.integers(1, days - 1), min_size=n_seg - 1, max_size=n_seg - 1, unique=True)))
    bounds = [0, *(c * 1440 for c in cuts), minutes]
    spot = [{"minutes": b - a, "drift_pct": draw(st.integers(-15, 15)),
             "vol_bps_per_min": draw(st.sampled_from([2.0, 0.5, 5.0, 8.0]))} for a, b in zip(bounds, bounds[1:])]
    # the first values (where shrinking goes) make the expiring quarterly the richer one: it is
    # shorted and rolls
    if draw(st.booleans()):
        current: dict[str, Any] = {"annual_basis_pct": draw(st.sampled_from([20, 8, 40, 0, -5]))}
    else:
        current = {"basis_bps": [[_iso(start), draw(st.sampled_from([40, 10, 80, 0, -20]))],
                                 [_iso(end), draw(st.sampled_from([15, 0, 60, -20]))]]}
    return {
        "window": {"start": _iso(start), "end": _iso(end)},
        "seed": draw(st.integers(0, 100_000)),
        "basis_market": {
            "kind": "synthetic",
            "start_price": draw(st.sampled_from([35000.0, 9000.0, 60000.0])),
            "spot": spot,
            "volume_btc_per_min": draw(st.sampled_from([10.0, 2.0, 20.0])),
            "futures": {binance_symbol(expiry_ns): current,
                        binance_symbol(nxt_ns): {"annual_basis_pct": draw(st.sampled_from([6, 12, 0, 20]))}},
        },
    }


@st.composite
def minute_bars(draw: st.DrawFn, m: dict[str, Any], drawn: dict[str, Any]) -> dict[str, Any]:
    """`window`, `seed` and `basis_market` sections of one synthetic spot market of 1-minute klines
    (no futures): a calm lead as long as config key K (the warm-up) plus `extra_lead`, random drift
    segments, a calm tail longer than config key K2. For strategies in bars mode, where an order
    fills on the next bar: every order works across a minute close."""
    lead = int(drawn.get(m.get("lead_minutes_key", ""), 60)) + draw(value(m.get("extra_lead", [0, 30])))
    tail = int(drawn.get(m.get("tail_minutes_key", ""), 5)) + draw(st.integers(3, 10))
    lo, hi = m.get("segments", [1, 6])
    middle = draw(st.lists(st.fixed_dictionaries({
        "minutes": st.integers(2, 40), "drift_pct": st.sampled_from([0.0, 0.3, -0.3, 1.0, -1.0, 2.0, -2.0]),
        "vol_bps_per_min": st.sampled_from([3.0, 1.0, 6.0, 10.0])}), min_size=lo, max_size=hi))
    spot = [{"minutes": max(lead, 1), "drift_pct": 0.0, "vol_bps_per_min": draw(st.sampled_from([3.0, 1.0, 6.0]))},
            *middle, {"minutes": tail, "drift_pct": 0.0, "vol_bps_per_min": 3.0}]
    start = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=draw(st.sampled_from([0, 22, 23])))
    end = start + timedelta(minutes=sum(s["minutes"] for s in spot))
    return {
        "window": {"start": _iso(start), "end": _iso(end)},
        "seed": draw(st.integers(0, 100_000)),
        "basis_market": {"kind": "synthetic", "start_price": draw(st.sampled_from([62000.0, 30000.0])),
                         "spot": spot, "volume_btc_per_min": draw(st.sampled_from([10.0, 2.0, 30.0]))},
    }


MARKETS = {"ticks": ticks_market, "minute_bars": minute_bars, "basis_market": basis_market}


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in flat.items():
        node = out
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = v
    return out


@st.composite
def scenarios(draw: st.DrawFn, strategy: str, space: dict[str, Any], split: Any) -> dict[str, Any]:
    """A scenario mapping (as a manifest's YAML holds it) for `strategy` from its fuzz space;
    `split` is the plugin's `split_overrides` (which drawn keys are config, which parameters)."""
    markets = space.get("market", {})
    market = draw(st.sampled_from(markets)) if isinstance(markets, list) else markets
    kind = market.get("kind")
    if kind not in MARKETS:
        raise ValueError(f"fuzz space: unknown market kind {kind!r} (known: {', '.join(MARKETS)})")
    drawn = {**draw(overrides(space)), **market.get("fixed", {})}
    sections = draw(MARKETS[kind](market) if kind == "basis_market" else MARKETS[kind](market, drawn))
    config, params = split(drawn)
    sc: dict[str, Any] = {"name": f"fuzz_{strategy}", "description": "a scenario drawn by sim fuzz",
                          "strategy": strategy}
    if config:
        sc["config"] = config
    if params:
        sc["strategy_params"] = _nest(params)
    sc.update(sections)
    return sc

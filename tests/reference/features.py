"""Reference per-minute features (docs/FEATURES.md), used only by tests to check the Rust engine.

A plain restatement of that page, written to be easy to trust rather than fast: the merged order is
built explicitly, prints are grouped after the fact, and every minute recomputes its 4-hour profile,
value area, σ and spread mean from scratch. Where the page fixes a float operation or its order
(sums oldest first, `ema + w·(x − ema)`, integer size units), the same operation is done here in the
same order, so the results equal an incremental implementation bit for bit; only `ln`, `exp` and
`erf` (Python's platform libm versus Rust's `libm` crate) may differ in the last bits.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

NS_PER_MIN = 60_000_000_000
NS_PER_MS = 1_000_000
UNITS = 100_000_000  # size units per 1.0

NAN = float("nan")

BAR_FIELDS = (
    "ts_min_ns", "open", "high", "low", "close", "volume", "vwap", "trade_count",
    "bid_px_close", "ask_px_close", "bid_sz_close", "ask_sz_close", "spread_close", "spread_avg_60m",
)
FEATURE_FIELDS = (
    "ts_min_ns", "mid_close", "sigma_240", "bin_width", "poc", "vah", "val", "va_coverage", "va_bin_count",
    "of_1m", "of_norm_1m", "qimb_close", "qimb_ema_60s", "ambiguous_trade_frac_1m", "total_volume_4h",
    "va_valid", "rebucketed", "near_vah", "near_val", "stale_trade_frac_1m",
)
RAW_TRADE_FIELDS = (
    "ts_ns", "price", "size", "exchange_side", "trade_id", "inferred_side",
    "quote_bid_px", "quote_ask_px", "quote_staleness_ms",
)

# Kind priorities at one timestamp (DECISIONS "Time and order"): klines, then quotes, then trades.
KLINE, QUOTE, TRADE = 0, 1, 2


# ---------------------------------------------------------------------------------------------
# Sizes and prices


def round_half_away(x: float) -> int:
    """Nearest integer, halves away from zero; exact on the given float (no intermediate rounding)."""
    if x < 0:
        return -round_half_away(-x)
    f = math.floor(x)
    # x - f is exact for a float x and its floor, so the half test sees the float as it is.
    return f + 1 if x - f >= 0.5 else f


def size_units(size: float) -> int:
    """A size as an integer count of 1e-8 units: round_half_away(size × 1e8)."""
    return round_half_away(size * 1e8)


def tick_index(price: float, tick: float) -> int:
    """The price's index on the tick grid: round_half_away(price / tick)."""
    return round_half_away(price / tick)


def _ticks_per_unit(tick: float) -> int | None:
    """The whole number of ticks per 1.0 (10 for 0.1), or None when 1/tick is not one."""
    inv = 1.0 / tick
    n = round(inv)
    return n if n >= 1 and abs(inv - n) <= 1e-9 else None


def price_of(index: int, tick: float) -> float:
    """A grid price rebuilt from its tick index; dividing by ticks-per-unit prints exactly (50000.1)."""
    n = _ticks_per_unit(tick)
    if n is not None:
        return float(index) / float(n)
    return index * tick


def units_to_float(units: int) -> float:
    """A reported volume / order flow: units / 1e8."""
    return float(units) / 1e8


def _ratio(a: int, b: int) -> float:
    """Quotient of two integer sums as floats (both exact below 2**53), NaN when b is 0."""
    return float(a) / float(b) if b != 0 else NAN


# ---------------------------------------------------------------------------------------------
# Statistics and the value area


def sample_std(values: list[float]) -> float:
    """Sample standard deviation (ddof 1), sums oldest first; NaN with fewer than 2 values."""
    n = len(values)
    if n < 2:
        return NAN
    total = 0.0
    for v in values:
        total += v
    mean = total / n
    squares = 0.0
    for v in values:
        d = v - mean
        squares += d * d
    return math.sqrt(squares / (n - 1))


@dataclass(frozen=True)
class ValueArea:
    poc_bin: int | None
    val_bin: int | None
    vah_bin: int | None
    coverage: float
    nonempty: int
    valid: bool


def value_area(volumes: dict[int, int], va_fraction: float, min_bins: int) -> ValueArea:
    """POC and value area over aggregated bins (index -> integer volume; zero or absent = empty).

    The span runs from the lowest to the highest non-empty bin, zero bins inside included. POC =
    most volume, lower bin on a tie. From [poc, poc], while cum/total < va_fraction, add the
    neighbour below or above with more volume (below on a tie); at an edge only the other side.
    Invalid (bins None, coverage NaN) with no volume or fewer than `min_bins` non-empty bins.
    """
    filled = {a: v for a, v in volumes.items() if v > 0}
    nonempty = len(filled)
    total = sum(filled.values())
    if total == 0 or nonempty < min_bins:
        return ValueArea(None, None, None, NAN, nonempty, False)
    lowest, highest = min(filled), max(filled)
    poc = min(filled, key=lambda a: (-filled[a], a))
    lo = hi = poc
    cum = filled[poc]
    while float(cum) / float(total) < va_fraction:
        can_down, can_up = lo > lowest, hi < highest
        if not (can_down or can_up):
            break  # whole span taken (only reachable if va_fraction > 1)
        if can_down and (not can_up or filled.get(lo - 1, 0) >= filled.get(hi + 1, 0)):
            lo -= 1
            cum += filled.get(lo, 0)
        else:
            hi += 1
            cum += filled.get(hi, 0)
    return ValueArea(poc, lo, hi, float(cum) / float(total), nonempty, True)


# ---------------------------------------------------------------------------------------------
# Parameters and result


@dataclass(frozen=True)
class FeatureParams:
    tick_size: float
    rolling_window_minutes: int = 240
    va_fraction: float = 0.70
    base_bin_ticks: int = 1
    alpha_bin: float = 0.25
    bin_width_max_ticks: int = 200
    rebucket_interval_minutes: int = 15
    rebucket_change_pct: float = 0.25
    min_va_bins: int = 20
    max_quote_staleness_ms: int = 250
    use_tick_rule_fallback: bool = True
    qimb_ema_span_seconds: float = 60.0
    spread_lookback_minutes: int = 60
    side_source: str = "inferred"
    quote_alignment: str = "at_or_before"
    order_flow_source: str = "trades"
    bvc_lookback_minutes: int = 240
    feature_input: str = "ticks"

    @classmethod
    def from_config(cls, config, tick_size: float) -> FeatureParams:  # noqa: ANN001
        """The same-named attributes of a sim.core.config.Config."""
        names = [f for f in cls.__dataclass_fields__ if f != "tick_size"]
        return cls(tick_size=tick_size, **{n: getattr(config, n) for n in names})


@dataclass
class ReferenceRun:
    bars: list[tuple] = field(default_factory=list)  # BAR_FIELDS order
    features: list[dict] = field(default_factory=list)  # FEATURE_FIELDS keys
    raw_trades: list[tuple] = field(default_factory=list)  # RAW_TRADE_FIELDS order
    agreement: tuple[int, int, int, int] = (0, 0, 0, 0)  # compared, agreed, compared_units, agreed_units


# ---------------------------------------------------------------------------------------------
# Trades: alignment, prints, side inference


@dataclass
class _Trade:
    ts: int
    price: float
    size: float
    side: int
    trade_id: int
    units: int
    quote: tuple | None = None  # (ts, bid_px, bid_sz, ask_px, ask_sz) chosen for the print's time
    sign: int = 0  # the print's final sign
    quote_rule_zero: bool = True  # the print was left at 0 by the quote rule
    stale: bool = True  # the print had no quote or one older than max_quote_staleness_ms


def _merge(trades, quotes, klines, start_ns, end_ns):  # noqa: ANN001
    """The windowed inputs in the total order: (event_ts, kind, row), klines stamped at their close."""
    events = []
    events += [(k[0] + NS_PER_MIN, KLINE, i, tuple(k)) for i, k in enumerate(klines)
               if k[0] >= start_ns and k[0] + NS_PER_MIN <= end_ns]
    events += [(q[0], QUOTE, i, tuple(q)) for i, q in enumerate(quotes) if start_ns <= q[0] < end_ns]
    events += [(t[0], TRADE, i, tuple(t)) for i, t in enumerate(trades) if start_ns <= t[0] < end_ns]
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return [(ts, kind, row) for ts, kind, _, row in events]


def _align_trades(merged, alignment: str) -> list[_Trade]:
    """Raw trades in merged order, each with the quote chosen for its timestamp: the latest quote
    (in merged order) stamped at or before it, or strictly before it under `before`."""
    quotes = [row for _, kind, row in merged if kind == QUOTE]
    stamps = [q[0] for q in quotes]  # non-decreasing: merged order is by ts first
    out: list[_Trade] = []
    for ts, kind, row in merged:
        if kind != TRADE:
            continue
        n = bisect_right(stamps, ts) if alignment == "at_or_before" else bisect_left(stamps, ts)
        quote = quotes[n - 1] if n else None
        _, price, size, side, trade_id = row
        out.append(_Trade(ts, price, size, int(side), trade_id, size_units(size), quote))
    return out


def _prints(trades: list[_Trade]) -> list[list[_Trade]]:
    """Consecutive trades with the same ts_ns (always adjacent in the merged order)."""
    groups: list[list[_Trade]] = []
    for t in trades:
        if groups and groups[-1][0].ts == t.ts:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def _print_price(group: list[_Trade]) -> float:
    """The common price, else Σ(price·size) / Σ(size) in float, in order."""
    if all(t.price == group[0].price for t in group):
        return group[0].price
    notional = size = 0.0
    for t in group:
        notional += t.price * t.size
        size += t.size
    return notional / size


def _infer_sides(trades: list[_Trade], p: FeatureParams) -> None:
    """Quote rule, then the tick rule against the previous print of the run; sets each trade's
    sign, ambiguity and staleness from its print."""
    prev_price = None
    prev_sign = 0
    max_age_ns = p.max_quote_staleness_ms * NS_PER_MS
    for group in _prints(trades):
        price = _print_price(group)
        quote = group[0].quote  # one alignment per print: all its trades share the instant
        sign = 0
        if quote is not None:
            _, bid, _, ask, _ = quote
            if price >= ask:
                sign = 1
            elif price <= bid:
                sign = -1
        quote_rule_zero = sign == 0
        if quote_rule_zero and p.use_tick_rule_fallback and prev_price is not None:
            if price > prev_price:
                sign = 1
            elif price < prev_price:
                sign = -1
            else:
                sign = prev_sign
        stale = quote is None or group[0].ts - quote[0] > max_age_ns
        for t in group:
            t.sign, t.quote_rule_zero, t.stale = sign, quote_rule_zero, stale
        prev_price, prev_sign = price, sign


def _raw_trade_row(t: _Trade) -> tuple:
    if t.quote is None:
        bid = ask = NAN
        staleness_ms = None
    else:
        bid, ask = t.quote[1], t.quote[3]
        staleness_ms = (t.ts - t.quote[0]) // NS_PER_MS
    return (t.ts, t.price, t.size, t.side, t.trade_id, t.sign, bid, ask, staleness_ms)


def _agreement(trades: list[_Trade]) -> tuple[int, int, int, int]:
    compared = agreed = compared_units = agreed_units = 0
    for t in trades:
        if t.side in (1, -1):
            compared += 1
            compared_units += t.units
            if t.sign == t.side:
                agreed += 1
                agreed_units += t.units
    return compared, agreed, compared_units, agreed_units


# ---------------------------------------------------------------------------------------------
# Quotes: imbalance EMA


def _qimb_ema_path(quotes_in_order: list[tuple], span_s: float) -> tuple[list[int], list[float]]:
    """(ts, EMA after that update) for every quote update with a positive size sum."""
    stamps: list[int] = []
    values: list[float] = []
    ema = NAN
    last_ts = None
    for ts, _bid, bid_sz, _ask, ask_sz in quotes_in_order:
        denom = bid_sz + ask_sz
        if not denom > 0:
            continue
        x = (bid_sz - ask_sz) / denom
        if last_ts is None:
            ema = x
        else:
            dt_s = (ts - last_ts) / 1e9
            w = 1 - math.exp(-dt_s / span_s)
            ema = ema + w * (x - ema)
        last_ts = ts
        stamps.append(ts)
        values.append(ema)
    return stamps, values


# ---------------------------------------------------------------------------------------------
# Bars-mode profile


def _spread_over_range(units: int, b_low: int, b_high: int) -> dict[int, int]:
    """A bar's units over base bins b_low..b_high: units // n each, one more to the lowest units % n."""
    n = b_high - b_low + 1
    each, extra = divmod(units, n)
    return {b: each + (1 if i < extra else 0) for i, b in enumerate(range(b_low, b_high + 1))}


# ---------------------------------------------------------------------------------------------
# The run


def reference_features(trades, quotes, klines, start_ns: int, end_ns: int, params: FeatureParams) -> ReferenceRun:  # noqa: ANN001, C901, PLR0912, PLR0915
    """Bars, features, raw trades and side agreement of a replay over [start_ns, end_ns).

    trades: (ts_ns, price, size, side, trade_id); quotes: (ts_ns, bid_px, bid_sz, ask_px, ask_sz);
    klines (bars mode): (open_ts_ns, open, high, low, close, volume) of 1-minute bars.
    """
    p = params
    tick = p.tick_size
    bars_mode = p.feature_input == "bars"
    merged = _merge(trades, quotes, klines, start_ns, end_ns)

    # Bars mode builds every minute from its kline; trades are not part of its inputs.
    trade_list = [] if bars_mode else _align_trades(merged, p.quote_alignment)
    _infer_sides(trade_list, p)

    quote_rows = [row for _, kind, row in merged if kind == QUOTE]
    quote_ts = [q[0] for q in quote_rows]
    ema_ts, ema_vals = _qimb_ema_path(quote_rows, p.qimb_ema_span_seconds)
    trade_ts = [t.ts for t in trade_list]

    # A kline is delivered at its close time and feeds the first minute closing at or after it.
    kline_of_minute: dict[int, tuple] = {}
    for ts, kind, row in merged:
        if kind == KLINE:
            kline_of_minute[(-(-ts // NS_PER_MIN) - 1) * NS_PER_MIN] = row

    run = ReferenceRun()
    minute_hists: list[dict[int, int]] = []  # per closed minute: base bin -> units
    spreads: list[float] = []  # spread_close of every closed minute
    returns: list[float] = []
    deltas: list[float] = []  # BVC close-to-close changes
    prev_mid = NAN
    prev_close = NAN  # BVC c_{t-1}, carried
    last_trade_price = NAN
    last_kline_close = NAN
    k_applied: int | None = None

    m = start_ns - start_ns % NS_PER_MIN
    while m + NS_PER_MIN <= end_ns:
        end = m + NS_PER_MIN

        # -- the minute's trades / kline ----------------------------------------------------
        minute_trades = trade_list[bisect_left(trade_ts, m):bisect_left(trade_ts, end)]
        kline = kline_of_minute.get(m) if bars_mode else None

        hist: dict[int, int] = {}
        if bars_mode:
            if kline is not None:
                _, o, h, lo, c, kvol = kline
                vol_units = size_units(kvol)
                last_kline_close = c
                b_low = tick_index(lo, tick) // p.base_bin_ticks
                b_high = tick_index(h, tick) // p.base_bin_ticks
                if vol_units > 0:
                    hist = _spread_over_range(vol_units, b_low, b_high)
            else:
                o = h = lo = c = NAN
                vol_units = 0
            vwap = NAN
            trade_count = 0
        else:
            vol_units = 0
            notional = 0.0
            o = h = lo = c = NAN
            for i, t in enumerate(minute_trades):
                if i == 0:
                    o = h = lo = t.price
                else:
                    h, lo = max(h, t.price), min(lo, t.price)
                c = t.price
                vol_units += t.units
                notional += t.price * t.size
                b = tick_index(t.price, tick) // p.base_bin_ticks
                hist[b] = hist.get(b, 0) + t.units
            trade_count = len(minute_trades)
            vwap = notional / units_to_float(vol_units) if trade_count else NAN
            if trade_count:
                last_trade_price = c
        minute_hists.append(hist)

        # -- L1 snapshot: the latest quote stamped before the minute's end ---------------------
        qi = bisect_left(quote_ts, end) - 1
        if qi >= 0:
            _, bid, bid_sz, ask, ask_sz = quote_rows[qi]
        else:
            bid = bid_sz = ask = ask_sz = NAN
        spread = ask - bid
        spreads.append(spread)
        recent = [s for s in spreads[-p.spread_lookback_minutes:] if math.isfinite(s)]
        spread_avg = NAN
        if recent:
            total = 0.0
            for s in recent:  # oldest first
                total += s
            spread_avg = total / len(recent)

        run.bars.append((m, o, h, lo, c, units_to_float(vol_units), vwap, trade_count,
                         bid, ask, bid_sz, ask_sz, spread, spread_avg))

        # -- volatility and bin width -------------------------------------------------------------
        mid = last_kline_close if bars_mode else (bid + ask) / 2
        if math.isfinite(mid) and math.isfinite(prev_mid):
            returns.append(math.log(mid / prev_mid))
        prev_mid = mid
        sigma = sample_std(returns[-p.rolling_window_minutes:])

        rebucketed = False
        if not (math.isnan(mid) or math.isnan(sigma)):
            ticks = round_half_away(p.alpha_bin * mid * sigma / tick)
            ticks = min(max(ticks, 1), p.bin_width_max_ticks)
            k = max(1, round_half_away(float(ticks) / float(p.base_bin_ticks)))
            scheduled = (m // NS_PER_MIN) % p.rebucket_interval_minutes == 0
            if (k_applied is None
                    or float(abs(k - k_applied)) / float(k_applied) >= p.rebucket_change_pct
                    or scheduled):
                k_applied = k
                rebucketed = True
        bin_width = price_of(k_applied * p.base_bin_ticks, tick) if k_applied is not None else NAN

        # -- profile and value area: recomputed from the window's minutes ---------------------
        window: dict[int, int] = {}
        for mh in minute_hists[-p.rolling_window_minutes:]:
            for b, u in mh.items():
                window[b] = window.get(b, 0) + u
        total_units = sum(window.values())
        if k_applied is not None:
            agg: dict[int, int] = {}
            for b, u in window.items():
                a = b // k_applied
                agg[a] = agg.get(a, 0) + u
            va = value_area(agg, p.va_fraction, p.min_va_bins)
        else:
            va = ValueArea(None, None, None, NAN, 0, False)
        if va.valid:
            ticks_per_bin = k_applied * p.base_bin_ticks
            poc_i, val_i, vah_i = (va.poc_bin * ticks_per_bin, va.val_bin * ticks_per_bin,
                                   va.vah_bin * ticks_per_bin)
            poc, val, vah = price_of(poc_i, tick), price_of(val_i, tick), price_of(vah_i, tick)
        else:
            poc = val = vah = NAN

        # -- boundary crossing facts -----------------------------------------------------------
        near_vah = near_val = False
        if va.valid:
            if bars_mode:
                # Bar range widened by the spread in ticks, one tick without quotes.
                reach = spread_avg / tick + 1e-6 if math.isfinite(spread_avg) else 1.0
                if kline is not None:
                    lo_i, hi_i = tick_index(lo, tick), tick_index(h, tick)
                    near_vah = max(lo_i - vah_i, vah_i - hi_i, 0) <= reach
                    near_val = max(lo_i - val_i, val_i - hi_i, 0) <= reach
            elif math.isfinite(spread_avg):
                reach = spread_avg / tick + 1e-6
                idx = [tick_index(t.price, tick) for t in minute_trades]
                near_vah = any(abs(i - vah_i) <= reach for i in idx)
                near_val = any(abs(i - val_i) <= reach for i in idx)

        # -- order flow ----------------------------------------------------------------------------
        if bars_mode:
            of_1m = of_norm = ambiguous_frac = stale_frac = NAN
        else:
            of_units = ambiguous_units = stale_units = 0
            if p.side_source == "exchange":
                for t in minute_trades:
                    of_units += t.side * t.units
                    if t.side == 0:
                        ambiguous_units += t.units
            for group in _prints(minute_trades):
                units = sum(t.units for t in group)
                if p.side_source != "exchange":
                    of_units += group[0].sign * units
                    if group[0].quote_rule_zero:
                        ambiguous_units += units
                if group[0].stale:
                    stale_units += units
            of_1m = units_to_float(of_units)
            of_norm = _ratio(of_units, vol_units)
            ambiguous_frac = _ratio(ambiguous_units, vol_units)
            stale_frac = _ratio(stale_units, vol_units)

        if bars_mode or p.order_flow_source == "bvc":
            close_t = last_kline_close if bars_mode else last_trade_price
            delta = None
            if math.isfinite(close_t) and math.isfinite(prev_close):
                delta = close_t - prev_close
                deltas.append(delta)
            prev_close = close_t
            recent_deltas = deltas[-p.bvc_lookback_minutes:]
            # A close, once seen, is carried, so with n >= 2 this minute has its own delta.
            if len(recent_deltas) >= 2 and delta is not None:
                std = sample_std(recent_deltas)
                buy_frac = 0.5 if std == 0 else 0.5 * (1 + math.erf(delta / (std * math.sqrt(2))))
                imbalance = 2 * buy_frac - 1
                of_1m = units_to_float(vol_units) * imbalance
                of_norm = imbalance if vol_units != 0 else NAN
            else:
                of_1m = of_norm = NAN

        # -- quote imbalance ------------------------------------------------------------------------
        if bars_mode:
            qimb_close = qimb_ema = NAN
        else:
            denom = bid_sz + ask_sz
            qimb_close = (bid_sz - ask_sz) / denom if denom != 0 and not math.isnan(denom) else NAN
            ei = bisect_left(ema_ts, end) - 1
            qimb_ema = ema_vals[ei] if ei >= 0 else NAN

        run.features.append({
            "ts_min_ns": m,
            "mid_close": mid,
            "sigma_240": sigma,
            "bin_width": bin_width,
            "poc": poc,
            "vah": vah,
            "val": val,
            "va_coverage": va.coverage,
            "va_bin_count": va.nonempty,
            "of_1m": of_1m,
            "of_norm_1m": of_norm,
            "qimb_close": qimb_close,
            "qimb_ema_60s": qimb_ema,
            "ambiguous_trade_frac_1m": ambiguous_frac,
            "total_volume_4h": units_to_float(total_units),
            "va_valid": va.valid,
            "rebucketed": rebucketed,
            "near_vah": near_vah,
            "near_val": near_val,
            "stale_trade_frac_1m": stale_frac,
        })
        m = end

    run.raw_trades = [_raw_trade_row(t) for t in trade_list]
    run.agreement = _agreement(trade_list)
    return run

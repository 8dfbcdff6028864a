"""The data-quality report of `sim import`, and the numpy reference of trade-side inference.

The report says how much a file holds (rows, time span), where it has holes (the largest gaps
between consecutive rows, and how many exceed a threshold), which rows the engine would reject
(counts by kind, from the Rust engine itself), and — for a trade tape that carries the
exchange's taker side, checked against a quotes file — how often the side inferred from quotes
(spec §5.7) agrees with the reported one.

`infer_sides` is a quick vectorized check of the spec §5.7 rule for this report only. It is not
the run's rule: runs infer sides in the Rust feature engine (docs/FEATURES.md), which still uses a
stale quote (spec §4.4) and merges same-timestamp trades into one print first, so a run's
`side_agreement` can differ from this report's figure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

NS_PER_S = 1_000_000_000
DEFAULT_GAP_THRESHOLD_NS = 60 * NS_PER_S
MAX_QUOTE_STALENESS_NS = 250_000_000  # spec §5.7: a quote older than 250 ms is not used
LARGEST_GAPS = 5


def iso_utc(ts_ns: int) -> str:
    """`2023-04-04T23:58:20.452Z`: UTC, with as many fraction digits (0, 3, 6, 9) as needed."""
    seconds, frac = divmod(int(ts_ns), NS_PER_S)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        digits = f"{frac:09d}"
        while digits.endswith("000"):
            digits = digits[:-3]
        text += "." + digits
    return text + "Z"


# --- trade-side inference (reference implementation) -----------------------------------


def _classify(
    trade_ts: np.ndarray,
    trade_px: np.ndarray,
    quote_ts: np.ndarray,
    bid_px: np.ndarray,
    ask_px: np.ndarray,
    max_staleness_ns: int,
    prev_price: float,
    prev_sign: int,
    same_instant: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(sign, decided by the quote rule) of each trade."""
    trade_ts = np.asarray(trade_ts, dtype=np.int64)
    trade_px = np.asarray(trade_px, dtype=np.float64)
    quote_ts = np.asarray(quote_ts, dtype=np.int64)
    n = len(trade_ts)
    if n == 0:
        return np.zeros(0, dtype=np.int8), np.zeros(0, dtype=bool)
    j = np.searchsorted(quote_ts, trade_ts, side="right" if same_instant else "left") - 1
    if len(quote_ts):
        jj = np.maximum(j, 0)
        fresh = (j >= 0) & (trade_ts - quote_ts[jj] <= max_staleness_ns)
        bid = np.asarray(bid_px, dtype=np.float64)[jj]
        ask = np.asarray(ask_px, dtype=np.float64)[jj]
        quote_sign = np.where(fresh & (trade_px >= ask), 1, np.where(fresh & (trade_px <= bid), -1, 0))
    else:
        quote_sign = np.zeros(n, dtype=np.int64)
    previous = np.concatenate([[prev_price], trade_px[:-1]])
    tick = np.sign(np.nan_to_num(trade_px - previous, nan=0.0)).astype(np.int64)
    sign = np.where(quote_sign != 0, quote_sign, tick)
    # Zero-tick continuation: a trade with neither a quote verdict nor a price change takes
    # the sign of the trade before it, i.e. the last decided sign (a forward fill).
    decided = np.flatnonzero(sign != 0)
    last = np.full(n, -1, dtype=np.int64)
    last[decided] = decided
    last = np.maximum.accumulate(last)
    filled = np.where(last >= 0, sign[np.maximum(last, 0)], prev_sign)
    return filled.astype(np.int8), quote_sign != 0


def infer_sides(
    trade_ts: np.ndarray,
    trade_px: np.ndarray,
    quote_ts: np.ndarray,
    bid_px: np.ndarray,
    ask_px: np.ndarray,
    *,
    max_staleness_ns: int = MAX_QUOTE_STALENESS_NS,
    prev_price: float = np.nan,
    prev_sign: int = 0,
    same_instant: bool = True,
) -> np.ndarray:
    """Spec §5.7: the aggressor side of each trade, +1 buy, −1 sell, 0 unknown.

    With the latest quote at or before the trade (and at most `max_staleness_ns` old): +1 if
    price ≥ ask, −1 if price ≤ bid. Otherwise the tick rule: the sign of the change from the
    previous trade's price; on a zero tick the previous trade's (final) sign carries on.
    Quotes must be in time order. `prev_price`/`prev_sign` carry the state over from a
    previous batch; the first trade of a tape has no previous price.

    `same_instant=False` uses only quotes stamped strictly before the trade: on Binance's
    feed a quote stamped in the trade's own millisecond often already shows the book the
    trade left behind (the ask it lifted is gone), which the spec's "at or before" misreads.
    """
    return _classify(
        trade_ts, trade_px, quote_ts, bid_px, ask_px, max_staleness_ns, prev_price, prev_sign, same_instant
    )[0]


class SideAgreement:
    """Streams trades and quotes side by side and counts inferred-vs-reported agreement.

    Holds only the quotes from the one in force at the latest trade onwards, so both files
    stream. Rows the engine would reject (non-finite or non-positive values, crossed quotes,
    quotes going back in time) are left out.
    """

    def __init__(self, quotes: Iterator[tuple[int, pa.RecordBatch]], quotes_name: str) -> None:
        self._quotes = quotes
        self.quotes_name = quotes_name
        self._q_ts = np.empty(0, dtype=np.int64)
        self._q_bid = np.empty(0)
        self._q_ask = np.empty(0)
        self._q_floor = np.iinfo(np.int64).min  # latest accepted quote time
        self._q_read_ts: int | None = None  # latest quote time read, accepted or not
        self._q_done = False
        self._prev_price = np.nan
        self._prev_sign = 0
        self.compared = 0
        self.agreed = 0
        self.by_quotes = 0

    def _pull_quotes_until(self, ts_ns: int) -> None:
        parts_ts, parts_bid, parts_ask = [self._q_ts], [self._q_bid], [self._q_ask]
        while not self._q_done and (self._q_read_ts is None or self._q_read_ts <= ts_ns):
            try:
                _, batch = next(self._quotes)
            except StopIteration:
                self._q_done = True
                break
            ts = batch.column("ts_ns").to_numpy()
            bid, ask = batch.column("bid_px").to_numpy(), batch.column("ask_px").to_numpy()
            bsz, asz = batch.column("bid_sz").to_numpy(), batch.column("ask_sz").to_numpy()
            if len(ts) == 0:
                continue
            self._q_read_ts = int(ts[-1])
            valid = np.isfinite(bid) & np.isfinite(ask) & np.isfinite(bsz) & np.isfinite(asz)
            valid &= (bid > 0) & (ask > 0) & (bsz > 0) & (asz > 0) & (bid < ask)
            # Accepted means not earlier than every accepted quote before it; the max of the
            # accepted ones is the max of the valid ones, as a rejected one never raises it.
            stamped = np.where(valid, ts, np.iinfo(np.int64).min)
            prior = np.maximum.accumulate(np.concatenate([[self._q_floor], stamped]))[:-1]
            ok = valid & (ts >= prior)
            self._q_floor = max(self._q_floor, int(stamped.max()))
            parts_ts.append(ts[ok])
            parts_bid.append(bid[ok])
            parts_ask.append(ask[ok])
        self._q_ts = np.concatenate(parts_ts)
        self._q_bid = np.concatenate(parts_bid)
        self._q_ask = np.concatenate(parts_ask)

    def update(self, trades: pa.RecordBatch) -> None:
        ts = trades.column("ts_ns").to_numpy()
        px = trades.column("price").to_numpy()
        size = trades.column("size").to_numpy()
        reported = trades.column("side").to_numpy()
        ok = np.isfinite(px) & np.isfinite(size) & (px > 0) & (size > 0)
        ts, px, reported = ts[ok], px[ok], reported[ok]
        if len(ts) == 0:
            return
        latest = int(ts.max())
        self._pull_quotes_until(latest)
        inferred, by_quotes = _classify(
            ts, px, self._q_ts, self._q_bid, self._q_ask, MAX_QUOTE_STALENESS_NS, self._prev_price, self._prev_sign
        )
        both = (reported != 0) & (inferred != 0)
        self.compared += int(np.count_nonzero(both))
        self.agreed += int(np.count_nonzero(both & (reported == inferred)))
        self.by_quotes += int(np.count_nonzero(by_quotes))
        self._prev_price, self._prev_sign = float(px[-1]), int(inferred[-1])
        keep = max(int(np.searchsorted(self._q_ts, latest, side="right")) - 1, 0)
        self._q_ts, self._q_bid, self._q_ask = self._q_ts[keep:], self._q_bid[keep:], self._q_ask[keep:]

    def result(self) -> SideAgreementResult:
        rate = self.agreed / self.compared if self.compared else None
        return SideAgreementResult(
            quotes=self.quotes_name, compared=self.compared, agreed=self.agreed, rate=rate, by_quote_rule=self.by_quotes
        )


# --- gaps ------------------------------------------------------------------------------


class GapTracker:
    """Largest gaps between consecutive rows (file order) and the count above a threshold."""

    def __init__(self, threshold_ns: int = DEFAULT_GAP_THRESHOLD_NS, keep: int = LARGEST_GAPS) -> None:
        self.threshold_ns = threshold_ns
        self.keep = keep
        self.over_threshold = 0
        self.rows = 0
        self.min_ts: int | None = None
        self.max_ts: int | None = None
        self._prev: int | None = None
        self._top: list[tuple[int, int, int]] = []  # (gap_ns, after_row, start_ns)

    def update(self, ts: np.ndarray, row0: int) -> None:
        if len(ts) == 0:
            return
        self.rows += len(ts)
        lo, hi = int(ts.min()), int(ts.max())
        self.min_ts = lo if self.min_ts is None else min(self.min_ts, lo)
        self.max_ts = hi if self.max_ts is None else max(self.max_ts, hi)
        if self._prev is None:
            starts, ends, first_row = ts[:-1], ts[1:], row0
        else:
            starts, ends, first_row = np.concatenate([[self._prev], ts[:-1]]), ts, row0 - 1
        self._prev = int(ts[-1])
        if len(starts) == 0:
            return
        gaps = ends - starts
        self.over_threshold += int(np.count_nonzero(gaps > self.threshold_ns))
        k = min(self.keep, len(gaps))
        idx = np.argsort(-gaps, kind="stable")[:k]  # stable: of equal gaps, the earliest
        candidates = [(int(gaps[i]), first_row + int(i), int(starts[i])) for i in idx if gaps[i] > 0]
        # Largest first; on equal gaps the earlier one.
        self._top = sorted(self._top + candidates, key=lambda g: (-g[0], g[1]))[: self.keep]

    def largest(self) -> list[Gap]:
        return [
            Gap(after_row=row, start=iso_utc(start), end=iso_utc(start + gap), seconds=gap / NS_PER_S)
            for gap, row, start in self._top
        ]


# --- the report ------------------------------------------------------------------------


@dataclass
class Gap:
    #: the 1-based data row the gap follows
    after_row: int
    start: str
    end: str
    seconds: float


@dataclass
class BadRows:
    count: int
    first_row: int
    first_detail: str


@dataclass
class SideAgreementResult:
    quotes: str
    #: trades with both a reported and an inferred side
    compared: int
    agreed: int
    #: agreed / compared, None when nothing could be compared
    rate: float | None
    #: trades classified by the quote rule (the rest by the tick rule)
    by_quote_rule: int


@dataclass
class QualityReport:
    path: str
    format: str
    kind: str
    output: str | None
    rows: int
    first_ts: str | None
    last_ts: str | None
    span_s: float
    interval_ns: int | None
    gap_threshold_s: float
    gaps_over_threshold: int
    largest_gaps: list[Gap] = field(default_factory=list)
    bad_rows: dict[str, BadRows] = field(default_factory=dict)
    bad_rows_total: int = 0
    side_agreement: SideAgreementResult | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2) + "\n"

    def to_text(self) -> str:
        rows: list[tuple[str, str]] = [
            ("file", self.path),
            ("format", f"{self.format} ({self.kind})"),
        ]
        if self.output:
            rows.append(("output", self.output))
        rows += [
            ("rows", f"{self.rows:,}"),
            ("first", self.first_ts or "-"),
            ("last", self.last_ts or "-"),
            ("span", f"{self.span_s:,.3f} s"),
        ]
        if self.interval_ns is not None:
            rows.append(("bar interval", f"{self.interval_ns / NS_PER_S:g} s"))
        rows.append((f"gaps > {self.gap_threshold_s:g} s", f"{self.gaps_over_threshold:,}"))
        for i, g in enumerate(self.largest_gaps):
            rows.append(("largest gaps" if i == 0 else "", f"{g.seconds:,.3f} s after row {g.after_row:,} ({g.start})"))
        rows.append(("bad rows", f"{self.bad_rows_total:,}"))
        for kind in sorted(self.bad_rows):
            b = self.bad_rows[kind]
            rows.append((f"  {kind}", f"{b.count:,} (first row {b.first_row:,}: {b.first_detail})"))
        if self.side_agreement is not None:
            s = self.side_agreement
            rate = "-" if s.rate is None else f"{s.rate:.4f}"
            counts = f"{s.agreed:,} of {s.compared:,} trades; {s.by_quote_rule:,} by quotes"
            rows.append(("side agreement", f"{rate} ({counts})"))
            rows.append(("  quotes", s.quotes))
        width = max(len(k) for k, _ in rows)
        return "".join(f"{k:<{width}}  {v}\n" for k, v in rows)

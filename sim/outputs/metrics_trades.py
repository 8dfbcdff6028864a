"""Trade statistics of a run: from positions.csv (closed trades), equity.csv (exposure) and fills.csv
(turnover), overall, per setup tag and per side.

Definitions:
- A trade is a positions.csv row whose status is CLOSED or STOPPED (a flip is two trades). Its net
  PnL is `realized_pnl - fees_paid - funding_paid`, its gross PnL `realized_pnl` (before fees and
  funding). A win has net > 0, a loss net < 0; a trade at exactly 0 is neither but counts in
  `trades`. Trades are taken in order of `ts_ms_close` (rows with equal close times in file order).
- `win_rate = wins / trades` (after fees and funding); `win_rate_gross` = the share of trades with
  gross PnL > 0 (before them). `avg_win` / `avg_loss` are the mean net of wins / losses (`avg_loss`
  < 0); `pnl_per_trade` is the mean net over all trades.
- `profit_factor = sum(net of wins) / |sum(net of losses)|`; None without a loss (or a trade).
- `payoff_ratio = avg_win / |avg_loss|`; None without both a win and a loss.
- `largest_win` is the largest net of a win, `largest_loss` the most negative net of a loss (None
  without one).
- `longest_losing_streak`: the most consecutive losses in close order (a win or a zero trade ends a
  streak); 0 without a loss.
- Holding time of a trade: `(ts_ms_close - ts_ms_open) / 60000` minutes; `avg_holding_minutes` is its
  mean and `median_holding_minutes` its median (the mean of the two middle values for an even count).
- `exposure_pct`: 100 * the share of equity.csv rows (minute closes) whose `position_qty` is not 0;
  None without rows. A position opened and closed within one minute is not seen.
- `turnover`: the traded notional `sum(qty * price)` over fills.csv, in multiples of the initial equity.
- `by_setup` (keyed by `strategy_tag`, "untagged" for an empty tag) and `by_side` ("long" / "short"):
  for the trades of each group, `trades`, `wins`, `losses`, `win_rate`, `net_pnl` (the sum of net),
  `pnl_per_trade`, `profit_factor` and `avg_holding_minutes`, defined as above. Groups with no trade
  are absent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sim.core.errors import UserInputError

CLOSED_STATUSES = ("CLOSED", "STOPPED")
MS_PER_MIN = 60_000
UNTAGGED = "untagged"

Table = dict[str, list[Any]]


@dataclass(frozen=True)
class Trade:
    open_ms: int
    close_ms: int
    side: str  # "long" | "short"
    tag: str
    gross: float
    net: float


def column(table: Table, name: str, what: str) -> list[Any]:
    """A column, or [] for a table that is absent; a present table must have the column."""
    if not table:
        return []
    if name not in table:
        raise UserInputError(f"{what}: no column {name!r} (columns: {', '.join(table)})")
    return table[name]


def closed_trades(positions: Table) -> list[Trade]:
    """The closed trades in order of close time."""
    cols = {c: column(positions, c, "positions") for c in (
        "status", "realized_pnl", "fees_paid", "funding_paid", "ts_ms_open", "ts_ms_close", "side", "strategy_tag")}
    out: list[Trade] = []
    for i, status in enumerate(cols["status"]):
        if status not in CLOSED_STATUSES:
            continue
        opened, closed = cols["ts_ms_open"][i], cols["ts_ms_close"][i]
        if opened is None or closed is None:
            raise UserInputError(f"positions: row {i + 1}: a {status} trade without ts_ms_open / ts_ms_close")
        gross = cols["realized_pnl"][i]
        out.append(Trade(opened, closed, str(cols["side"][i]).lower(), cols["strategy_tag"][i] or UNTAGGED,
                         gross, gross - cols["fees_paid"][i] - cols["funding_paid"][i]))
    out.sort(key=lambda t: t.close_ms)  # stable: equal close times keep file order
    return out


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def median(values: Sequence[float]) -> float | None:
    s = sorted(values)
    n = len(s)
    if n == 0:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def profit_factor(nets: Sequence[float]) -> float | None:
    loss = -math.fsum(x for x in nets if x < 0)
    return math.fsum(x for x in nets if x > 0) / loss if loss > 0 else None


def longest_losing_streak(nets: Sequence[float]) -> int:
    longest = run = 0
    for x in nets:
        run = run + 1 if x < 0 else 0
        longest = max(longest, run)
    return longest


def _holding(trades: Sequence[Trade]) -> list[float]:
    return [(t.close_ms - t.open_ms) / MS_PER_MIN for t in trades]


def trade_stats(trades: Sequence[Trade]) -> dict[str, Any]:
    net = [t.net for t in trades]
    wins = [x for x in net if x > 0]
    losses = [x for x in net if x < 0]
    avg_win, avg_loss = _mean(wins), _mean(losses)
    held = _holding(trades)
    return {
        "trades": len(net), "wins": len(wins), "losses": len(losses),
        "win_rate": len(wins) / len(net) if net else None,
        "win_rate_gross": sum(1 for t in trades if t.gross > 0) / len(net) if net else None,
        "avg_win": avg_win, "avg_loss": avg_loss, "pnl_per_trade": _mean(net),
        "profit_factor": profit_factor(net),
        "payoff_ratio": avg_win / -avg_loss if avg_win is not None and avg_loss is not None else None,
        "largest_win": max(wins) if wins else None,
        "largest_loss": min(losses) if losses else None,
        "longest_losing_streak": longest_losing_streak(net),
        "avg_holding_minutes": _mean(held),
        "median_holding_minutes": median(held),
    }


def group_stats(trades: Sequence[Trade]) -> dict[str, Any]:
    net = [t.net for t in trades]
    wins = sum(1 for x in net if x > 0)
    return {
        "trades": len(net), "wins": wins, "losses": sum(1 for x in net if x < 0),
        "win_rate": wins / len(net), "net_pnl": math.fsum(net), "pnl_per_trade": _mean(net),
        "profit_factor": profit_factor(net), "avg_holding_minutes": _mean(_holding(trades)),
    }


def grouped(trades: Sequence[Trade], key: str) -> dict[str, Any]:
    groups: dict[str, list[Trade]] = {}
    for t in trades:
        groups.setdefault(getattr(t, key), []).append(t)
    return {k: group_stats(groups[k]) for k in sorted(groups)}


def exposure_pct(position_qty: Sequence[Any]) -> float | None:
    if not position_qty:
        return None
    return 100.0 * sum(1 for q in position_qty if q is not None and math.isfinite(q) and q != 0) / len(position_qty)


def turnover(fills: Table, initial_equity: float) -> float | None:
    notional = math.fsum(abs(q * p) for q, p in zip(column(fills, "qty", "fills"), column(fills, "price", "fills")))
    return notional / initial_equity if initial_equity > 0 else None

"""Run metrics (sim/outputs/metrics.py) on small hand-made tables whose answers are worked out by hand, and the
run-directory reader on CSVs written the way sim/outputs/exports.py writes them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sim.core.errors import UserInputError
from sim.outputs.exports import csv_text, json_text
from sim.outputs.metrics import compute_metrics, metrics_table, quantile, read_run_dir

T0 = 1_709_251_200_000  # 2024-03-01T00:00:00Z, a UTC midnight
MIN = 60_000
DAY = 86_400_000


def equity_table(values: list[float], *, realized: float = 0.0, fees: float = 0.0, funding: float = 0.0,
                 t0: int = T0, step: int = MIN) -> dict[str, list]:
    n = len(values)
    return {"ts_ms": [t0 + i * step for i in range(n)], "mark": [100.0] * n, "position_qty": [0.0] * n,
            "realized_pnl": [realized] * n, "unrealized_pnl": [0.0] * n, "fees": [fees] * n,
            "funding": [funding] * n, "equity": values}


def positions_table(rows: list[tuple], *, tags: list[str] | None = None, sides: list[str] | None = None,
                    held_min: list[int] | None = None) -> dict[str, list]:
    """rows: (status, realized_pnl, fees_paid, funding_paid); trade i opens at T0 + i hours."""
    n = len(rows)
    held = held_min or [1] * n
    return {"id": [str(i) for i in range(n)], "ts_ms_open": [T0 + i * 3_600_000 for i in range(n)],
            "ts_ms_close": [T0 + i * 3_600_000 + held[i] * MIN for i in range(n)],
            "side": sides or ["LONG"] * n, "strategy_tag": tags or ["breakin"] * n,
            "status": [r[0] for r in rows], "realized_pnl": [r[1] for r in rows], "fees_paid": [r[2] for r in rows],
            "funding_paid": [r[3] for r in rows]}


def fills_table(rows: list[tuple[str, float, float, float, str]]) -> dict[str, list]:
    """rows: (side, price, qty, mid_px, liquidity)."""
    return {"order_id": [f"o{i}" for i in range(len(rows))], "ts_ms": [T0 + i for i in range(len(rows))],
            "side": [r[0] for r in rows], "price": [r[1] for r in rows], "qty": [r[2] for r in rows],
            "fee": [0.0] * len(rows), "liquidity": [r[4] for r in rows], "mid_px": [r[3] for r in rows]}


def metrics(**kw):  # noqa: ANN003, ANN201
    args = {"initial_equity": 1000.0, "equity": {}, "positions": {}, "fills": {}, "features": {}}
    args.update(kw)
    return compute_metrics(**args)


def test_drawdown_from_the_running_peak_including_the_start() -> None:
    # peak 1100 then down to 990: 110 absolute, 10 % of the peak; a later dip from 1000 is smaller.
    m = metrics(equity=equity_table([1050.0, 1100.0, 990.0, 1200.0, 1140.0]))
    assert m["max_drawdown"] == 110.0
    assert m["max_drawdown_pct"] == 10.0
    # The start counts as a peak: losing from the first minute is a drawdown.
    m = metrics(equity=equity_table([900.0, 950.0]))
    assert m["max_drawdown"] == 100.0
    assert m["max_drawdown_pct"] == 10.0


def test_win_rate_and_average_win_and_loss_are_net_of_each_trades_costs() -> None:
    pos = positions_table([
        ("CLOSED", 10.0, 1.0, 0.0),    # net +9
        ("STOPPED", -5.0, 1.0, 0.0),   # net -6
        ("CLOSED", 3.0, 1.0, 0.5),     # net +1.5
        ("CLOSED", 1.0, 1.5, -0.5),    # net 0: neither a win nor a loss
        ("OPEN", 100.0, 1.0, 0.0),     # not a trade yet
    ])
    m = metrics(positions=pos)
    assert m["trades"] == 4
    assert (m["wins"], m["losses"]) == (2, 1)
    assert m["win_rate"] == 0.5
    assert m["avg_win"] == 5.25
    assert m["avg_loss"] == -6.0
    assert m["pnl_per_trade"] == 1.125  # (9 - 6 + 1.5 + 0) / 4


def test_no_trades_gives_nulls_not_zeros() -> None:
    m = metrics(positions=positions_table([("OPEN", 1.0, 0.0, 0.0)]))
    assert m["trades"] == 0
    assert m["win_rate"] is None and m["avg_win"] is None and m["avg_loss"] is None and m["pnl_per_trade"] is None


def test_accounting_identity_when_flat_at_the_end() -> None:
    m = metrics(equity=equity_table([1000.0, 1010.0, 1008.5], realized=12.0, fees=3.0, funding=0.5),
                positions=positions_table([("CLOSED", 12.0, 3.0, 0.5)]))
    assert m["final_equity"] == 1008.5
    assert m["net_pnl"] == 8.5
    assert m["gross_pnl"] == m["realized_pnl"] == 12.0
    assert m["net_pnl"] == m["realized_pnl"] - m["fees"] - m["funding"]
    assert m["pnl_per_trade"] == 8.5


def test_spread_paid_is_signed_against_the_mid() -> None:
    fills = fills_table([
        ("buy", 100.5, 2.0, 100.0, "taker"),   # paid 0.5 over the mid: 50 bps, cost 1.0
        ("sell", 99.0, 1.0, 100.0, "taker"),   # sold 1.0 under the mid: 100 bps, cost 1.0
        ("buy", 99.75, 4.0, 100.0, "maker"),   # bought 0.25 under the mid: -25 bps, cost -1.0
        ("sell", 100.0, 1.0, float("nan"), "taker"),  # no mid: not in the distribution
    ])
    m = metrics(fills=fills)
    s = m["spread_paid"]
    assert s["count"] == 3 and s["missing_mid"] == 1
    assert s["avg"] == 1.25 / 3
    assert s["p50"] == 0.5 and s["max"] == 1.0
    assert s["p90"] == 0.5 + (1.0 - 0.5) * 0.8
    assert s["avg_bps"] == 125.0 / 3 and s["max_bps"] == 100.0 and s["p50_bps"] == 50.0
    assert s["total_cost"] == 1.0
    assert (m["fills"], m["maker_fills"], m["taker_fills"]) == (4, 1, 3)


def test_spread_paid_without_a_mid_column() -> None:
    fills = fills_table([("buy", 100.5, 2.0, 100.0, "taker")])
    del fills["mid_px"]
    s = metrics(fills=fills)["spread_paid"]
    assert s["count"] == 0 and s["missing_mid"] == 1 and s["avg"] is None and s["total_cost"] == 0.0


def test_sharpe_is_none_when_undefined() -> None:
    assert metrics()["sharpe"] is None                                         # no curve
    m = metrics(equity=equity_table([1001.0]))                                 # one return, from the initial 1000
    assert m["sharpe"] is None and m["sharpe_returns"] == 1
    assert metrics(equity=equity_table([1000.0] * 50))["sharpe"] is None       # zero variance
    m = metrics(equity=equity_table([1001.0, 1000.0, 1002.0]))
    assert m["sharpe"] is not None and m["sharpe_basis"] == "minute" and m["sharpe_returns"] == 3


def test_the_initial_equity_is_the_first_level_of_the_minute_returns() -> None:
    m = metrics(equity=equity_table([1010.0, 1000.0, 1030.0], t0=T0 + MIN))
    r = [1010.0 / 1000.0 - 1.0, 1000.0 / 1010.0 - 1.0, 1030.0 / 1000.0 - 1.0]
    mean = math.fsum(r) / 3
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in r) / 2)
    assert m["sharpe_returns"] == 3 and m["sharpe"] == mean / sd * math.sqrt(525_600)


def test_sharpe_uses_daily_returns_over_full_utc_days() -> None:
    # Hourly rows from T0 + 1h over 3 days and a bit; the run starts at T0 with 1000: midnights T0 (the
    # initial equity), T0+1d, T0+2d, T0+3d inside the curve.
    levels = {1: 1010.0, 2: 1000.0, 3: 1030.0}
    values = [levels[h // 24] if h % 24 == 0 else 5000.0 + h for h in range(1, 3 * 24 + 5)]
    eq = equity_table(values, t0=T0 + 3_600_000, step=3_600_000)
    m = metrics(equity=eq, start_ms=T0)
    assert (m["sharpe_basis"], m["sharpe_returns"]) == ("daily", 3)
    r = [1010.0 / 1000.0 - 1.0, 1000.0 / 1010.0 - 1.0, 1030.0 / 1000.0 - 1.0]
    mean = math.fsum(r) / 3
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in r) / 2)
    assert m["sharpe"] == mean / sd * math.sqrt(365)
    # A day and a bit (two midnights): per-minute returns instead.
    m = metrics(equity=equity_table([1000.0 + h for h in range(1, 30)], t0=T0 + 3_600_000, step=3_600_000),
                start_ms=T0)
    assert m["sharpe_basis"] == "minute"


def test_a_run_of_exactly_two_full_days_has_two_daily_returns() -> None:
    # Minute rows close T0+1m .. T0+2d: the run starts at the midnight T0 and ends at the midnight T0+2d.
    n = 2 * 1440
    values = [1000.0 + (5.0 if i < 1440 else -3.0) * (i + 1) / 1440 for i in range(n)]
    m = metrics(equity=equity_table(values, t0=T0 + MIN))
    assert (m["sharpe_basis"], m["sharpe_returns"]) == ("daily", 2)
    assert m["cagr_pct"] == 100.0 * ((values[-1] / 1000.0) ** (365 / 2) - 1.0)


def test_a_first_row_before_the_start_is_an_error() -> None:
    with pytest.raises(UserInputError, match="before the run's start"):
        metrics(equity=equity_table([1000.0]), start_ms=T0 + MIN)


def test_trade_statistics_by_hand() -> None:
    pos = positions_table([
        ("CLOSED", 10.0, 1.0, 0.0),    # net +9, gross win
        ("STOPPED", -5.0, 1.0, 0.0),   # net -6
        ("CLOSED", -1.0, 1.0, 0.0),    # net -2
        ("CLOSED", 1.0, 1.5, 0.0),     # net -0.5, a gross win but a net loss
        ("CLOSED", 4.0, 1.0, 0.0),     # net +3
        ("OPEN", 100.0, 1.0, 0.0),     # not a trade yet
    ], tags=["breakin", "breakin", "failbreak", "", "failbreak", "breakin"],
       sides=["LONG", "SHORT", "SHORT", "LONG", "LONG", "LONG"], held_min=[3, 5, 1, 10, 2, 7])
    m = metrics(positions=pos)
    assert m["trades"] == 5 and (m["wins"], m["losses"]) == (2, 3)
    assert m["win_rate"] == 0.4 and m["win_rate_gross"] == 0.6
    assert m["profit_factor"] == 12.0 / 8.5
    assert m["payoff_ratio"] == 6.0 / (8.5 / 3)
    assert (m["largest_win"], m["largest_loss"]) == (9.0, -6.0)
    assert m["longest_losing_streak"] == 3
    assert m["avg_holding_minutes"] == 21 / 5 and m["median_holding_minutes"] == 3.0
    assert sorted(m["by_setup"]) == ["breakin", "failbreak", "untagged"]
    assert m["by_setup"]["failbreak"] == {"trades": 2, "wins": 1, "losses": 1, "win_rate": 0.5, "net_pnl": 1.0,
                                          "pnl_per_trade": 0.5, "profit_factor": 1.5, "avg_holding_minutes": 1.5}
    assert m["by_setup"]["untagged"]["profit_factor"] == 0.0
    assert m["by_side"]["long"]["trades"] == 3 and m["by_side"]["short"]["net_pnl"] == -8.0
    assert m["by_side"]["short"]["profit_factor"] == 0.0 and m["by_side"]["short"]["win_rate"] == 0.0
    assert m["by_side"]["long"]["profit_factor"] == 12.0 / 0.5
    assert metrics(positions=positions_table([("CLOSED", 2.0, 1.0, 0.0)]))["profit_factor"] is None  # no loss


def test_exposure_and_turnover() -> None:
    eq = equity_table([1000.0] * 4)
    eq["position_qty"] = [0.0, 0.5, -0.5, 0.0]
    fills = fills_table([("buy", 100.0, 2.0, 100.0, "taker"), ("sell", 110.0, 2.0, 110.0, "maker")])
    m = metrics(equity=eq, fills=fills)
    assert m["exposure_pct"] == 50.0
    assert m["turnover"] == (200.0 + 220.0) / 1000.0
    assert metrics()["exposure_pct"] is None and metrics()["turnover"] == 0.0


def test_longest_drawdown_and_calmar_by_hand() -> None:
    # 1000 (start) -> 1100 -> 990 -> 1050 -> 1100 (recovered after 3 minutes) -> 1000 (2 minutes under at the end)
    m = metrics(equity=equity_table([1100.0, 990.0, 1050.0, 1100.0, 1000.0, 1000.0], t0=T0 + MIN))
    assert m["longest_drawdown_days"] == 3 * MIN / DAY
    assert m["calmar"] == (m["cagr_pct"] / 100.0) / 0.1
    assert metrics(equity=equity_table([1000.0, 1001.0]))["longest_drawdown_days"] == 0.0


def test_ambiguous_fraction_over_defined_minutes() -> None:
    feats = {"ambiguous_trade_frac_1m": [0.1, float("nan"), 0.5, 0.2, 0.35, 0.4]}
    a = metrics(features=feats, ambiguous_max=0.35)["ambiguous_frac"]
    assert a["minutes"] == 5
    assert a["max"] == 0.5 and a["p50"] == 0.35
    assert a["mean"] == math.fsum([0.1, 0.5, 0.2, 0.35, 0.4]) / 5
    assert a["above_max_frac"] == 2 / 5  # 0.35 itself is not above
    assert metrics()["ambiguous_frac"]["above_max_frac"] is None


def test_quantile_matches_linear_interpolation() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
    assert quantile([7.0], 0.9) == 7.0
    assert quantile([], 0.5) is None


def test_a_table_without_a_needed_column_is_a_named_error() -> None:
    with pytest.raises(UserInputError, match="positions: no column 'status'"):
        metrics(positions={"ts_ms": [1], "qty": [0.1]})


def test_metrics_are_json_safe_and_byte_stable() -> None:
    kw = {"equity": equity_table([1000.0, float("nan"), 990.0]),
          "fills": fills_table([("buy", 100.5, 2.0, float("nan"), "taker")])}
    a, b = json_text(metrics(**kw)), json_text(metrics(**kw))
    assert a == b and "NaN" not in a
    assert json.loads(a)["spread_paid"]["avg"] is None


def test_read_run_dir_types_the_columns(tmp_path: Path) -> None:
    (tmp_path / "fills.csv").write_text(csv_text(
        ("order_id", "ts_ms", "side", "price", "qty", "fee", "liquidity", "mid_px"),
        [("a-1", T0, "buy", 100.5, 0.001, -0.01, "maker", float("nan"))]))
    (tmp_path / "features.csv").write_text(csv_text(
        ("ts_min_ms", "va_bin_count", "va_valid", "rebucketed", "ambiguous_trade_frac_1m"),
        [(T0, 12, True, None, 0.25), (T0 + MIN, 0, False, "sigma", float("nan"))]))
    (tmp_path / "signals.csv").write_text(csv_text(
        ("ts_min_ms", "signal_breakin_long", "chosen_action", "acceptance_state"),
        [(T0, 1, "HOLD", '{"down":{"count":0,"level":null},"up":{"count":2,"level":100.5}}')]))
    t = read_run_dir(tmp_path)
    assert sorted(t) == ["features", "fills", "signals"]
    f = t["fills"]
    assert f["ts_ms"] == [T0] and f["price"] == [100.5] and f["fee"] == [-0.01] and f["side"] == ["buy"]
    assert math.isnan(f["mid_px"][0])
    x = t["features"]
    assert x["va_bin_count"] == [12, 0] and x["va_valid"] == [True, False] and x["rebucketed"] == ["", "sigma"]
    s = t["signals"]
    assert s["signal_breakin_long"] == [True] and json.loads(s["acceptance_state"][0]) == {
        "down": {"count": 0, "level": None}, "up": {"count": 2, "level": 100.5}}


def test_read_run_dir_names_the_file_row_and_column_of_a_bad_value(tmp_path: Path) -> None:
    (tmp_path / "equity.csv").write_text("ts_ms,equity\n1,1000.0\n2,oops\n")
    with pytest.raises(UserInputError, match=r"equity\.csv, row 2: column equity"):
        read_run_dir(tmp_path)


def test_metrics_table_lists_every_value_aligned_under_group_titles() -> None:
    m = metrics(equity=equity_table([1000.0, 1010.0]))
    lines = metrics_table(m).splitlines()
    assert any(line.split() == ["final_equity", "1010.0"] for line in lines)
    assert any(line.split() == ["spread_paid.avg", "-"] for line in lines)
    rows = [line for line in lines if line.startswith("  ")]
    assert len({len(line) for line in rows}) == 1  # one column width
    titles = [line for line in lines if not line.startswith("  ")]
    assert titles == ["Account", "Returns and risk", "Trades", "Execution", "Features"]  # no trade: no groups of them
    assert lines.index("Returns and risk") < next(i for i, x in enumerate(lines) if x.split()[:1] == ["sortino"])

"""`sim basis-backtest START END`: the seeds' `python backtest_with_rollovers.py START END`, offline.

Runs the basis scenario (`scenarios/basis/binance_2021_real.yaml` unless `--scenario`) with
`entry_date=START` and `end_date=END` — entry on START, the daily loop, unwind on END — writes the
run directory (default `runs/basis_<START>_<END>`), prints the summary table and, with
`--report`, writes `report.html` (`sim.strategies.basis.report`). No API keys, no network: the markets come
from the data root (`--data DIR` sets `SIM_DATA_DIR`).

On a recorded market (`kind: recorded_daily`) the run stops where the strategy does: the
scenario's window is cut to end at END + 1 day (the unwind day's mark). Every recorded market day
is drawn from its own seed whatever the window (`sim.scenario.futures_market`) and nothing after that
mark reaches the strategy, so the exports are those of the same dates over the scenario's whole
window. The window's start is kept: the strategy's 15-minute volume is a running sum whose last
bits depend on where it started (they show in entry_day_exec_log's `pov_cap_btc`), so starting
later would not give the same bytes. A synthetic market's spot segments tile its window, so that
window is run whole. The manifest records the window that was run (`window`) and the basis
market's kind and synthetic curves (`basis_market`).

Bad input — a date that is not YYYY-MM-DD, START >= END, dates outside the scenario's window, an
unknown or invalid `--set` key — is one line on stderr and exit 2; a missing data root is one line
and exit 3.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from collections.abc import Callable
from typing import Any

from sim.core.errors import UserInputError
from sim.strategies.plugin import AliasRun

DEFAULT_SCENARIO = "basis/binance_2021_real"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("start", metavar="START", help="entry day, YYYY-MM-DD (the seeds' start_date)")
    p.add_argument("end", metavar="END", help="unwind day, YYYY-MM-DD (the seeds' end_date)")
    p.add_argument("--data", metavar="DIR", help="data root (sets SIM_DATA_DIR; default ../shared/data)")
    from sim.core import args as types

    p.add_argument("--out", metavar="DIR", type=types.out_dir, help="run directory (default runs/basis_<START>_<END>)")
    p.add_argument("--seed", metavar="N", help="seed (default: the scenario's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="basis parameter override, dotted (e.g. rehedge.delta_model=seed; repeatable)")
    p.add_argument("--report", action="store_true", help="also write report.html into the run directory")
    p.add_argument("--scenario", default=DEFAULT_SCENARIO,
                   help=f"basis scenario id or YAML path (default {DEFAULT_SCENARIO})")


def parse_day(text: str, what: str) -> date:
    if not _DATE.fullmatch(text):
        raise UserInputError(f"{what} {text!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise UserInputError(f"{what} {text!r} is not a date ({e})") from None


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    from sim.core.yaml_file import parse_value

    out: dict[str, Any] = {}
    for p in pairs or []:
        key, sep, value = p.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserInputError(f"--set expects KEY=VALUE, got {p!r}")
        if key in ("entry_date", "end_date"):
            raise UserInputError(f"--set {key}: give the dates as START and END")
        out[key] = parse_value(value, f"--set {key}")
    return out


def validated_params(raw: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """The basis parameters with the overrides on top; a bad override is named by its key."""
    from pydantic import ValidationError

    from sim.core.errors import validation_key_and_message
    from sim.strategies.basis.params import BasisParams
    from sim.strategies.plugin import with_overrides

    try:
        merged = with_overrides(raw, overrides)
    except ValueError as e:
        raise UserInputError(f"--set {e}") from None
    try:
        return BasisParams.model_validate(merged)
    except ValidationError as e:
        key, msg = validation_key_and_message(e.errors())
        raise UserInputError(f"--set {key}: {msg}") from None


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def trimmed(sc: Any, start: date, end: date, cut: bool = True) -> Any:
    """The scenario with its window ending at end + 1 day (with `cut` false, unchanged); either way
    the window must hold START..END."""
    w = sc.spec.window
    first, last = w.start.date(), (w.end - timedelta(microseconds=1)).date()
    if not first <= start < end <= last:
        raise UserInputError(f"{start}..{end} is outside the scenario's window {first}..{last} ({sc.path}): "
                             f"need {first} <= START < END <= {last}")
    if not cut or w.end != _midnight(last) + timedelta(days=1):
        return sc  # not whole days: run_basis says so
    window = w.model_copy(update={"end": _midnight(end) + timedelta(days=1)})
    sc.spec = sc.spec.model_copy(update={"window": window})
    return sc


def _market_info(sc: Any) -> dict[str, Any]:
    market = sc.basis_market()
    curves = getattr(market, "synthetic_futures", None) or {}
    return {"kind": getattr(market, "kind", None),
            "synthetic_futures": {s: {"annual_basis_pct": c.annual_basis_pct} for s, c in sorted(curves.items())}}


def _usd(v: Any) -> str:
    return f"{v:,.2f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _last_daily(text: str) -> dict[str, str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return rows[-1] if rows else {}


def synthetic_line(summary: dict[str, Any], market: dict[str, Any]) -> str:
    if market.get("kind") == "synthetic":
        return "synthetic contracts: every price in this run is synthetic (basis_market kind: synthetic)"
    names = summary.get("synthetic_contracts") or []
    if not names:
        return "synthetic contracts: none (every quarterly's prices come from recorded bars)"
    curves = market.get("synthetic_futures", {})
    parts = []
    for s in names:
        pct = curves.get(s, {}).get("annual_basis_pct")
        curve = f"{pct:g} %/yr" if isinstance(pct, (int, float)) else "annual_basis_pct"
        parts.append(f"{s} (spot x (1 + {curve} x days to expiry / 365))")
    return f"synthetic contracts: {', '.join(parts)}: no recorded prices, that leg is synthetic"


def summary_table(result: Any, market: dict[str, Any]) -> str:
    s = result.summary
    last = _last_daily(result.exports.get("daily_pnl_tracker.csv", ""))
    unreal = float(last.get("futures_unrealized_pnl_usd") or 0.0)
    fut = s["futures_realized_pnl_usd"] + unreal
    rolls = s.get("rolls") or []
    rows: list[tuple[str, str, str]] = [
        ("capital_usd", _usd(s["capital_usd"]), ""),
        ("final_value_usd", _usd(s["final_value_usd"]), ""),
        ("total_pnl_usd", _usd(s["total_pnl_usd"]), ""),
        ("spot_pnl_usd", _usd(s["spot_pnl_usd"]), ""),
        ("futures_pnl_usd", _usd(round(fut, 2)), f"realized {_usd(s['futures_realized_pnl_usd'])}, "
                                                f"unrealized at the last mark {_usd(round(unreal, 2))}"),
        ("fees_usd", _usd(s["fees_usd"]), ""),
        ("financing_cost_usd", _usd(s["financing_cost_usd"]),
         f"{100 * s['financing_rate_annual']:g} %/yr on negative cash, act/365, daily"),
        ("min_cash_usd", _usd(s["min_cash_usd"]), f"on {s['min_cash_date']}; below 0 the run borrows"),
        ("peak_gross_leverage", f"{s['peak_gross_leverage']:.2f}",
         f"on {s['peak_gross_leverage_date']}: (spot + futures notional) / equity; 2 = fully funded and hedged"),
        ("basis_harvested_usd", _usd(s["basis_harvested_usd"]), "the carry: sum over futures fills of n x CV / (F/S)"),
        ("hedge_residual_usd", _usd(s["hedge_residual_usd"]), "total + fees + financing - basis harvested"),
        ("return_pct", f"{s['return_pct']:.4f}", f"on {_usd(s['capital_usd'])} capital"),
        ("rolls", str(len(rolls)), "; ".join(f"{r['day']} {r['from']}->{r['to']} "
                                             f"({r['bought_contracts']}->{r['sold_contracts']} ct)" for r in rolls)
         + f"; sizing {s['roll_sizing']}"),
        ("rehedges", str(s["rehedges"]), f"delta model {s.get('delta_model')}"),
        ("flat_at_end", "yes" if s["flat_at_end"] else "NO", ""),
    ]
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    alerts = max(0, len(result.exports.get("alerts.csv", "").strip().splitlines()) - 1)
    lines = [f"basis backtest {s.get('entry_day')} -> {s.get('end_day')}: {result.scenario_id}, "
             f"seed {result.manifest.get('seed')}, {s.get('days')} days, fill model {s.get('fill_model')}"]
    lines += [f"{k:<{w0}}  {v:>{w1}}" + (f"  ({note})" if note else "") for k, v, note in rows]
    lines.append(synthetic_line(s, market))
    lines.append(f"alerts: {alerts} (alerts.csv)" if alerts else "alerts: none")
    return "\n".join(lines) + "\n"


class BasisBacktestAlias:
    """`sim basis-backtest START END`: builds the run of a basis scenario from START to END."""

    name = "basis-backtest"
    help = ("the basis (cash-and-carry) backtest from START to END, offline "
            "(the seeds' backtest_with_rollovers.py START END)")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_arguments(p)

    def build(self, args: argparse.Namespace, load: Callable[[str], Any]) -> AliasRun:
        """`load` loads a scenario by id or path (the CLI's loader: the strategy imports none)."""
        start, end = parse_day(args.start, "START"), parse_day(args.end, "END")
        if start >= end:
            raise UserInputError(f"START {start} must be before END {end}")
        seed = None
        if args.seed is not None:
            try:
                seed = int(args.seed)
            except ValueError:
                raise UserInputError(f"--seed {args.seed!r} is not an integer") from None
        if args.data is not None:
            data = Path(args.data).expanduser()
            if not data.is_dir():
                raise UserInputError(f"--data {args.data}: no such directory")
            os.environ["SIM_DATA_DIR"] = str(data.resolve())
        overrides = parse_overrides(args.set)
        sc = load(args.scenario)
        if sc.spec.strategy != "basis":
            raise UserInputError(f"{sc.path}: strategy is {sc.spec.strategy!r}, not basis")
        overrides = {**overrides, "entry_date": start.isoformat(), "end_date": end.isoformat()}
        validated_params(sc.spec.strategy_params, overrides)  # a bad --set fails before any data is read
        market = _market_info(sc)
        sc = trimmed(sc, start, end, cut=market["kind"] == "recorded_daily")
        w = sc.spec.window
        out = Path(args.out) if args.out else args.runs_dir / f"basis_{start}_{end}"
        return AliasRun(sc, overrides, seed, out, bool(args.report),
                        {"window": {"start": w.start.isoformat(), "end": w.end.isoformat()}, "basis_market": market})

    def summary_text(self, result: Any, run: AliasRun) -> str:
        return summary_table(result, run.manifest_extra["basis_market"])

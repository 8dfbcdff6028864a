"""The `sim` command line.

Exit codes: 0 success; 1 a check failed (golden mismatch, nondeterminism); 2 bad input (a
one-line message naming the file, row or key — never a traceback; a bad option too: one line,
not argparse's usage block); 3 scenarios unavailable on this machine (their data root is missing)
under `verify` without `--skip-unavailable`, or for the one scenario `run` was given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from sim.core import args as types
from sim.core.errors import UserInputError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3
#: a sweep runs each point in turn: more than this is a typo, not a plan
MAX_SWEEP_POINTS = 10_000


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's bad-input contract: a bad option or argument is one line on
    stderr (`error: PROG: MESSAGE`) and exit 2, not a usage block. Subcommands inherit it."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        one_line = " ".join(message.split())
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {one_line} (see {self.prog} --help)\n")


def _overrides(pairs: list[tuple[str, Any]] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs or []:
        if key in out:
            raise UserInputError(f"--set names {key!r} twice")
        out[key] = value
    return out


def _scenario_refs(args: argparse.Namespace) -> list[str]:
    from sim.scenario.manifest import all_scenarios

    if getattr(args, "all", False):
        return [str(p) for p in all_scenarios()]
    if not args.scenarios:
        raise UserInputError("name at least one scenario, or --all")
    return list(args.scenarios)


def cmd_run(args: argparse.Namespace) -> int:
    from sim.outputs.exports import fmt
    from sim.run import run, write_run_dir
    from sim.scenario.manifest import REPO, load_scenario

    sc = load_scenario(args.scenario)
    if args.on_bad_rows:
        sc.spec = sc.spec.model_copy(update={"on_bad_rows": args.on_bad_rows})
    out = Path(args.out) if args.out else REPO / "runs" / sc.id
    result = run(sc, _overrides(args.set), seed=args.seed, speed=args.speed, stores_dir=out)
    write_run_dir(result, out)
    width = max(len(k) for k in result.summary)
    for k, v in result.summary.items():
        if not isinstance(v, dict):  # a nested summary (metrics) gets its own table below
            print(f"{k:<{width}}  {fmt(v)}")
    print(f"{'events':<{width}}  {result.manifest['events']}")
    print(f"{'wall_s':<{width}}  {result.manifest['wall_s']}")
    if result.manifest["bad_rows"]:
        print(f"dropped bad rows: {json.dumps(result.manifest['bad_rows'], sort_keys=True)}")
    _print_outside_window(result, sc)
    _print_metrics(result, out)
    print(f"outputs: {out}")
    if args.report:
        print(f"report: {_write_report(out)}")
    return EXIT_OK


def _print_outside_window(result: Any, sc: Any) -> None:
    """Rows the run skipped because they lie outside the scenario's window, by source and kind:
    never dropped without a word (they are not bad rows, so they are not in the manifest)."""
    outside = getattr(result, "rows_outside_window", {})
    if outside:
        w = sc.spec.window
        parts = ", ".join(f"{name} ({kind}) {count}" for name, (kind, count) in sorted(outside.items()))
        print(f"rows outside the window [{w.start.isoformat()}, {w.end.isoformat()}), skipped: {parts}")


def _write_report(run_dir: Path, out: Path | None = None) -> Path:
    """The report of a run directory: its strategy's own page when its plugin has one (found by the
    plugin's marker file), else the standard run report."""
    from sim.outputs.report import write_page, write_report
    from sim.strategies.registry import plugin_for_run_dir

    plugin = plugin_for_run_dir(run_dir)
    page = plugin.report_page(run_dir) if plugin is not None else None
    if page is not None:
        return write_page(page, run_dir, out)
    return write_report(run_dir, out)


def cmd_alias(alias: Any, args: argparse.Namespace) -> int:
    """A strategy's own command that builds a scenario run (the plugin's `aliases`)."""
    from sim.run import run, write_run_dir
    from sim.scenario.manifest import REPO, ScenarioUnavailable, load_scenario

    args.runs_dir = REPO / "runs"
    req = alias.build(args, load_scenario)
    try:
        result = run(req.scenario, req.overrides, seed=req.seed)
    except ScenarioUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    result.manifest.update(req.manifest_extra)
    write_run_dir(result, req.out)
    print(alias.summary_text(result, req), end="")
    print(f"wall_s: {result.manifest['wall_s']}")
    print(f"outputs: {req.out}")
    if req.report:
        print(f"report: {_write_report(req.out)}")
    return EXIT_OK


def _print_metrics(result: Any, run_dir: Path) -> None:
    """The run's metrics table, when the run has metrics (not every strategy's run does): from its
    metrics.json export, else its summary's `metrics`, else a metrics.json in the run directory."""
    from sim.outputs.metrics import metrics_table

    path = run_dir / "metrics.json"
    if "metrics.json" in result.exports:
        metrics = json.loads(result.exports["metrics.json"])
    elif isinstance(result.summary.get("metrics"), dict):
        metrics = result.summary["metrics"]
    elif path.is_file():
        metrics = json.loads(path.read_text())
    else:
        return
    print("metrics:")
    print(metrics_table(metrics), end="")


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.batch.sweep import parse_grid, sweep, table_text, write_csv

    grid = parse_grid(args.grid or [])
    if not grid:
        raise UserInputError("give at least one --grid KEY=V1,V2,...")
    points = 1
    for values in grid.values():
        points *= len(values)
    if points > MAX_SWEEP_POINTS:
        raise UserInputError(f"--grid: {points} points, more than {MAX_SWEEP_POINTS}; sweep in parts")
    columns, rows = sweep(args.scenario, grid, _overrides(args.set))
    print(table_text(columns, rows), end="")
    if args.out:
        write_csv(Path(args.out), columns, rows)
        print(f"table: {args.out}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "manifest.json").is_file():
        raise UserInputError(f"{run_dir}: not a run directory (no manifest.json)")
    print(_write_report(run_dir, Path(args.out) if args.out else None))
    return EXIT_OK


def _verify_one(ref: str, golden: str | None, overrides: dict[str, Any]) -> tuple[str, str, list[str]]:
    from sim.outputs.golden import compare
    from sim.run import run
    from sim.scenario.manifest import ScenarioUnavailable, load_scenario

    sc = load_scenario(ref)
    try:
        result = run(sc, overrides)
    except ScenarioUnavailable as e:
        return sc.id, "unavailable", [str(e)]
    gdir = Path(golden) if golden else sc.golden_dir
    diffs = compare(result, gdir)
    return sc.id, ("ok" if not diffs else "FAIL"), [d.describe() for d in diffs]


def cmd_verify(args: argparse.Namespace) -> int:
    from sim.outputs.golden import unused_golden_dirs
    from sim.scenario.manifest import GOLDEN_DIR, scenario_id_for

    refs = _scenario_refs(args)
    overrides = _overrides(args.set)
    failed = unavailable = 0
    produced: set[str] = set()
    for ref in refs:
        sid, status, notes = _verify_one(ref, args.golden, overrides)
        produced.add(sid)
        print(f"{status:<12} {sid}")
        for n in notes:
            print(f"    {n}")
        failed += status == "FAIL"
        unavailable += status == "unavailable"
    if args.all:
        produced |= {scenario_id_for(Path(r)) for r in refs}
        for g in unused_golden_dirs(GOLDEN_DIR, produced):
            print(f"{'UNUSED':<12} golden/{g} (no scenario produces it; delete it or restore its scenario)")
            failed += 1
    print(f"{len(refs) - failed - unavailable} passed, {failed} failed, {unavailable} unavailable")
    if failed:
        return EXIT_CHECK_FAILED
    if unavailable and not args.skip_unavailable:
        return EXIT_UNAVAILABLE
    return EXIT_OK


def cmd_bless(args: argparse.Namespace) -> int:
    from sim.outputs.golden import bless
    from sim.run import run
    from sim.scenario.manifest import load_scenario

    for ref in _scenario_refs(args):
        sc = load_scenario(ref)
        changed = bless(run(sc), sc.golden_dir)
        print(f"blessed {sc.id}: {', '.join(changed) if changed else 'unchanged'}")
    return EXIT_OK


def cmd_determinism(args: argparse.Namespace) -> int:
    from sim.scenario.manifest import ScenarioUnavailable, load_scenario

    bad = 0
    for ref in _scenario_refs(args):
        sc = load_scenario(ref)
        try:
            sc.content_hash()
        except ScenarioUnavailable as e:
            print(f"{'unavailable':<12} {sc.id}: {e}")
            if not args.skip_unavailable:
                bad += 1
            continue
        hashes = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(2):
                out = Path(tmp) / str(i)
                proc = subprocess.run(
                    [sys.executable, "-m", "sim", "run", str(sc.path), "--out", str(out)],
                    capture_output=True, text=True, env=os.environ.copy(),
                )
                if proc.returncode != 0:
                    print(f"{'FAIL':<12} {sc.id}: run {i + 1} exited {proc.returncode}: {proc.stderr.strip()}")
                    bad += 1
                    break
                hashes.append(json.loads((out / "manifest.json").read_text())["outputs"])
        if len(hashes) == 2:
            same = hashes[0] == hashes[1]
            print(f"{'ok' if same else 'FAIL':<12} {sc.id}")
            if not same:
                for name in sorted(set(hashes[0]) | set(hashes[1])):
                    if hashes[0].get(name) != hashes[1].get(name):
                        print(f"    {name} differs between two fresh runs")
                bad += 1
    return EXIT_CHECK_FAILED if bad else EXIT_OK


def _rows_of(result: Any, name: str) -> int | str:
    """Data rows of a CSV export, or "-" when the run wrote none."""
    import csv
    import io

    text = result.exports.get(name)
    return "-" if text is None else max(0, sum(1 for _ in csv.reader(io.StringIO(text))) - 1)


def _net_pnl(result: Any) -> Any:
    """The run's net PnL: its metrics' (final − initial equity), else its summary's own total."""
    metrics = result.summary.get("metrics")
    if isinstance(metrics, dict) and "net_pnl" in metrics:
        return metrics["net_pnl"]
    for key in ("net_pnl", "total_pnl_usd"):
        if key in result.summary:
            return result.summary[key]
    return None


def cmd_demo(args: argparse.Namespace) -> int:
    from sim.outputs.exports import fmt
    from sim.run import run, write_run_dir
    from sim.scenario.manifest import REPO, all_scenarios, load_scenario

    out_root = Path(args.out) if args.out else REPO / "runs" / "demo"
    rows = []
    for p in all_scenarios():
        sc = load_scenario(p)
        if sc.spec.synthetic is None:
            continue
        result = run(sc, stores_dir=out_root / sc.id)
        write_run_dir(result, out_root / sc.id)
        net = _net_pnl(result)
        rows.append((sc.id, sc.spec.strategy, result.manifest["events"], _rows_of(result, "bars.csv"),
                     _rows_of(result, "orders.csv"), _rows_of(result, "fills.csv"),
                     "-" if net is None else fmt(round(net, 6)), result.manifest["wall_s"]))
    header = ("scenario", "strategy", "events", "bars", "orders", "fills", "net_pnl", "wall_s")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
    print(f"outputs: {out_root}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from sim.scenario.manifest import all_scenarios, load_scenario

    for p in all_scenarios():
        sc = load_scenario(p)
        kind = "synthetic" if sc.spec.synthetic else "recorded"
        print(f"{sc.id:<40} {kind:<10} {sc.spec.description}")
    return EXIT_OK


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="sim", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="replay one scenario into a run directory")
    p.add_argument("scenario", help="scenario id (group/name) or path to its YAML")
    p.add_argument("--out", type=types.out_dir, help="run directory (default runs/<scenario>)")
    p.add_argument("--set", action="append", type=types.key_value, metavar="KEY=VALUE",
                   help="config override (repeatable)")
    p.add_argument("--seed", type=types.seed, help="seed (default: the scenario's)")
    p.add_argument("--speed", type=types.positive_float,
                   help="pace at this many times real time (default: as fast as possible)")
    p.add_argument("--on-bad-rows", choices=("fail", "drop"), help="override the scenario's bad-row policy")
    p.add_argument("--report", action="store_true", help="also write report.html into the run directory")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="write a self-contained HTML report (charts, metrics) of a run directory")
    p.add_argument("run_dir", metavar="RUN_DIR", type=types.existing_dir, help="a directory written by `sim run`")
    p.add_argument("--out", metavar="FILE", type=types.out_file, help="HTML file to write (default RUN_DIR/report.html)")
    p.set_defaults(func=cmd_report)

    from sim.strategies.registry import all_plugins

    for plugin in all_plugins():
        for alias in plugin.aliases():
            p = sub.add_parser(alias.name, help=alias.help)
            alias.add_arguments(p)
            p.set_defaults(func=lambda args, alias=alias: cmd_alias(alias, args))

    p = sub.add_parser("sweep", help="replay one scenario over a grid of config values; print a metrics table")
    p.add_argument("scenario")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2,...", help="values of one config key (repeatable)")
    p.add_argument("--set", action="append", type=types.key_value, metavar="KEY=VALUE",
                   help="config override for every point")
    p.add_argument("--out", metavar="FILE.csv", type=types.out_file, help="also write the table as CSV")
    p.set_defaults(func=cmd_sweep)

    from sim.batch.fuzz_command import add_fuzz_arguments, cmd_fuzz

    p = sub.add_parser("fuzz", help="random scenarios through the pipeline, invariants checked at every event")
    add_fuzz_arguments(p)
    p.set_defaults(func=cmd_fuzz)

    for name, func, helptext in (
        ("verify", cmd_verify, "replay scenarios and compare with their golden files"),
        ("bless", cmd_bless, "rewrite golden files from a replay, on purpose"),
        ("determinism", cmd_determinism, "run each scenario twice in fresh processes and compare output hashes"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("scenarios", nargs="*")
        p.add_argument("--all", action="store_true", help="every scenario under scenarios/")
        if name != "bless":
            p.add_argument("--skip-unavailable", action="store_true",
                           help="scenarios whose data root is missing do not fail the command")
        if name == "verify":
            p.add_argument("--golden", type=types.existing_dir,
                           help="compare with this folder instead of golden/<scenario>")
            p.add_argument("--set", action="append", type=types.key_value, metavar="KEY=VALUE",
                           help="config override (repeatable)")
        p.set_defaults(func=func)

    from adapters.emulator.command import add_arguments as add_emulator_arguments
    from adapters.emulator.command import cmd_emulator

    p = sub.add_parser("emulator", help="serve a scenario as a loopback Bybit v5 exchange (REST and WebSockets)")
    add_emulator_arguments(p)
    p.set_defaults(func=cmd_emulator)

    from sim.live.command import add_live_arguments, add_operate_arguments, cmd_activate, cmd_live, cmd_mode, cmd_status

    p = sub.add_parser("live", help="run a strategy on a live market: dry_run, paper, shadow or live")
    add_live_arguments(p)
    p.set_defaults(func=cmd_live)
    p = sub.add_parser("status", help="show a running session's mode, warm-up, position, heat, PnL, kill switch")
    add_operate_arguments(p)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("activate", help="activate trading in a running session (after its warm-up)")
    add_operate_arguments(p)
    p.set_defaults(func=cmd_activate)
    p = sub.add_parser("mode", help="switch a running session's mode (flat book only)")
    p.add_argument("mode", choices=("dry_run", "paper", "shadow", "live"))
    add_operate_arguments(p)
    p.set_defaults(func=cmd_mode)

    from sim.live.record import add_record_arguments, cmd_record

    p = sub.add_parser("record", help="capture a live or emulated window as a replayable scenario")
    add_record_arguments(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("demo", help="replay the shipped synthetic scenarios and print a summary")
    p.add_argument("--out", type=types.out_dir, help="directory of the run directories (default runs/demo)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("list", help="list the scenarios")
    p.set_defaults(func=cmd_list)

    from sim.data.importer import add_import_arguments, run_import

    p = sub.add_parser("import", help="turn a recorded file into the project's Parquet, with a data-quality report")
    add_import_arguments(p)
    p.set_defaults(func=run_import)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Runs one command. Errors a user can cause end here as one line on stderr and an exit code;
    anything else is a bug and keeps its traceback."""
    from sim.scenario.roots import ScenarioUnavailable

    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except UserInputError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ScenarioUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            return _broken_pipe()
        # a path the user named that cannot be written or read (permissions, a full disk, ...)
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _broken_pipe() -> int:
    """The reader of our output went away (`sim list | head`): not an error of ours. stdout is
    pointed at devnull so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK

"""`sim fuzz`: random scenarios through the real pipeline with invariants checked at every event
(`sim.batch.fuzz`), for a wall-time budget; or `--replay FILE` to check one scenario again.

Prints what it ran — scenarios, events, invariant checks — and each failure with the path of the
shrunk scenario YAML that reproduces it. Exit 0 when nothing failed, 1 when an invariant failed,
2 on bad input.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from sim.core.args import int_in
from sim.core.errors import UserInputError

EXIT_OK, EXIT_FAILED = 0, 1
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """`90`, `90s`, `10m`, `1h` → seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if m is None or float(m.group(1)) <= 0:
        raise UserInputError(f"--budget expects a positive duration like 90s, 10m or 1h, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def add_fuzz_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", default="60s", help="wall time to fuzz for: 90s, 10m, 1h (default 60s)")
    p.add_argument("--seed", type=int, default=0, help="base seed of the random scenarios (default 0)")
    p.add_argument("--out", default="runs/fuzz", help="where failing scenarios are written (default runs/fuzz)")
    p.add_argument("--strategy", action="append", metavar="NAME",
                   help="fuzz this strategy (repeatable; default: every strategy with a fuzz space)")
    p.add_argument("--round", type=int_in(1, 10_000), default=25, metavar="N",
                   help="scenarios per hypothesis round (each round has its own seed; default 25)")
    p.add_argument("--replay", metavar="FILE.yaml", help="check this scenario once (every invariant) and exit")


def _violation_lines(res: object) -> list[str]:
    from sim.batch.fuzz import _ts

    return [f"  {v.invariant} at {_ts(v.ts_ns)}: {v.message}" for v in res.violations]  # type: ignore[attr-defined]


def cmd_fuzz(args: argparse.Namespace) -> int:
    from sim.batch.fuzz import fuzz, fuzzable, replay

    if args.replay:
        res = replay(args.replay)
        print(f"replayed {args.replay}: {res.events} events, {res.checks} invariant checks, "
              f"{len(res.violations)} violations")
        for line in _violation_lines(res):
            print(line)
        return EXIT_FAILED if res.violations else EXIT_OK
    names = args.strategy or fuzzable()
    known = fuzzable()
    for name in names:
        if name not in known:
            raise UserInputError(f"--strategy {name}: no fuzz space (fuzzable: {', '.join(known)})")
    budget = parse_budget(args.budget)
    print(f"fuzzing {', '.join(names)} for {budget:g} s, seed {args.seed}", flush=True)
    report = fuzz(names, budget_s=budget, seed=args.seed, out_dir=Path(args.out), round_examples=args.round,
                  progress=lambda line: print(f"found {line}", flush=True))
    print(f"scenarios  {report.scenarios} ({report.drawn} drawn, the rest shrinking steps; "
          + ", ".join(f"{k} {v}" for k, v in report.by_strategy.items()) + ")")
    print(f"rounds     {report.rounds}")
    print(f"events     {report.events}")
    print(f"invariant checks  {report.checks}")
    print(f"failures   {len(report.failures)}")
    for f in report.failures:
        print(f"- {f.strategy} {f.invariant}: {f.path}")
        for line in _violation_lines(f.result)[:5]:
            print(line)
        print(f"  reproduce: sim run {f.path}   re-check: sim fuzz --replay {f.path}")
    sys.stdout.flush()
    return EXIT_FAILED if report.failures else EXIT_OK

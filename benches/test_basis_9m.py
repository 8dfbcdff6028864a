"""The nine-month basis backtest end to end: `scenarios/basis/binance_2021_real.yaml` (the seeds'
`backtest_with_rollovers.py 2021-01-02 2021-09-30` on the recorded 2021 prices) — minute markets
for spot and four quarterlies, the market engine, the strategy, the seeds' CSVs. Reports the wall
time, events/s and where the time went (`benches.timing`); the target is under 20 s on the project's
machine. Never fails on speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from benches.timing import report, timed_run
from sim.scenario.manifest import data_root

REPO = Path(__file__).resolve().parent.parent


def test_basis_nine_months_end_to_end(benchmark) -> None:  # noqa: ANN001
    if data_root() is None:
        pytest.skip("needs the recorded 2021 data")
    out: dict[str, object] = {}

    def once() -> None:
        out["run"] = timed_run(REPO / "scenarios" / "basis" / "binance_2021_real.yaml", None)

    benchmark.pedantic(once, rounds=1, iterations=1)
    result, wall, parts, _calls = out["run"]  # type: ignore[misc]
    events = result.manifest["events"]
    benchmark.extra_info.update(events=events, events_per_s=round(events / wall), wall_s=round(wall, 3),
                                **{f"{k}_s": round(v, 3) for k, v in parts.items()})
    print(report("basis, nine months", result, wall, parts))
    s = result.summary  # type: ignore[attr-defined]
    print(f"\nbasis 2021-01-02 -> 2021-09-30: {wall:.1f} s wall, {events:,} events ({events / wall:,.0f}/s); "
          f"total {s['total_pnl_usd']:,.2f} USD, {len(s['rolls'])} rolls, flat at end {s['flat_at_end']}")
    assert s["flat_at_end"] and len(s["rolls"]) == 3

"""Wall time and events/s of `sim run` end to end on a generated one-day Parquet scenario
(~2 M trades, ~5 M quotes): read, validate, merge, bars, loop, adapter, exports; then one more run
with the split of its time (`benches.timing`)."""

from __future__ import annotations

from pathlib import Path

from benches.day_data import scenario_yaml
from benches.timing import report, timed_run
from sim.run import run

REPO = Path(__file__).resolve().parent.parent


def test_run_one_generated_day(benchmark):  # noqa: ANN001
    scenario = scenario_yaml(REPO / "runs" / "bench-data")
    result = benchmark.pedantic(run, args=(scenario,), rounds=3, iterations=1)
    events = result.manifest["events"]
    benchmark.extra_info["events"] = events
    benchmark.extra_info["events_per_s"] = round(events / benchmark.stats.stats.mean)
    print(f"\nsim run, one generated day: {events} events, {events / benchmark.stats.stats.mean / 1e6:.1f} M events/s")
    _result, wall, parts, _calls = timed_run(scenario, None)
    print(report("sim run, one generated day (timed once more, with the split)", _result, wall, parts))

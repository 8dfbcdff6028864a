"""The 30-day synthetic tick benchmark: `benches/scenarios/amt_30d_synthetic.yaml` (the amt strategy,
~18.5 M generated trades and quotes) replayed once end to end WITH its stores — generation,
features, signals, fills, the DuckDB and SQLite stores and the CSV exports — reporting the wall
time, events/s and where the time went: inside the Rust engine against the rest (Python: the
generator, the stores, the exports, the event loop with the strategy and the recorder).
Acceptance target: under 30 s on the project's machine. Reports; never fails on speed.
"""

from __future__ import annotations

from pathlib import Path

from benches.timing import timed_run, report

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "amt_30d_synthetic.yaml"


def test_amt_30_days_synthetic_end_to_end(benchmark, tmp_path: Path) -> None:  # noqa: ANN001
    out: dict[str, object] = {}

    def once() -> None:
        out["run"] = timed_run(SCENARIO, tmp_path / "stores")

    benchmark.pedantic(once, rounds=1, iterations=1)
    result, wall, parts, _calls = out["run"]  # type: ignore[misc]
    events = result.manifest["events"]
    benchmark.extra_info.update(
        events=events,
        events_per_s=round(events / wall),
        **{f"{k}_s": round(v, 3) for k, v in parts.items()},
    )
    summary = {k: v for k, v in result.summary.items() if k != "metrics"}
    print(report("sim run, 30 synthetic days with stores", result, wall, parts))
    print(f"  {summary}")
    assert result.summary["bars"] == 43_200
    assert result.summary["fills"] > 0, "the benchmark scenario should trade"

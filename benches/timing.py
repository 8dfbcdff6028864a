"""Where a run's wall time goes: inside the Rust engine, in the synthetic tick generator or the
file readers (Parquet, Feather, CSV: "source"), in the
recorder, in the DuckDB and SQLite stores, in the CSV exports, and the rest (the Python event loop
and the strategy: "loop+strategy"); and the peak RSS of the process.

`timed_run(scenario, stores_dir)` runs `sim.run.run` once with thin timers around the leaf calls
of each part — every method of the `sim._core.MarketEngine` the run calls (advance_to, push_*,
take_raw, …), each `next()` on a generated source, the `RunStores` and SQLite writes, and
`csv_text`, `Recorder.on_event` — and returns the result and the seconds per part. A timed call made
inside another (RunStores.close calls flush) counts in the outer one, so the parts add up, and
"python" (loop+strategy) is the wall time minus all of them. A timer costs about a microsecond a
call: ~0.2 s over a 30-day run's ~200 k timed calls.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import sim.data.csv_readers
import sim.data.parquet_readers
import sim.run
import sim.outputs.recorder
import sim.outputs.stores
from sim import _core
from sim.run import RunResult
from sim.scenario import ticks

PARTS = ("rust", "generator", "reader", "recorder", "stores", "exports", "python")
LABELS = {"rust": "engine (Rust)", "reader": "file reader", "python": "loop+strategy"}


class _Clock:
    def __init__(self) -> None:
        self.s = dict.fromkeys(PARTS, 0.0)
        self.calls = dict.fromkeys(PARTS, 0)
        self.depth = 0

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        s, calls = self.s, self.calls

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.depth:  # inside another timed call (RunStores.close calls flush): counted there
                return fn(*args, **kwargs)
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                s[part] += time.perf_counter() - t0
                calls[part] += 1
                self.depth -= 1

        return timed


class _TimedEngine:
    """`_core.MarketEngine` with every method call timed as "rust"."""

    def __init__(self, clock: _Clock, real: type, *args: Any, **kwargs: Any) -> None:
        self._e = real(*args, **kwargs)
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._e, name)
        if callable(attr):
            attr = self._clock.wrap("rust", attr)
            setattr(self, name, attr)  # wrapped once per method
        return attr


def timed_run(scenario: str | Path, stores_dir: Path | None) -> tuple[RunResult, float, dict[str, float], dict[str, int]]:
    """(result, wall seconds, seconds per part, timed calls per part) of one run; the parts also hold
    "peak_rss_mb", the process's peak resident set so far."""
    clock = _Clock()
    real_engine = _core.MarketEngine
    real_batches = ticks.GeneratedSource.batches

    def timed_batches(part: str, real: Callable[[Any], Iterator[tuple[int, Any]]]) -> Callable[[Any], Iterator[Any]]:
        def batches(self: Any) -> Iterator[tuple[int, Any]]:
            it = real(self)
            step = clock.wrap(part, lambda: next(it, None))
            while (item := step()) is not None:
                yield item

        return batches

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(_core, "MarketEngine", lambda *a, **k: _TimedEngine(clock, real_engine, *a, **k)))
        stack.enter_context(mock.patch.object(ticks.GeneratedSource, "batches", timed_batches("generator", real_batches)))
        for cls in (sim.data.parquet_readers._ColumnarSource, sim.data.csv_readers.CsvSource):
            stack.enter_context(mock.patch.object(cls, "batches", timed_batches("reader", cls.batches)))
        stack.enter_context(mock.patch.object(sim.outputs.recorder.Recorder, "on_event",
                                              clock.wrap("recorder", sim.outputs.recorder.Recorder.on_event)))
        for name in ("append_raw_trades", "append_raw_quotes", "append_minutes", "flush", "close"):
            real = getattr(sim.outputs.stores.RunStores, name)
            stack.enter_context(mock.patch.object(sim.outputs.stores.RunStores, name, clock.wrap("stores", real)))
        for name in ("write_signals_db", "write_execution_db"):
            stack.enter_context(mock.patch.object(sim.run, name, clock.wrap("stores", getattr(sim.run, name))))
        stack.enter_context(mock.patch.object(sim.run, "csv_text", clock.wrap("exports", sim.run.csv_text)))
        t0 = time.perf_counter()
        result = sim.run.run(scenario, stores_dir=stores_dir)
        wall = time.perf_counter() - t0
    clock.s["python"] = wall - sum(v for k, v in clock.s.items() if k != "python")
    parts = {**clock.s, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return result, wall, parts, clock.calls


def report(title: str, result: RunResult, wall: float, parts: dict[str, float]) -> str:
    events = result.manifest["events"]
    lines = [f"\n{title}: {wall:.2f} s wall, {events:,} events, {events / wall / 1e6:.2f} M events/s"]
    for k in PARTS:
        lines.append(f"  {LABELS.get(k, k):<14} {parts[k]:7.2f} s  {parts[k] / wall * 100:5.1f} %")
    lines.append(f"  Rust {parts['rust']:.2f} s vs Python {wall - parts['rust']:.2f} s (everything else); "
                 f"peak RSS {parts['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)

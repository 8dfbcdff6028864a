"""Recorded ticks written as a scenario: a recording of a scenario's own ticks replays to
byte-identical exports, arbitrary tick lists come back through the loader unchanged, bad rows
are kept (and fail the replay loudly), and a bad `base` or window writes nothing."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.data.timestamps import EARLIEST_NS, LATEST_NS
from sim.data.schema import SCHEMAS
from sim.core.errors import DataFileError, ManifestError
from sim.scenario.manifest import load_scenario
from sim.scenario.recording import ScenarioRecording, base_from_scenario
from sim.scenario.sources import build_sources

REPO = Path(__file__).resolve().parents[2]
T0 = 1_709_251_200_000_000_000  # 2024-03-01T00:00:00Z
MIN_NS = 60_000_000_000
BASE = {"strategy": "hourly_probe", "strategy_params": {"qty": 0.01, "every_minutes": 2}, "seed": 3}


def _source_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of a scenario's sources, by kind, as the loader yields them."""
    out: dict[str, list[tuple]] = {}
    for src in build_sources(load_scenario(path)):
        table = pa.Table.from_batches([b for _, b in src.batches()], schema=SCHEMAS[src.kind])
        out[src.kind] = list(zip(*(c.to_pylist() for c in table.columns), strict=True))
    return out


def _sim_run(scenario: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", "run", str(scenario), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("ref", ["tests/fixtures/emulator/probe_plain.yaml", "scenarios/amt/entry_breakout_long.yaml"])
def test_a_recording_of_a_scenarios_ticks_replays_byte_identical(ref: str, tmp_path: Path) -> None:
    original = REPO / ref
    sc = load_scenario(original)
    rec = ScenarioRecording(tmp_path / "rec", "recorded", chunk_rows=10_000)
    ticks = _source_rows(original)
    # Fed as live ticks arrive: interleaved by exchange time (ties: trades first), one call each.
    feed = [(t[0], 0, i, rec.trade, t) for i, t in enumerate(ticks["trades"])]
    feed += [(q[0], 1, i, rec.quote, q) for i, q in enumerate(ticks["quotes"])]
    for *_, call, row in sorted(feed, key=lambda f: f[:3]):
        call(*row)
    path = rec.write(base=base_from_scenario(sc.spec), window_start_ns=sc.spec.window.start_ns,
                     window_end_ns=sc.spec.window.end_ns)
    assert path == tmp_path / "rec" / "recorded.yaml"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "recorded.quotes.parquet", "recorded.trades.parquet", "recorded.yaml"]

    runs = {}
    for name, scenario in (("original", original), ("recorded", path)):
        proc = _sim_run(scenario, tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        runs[name] = tmp_path / name
    exports = sorted(p.name for p in runs["original"].glob("*.csv"))
    assert {"signals.csv", "orders.csv"} <= set(exports)
    for name in exports:
        assert (runs["recorded"] / name).read_bytes() == (runs["original"] / name).read_bytes(), name
    # the comparison has decisions in it, not two empty files
    decisions = sum(len((runs["original"] / f).read_text().splitlines()) - 1 for f in ("signals.csv", "orders.csv"))
    assert decisions >= 2


_I64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# any time a reader accepts: the plausible range of sim.data.timestamps
_TS = st.integers(min_value=EARLIEST_NS, max_value=LATEST_NS - 1)
_F = st.floats(allow_nan=True, allow_infinity=True)
_TRADES = st.lists(st.tuples(_TS, _F, _F, st.sampled_from([-1, 0, 1]), _I64), max_size=40)
_QUOTES = st.lists(st.tuples(_TS, _F, _F, _F, _F), max_size=40)


def _bits(rows: list[tuple]) -> list[tuple]:
    """Rows with floats as their bit patterns, so NaN (and -0.0) compare exactly."""
    return [tuple(np.float64(v).view(np.int64).item() if isinstance(v, float) else v for v in r) for r in rows]


@given(trades=_TRADES, quotes=_QUOTES, chunk_rows=st.integers(min_value=1, max_value=16))
def test_arbitrary_ticks_round_trip_through_the_loader(trades: list[tuple], quotes: list[tuple],
                                                       chunk_rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rec = ScenarioRecording(Path(tmp), "prop", chunk_rows=chunk_rows)
        for t in trades:
            rec.trade(*t)
        for q in quotes:
            rec.quote(*q)
        path = rec.write(base=BASE, window_start_ns=T0, window_end_ns=T0 + MIN_NS)
        got = _source_rows(path)
    assert _bits(got["trades"]) == _bits(trades)
    assert _bits(got["quotes"]) == _bits(quotes)


def test_bad_rows_are_written_as_received_and_fail_the_replay_loudly(tmp_path: Path) -> None:
    rec = ScenarioRecording(tmp_path, "bad")
    rec.trade(T0 + 2_000_000_000, 62000.0, 0.01, 1, 7)
    rec.trade(T0 + 1_000_000_000, 62000.1, 0.01, -1, 8)  # time going backwards
    rec.quote(T0 + 1_000_000_000, 62000.2, 1.0, 62000.0, 1.0)  # crossed
    rec.quote(T0 + 3_000_000_000, float("nan"), 1.0, 62000.0, 1.0)
    path = rec.write(base=BASE, window_start_ns=T0, window_end_ns=T0 + 2 * MIN_NS)
    rows = _source_rows(path)
    assert [r[0] - T0 for r in rows["trades"]] == [2_000_000_000, 1_000_000_000]
    assert rows["quotes"][0][1:] == (62000.2, 1.0, 62000.0, 1.0) and np.isnan(rows["quotes"][1][1])

    proc = _sim_run(path, tmp_path / "run")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    quotes_file = tmp_path / "bad.quotes.parquet"
    assert proc.stderr.strip() == f"error: {quotes_file}, row 1: crossed quote (bid 62000.2 >= ask 62000)"
    # The manifest's own policy (carried in `base`) decides, as for any scenario.
    rec.write(base={**BASE, "on_bad_rows": "drop"}, window_start_ns=T0, window_end_ns=T0 + 2 * MIN_NS, overwrite=True)
    proc = _sim_run(path, tmp_path / "run_drop")
    assert proc.returncode == 0, proc.stderr
    assert "dropped bad rows" in proc.stdout


def test_a_side_the_loader_rejects_is_written_and_rejected_at_load(tmp_path: Path) -> None:
    rec = ScenarioRecording(tmp_path, "side")
    rec.trade(T0, 62000.0, 0.01, 2, 1)
    path = rec.write(base=BASE, window_start_ns=T0, window_end_ns=T0 + MIN_NS)
    with pytest.raises(DataFileError, match="side 2 is not -1, 0 or 1"):
        _source_rows(path)


def test_what_cannot_be_written_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    rec = ScenarioRecording(tmp_path / "out", "r")
    with pytest.raises(ValueError, match="must be an integer"):
        rec.trade(1.5, 62000.0, 0.01, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not fit"):
        rec.trade(T0, 62000.0, 0.01, 300, 1)
    assert rec.trade_count == 0
    rec.quote(T0, 1.0, 1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="must not carry synthetic"):
        rec.write(base={**BASE, "synthetic": {}}, window_start_ns=T0, window_end_ns=T0 + MIN_NS)
    with pytest.raises(ValueError, match="not a whole microsecond"):
        rec.write(base=BASE, window_start_ns=T0 + 1, window_end_ns=T0 + MIN_NS)
    with pytest.raises(ManifestError, match="strategy_paramz"):
        rec.write(base={**BASE, "strategy_paramz": {}}, window_start_ns=T0, window_end_ns=T0 + MIN_NS)
    with pytest.raises(ManifestError, match="window"):
        rec.write(base=BASE, window_start_ns=T0, window_end_ns=T0)
    with pytest.raises(ManifestError, match="funding.file"):
        rec.write(base={**BASE, "funding": {"file": "rates.csv", "root": "scenario"}}, window_start_ns=T0,
                  window_end_ns=T0 + MIN_NS)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="recording name"):
        ScenarioRecording(tmp_path, "../escape")


def test_write_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    rec = ScenarioRecording(tmp_path, "again")
    rec.trade(T0, 62000.0, 0.01, 1, 1)
    first = rec.write(base=BASE, window_start_ns=T0, window_end_ns=T0 + MIN_NS)
    rec.trade(T0 + 1, 62000.0, 0.02, -1, 2)
    with pytest.raises(FileExistsError, match="again.yaml"):
        rec.write(base=BASE, window_start_ns=T0, window_end_ns=T0 + MIN_NS)
    assert len(_source_rows(first)["trades"]) == 1
    rec.write(base=BASE, window_start_ns=T0, window_end_ns=T0 + MIN_NS, overwrite=True)
    assert len(_source_rows(first)["trades"]) == 2


def test_an_empty_recording_is_a_valid_scenario_with_a_microsecond_window(tmp_path: Path) -> None:
    start = T0 + 123_456_000
    path = ScenarioRecording(tmp_path, "empty").write(base=BASE, window_start_ns=start, window_end_ns=start + MIN_NS)
    sc = load_scenario(path)
    assert (sc.spec.window.start_ns, sc.spec.window.end_ns) == (start, start + MIN_NS)
    assert "2024-03-01T00:00:00.123456Z" in path.read_text()
    assert _source_rows(path) == {"trades": [], "quotes": []}

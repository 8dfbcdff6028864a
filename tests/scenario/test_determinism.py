"""Same parameters and seed → byte-identical batches, in this process and in a fresh one; another
seed → other bytes; drawing order (trades first, quotes first, one chunk alone) changes nothing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from sim.scenario.bridge import BridgeGenerator
from sim.scenario.synthetic import TickGenerator

REPO = Path(__file__).resolve().parents[2]
START = 1_699_999_980_000_000_000
SCRIPT = [
    {"type": "rotate", "minutes": 30},
    {"type": "poke", "side": "low"},
    {"type": "flash_crash", "drop_bps": 80},
    {"type": "stale", "seconds": 45},
    {"type": "gap", "level": "high", "approach_minutes": 1, "after_minutes": 1},
]
BARS = [
    (START, 30000.0, 30100.5, 29950.25, 30010.0, 120.5),
    (START + 3_600_000_000_000, 30010.0, 30010.0, 29800.0, 29900.75, 80.0),
]


def _digest(*sources) -> str:  # noqa: ANN002
    h = hashlib.sha256()
    for src in sources:
        h.update(f"{src.kind}:{src.name}:{src.interval_ns}\n".encode())
        for row0, batch in src.batches():
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema) as w:
                w.write_batch(batch)
            h.update(str(row0).encode())
            h.update(sink.getvalue().to_pybytes())
    return h.hexdigest()


def _ticks(seed: int) -> str:
    g = TickGenerator(start_ns=START, segments=SCRIPT, seed=seed, chunk_minutes=15, name="det")
    return _digest(g.trades(), g.quotes())


def _bridge(seed: int) -> str:
    g = BridgeGenerator(BARS, 3_600_000_000_000, seed, name="det", chunk_minutes=20)
    return _digest(g.minute_klines(), g.trades(), g.quotes())


_CHILD = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_determinism import _ticks, _bridge
print(_ticks(7), _bridge(7))
"""


def test_same_seed_same_bytes_here_and_in_a_fresh_process() -> None:
    here = (_ticks(7), _bridge(7))
    assert here == (_ticks(7), _bridge(7))
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], cwd=REPO, capture_output=True, text=True, check=True, env=None
    ).stdout.split()
    assert tuple(out) == here


def test_another_seed_other_bytes() -> None:
    assert _ticks(7) != _ticks(8)
    assert _bridge(7) != _bridge(8)


def test_drawing_order_and_caching_do_not_matter() -> None:
    a = TickGenerator(start_ns=START, segments=SCRIPT, seed=3, chunk_minutes=15)
    b = TickGenerator(start_ns=START, segments=SCRIPT, seed=3, chunk_minutes=15)
    # a: each stream whole, one after the other; b: interleaved, chunks out of order
    ta = [b_ for _, b_ in a.trades().batches()]
    qa = [b_ for _, b_ in a.quotes().batches()]
    for c in reversed(range(b.n_chunks)):
        assert b.chunk_quotes(c).equals(qa[c])
        tb = b.chunk_trades(c)
        assert np.array_equal(tb["price"].to_numpy(), ta[c]["price"].to_numpy())
        assert np.array_equal(tb["ts_ns"].to_numpy(), ta[c]["ts_ns"].to_numpy())

"""signals.db: the feature snapshot of each row is the JSON of its values by key, NaN as null,
whether it is written directly (plain floats) or through json.dumps (anything else)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from sim.outputs.sqlite_stores import SNAPSHOT_KEYS, _json, _null, _snapshot_json, write_signals_db

NAN = float("nan")


def _slow(snap: tuple) -> str:
    return _json({k: _null(v) for k, v in zip(SNAPSHOT_KEYS, snap, strict=True)})


@pytest.mark.parametrize("snap", [
    (28145.3, 28150.0, 28140.1, -0.5, -1e-05, 0.25, 0.0),
    (NAN, NAN, NAN, NAN, NAN, NAN, NAN),
    (1e16, -0.0, 5e-324, 1 / 3, 2.5, NAN, 0.1),
    (float("inf"), 1.0, 2.0, 3.0, 4.0, 5.0, 6.0),  # json writes Infinity: through json.dumps
    (None, 1.0, 2, True, np.float64(2.5), 5.0, 6.0),  # not plain floats: through json.dumps
])
def test_snapshot_json_is_the_json_of_the_values(snap: tuple) -> None:
    assert _snapshot_json(snap) == _slow(snap)


def test_a_snapshot_of_the_wrong_width_is_an_error() -> None:
    with pytest.raises(ValueError):
        _snapshot_json((1.0, 2.0))


def test_signals_rows_store_their_snapshots(tmp_path: Path) -> None:
    rows = [(60_000 * i, 0, 1, 0, 0, 0, 0, "none", "none", '{"up":null}') for i in range(3)]
    snaps = [(float(i), NAN, 2.5, -1.0, 0.1, NAN, 0.0) for i in range(3)]
    write_signals_db(tmp_path / "signals.db", rows, snaps)
    con = sqlite3.connect(tmp_path / "signals.db")
    try:
        stored = [r[0] for r in con.execute("SELECT feature_snapshot FROM signals_1m ORDER BY ts_min")]
    finally:
        con.close()
    assert stored == [_slow(s) for s in snaps]

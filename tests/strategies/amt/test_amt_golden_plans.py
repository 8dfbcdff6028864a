"""Every position in every amt golden was opened with its plan: a setup tag and a stop.

A row without them is a position nobody planned — the strategy would not know when to leave it
(golden/amt/binance_spot_month_bars held one, opened by a second exit of a flip)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[3] / "golden" / "amt"
FILES = sorted(GOLDEN.glob("*/positions.csv"))


def test_there_are_amt_goldens() -> None:
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=[p.parent.name for p in FILES])
def test_every_golden_position_has_a_tag_and_a_stop(path: Path) -> None:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [r["id"] for r in rows if not r["strategy_tag"] or not r["stop_price"] or math.isnan(float(r["stop_price"]))]
    assert bad == [], f"{path}: positions without a plan: ids {bad}"

"""The feature engine as users meet it: the spec's worked examples through the real engine, the
run's DuckDB stores written by `sim run`, the side-agreement figure of real-data manifests, and
one-line errors for a bars-mode scenario without klines."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sim.core.events import NS_PER_MIN
from tests.market.features_streams import START, Stream, replay
from tests.reference.features import FeatureParams

REPO = Path(__file__).resolve().parents[2]
S = 1_000_000_000


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=REPO)


def _spec_20_4(use_tick_rule: bool):  # noqa: ANN202
    """Spec §20.4: four trades in one minute against bid 50,000 / ask 50,001 (tick 0.5)."""
    quotes = [(START + k * S, 50_000.0, 1.0, 50_001.0, 1.0) for k in range(5)]
    trades = [
        (START + 1 * S, 50_001.0, 0.1, 1, 1),
        (START + 2 * S, 50_000.0, 0.2, -1, 2),
        (START + 3 * S, 50_000.5, 0.15, 1, 3),
        (START + 4 * S, 50_001.0, 0.25, 1, 4),
    ]
    params = FeatureParams(tick_size=0.5, use_tick_rule_fallback=use_tick_rule)
    closes, _, raw = replay(Stream(trades, quotes, 1, params))
    return closes[0].features, raw


def test_spec_20_4_order_flow_with_the_tick_rule() -> None:
    f, raw = _spec_20_4(True)
    assert raw["inferred_side"] == [1, -1, 1, 1]
    assert f.of_1m == 0.3
    assert round(f.of_norm_1m, 2) == 0.43
    assert round(f.ambiguous_trade_frac_1m, 2) == 0.21


def test_spec_20_4_order_flow_without_the_tick_rule() -> None:
    f, raw = _spec_20_4(False)
    assert raw["inferred_side"] == [1, -1, 0, 1]
    assert f.of_1m == 0.15
    assert round(f.of_norm_1m, 2) == 0.21
    assert round(f.ambiguous_trade_frac_1m, 2) == 0.21


def test_spec_20_3_value_area_through_the_engine() -> None:
    """$100 bins as single ticks; constant quotes (σ = 0 → the narrowest width, one tick); the
    fourth minute trades the example's histogram."""
    quotes = [(START + m * NS_PER_MIN + S, 50_000.0, 1.0, 50_100.0, 1.0) for m in range(4)]
    volumes = {49_800.0: 100, 49_900.0: 250, 50_000.0: 400, 50_100.0: 300, 50_200.0: 150, 50_300.0: 50}
    trades = [(START + 3 * NS_PER_MIN + (2 + i) * S, px, float(v), 0, i) for i, (px, v) in enumerate(volumes.items())]
    params = FeatureParams(tick_size=100.0, min_va_bins=6)
    closes, _, _ = replay(Stream(trades, quotes, 4, params))
    f = closes[3].features
    assert (f.poc, f.val, f.vah) == (50_000.0, 49_900.0, 50_100.0)
    assert f.va_coverage == 0.76
    assert (f.va_valid, f.va_bin_count, f.bin_width, f.total_volume_4h) == (True, 6, 100.0, 1250.0)
    too_few = replay(Stream(trades, quotes, 4, FeatureParams(tick_size=100.0, min_va_bins=7)))[0][3].features
    assert not too_few.va_valid and math.isnan(too_few.poc) and too_few.va_bin_count == 6


@pytest.mark.needs_data
def test_sim_run_writes_the_duckdb_stores(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = sim("run", "scenarios/features/binance_usdm_2023.yaml", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    bars = (out / "bars.csv").read_text().splitlines()
    raw = duckdb.connect(str(out / "raw.duckdb"), read_only=True)
    feats = duckdb.connect(str(out / "features.duckdb"), read_only=True)
    assert raw.execute("select count(*) from raw_trades").fetchone() == (12_935,)
    sides = dict(raw.execute("select inferred_side, count(*) from raw_trades group by 1").fetchall())
    assert set(sides) <= {-1, 0, 1} and sides.get(1, 0) > 0 and sides.get(-1, 0) > 0
    no_quote = raw.execute("select count(*) from raw_trades where quote_bid_px is null").fetchone()[0]
    assert no_quote == raw.execute("select count(*) from raw_trades where quote_staleness_ms is null").fetchone()[0]
    assert raw.execute("select count(*) from raw_quotes").fetchone()[0] > 40_000
    assert feats.execute("select count(*) from bars_1m").fetchone() == (len(bars) - 1,)
    cols = [r[0] for r in feats.execute("describe features_1m").fetchall()]
    assert cols[:15] == ["ts_min", "mid_close", "sigma_240", "bin_width", "poc", "vah", "val", "va_coverage",
                         "va_bin_count", "of_1m", "of_norm_1m", "qimb_close", "qimb_ema_60s",
                         "ambiguous_trade_frac_1m", "total_volume_4h"]
    # The store and the golden export hold the same numbers.
    last_csv = (out / "features.csv").read_text().splitlines()[-1].split(",")
    last_db = feats.execute("select ts_min, poc, vah, val from features_1m order by ts_min desc limit 1").fetchone()
    assert (str(last_db[0]), repr(last_db[1]), repr(last_db[2]), repr(last_db[3])) == (
        last_csv[0], last_csv[4], last_csv[5], last_csv[6])


@pytest.mark.needs_data
def test_manifests_report_side_agreement_and_the_alignment_rule_shows_in_it() -> None:
    def agreement(name: str) -> dict:
        return json.loads((REPO / "golden" / "features" / name / "manifest.json").read_text())["side_agreement"]

    at_or_before = agreement("binance_usdm_2024")
    before = agreement("binance_usdm_2024_quote_before")
    assert at_or_before["trades_compared"] == before["trades_compared"] > 10_000
    # Binance stamps the book update a trade caused in the trade's own millisecond.
    assert before["rate"] > 0.98 > 0.8 > at_or_before["rate"]


def test_bars_mode_without_klines_is_a_one_line_error(tmp_path: Path) -> None:
    p = tmp_path / "bars.yaml"
    p.write_text(
        """name: bars
description: bars mode without klines
strategy: observe
window: {start: "2024-03-01T00:00:00Z", end: "2024-03-01T00:10:00Z"}
seed: 1
synthetic: {generator: ticks, start_price: 62000.0, segments: [{type: walk, minutes: 10}]}
config: {feature_input: bars}
"""
    )
    proc = sim("run", str(p), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "bars.yaml" in proc.stderr and "1-minute klines" in proc.stderr

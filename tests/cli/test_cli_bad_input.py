"""Bad input through the real CLI, in a subprocess: one line on stderr naming the file and the
row or key, exit code 2, no traceback; with --on-bad-rows=drop the run completes and its
manifest counts the dropped rows by kind."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
T0 = 1_700_000_040_000  # ms, 2023-11-14T22:14:00Z


def sim(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd)


def _scenario(tmp: Path, extra: str = "", trades_name: str = "trades.csv", quotes_name: str = "quotes.csv") -> Path:
    p = tmp / "case.yaml"
    p.write_text(
        f"""name: case
description: bad-input case
strategy: hourly_probe
window: {{start: "2023-11-14T22:14:00Z", end: "2023-11-14T22:19:00Z"}}
seed: 1
data:
  - {{kind: trades, format: trades_csv, path: {trades_name}, root: scenario}}
  - {{kind: quotes, format: quotes_csv, path: {quotes_name}, root: scenario}}
{extra}"""
    )
    return p


def _write(tmp: Path, trades: list[str], quotes: list[str]) -> None:
    (tmp / "trades.csv").write_text("ts_ms,price,size,side,trade_id\n" + "".join(r + "\n" for r in trades))
    (tmp / "quotes.csv").write_text("ts_ms,bid_px,bid_sz,ask_px,ask_sz\n" + "".join(r + "\n" for r in quotes))


GOOD_TRADES = [f"{T0 + i * 1000},100.{i % 10},0.01{i % 10},buy,{i + 1}" for i in range(60)]
GOOD_QUOTES = [f"{T0 + i * 1000 - 1},100.0,1.5,100.1,2.5" for i in range(60)]


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_a_good_case_runs(tmp_path: Path) -> None:
    _write(tmp_path, GOOD_TRADES, GOOD_QUOTES)
    proc = sim("run", str(_scenario(tmp_path)), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["events"] > 120 and manifest["bad_rows"] == {}


def test_manifest_with_an_unknown_key(tmp_path: Path) -> None:
    _write(tmp_path, GOOD_TRADES, GOOD_QUOTES)
    line = _one_line_error(sim("run", str(_scenario(tmp_path, extra="sede: 3\n"))))
    assert "case.yaml" in line and "sede" in line and "unknown key" in line


def test_manifest_with_a_bad_value(tmp_path: Path) -> None:
    _write(tmp_path, GOOD_TRADES, GOOD_QUOTES)
    line = _one_line_error(sim("run", str(_scenario(tmp_path, extra="config: {risk_pct: -1}\n"))))
    assert "case.yaml" in line and "config.risk_pct" in line


def test_missing_data_file(tmp_path: Path) -> None:
    _write(tmp_path, GOOD_TRADES, GOOD_QUOTES)
    line = _one_line_error(sim("run", str(_scenario(tmp_path, trades_name="nope.csv"))))
    assert "case.yaml" in line and "data[0].path" in line and "nope.csv" in line


@pytest.mark.parametrize(
    ("which", "row", "bad", "words"),
    [
        ("quotes", 7, f"{T0 + 6000 - 1},100.2,1.5,100.1,2.5", "crossed quote"),
        ("trades", 5, f"{T0 + 4000},NaN,0.01,buy,5", "not finite"),
        ("trades", 9, f"{T0 + 8000},100.1,-0.5,sell,9", "non positive size"),
        ("trades", 12, f"{T0 + 5000},100.1,0.5,sell,12", "time backwards"),
    ],
)
def test_bad_rows_fail_naming_file_and_row_or_drop_and_count(tmp_path: Path, which: str, row: int, bad: str, words: str) -> None:
    trades, quotes = list(GOOD_TRADES), list(GOOD_QUOTES)
    target = trades if which == "trades" else quotes
    target[row - 1] = bad
    _write(tmp_path, trades, quotes)
    scenario = _scenario(tmp_path)
    line = _one_line_error(sim("run", str(scenario), "--out", str(tmp_path / "x")))
    assert f"{which}.csv, row {row}:" in line and words in line

    proc = sim("run", str(scenario), "--on-bad-rows=drop", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    dropped = manifest["bad_rows"]
    assert list(dropped) == [str(tmp_path / f"{which}.csv")]
    assert dropped[str(tmp_path / f"{which}.csv")] == {words.replace(" ", "_"): 1}


def test_truncated_gzip(tmp_path: Path) -> None:
    _write(tmp_path, GOOD_TRADES * 1, GOOD_QUOTES)
    raw = gzip.compress((tmp_path / "trades.csv").read_bytes())
    (tmp_path / "trades.csv.gz").write_bytes(raw[: len(raw) // 2])
    line = _one_line_error(sim("run", str(_scenario(tmp_path, trades_name="trades.csv.gz"))))
    assert "trades.csv.gz" in line and "row" in line


def test_a_price_far_off_the_market_stops_the_run_naming_the_row(tmp_path: Path) -> None:
    """A positive, finite price passes row validation, but 5,000,000 after 100 would make the
    4-hour profile span ~5e7 tick bins: the run stops with the file and row, not gigabytes."""
    trades = [*GOOD_TRADES[:30], f"{T0 + 30_500},5000000.0,0.01,buy,1000", *GOOD_TRADES[31:]]
    _write(tmp_path, trades, GOOD_QUOTES)
    line = _one_line_error(sim("run", str(_scenario(tmp_path)), "--out", str(tmp_path / "out")))
    assert "trades.csv" in line and "row 31" in line and "price off market" in line

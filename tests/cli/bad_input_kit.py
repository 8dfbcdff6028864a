"""What the bad-input tests build on: a tiny valid scenario (five minutes of the plumbing probe over
a recorded trades and quotes CSV beside the manifest), a tiny synthetic one, and the CLI run as a
subprocess with the one-line-error contract checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
T0 = 1_700_000_040_000  # ms, 2023-11-14T22:14:00Z
WINDOW = '{start: "2023-11-14T22:14:00Z", end: "2023-11-14T22:19:00Z"}'

GOOD_TRADES = [f"{T0 + i * 1000},100.{i % 10},0.01{i % 10},buy,{i + 1}" for i in range(60)]
GOOD_QUOTES = [f"{T0 + i * 1000 - 1},100.0,1.5,100.1,2.5" for i in range(60)]
TRADES_HEADER = "ts_ms,price,size,side,trade_id\n"
QUOTES_HEADER = "ts_ms,bid_px,bid_sz,ask_px,ask_sz\n"

RECORDED = f"""name: case
description: bad-input case
strategy: hourly_probe
window: {WINDOW}
seed: 1
data:
  - {{kind: trades, format: trades_csv, path: trades.csv, root: scenario}}
  - {{kind: quotes, format: quotes_csv, path: quotes.csv, root: scenario}}
"""

SYNTHETIC = """name: syn
description: a tiny synthetic case
strategy: hourly_probe
strategy_params: {qty: 0.001, every_minutes: 2}
config: {risk_pct: 0.01}
window: {start: "2024-03-01T00:00:00Z", end: "2024-03-01T00:04:00Z"}
seed: 3
synthetic:
  start_price: 30000
  params: {trade_rate_per_s: 1, quote_rate_per_s: 2}
  segments:
    - {type: walk, minutes: 2}
    - {type: quiet, minutes: 2}
"""


def write_data(folder: Path, trades: list[str] | None = None, quotes: list[str] | None = None) -> None:
    (folder / "trades.csv").write_text(TRADES_HEADER + "".join(r + "\n" for r in (trades or GOOD_TRADES)))
    (folder / "quotes.csv").write_text(QUOTES_HEADER + "".join(r + "\n" for r in (quotes or GOOD_QUOTES)))


def sim(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The contract: exit `code`, exactly one line on stderr starting `error:`, no traceback."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == code, f"exit {proc.returncode}: {out}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]

"""`sim report` end to end: a run directory written by hand (a month of minutes, the layout `sim run`
writes), the CLI in a subprocess, and the HTML opened from file:// in headless Chromium with the network
cut off, checked by what plotly drew and by a screenshot.

Needs /usr/bin/chromium and /usr/bin/chromedriver (`make system-deps`, part of `make test`).
"""

from __future__ import annotations

import json
import math
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from sim.outputs.exports import csv_text, json_text

REPO = Path(__file__).resolve().parents[2]
T0 = 1_709_251_200_000  # 2024-03-01T00:00:00Z
MIN = 60_000
MONTH = 30 * 24 * 60
INITIAL = 10_000.0
TRADES = len(range(300, MONTH - 300, 2000))  # write_run_dir opens one every 2000 minutes, from 300

BARS = ("ts_min_ms", "open", "high", "low", "close", "volume", "vwap", "trade_count", "bid_px_close", "ask_px_close",
        "bid_sz_close", "ask_sz_close", "spread_close", "spread_avg_60m")
FEATURES = ("ts_min_ms", "mid_close", "sigma_240", "bin_width", "poc", "vah", "val", "va_coverage", "va_bin_count",
            "of_1m", "of_norm_1m", "qimb_close", "qimb_ema_60s", "ambiguous_trade_frac_1m", "total_volume_4h",
            "va_valid", "rebucketed", "near_vah", "near_val", "stale_trade_frac_1m")
ORDERS = ("order_id", "decision_ts_ms", "side", "type", "price", "qty", "intent", "reason", "state")
FILLS = ("order_id", "ts_ms", "side", "price", "qty", "fee", "liquidity", "mid_px")
POSITIONS = ("id", "ts_ms_open", "ts_ms_close", "side", "entry_price", "exit_price", "qty_contracts", "qty_at_tp1",
             "stop_price", "tp1_price", "tp2_price", "strategy_tag", "status", "realized_pnl", "fees_paid",
             "funding_paid", "leverage_used", "risk_pct_used")
EQUITY = ("ts_ms", "mark", "position_qty", "realized_pnl", "unrealized_pnl", "fees", "funding", "equity")


def write_run_dir(out: Path, minutes: int) -> Path:
    """A deterministic run: a wavy price, a value area around its slow component, a trade every 2000 minutes
    (long and short alternately, held 300 minutes), and the equity curve that follows from them."""
    out.mkdir(parents=True, exist_ok=True)
    bars, feats, orders, fills, positions, equity = [], [], [], [], [], []
    realized = fees = 0.0
    pos: dict | None = None
    qty, fee_rate = 0.01, 0.00055
    for i in range(minutes):
        t = T0 + i * MIN
        slow = 60_000.0 + 800.0 * math.sin(i / 2_000.0)
        close = round(slow + 60.0 * math.sin(i / 37.0), 1)
        bid, ask = close - 0.1, close
        bars.append((t, close, close + 5.0, close - 5.0, close, 3.5, close - 0.05, 40, bid, ask, 1.0, 2.0, 0.1, 0.1))
        valid = i >= 240
        feats.append((t, close - 0.05, 0.0004, 1.0, round(slow, 1), round(slow + 90.0, 1), round(slow - 90.0, 1), 0.7,
                      180, 1.5, 0.1, 0.2, 0.1, (i % 50) / 100.0, 840.0, valid, "", False, False, 0.0))
        if i % 2000 == 300 or (pos is not None and i == pos["opened"] + 300):
            n = len(orders) + 1
            oid = f"amt-{n:06d}"
            entering = pos is None
            direction = (1 if (i // 2000) % 2 == 0 else -1) if entering else -pos["dir"]
            side = "buy" if direction > 0 else "sell"
            px = ask + 0.1 if side == "buy" else bid - 0.1
            fee = px * qty * fee_rate
            fees += fee
            orders.append((oid, t, side, "market", float("nan"), qty, "entry" if entering else "exit", "sig", "filled"))
            fills.append((oid, t + 7, side, px, qty, fee, "taker", close - 0.05))
            if entering:
                pos = {"dir": direction, "entry": px, "opened": i, "t": t, "fee": fee}
            else:
                pnl = pos["dir"] * (px - pos["entry"]) * qty
                realized += pnl
                positions.append((str(len(positions) + 1), pos["t"], t, "LONG" if pos["dir"] > 0 else "SHORT",
                                  pos["entry"], px, qty, 0.0, pos["entry"] - pos["dir"] * 200.0,
                                  pos["entry"] + pos["dir"] * 150.0, pos["entry"] + pos["dir"] * 300.0, "breakin",
                                  "CLOSED", pnl, pos["fee"] + fee, 0.0, 1.0, 0.005))
                pos = None
        unreal = pos["dir"] * (close - pos["entry"]) * qty if pos else 0.0
        equity.append((t, close, pos["dir"] * qty if pos else 0.0, realized, unreal, fees, 0.0,
                       INITIAL + realized + unreal - fees))
    for name, cols, rows in (("bars", BARS, bars), ("features", FEATURES, feats), ("orders", ORDERS, orders),
                             ("fills", FILLS, fills), ("positions", POSITIONS, positions), ("equity", EQUITY, equity)):
        (out / f"{name}.csv").write_text(csv_text(cols, rows))
    (out / "manifest.json").write_text(json_text({"scenario": "test/report_month", "seed": 7,
                                                  "initial_equity": INITIAL}))
    return out


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=REPO)


@pytest.fixture(scope="module")
def month_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = write_run_dir(tmp_path_factory.mktemp("month") / "run", MONTH)
    proc = sim("report", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run_dir / "report.html")
    return run_dir / "report.html"


def test_report_is_self_contained_and_small_enough(month_report: Path) -> None:
    page = month_report.read_text()
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I), "every script must be inline"
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']https?://", page, re.I)
    for chart in ("chart-price", "chart-equity", "chart-drawdown"):
        assert f'id="{chart}"' in page
    assert "Plotly" in page
    # A month of minutes with plotly.js (~4.8 MB) inlined; every minute is kept, none thinned.
    assert month_report.stat().st_size < 12_000_000
    assert "thinned" not in page
    data = json.loads(re.search(r'<script type="application/json" id="run-data">(.*?)</script>', page, re.S)[1])
    assert len(data["t"]) == MONTH and len(data["equity"]) == MONTH
    # The metrics table was computed from the CSVs (no metrics.json here).
    assert re.search(r"<td>final_equity</td><td class=\"v\">[0-9.]+</td>", page)
    assert re.search(rf"<td>trades</td><td class=\"v\">{TRADES}</td>", page)


def test_report_prefers_the_runs_metrics_json(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", 600)
    (run_dir / "metrics.json").write_text(json_text({"final_equity": 12345.5, "sharpe": None}))
    out = tmp_path / "elsewhere" / "r.html"
    proc = sim("report", str(run_dir), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert "<td>final_equity</td><td class=\"v\">12345.5</td>" in page
    assert "<td>sharpe</td><td class=\"v\">-</td>" in page
    assert not (run_dir / "report.html").exists()


def test_long_runs_are_thinned_for_display_keeping_the_deepest_drawdown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.outputs.report
    from sim.outputs.metrics import drawdown_series, read_run_dir

    run_dir = write_run_dir(tmp_path / "run", 1000)
    monkeypatch.setattr(sim.outputs.report, "MAX_POINTS", 100)
    page = sim.outputs.report.write_report(run_dir).read_text()
    data = json.loads(re.search(r'<script type="application/json" id="run-data">(.*?)</script>', page, re.S)[1])
    assert len(data["t"]) == len(data["close"]) == len(data["dd"]) == 100
    assert "thinned for display" in page
    full = drawdown_series(INITIAL, read_run_dir(run_dir)["equity"]["equity"])
    assert min(data["dd"]) == pytest.approx(min(full), rel=1e-9)
    assert data["t"][-1] == T0 + 999 * MIN  # each bucket is stamped with its last minute


def test_report_on_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = sim("report", str(tmp_path / "nope"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path / "nope") in lines[0] and "Traceback" not in proc.stderr


def test_report_on_a_run_without_bars_names_the_file(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", 60)
    (run_dir / "bars.csv").unlink()
    proc = sim("report", str(run_dir))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bars.csv" in lines[0]


def test_sim_run_with_report_writes_it_and_prints_the_metrics(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    # Until a run exports metrics.json itself, `sim run` shows the one in its run directory.
    (out / "metrics.json").write_text(json_text({"final_equity": 10000.0, "trades": 0}))
    proc = sim("run", "scenarios/foundation/hourly_probe_synthetic.yaml", "--out", str(out), "--report")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"report: {out / 'report.html'}" in lines
    assert f"outputs: {out}" in lines
    assert "metrics:" in lines and any(line.split()[:1] == ["final_equity"] for line in lines)
    assert 'id="chart-price"' in (out / "report.html").read_text()


# ---- the browser ---------------------------------------------------------------------------------------


def png_pixels(png: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium writes) into an (h, w, channels) array."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert header is not None
    w, h, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(h, w * bpp + 1)
    out = np.zeros((h, w * bpp), dtype=np.uint8)
    prev = np.zeros(w * bpp, dtype=np.int64)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if f == 1:  # Sub: a running sum along the row, per channel
            line = np.cumsum(line.reshape(w, bpp), axis=0).reshape(-1) & 255
        elif f == 2:
            line = (line + prev) & 255
        elif f in (3, 4):  # Average, Paeth: each byte depends on the one just decoded
            cur, up = line.tolist(), prev.tolist()
            for i in range(len(cur)):
                a = cur[i - bpp] if i >= bpp else 0
                b, c = up[i], (up[i - bpp] if i >= bpp else 0)
                if f == 3:
                    pred = (a + b) >> 1
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (cur[i] + pred) & 255
            line = np.array(cur, dtype=np.int64)
        out[y] = line
        prev = line
    return out.reshape(h, w, bpp)


def test_png_decoder_on_a_known_image() -> None:
    # A 3x2 RGB image, one row with each of the filters Sub and Up, built by hand.
    w, h = 3, 2
    rows = [bytes([10, 20, 30, 40, 50, 60, 70, 80, 90]), bytes([11, 21, 31, 41, 51, 61, 71, 81, 91])]
    sub = bytes([1, *rows[0][:3], *[(rows[0][i] - rows[0][i - 3]) & 255 for i in range(3, 9)]])
    up = bytes([2, *[(rows[1][i] - rows[0][i]) & 255 for i in range(9)]])

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(sub + up)) + chunk(b"IEND", b""))
    px = png_pixels(png)
    assert px.shape == (2, 3, 3)
    assert px.reshape(2, -1).tolist() == [list(rows[0]), list(rows[1])]


def test_report_draws_in_headless_chromium_offline(browser, month_report: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(month_report.as_uri())
    drawn = ("return ['chart-price', 'chart-equity', 'chart-drawdown'].every(function (id) {"
             " var el = document.getElementById(id);"
             " return el.querySelectorAll('.main-svg').length > 0 && el.data && el.data.length > 0; })")
    WebDriverWait(browser, 15).until(lambda d: d.execute_script(drawn))
    price = browser.execute_script(
        "var el = document.getElementById('chart-price');"
        "return el.data.map(function (t) { return [t.name, t.type, t.x.length]; })")
    names = {n: (kind, n_points) for n, kind, n_points in price}
    assert names["close"] == ("scatter", MONTH)
    assert {"VAH", "VAL", "POC", "entry buy", "entry sell", "exit buy", "exit sell"} <= set(names)
    assert names["entry buy"][1] + names["entry sell"][1] == TRADES
    # The lines were drawn: every line trace has an SVG path with points in it.
    paths = browser.execute_script(
        "return Array.from(document.querySelectorAll('#chart-price .scatterlayer .trace path.js-line'))"
        ".map(function (p) { return (p.getAttribute('d') || '').split('L').length; })")
    assert len(paths) >= 4 and min(paths) > 100, paths
    markers = browser.execute_script("return document.querySelectorAll('#chart-price .scatterlayer path.point').length")
    assert markers == 2 * TRADES
    # Nothing was fetched: the page and plotly.js came from the one file.
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert [u for u in fetched if not u.startswith("file:")] == []
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []

    png = browser.find_element(By.ID, "chart-price").screenshot_as_png
    (tmp_path / "chart-price.png").write_bytes(png)
    px = png_pixels(png)
    h, w, _ = px.shape
    assert w > 600 and h > 300
    colours, counts = np.unique(px[:, :, :3].reshape(-1, 3), axis=0, return_counts=True)
    assert len(colours) > 50, f"only {len(colours)} distinct colours: nothing drawn?"
    assert counts.max() / counts.sum() < 0.95, "one colour covers the chart: nothing drawn?"
    # The value-area band is painted: its fill (steelblue at 15 % over white) is among the pixels.
    band = np.all(np.abs(px[:, :, :3].astype(int) - [226, 236, 244]) <= 6, axis=2)
    assert band.mean() > 0.01

    # Zooming the price chart moves the equity and drawdown charts to the same time range.
    a, b = T0 + 5 * 86_400_000, T0 + 6 * 86_400_000
    browser.execute_script(f"Plotly.relayout('chart-price', {{'xaxis.range': [{a}, {b}]}})")
    ranges = ("return ['chart-equity', 'chart-drawdown'].map(function (id) {"
              " return document.getElementById(id).layout.xaxis.range; })")
    WebDriverWait(browser, 5).until(lambda d: d.execute_script(ranges) == [[a, b], [a, b]])

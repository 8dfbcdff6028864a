"""Inputs that name absurd times are refused quickly, with bounded memory, and paths never lead out
of their root.

A trade stamped in 2200 in a file to import, and a window ending in 2200, used to make `sim import`
allocate gigabytes and `sim run` loop over two centuries of minutes. Each is now a one-line error:
the subprocess's wall time and peak RSS are measured (RUSAGE_CHILDREN after it ends) and bounded.
A manifest path with `..` or through a symlink is refused before anything outside the root is
opened (checked with an unreadable-if-opened target: a FIFO, which would block any reader).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.bad_input_kit import GOOD_TRADES, RECORDED, REPO, TRADES_HEADER, one_line_error, sim, write_data

WALL_BOUND_S = 5.0  # generous for a slow, shared CI machine: measured ~1 s here
RSS_BOUND_MB = 400  # measured ~140 MB: the interpreter, numpy, pyarrow and the Rust extension


def _measured(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Runs `sim` alone in a child and returns (result, wall s, the child's peak RSS in MB)."""
    # A fresh process per measurement so RUSAGE_CHILDREN holds this child only.
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'code': p.returncode, 'out': p.stdout, 'err': p.stderr, 'wall': wall, 'rss': rss}))\n"
    )
    import json

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    outer = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "sim", *args], capture_output=True,
                           text=True, cwd=cwd, env=env, timeout=120)
    r = json.loads(outer.stdout)
    proc = subprocess.CompletedProcess(args, r["code"], r["out"], r["err"])
    print(f"sim {args[0]}: exit {r['code']}, {r['wall']:.2f} s, peak RSS {r['rss']:.0f} MB")
    return proc, r["wall"], r["rss"]


def test_a_trade_stamped_in_2200_is_refused_by_import_fast_and_small(tmp_path: Path) -> None:
    rows = list(GOOD_TRADES)
    rows[40] = "7258118400000,100.1,0.01,buy,41"  # 2200-01-01 in ms
    (tmp_path / "t.csv").write_text(TRADES_HEADER + "".join(r + "\n" for r in rows))
    proc, wall, rss = _measured("import", str(tmp_path / "t.csv"), "--out", str(tmp_path / "o"), cwd=tmp_path)
    line = one_line_error(proc)
    assert "t.csv, row 41" in line and "2200-01-01" in line and "plausible range" in line
    assert wall < WALL_BOUND_S and rss < RSS_BOUND_MB
    assert not (tmp_path / "o" / "t.parquet").exists()


def test_a_window_ending_in_2200_is_refused_by_run_fast_and_small(tmp_path: Path) -> None:
    write_data(tmp_path)
    (tmp_path / "case.yaml").write_text(RECORDED.replace('end: "2023-11-14T22:19:00Z"', 'end: "2200-01-01T00:00:00Z"'))
    proc, wall, rss = _measured("run", str(tmp_path / "case.yaml"), "--out", str(tmp_path / "out"), cwd=tmp_path)
    line = one_line_error(proc)
    assert "case.yaml: window" in line and "plausible range" in line
    assert wall < WALL_BOUND_S and rss < RSS_BOUND_MB


def test_a_jump_of_decades_between_two_plausible_rows_imports_in_bounded_memory(tmp_path: Path) -> None:
    """Both rows are plausible (2023 and 2096): the import's validation engine would close every
    minute between them; it is restarted across the jump instead, so the cost follows the rows."""
    (tmp_path / "t.csv").write_text(TRADES_HEADER + "1700000000000,100,1,buy,1\n4000000000000,100,1,buy,2\n")
    proc, wall, rss = _measured("import", str(tmp_path / "t.csv"), "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "rows          2" in proc.stdout and "bad rows      0" in proc.stdout
    assert wall < WALL_BOUND_S and rss < RSS_BOUND_MB


def _fifo_outside(tmp: Path) -> Path:
    """A file outside the root that no reader can open without blocking: a FIFO with no writer."""
    outside = tmp / "elsewhere"
    outside.mkdir()
    os.mkfifo(outside / "secret.csv")
    return outside / "secret.csv"


def test_dotdot_out_of_the_data_root_is_refused_without_reading(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    _fifo_outside(tmp_path)
    manifest = RECORDED.replace("path: trades.csv, root: scenario", "path: ../elsewhere/secret.csv")
    (tmp_path / "case.yaml").write_text(manifest)
    write_data(tmp_path)
    t = time.perf_counter()
    line = one_line_error(sim("run", str(tmp_path / "case.yaml"), cwd=tmp_path, env={"SIM_DATA_DIR": str(root)},
                              timeout=30))
    assert "data[0].path" in line and "../elsewhere/secret.csv" in line and "outside the data root" in line
    assert time.perf_counter() - t < 30  # a read of the FIFO would have blocked until the timeout


def test_a_symlink_out_of_the_scenario_folder_is_refused_without_reading(tmp_path: Path) -> None:
    secret = _fifo_outside(tmp_path)
    folder = tmp_path / "scenario"
    folder.mkdir()
    write_data(folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "link.csv").symlink_to(secret)
    (folder / "case.yaml").write_text(RECORDED.replace("path: trades.csv", "path: sub/link.csv"))
    line = one_line_error(sim("run", str(folder / "case.yaml"), cwd=tmp_path, timeout=30))
    assert "data[0].path" in line and "sub/link.csv" in line and "outside the manifest's folder" in line


def test_a_symlinked_data_root_and_links_inside_it_still_work(tmp_path: Path) -> None:
    """Containment compares resolved paths: a data root that is itself a link, and a link from one
    place in it to another, are inside."""
    real = tmp_path / "real"
    real.mkdir()
    write_data(real)
    (real / "t2.csv").symlink_to(real / "trades.csv")
    (tmp_path / "root").symlink_to(real)
    manifest = (RECORDED.replace("path: trades.csv, root: scenario", "path: t2.csv")
                .replace("path: quotes.csv, root: scenario", "path: quotes.csv"))
    (tmp_path / "case.yaml").write_text(manifest)
    proc = sim("run", str(tmp_path / "case.yaml"), "--out", str(tmp_path / "out"), cwd=tmp_path,
               env={"SIM_DATA_DIR": str(tmp_path / "root")})
    assert proc.returncode == 0, proc.stderr

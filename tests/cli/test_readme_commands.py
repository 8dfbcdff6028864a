"""The README's commands work as written: every fenced code block of commands is extracted and run,
so the first thing a new user types cannot rot again.

How each block runs (the mapping is checked, so a new block that fits none of it fails here):
- `.venv/bin/sim ARGS` and `.venv/bin/python ARGS` run as `python -m sim ARGS` / `python ARGS` with
  this interpreter, from the repository root; written outputs go where the command says (runs/ is
  git-ignored) or, for absolute paths, to a temporary folder.
- `make demo` runs what its recipe runs after the set-up (`python -m sim demo`; the Makefile is
  checked to say so): building the venv and the Rust extension again inside a test is not sensible.
  `make test` is not run: it is the whole suite, this test included; its recipe is checked instead.
- `sim emulator ... --port N` is a server: it is started on a free port, must print
  `emulator listening on http://127.0.0.1:PORT`, and is stopped.
- the live-session block (emulator, `sim live`, `sim activate`, `sim status`) runs as a shell
  script against the emulator on a free port, with its data directory in a temporary folder.
- commands that need the recorded data root are skipped where it is missing.
Every `sim COMMAND` of the README's command table is also checked to exist (`--help` exits 0).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
PREFIXES = (".venv/bin/sim ", ".venv/bin/python ", "make ", "ACTIVATION_TOKEN=", "sleep ")


def code_blocks() -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", README, flags=re.S | re.M)


def command_blocks() -> list[str]:
    """The blocks of commands (the layout tree is the one block of none)."""
    out = []
    for block in code_blocks():
        lines = [ln for ln in block.splitlines() if ln.strip()]
        starts = [ln.lstrip().startswith(PREFIXES) for ln in lines if not ln.startswith("    ")]
        if any(starts):
            assert all(starts), f"a README block mixes commands with lines this test cannot run:\n{block}"
            out.append(block)
    return out


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    if words[0] == ".venv/bin/sim":
        return [sys.executable, "-m", "sim", *words[1:]]
    if words[0] == ".venv/bin/python":
        return [sys.executable, *words[1:]]
    raise AssertionError(f"not a runnable README command: {command}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_data_root() -> bool:
    env = os.environ.get("SIM_DATA_DIR")
    return Path(env).is_dir() if env else (REPO.parent / "shared" / "data").is_dir()


def test_the_readme_blocks_are_the_ones_this_test_knows() -> None:
    blocks = command_blocks()
    kinds = sorted(_kind(b) for b in blocks)
    assert kinds == sorted(["make", "sweep", "basis-backtest", "emulator", "live-session"]), kinds


def _kind(block: str) -> str:
    if block.lstrip().startswith("make "):
        return "make"
    if "sim live" in block:
        return "live-session"
    return shlex.split(block.strip())[1]


def _block(kind: str) -> str:
    [block] = [b for b in command_blocks() if _kind(b) == kind]
    return block


def test_make_demo_and_make_test_do_what_the_readme_says() -> None:
    assert _block("make").split() == ["make", "demo", "make", "test"]
    makefile = (REPO / "Makefile").read_text()
    demo = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.M)
    test = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert demo and demo.group(1).strip() == "$(PY) -m sim demo"
    assert test and "-m pytest" in test.group(1)


def test_sim_demo_prints_its_table(tmp_path: Path) -> None:
    """`make demo` after its set-up: the summary table of every synthetic scenario."""
    proc = subprocess.run([sys.executable, "-m", "sim", "demo", "--out", str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO, env=_env(), timeout=600)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["scenario", "strategy", "events", "bars", "orders", "fills", "net_pnl", "wall_s"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:-1]}
    assert "amt/entry_breakout_long" in rows and "foundation/hourly_probe_synthetic" in rows
    assert all(int(r[2]) > 0 for r in rows.values())
    assert lines[-1] == f"outputs: {tmp_path}"
    assert (tmp_path / "amt" / "entry_breakout_long" / "manifest.json").is_file()


def test_the_sweep_command_runs_as_written() -> None:
    argv = _argv(_block("sweep").strip())
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert (REPO / "runs" / "sweep.csv").is_file()
    assert len((REPO / "runs" / "sweep.csv").read_text().splitlines()) == 1 + 8  # 2 × 2 × 2 points


@pytest.mark.skipif(not _has_data_root(), reason="needs the recorded data root (SIM_DATA_DIR or ../shared/data)")
def test_the_basis_backtest_command_runs_as_written() -> None:
    argv = _argv(_block("basis-backtest").strip())
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr
    # the README's table quotes this run's summary: its final portfolio value is what the run prints
    row = next(line for line in README.splitlines() if line.startswith("| final portfolio value |"))
    value = row.split("|")[2].strip()
    assert value and value in proc.stdout and "report: " in proc.stdout, (value, proc.stdout)


def test_the_emulator_command_starts_and_stops() -> None:
    command = _block("emulator").strip()
    port = _free_port()
    argv = _argv(command.replace("--port 18080", f"--port {port}"))
    assert f"--port {port}" in " ".join(argv)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                          env=_env()) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            first = proc.stdout.readline()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
    assert first.startswith(f"emulator listening on http://127.0.0.1:{port}"), first + err
    assert "Traceback" not in err, err


def test_the_live_session_block_runs_against_the_emulator(tmp_path: Path) -> None:
    """The block as a shell script: the emulator and a paper session in the background, then
    activation after the warm-up and the status. Port and data directory are made private."""
    port = _free_port()
    script = _block("live-session")
    script = script.replace("18080", str(port)).replace("/tmp/live", str(tmp_path / "live"))
    script = script.replace(".venv/bin/sim", f"{shlex.quote(sys.executable)} -m sim")
    wrapped = f"set -u\n{script}\ncode=$?\nkill %1 %2 2>/dev/null\nwait\nexit $code\n"
    proc = subprocess.run(["bash", "-c", wrapped], capture_output=True, text=True, cwd=REPO, env=_env(),
                          timeout=180)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert f"emulator listening on http://127.0.0.1:{port}" in out
    assert "activated" in out.lower(), out
    assert '"mode": "paper"' in out and '"state": "active"' in out, out  # `sim status` after `sim activate`
    assert proc.returncode == 0, out


def test_every_command_of_the_readme_table_exists() -> None:
    table = README.split("## The `sim` command")[1].split("Exit codes")[0]
    names = set(re.findall(r"`sim ([a-z-]+)", table))
    assert {"run", "verify", "import", "emulator", "live", "status", "activate", "mode", "record", "demo"} <= names
    parser = build_parser()
    for name in sorted(names):
        with pytest.raises(SystemExit) as e:
            parser.parse_args([name, "--help"])
        assert e.value.code == 0, name

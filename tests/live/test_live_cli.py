"""`sim live`, `sim status`, `sim activate` as an operator runs them: the safety rules (mainnet
needs its confirmation setting, no activation before the warm-up, loopback servers) and secrets
that never reach a log or an output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.emulator.emulator_process import KEY, REPO, SECRET, emulator

PLAIN = "tests/fixtures/emulator/probe_plain.yaml"
TOKEN = "cli-activation-token-31f"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BYBIT_", "ALERT_", "ACTIVATION_"))}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def _sim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def test_mainnet_without_the_confirmation_setting_refuses_to_start(tmp_path: Path) -> None:
    done = _sim("live", PLAIN, "--mode", "live", "--network", "mainnet", "--data-dir", str(tmp_path),
                env=_env(BYBIT_API_KEY="k" * 18, BYBIT_API_SECRET="s" * 36))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: mainnet: refusing to start a live session without the confirmation setting")
    assert not (tmp_path / "control.json").exists()  # nothing was started


def test_a_settings_file_with_an_unknown_key_is_a_one_line_error(tmp_path: Path) -> None:
    settings = tmp_path / "live.yaml"
    settings.write_text("mode: paper\nwarmup_minuts: 10\n")
    done = _sim("live", PLAIN, "--settings", str(settings), "--data-dir", str(tmp_path), env=_env())
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert str(settings) in done.stderr and "warmup_minuts" in done.stderr


def test_operating_a_shadow_session_and_no_secret_anywhere(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    env = _env(BYBIT_TESTNET_API_KEY=KEY, BYBIT_TESTNET_API_SECRET=SECRET, ACTIVATION_TOKEN=TOKEN)
    with emulator(PLAIN, "--speed", "60") as base:
        assert base.startswith("http://127.0.0.1:")  # the emulator binds to loopback by default
        proc = subprocess.Popen([sys.executable, "-m", "sim", "live", PLAIN, "--mode", "shadow", "--endpoint", base,
                                 "--data-dir", str(data), "--out", str(out), "--max-wall-s", "120"],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (data / "control.json").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the session did not start"
            time.sleep(0.05)
        time.sleep(1.0)
        status = _sim("status", "--data-dir", str(data), env=env)
        activate = _sim("activate", "--data-dir", str(data), env=env)
        no_token = _sim("activate", "--data-dir", str(data), env=_env())
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr

    st = json.loads(status.stdout)
    assert status.returncode == 0 and st["mode"] == "shadow" and st["state"] == "observation"
    assert st["warmup"]["required_minutes"] == 240 and st["warmup"]["complete"] is False
    assert {"position", "heat", "today_pnl", "kill_switch", "equity"} <= set(st)
    assert activate.returncode == 1 and activate.stderr.startswith("refused: warm-up incomplete")
    assert no_token.returncode == 2 and "ACTIVATION_TOKEN" in no_token.stderr
    assert not (data / "control.json").exists()  # removed when the session ended

    # The secret was used (every private request was signed with it) and appears nowhere.
    outputs = [stdout, stderr, status.stdout, status.stderr, activate.stdout, activate.stderr]
    files = [p for p in (*data.rglob("*"), *out.rglob("*")) if p.is_file()]
    assert (data / "session.log").exists() and (data / "session.log").stat().st_size > 0
    assert any(p.name == "execution.db" for p in files) and any(p.name == "raw.duckdb" for p in files)
    for needle in (SECRET, TOKEN):
        assert not [o for o in outputs if needle in o]
        assert not [p for p in files if needle.encode() in p.read_bytes()], needle

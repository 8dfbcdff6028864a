"""Starts `sim emulator` as a real server process on a free loopback port, for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.emulator.command import EMULATOR_KEY, EMULATOR_SECRET

REPO = Path(__file__).resolve().parents[2]
KEY, SECRET = EMULATOR_KEY, EMULATOR_SECRET


@contextmanager
def emulator(scenario: str | Path, *args: str) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) of an emulator serving `scenario`."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("BYBIT_API_KEY", None)
    env.pop("BYBIT_API_SECRET", None)
    proc = subprocess.Popen([sys.executable, "-m", "sim", "emulator", str(scenario), "--port", "0", *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"emulator did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        base = line.split("listening on ", 1)[1].split()[0]
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/emulator/state", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def state(base: str) -> dict:
    import json

    return json.loads(urllib.request.urlopen(base + "/emulator/state", timeout=5).read())


def pybit_http(base: str, key: str | None = KEY, secret: str | None = SECRET, **kw: object) -> object:
    """Unmodified pybit HTTP pointed at the emulator (its retries off, so every retCode shows)."""
    import pybit.unified_trading as ut

    s = ut.HTTP(testnet=True, api_key=key, api_secret=secret, max_retries=1, retry_codes={-1}, **kw)
    s.endpoint = base  # pybit has no URL argument: its documented attribute is set instead
    s.client.trust_env = False
    return s


def routed_websocket(base: str, **kw: object) -> object:
    """Unmodified pybit WebSocket whose host is the emulator's (Bybit's paths kept)."""
    import pybit.unified_trading as ut

    class Routed(ut.WebSocket):  # type: ignore[misc]
        def _connect(self, url: str) -> None:
            super()._connect(base + url[url.index("/v5/"):])

    return Routed(**kw)

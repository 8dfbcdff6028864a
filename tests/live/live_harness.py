"""A live session for tests, run as `sim live` runs it, and the control-server calls tests make.

`Running` builds a `LiveRuntime` (session, control server, alerter) on its own thread and runs it
there — the market engine may only live on the thread that made it — against a loopback emulator,
with secrets given explicitly (never the machine's environment).
"""

from __future__ import annotations

import gc
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sim.live.command import LiveRuntime
from sim.live.control import TOKEN_HEADER
from sim.live.settings import LiveSettings
from sim.live.secrets import load_secrets
from tests.emulator.emulator_process import KEY, SECRET

TOKEN = "test-activation-token-5b1e"


def post(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if token is not None:
        req.add_header(TOKEN_HEADER, token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def wait_for_status(url: str, cond: Any, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = get_json(url + "/status")
        if st and cond(st):
            return st
        time.sleep(0.05)
    raise AssertionError("the session never reached the awaited state")


class Running:
    """A LiveRuntime built and run on its own thread (the market engine stays on the thread that
    made it, as in `sim live`); `.exports` once it has finished."""

    def __init__(self, scenario: str, base: str, tmp: Path, hook: str | None, **settings: Any) -> None:
        secrets = load_secrets(env={"BYBIT_TESTNET_API_KEY": KEY, "BYBIT_TESTNET_API_SECRET": SECRET,
                                    "ACTIVATION_TOKEN": TOKEN, **({"ALERT_WEBHOOK_URL": hook} if hook else {})})
        self._args = (scenario, LiveSettings(network="testnet", endpoint=base, data_dir=tmp, max_wall_s=120,
                                             **settings), secrets)
        self.exports: dict[str, str] = {}
        self.error: BaseException | None = None
        self._built = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self._built.wait(30), "the session was not built"
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            rt = LiveRuntime(*self._args)
            self.url = rt.control.url
        except BaseException as e:
            self.error = e
            return
        finally:
            self._built.set()
        try:
            self.exports = rt.run()
            self.final = rt.session.status()
        except BaseException as e:  # reported by join()
            self.error = e
        finally:
            del rt
            gc.collect()  # the engine must be freed on the thread that made it

    def activate_when_allowed(self, timeout: float = 60.0) -> list[str]:
        """Asks until the session accepts; returns every answer."""
        answers = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, answer = post(self.url + "/activate", TOKEN)
            answers.append(answer["message"])
            if code == 200:
                return answers
            time.sleep(0.1)
        raise AssertionError(f"never activated: {answers[-3:]}")

    def join(self) -> dict[str, str]:
        self.thread.join(timeout=180)
        assert not self.thread.is_alive(), "the session did not end"
        if self.error is not None:
            raise self.error
        return self.exports

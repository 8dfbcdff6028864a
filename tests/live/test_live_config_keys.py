"""The config keys only a live session reads, against the emulator:
`log_features_every_minute` (the minute's bar and features in session.log, spec §15.3) and
`require_manual_activation` (false: a paper session activates itself once warmed up; a shadow or
live session refuses to start with it)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.core.errors import UserInputError
from tests.emulator.emulator_process import emulator, state
from tests.live.live_harness import Running

PLAIN = Path("tests/fixtures/emulator/probe_plain.yaml")


def _scenario(tmp: Path, config: dict[str, Any]) -> Path:
    """probe_plain with a `config:` block (the emulator serves the same file)."""
    body = PLAIN.read_text().rstrip("\n") + "\n"
    if config:
        body += "config: {" + ", ".join(f"{k}: {str(v).lower()}" for k, v in config.items()) + "}\n"
    path = tmp / "probe_plain.yaml"
    path.write_text(body)
    return path


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _session(tmp: Path, config: dict[str, Any]) -> dict[str, Any]:
    scenario = _scenario(tmp, config)
    logger = logging.getLogger("sim.live")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with emulator(scenario, "--speed", "60") as base:
            s = Running(str(scenario), base, tmp / "data", None, mode="paper", warmup_minutes=1)
            exports = s.join()  # nobody activates it
            exchange = state(base)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    orders = list(csv.DictReader(io.StringIO(exports["orders.csv"])))
    return {"lines": handler.lines, "orders": orders, "final": s.final, "exchange": exchange}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    yield {
        "default": _session(tmp_path_factory.mktemp("default"), {}),
        "changed": _session(tmp_path_factory.mktemp("changed"),
                            {"log_features_every_minute": False, "require_manual_activation": False}),
    }


def _minute_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("minute ") and " features " in line]


def test_log_features_every_minute_governs_the_minute_snapshot(sessions: dict[str, dict[str, Any]]) -> None:
    # log_features_every_minute: true (the default) logs every minute's bar and features ...
    default, changed = sessions["default"], sessions["changed"]
    assert len(_minute_lines(default["lines"])) >= 14
    assert '"features":{' in _minute_lines(default["lines"])[0]
    # ... false logs none, and the order lifecycle is still logged.
    assert _minute_lines(changed["lines"]) == []
    assert [line for line in changed["lines"] if line.startswith("fill order=")]


def test_a_paper_session_activates_itself_without_manual_activation(sessions: dict[str, dict[str, Any]]) -> None:
    # require_manual_activation: true (the default): never activated, every order answered "not sent".
    default, changed = sessions["default"], sessions["changed"]
    assert default["orders"] and {o["state"] for o in default["orders"]} == {"rejected"}
    assert default["final"]["state"] == "observation"
    # false: the paper session activated itself after its one-minute warm-up and traded on paper.
    assert changed["final"]["state"] == "active" and changed["final"]["mode"] == "paper"
    assert len(changed["orders"]) >= 5 and {o["state"] for o in changed["orders"]} == {"filled"}
    assert changed["exchange"]["orders"] == [], "paper: nothing reached the venue"
    assert any("require_manual_activation is false: activated: paper" in line for line in changed["lines"])


@pytest.mark.parametrize("mode", ["shadow", "live"])
def test_require_manual_activation_false_is_refused_where_orders_reach_a_venue(tmp_path: Path, mode: str) -> None:
    scenario = _scenario(tmp_path, {"require_manual_activation": False})
    with pytest.raises(UserInputError, match=rf"require_manual_activation: false is for paper sessions only; "
                                             rf"a {mode} session sends orders to testnet"):
        Running(str(scenario), "http://127.0.0.1:9", tmp_path / "data", None, mode=mode, warmup_minutes=1)

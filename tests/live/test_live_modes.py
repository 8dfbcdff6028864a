"""Operating modes (spec §11): a session starts in observation, refuses activation before its
warm-up and without the token, trades on paper once activated, never trades in dry_run, and in
shadow mode alerts on the webhook when paper and live execution differ — against the emulator."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator.emulator_process import emulator, state
from tests.live.live_harness import TOKEN, Running, get_json, post, wait_for_status
from tests.live.webhook_receiver import WebhookReceiver

PLAIN = "tests/fixtures/emulator/probe_plain.yaml"
SHADOW = "tests/fixtures/emulator/probe_shadow.yaml"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("paper")
    # The scenario's own clock: the session must be active before the minute-2 order, and on the wall
    # timeline the replay first runs the minute's elapsed part at once (docs/DECISIONS.md ("Emulator clock")).
    with emulator(PLAIN, "--speed", "30", "--clock", "scenario") as base:
        s = Running(PLAIN, base, tmp, None, mode="paper", warmup_minutes=1)
        no_token = post(s.url + "/activate")
        wrong_token = post(s.url + "/activate", "not-the-token")
        answers = s.activate_when_allowed()
        status = get_json(s.url + "/status")
        # A mode switch needs a flat book: refused while the minute-2 buy is held, accepted once
        # the minute-4 sell has closed it.
        wait_for_status(s.url, lambda st: st["position"]["qty"] != 0.0)
        not_flat = post(s.url + "/mode", TOKEN, {"mode": "dry_run"})
        wait_for_status(s.url, lambda st: st["position"]["qty"] == 0.0 and st["orders"] >= 2)
        flat = post(s.url + "/mode", TOKEN, {"mode": "dry_run"})
        exports = s.join()
        exchange = state(base)
    yield {"exports": exports, "answers": answers, "no_token": no_token, "wrong_token": wrong_token,
           "status": status, "exchange": exchange, "control": s.url, "final": s.final, "not_flat": not_flat,
           "flat": flat}


def test_the_activation_endpoint_refuses_requests_without_the_token(paper: dict) -> None:
    assert paper["no_token"] == (401, {"ok": False, "message": "refused: missing or wrong activation token"})
    assert paper["wrong_token"][0] == 401


def test_activation_is_refused_until_the_warm_up_is_complete(paper: dict) -> None:
    answers = paper["answers"]
    assert answers[0].startswith("refused: warm-up incomplete (0 of 1 minutes)")
    assert answers[-1] == "activated: paper"
    assert paper["status"]["state"] == "active" and paper["status"]["warmup"]["complete"]


def test_a_paper_session_fills_on_paper_and_never_touches_the_exchange(paper: dict) -> None:
    orders = _rows(paper["exports"]["orders.csv"])
    # Minutes 2 and 4 on paper; from minute 6 the session is in dry_run (switched while flat).
    assert [o["state"] for o in orders] == ["filled", "filled", "rejected", "rejected", "rejected"]
    assert paper["exchange"]["orders"] == [] and paper["exchange"]["executions"] == 0
    final = paper["final"]
    assert final["mode"] == "dry_run" and final["position"]["qty"] == 0.0 and final["kill_switch"] is False
    assert final["today_pnl"] == pytest.approx(float(_rows(paper["exports"]["equity.csv"])[-1]["equity"]) - 10_000.0)


def test_a_mode_switch_needs_a_flat_book(paper: dict) -> None:
    code, answer = paper["not_flat"]
    assert code == 409 and answer["message"].startswith("refused: switching from paper to dry_run needs a flat book")
    assert paper["flat"] == (200, {"ok": True, "message": "mode: dry_run (signals only, no execution)"})


def test_the_control_server_binds_to_loopback_by_default(paper: dict) -> None:
    assert paper["control"].startswith("http://127.0.0.1:")


def test_a_dry_run_session_decides_but_never_trades(tmp_path: Path) -> None:
    with emulator(PLAIN, "--speed", "60") as base:
        s = Running(PLAIN, base, tmp_path, None, mode="dry_run", warmup_minutes=0)
        code, answer = post(s.url + "/activate", TOKEN)
        exports = s.join()
        exchange = state(base)
    assert (code, answer["message"]) == (409, "refused: a dry_run session never trades")
    orders = _rows(exports["orders.csv"])
    assert len(orders) >= 5 and {o["state"] for o in orders} == {"rejected"}
    assert exchange["orders"] == []


def test_shadow_divergence_reaches_the_webhook_and_trading_goes_on(tmp_path: Path) -> None:
    with WebhookReceiver() as hook, emulator(SHADOW, "--clock", "scenario") as base:
        s = Running(SHADOW, base, tmp_path, hook.url, mode="shadow", warmup_minutes=0)
        s.activate_when_allowed()
        exports = s.join()
        exchange = state(base)
        bodies = [b for b in hook.wait_for(1, timeout=10) if b["kind"] == "shadow_divergence"]
    assert bodies, "no shadow_divergence alert reached the webhook"
    rejected = [b for b in bodies if "hourly_probe-000002" in b["message"]]
    assert len(rejected) == 1 and "filled 0.01 on paper, 0 live" in rejected[0]["message"]
    assert rejected[0]["mode"] == "shadow" and rejected[0]["symbol"] == "BTCUSDT"
    # Paper drives the pipeline: every order filled there, the rejected one included.
    assert [o["state"] for o in _rows(exports["orders.csv"])] == ["filled"] * 6
    # The venue got the mirror: five accepted and filled, one refused.
    assert exchange["orders_accepted"] == 5

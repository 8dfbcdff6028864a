"""sim.live.alerts against a real local webhook server: shape, retries, a dead or slow hook, redaction."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.live.alerts import AlertKind, WebhookAlerter, canonical_json
from sim.live.secrets import Secrets
from tests.live.webhook_receiver import WebhookReceiver, refused_url

TS_MS = 1_717_200_000_000
CONTEXT = {"mode": "live", "network": "testnet", "symbol": "BTCUSDT", "run_id": "run-42"}
PAYLOAD_KEYS = ["details", "kind", "message", "mode", "network", "run_id", "schema", "seq", "symbol", "ts_ms"]
SPEC_KINDS = ["kill_switch", "data_stale", "va_invalid", "high_ambiguous_fraction", "position_mismatch",
              "shadow_divergence", "leverage_cap"]
ADAPTER_KINDS = ["order_cancelled_by_exchange", "bad_message"]

Factory = Callable[..., WebhookAlerter]


@pytest.fixture
def make_alerter(tmp_path: Path) -> Iterator[Factory]:
    """Builds alerters logging to tmp_path/alerts.jsonl; every one is closed at the end of the test."""
    made: list[WebhookAlerter] = []

    def make(url: str | None, **kw: Any) -> WebhookAlerter:
        kw.setdefault("context", CONTEXT)
        kw.setdefault("clock", lambda: TS_MS)
        kw.setdefault("redact", str)
        kw.setdefault("log_path", tmp_path / "alerts.jsonl")
        a = WebhookAlerter(url, **kw)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close(timeout=10)


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_kinds_are_the_specs_and_the_adapters() -> None:
    assert [k.value for k in AlertKind] == SPEC_KINDS + ADAPTER_KINDS
    assert "webhook_failed" not in {k.value for k in AlertKind}


def test_every_kind_is_delivered_with_the_documented_shape(make_alerter: Factory, tmp_path: Path) -> None:
    kinds = SPEC_KINDS + ADAPTER_KINDS
    with WebhookReceiver() as hook:
        alerter = make_alerter(hook.url)
        for i, kind in enumerate(kinds):
            alerter.send(kind, f"{kind} happened", {"i": i, "why": ["a", 1.5], "path": Path("/x"), "nan": math.nan})
        bodies = hook.wait_for(len(kinds))
        assert alerter.close(timeout=10)
        requests = hook.requests

    assert [b["kind"] for b in bodies] == kinds
    assert [b["seq"] for b in bodies] == list(range(1, len(kinds) + 1))
    for i, (body, req) in enumerate(zip(bodies, requests, strict=True)):
        assert list(body) == PAYLOAD_KEYS  # sorted on the wire: json.loads keeps the sent order
        assert req.raw == canonical_json(body).encode("utf-8")
        assert req.method == "POST" and req.headers["Content-Type"] == "application/json"
        assert body == {**CONTEXT, "schema": 1, "kind": kinds[i], "message": f"{kinds[i]} happened", "ts_ms": TS_MS,
                        "seq": i + 1, "details": {"i": i, "why": ["a", 1.5], "path": "/x", "nan": "nan"}}
    lines = log_lines(tmp_path / "alerts.jsonl")
    assert [(x["seq"], x["delivered"], x["attempts"], x["error"]) for x in lines] == \
        [(i + 1, True, 1, None) for i in range(len(kinds))]


def test_missing_context_is_null_and_unknown_context_is_an_error(make_alerter: Factory) -> None:
    with WebhookReceiver() as hook:
        make_alerter(hook.url, context={"mode": "paper"}).send("data_stale", "no quotes for 10 s")
        (body,) = hook.wait_for(1)
    assert (body["mode"], body["network"], body["symbol"], body["run_id"]) == ("paper", None, None, None)
    with pytest.raises(ValueError, match="context"):
        make_alerter(None, context={"mode": "paper", "api_key": "x"})


def test_retries_after_500s_deliver_exactly_once_with_the_same_seq(make_alerter: Factory, tmp_path: Path) -> None:
    with WebhookReceiver(fail_first=2) as hook:
        alerter = make_alerter(hook.url, backoff_s=0.01)
        assert alerter.send("kill_switch", "daily loss limit breached") == 1
        hook.wait_for(1)
        assert alerter.close(timeout=10)
        requests = hook.requests
    assert [r.status for r in requests] == [500, 500, 200]
    assert len({r.raw for r in requests}) == 1 and requests[0].json["seq"] == 1
    (line,) = log_lines(tmp_path / "alerts.jsonl")
    assert (line["seq"], line["delivered"], line["attempts"]) == (1, True, 3)


def test_send_returns_at_once_while_the_hook_is_down(make_alerter: Factory, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sim.live.alerts")
    alerter = make_alerter(refused_url(), retries=2, backoff_s=0.3)  # 0.3 + 0.6 s of backoff in all
    t0 = time.perf_counter()
    alerter.send("position_mismatch", "exchange 0.01 != ours 0")
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5  # a sanity bound: send only queues
    assert alerter.close(timeout=20)
    (line,) = log_lines(tmp_path / "alerts.jsonl")
    assert (line["kind"], line["delivered"], line["attempts"]) == ("position_mismatch", False, 3)
    assert line["error"].startswith("connection failed")
    assert any("NOT delivered" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


def test_send_returns_at_once_while_the_hook_is_slow(make_alerter: Factory) -> None:
    with WebhookReceiver(stall_s=1.0) as hook:
        alerter = make_alerter(hook.url)
        t0 = time.perf_counter()
        alerter.send("shadow_divergence", "paper long, live flat")
        assert time.perf_counter() - t0 < 0.5
        (body,) = hook.wait_for(1, timeout=10)
        assert alerter.close(timeout=10)
    assert body["kind"] == "shadow_divergence"


def test_close_gives_up_after_its_timeout_and_logs_the_rest(make_alerter: Factory, tmp_path: Path) -> None:
    alerter = make_alerter(refused_url(), retries=5, backoff_s=5.0)
    alerter.send("data_stale", "one")
    alerter.send("data_stale", "two")
    t0 = time.perf_counter()
    assert alerter.close(timeout=0.3) is False
    assert time.perf_counter() - t0 < 5.0  # stopped waiting out the 5 s backoff
    lines = log_lines(tmp_path / "alerts.jsonl")
    assert [(x["seq"], x["delivered"]) for x in lines] == [(1, False), (2, False)]
    assert lines[1]["attempts"] == 0


def test_secrets_are_redacted_in_the_payload_and_the_log(make_alerter: Factory, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-LIVE-0123456789abcdef"
    secrets = Secrets(bybit_api_key=secret)
    with WebhookReceiver() as hook:
        alerter = make_alerter(hook.url, redact=secrets.redact)
        alerter.send("bad_message", f"bybit private: auth failed for key {secret}",
                     {"raw": f'{{"apiKey": "{secret}"}}', "list": [secret], secret: "as a key"})
        hook.wait_for(1)
        assert alerter.close(timeout=10)
        raw = hook.requests[0].raw.decode()
    logged = (tmp_path / "alerts.jsonl").read_text()
    for text in (raw, logged):
        assert secret not in text
        assert "auth failed for key ***" in text
    assert json.loads(raw)["details"] == {"raw": '{"apiKey": "***"}', "list": ["***"], "***": "as a key"}


def test_an_unknown_kind_is_a_value_error(make_alerter: Factory, tmp_path: Path) -> None:
    alerter = make_alerter(None)
    for kind in ("webhook_failed", "Kill_Switch", "no_such_kind"):
        with pytest.raises(ValueError, match="unknown alert kind"):
            alerter.send(kind, "x")
    assert alerter.send(AlertKind.LEVERAGE_CAP, "reduced to 10x") == 1  # a rejected kind takes no seq
    alerter.close()
    assert [x["kind"] for x in log_lines(tmp_path / "alerts.jsonl")] == ["leverage_cap"]


def test_log_only_mode_writes_the_line(make_alerter: Factory, tmp_path: Path) -> None:
    with make_alerter(None) as alerter:
        alerter.send("va_invalid", "value area invalid: 12 bins < 20", {"bins": 12})
    alerter.send("va_invalid", "after close")  # still logged, never raised
    lines = log_lines(tmp_path / "alerts.jsonl")
    assert lines[0] == {**CONTEXT, "schema": 1, "kind": "va_invalid", "message": "value area invalid: 12 bins < 20",
                        "ts_ms": TS_MS, "seq": 1, "details": {"bins": 12}, "delivered": None, "attempts": 0,
                        "error": None}
    assert (lines[1]["seq"], lines[1]["error"]) == (2, "alerter closed")
    assert (tmp_path / "alerts.jsonl").read_text().splitlines()[0] == canonical_json(lines[0])

"""Every alert type of spec §15.2 reaches the webhook from a live session.

Each session is a `LiveRuntime` (as `sim live` runs it) on its own thread, against a real loopback
emulator process, with `ALERT_WEBHOOK_URL` pointing at a real local webhook receiver:

- the amt strategy's own alerts, in paper sessions activated at once (`warmup_minutes=0`) with the
  emulator replaying the window as fast as the client reads: `amt/exit_kill_switch` (kill switch,
  leverage cap) and `tests/fixtures/emulator/amt_ambiguous_va_invalid.yaml` (high ambiguous
  fraction, value area invalid: the markets of `amt/entry_high_ambiguity` and `amt/entry_va_invalid`
  in one, with a 20-minute warm-up — each 270-minute original would add 20-30 s);
- a shadow session on an account that already holds a position another client opened: position
  mismatch at connect (the Bybit adapter's reconciliation), raised in observation, since the halt
  refuses the activation;
- a paper session through the emulator's scripted 90-second public-feed outage: data stale;
- a shadow session whose mirrored order the venue rejects: shadow divergence.

For every session, what reached the webhook is exactly its alerts.csv rows of the kinds the
webhook takes (`AlertKind`, after the session's aliases), in order, one JSON body of the
documented shape each.
"""

from __future__ import annotations

import csv
import io
import re
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sim.live.alerts import AlertKind
from sim.live.session import ALERT_ALIASES
from sim.run import run
from sim.scenario.manifest import load_scenario
from tests.emulator.emulator_process import KEY, SECRET, emulator, state
from tests.live.live_harness import TOKEN, Running, post
from tests.live.webhook_receiver import WebhookReceiver

KILL_SWITCH = "amt/exit_kill_switch"  # window 2024-03-01T18:30Z .. 2024-03-02T00:30Z, max_daily_loss 200
DATA_QUALITY = "tests/fixtures/emulator/amt_ambiguous_va_invalid.yaml"  # 00:00 .. 00:25, warm-up 20 min
FAULTS = "tests/fixtures/emulator/probe_faults.yaml"  # public feed stale 00:12:30 .. 00:14:00 (market time)
PLAIN = "tests/fixtures/emulator/probe_plain.yaml"  # window 00:00 .. 00:16, no faults
SHADOW = "tests/fixtures/emulator/probe_shadow.yaml"  # the venue rejects the order placed after 00:03:50

SECTION_15_2 = {"kill_switch", "data_stale", "va_invalid", "high_ambiguous_fraction", "position_mismatch",
                "shadow_divergence", "leverage_cap"}
BODY_KEYS = {"schema", "kind", "seq", "ts_ms", "mode", "network", "symbol", "run_id", "message", "details"}
MIN_MS = 60_000
GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _forwarded(kind: str) -> bool:
    return ALERT_ALIASES.get(kind, kind) in set(AlertKind)


@dataclass
class Outcome:
    """What one finished session left: its exports, activation answers, the webhook's bodies and
    the emulator's final state."""

    scenario: str
    mode: str
    exports: dict[str, str]
    answers: list[str]
    bodies: list[dict[str, Any]]
    exchange: dict[str, Any]

    @property
    def alerts(self) -> list[dict[str, str]]:
        return _rows(self.exports["alerts.csv"])

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b["kind"] == kind]


class _Started:
    """A receiver, an emulator and a session on its thread; `finish` waits for the session."""

    def __init__(self, stack: ExitStack, scenario: str, mode: str, emulator_args: tuple[str, ...], tmp: Path,
                 before: Any = None, **settings: Any) -> None:
        self.scenario, self.mode = scenario, mode
        self.hook = stack.enter_context(WebhookReceiver())
        # The replay's alerts are compared on the scenario's own times (docs/DECISIONS.md ("Emulator clock")).
        self.base = stack.enter_context(emulator(scenario, *emulator_args, "--clock", "scenario"))
        if before is not None:
            before(self.base)
        self.session = Running(scenario, self.base, tmp, self.hook.url, mode=mode, warmup_minutes=0, **settings)
        self.answers: list[str] = []

    def finish(self) -> Outcome:
        exports = self.session.join()
        # The session closed its alerter (queue delivered) before it ended; the receiver records a
        # request just after answering it, so wait for as many as the session's alerts.csv says.
        sent = [a for a in _rows(exports["alerts.csv"]) if _forwarded(a["kind"])]
        bodies = self.hook.wait_for(len(sent), timeout=10) if sent else self.hook.bodies
        return Outcome(self.scenario, self.mode, exports, self.answers, bodies, state(self.base))


def _foreign_position(base: str) -> None:
    """Another client buys 0.005 BTC on the account before the session connects."""
    import pybit.unified_trading as ut

    http = ut.HTTP(testnet=True, api_key=KEY, api_secret=SECRET)
    http.endpoint = base
    try:
        time.sleep(0.3)  # the replay started at once (--start now): let it print its first quotes
        http.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.005",
                         orderLinkId="someone-else-1")
        deadline = time.monotonic() + 10
        while float(state(base)["position"]["size"]) == 0.0:
            assert time.monotonic() < deadline, "the foreign order never filled"
            time.sleep(0.05)
    finally:
        http.client.close()


#: name -> (scenario, mode, emulator arguments, session settings and/or a step before the session).
#: All run at once: one long replay (the kill switch's 360 minutes, ~30 s) and four short or paced
#: sessions that are done within it. Two long replays together would gain nothing (the client is
#: CPU-bound in this one process) and starve each other's WebSocket threads into ping/pong timeouts.
PLANS: dict[str, tuple[str, str, tuple[str, ...], dict[str, Any]]] = {
    # Fast-forwarded to 00:14 at once (--start now), so the foreign order fills on the 00:14 data
    # before the session connects; then two paced minutes at 120x to the window's end.
    "mismatch": (PLAIN, "shadow", ("--start", "now", "--fast-until", "2024-03-01T00:14:00Z", "--speed", "120"),
                 {"before": _foreign_position}),
    # Fast to just before the outage, then paced at 30x: the 90 s (market) outage is 3 s of wall
    # time, twice the 1.5 s staleness limit; the replay's own start (1 s after the subscription)
    # stays under it.
    "stale": (FAULTS, "paper", ("--fast-until", "2024-03-01T00:12:00Z", "--speed", "30"), {"stale_after_s": 1.5}),
    # Paced from the first minute on, so the session is active before its first order (00:02). The
    # tolerances are wide: at 60x a few ms of REST latency are seconds of market time and some
    # ticks of price, and only the order the venue refuses is to diverge here.
    "shadow": (SHADOW, "shadow", ("--fast-until", "2024-03-01T00:01:00Z", "--speed", "60"),
               {"shadow_time_tolerance_ms": 120_000, "shadow_price_tolerance_ticks": 500}),
    # The amt windows replay as fast as the client reads (--fast-until the window's end).
    "quality": (DATA_QUALITY, "paper", ("--fast-until", "2024-03-01T00:25:00Z"), {}),
    "kill": (KILL_SWITCH, "paper", ("--fast-until", "2024-03-02T00:30:00Z"), {}),
}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    with ExitStack() as stack:
        started: dict[str, _Started] = {}
        try:
            for name, (scenario, mode, args, extra) in PLANS.items():
                started[name] = s = _Started(stack, scenario, mode, args, tmp_path_factory.mktemp(name), **extra)
                if name == "mismatch":
                    # Trading is halted from the connect on: activation is refused, and says why.
                    code, answer = post(s.session.url + "/activate", TOKEN)
                    s.answers = [f"{code} {answer['message']}"]
                else:
                    s.answers = s.session.activate_when_allowed()
            return {name: s.finish() for name, s in started.items()}
        finally:
            # A session's market engine must be freed on its own thread: never leave one running.
            for s in started.values():
                s.session.thread.join(timeout=180)


# -- one test per §15.2 alert type -------------------------------------------------------------


def test_the_kill_switch_reaches_the_webhook(sessions: dict[str, Outcome]) -> None:
    out = sessions["kill"]
    [body] = out.of("kill_switch")
    m = re.fullmatch(r"daily loss (\d+\.\d\d) >= max_daily_loss 200\.0: flatten, no entries until 00:00 UTC",
                     body["message"])
    assert m and float(m[1]) >= 200.0, body["message"]
    # The kill switch flattened the position: an exit order decided at that very minute.
    exits = [o for o in _rows(out.exports["orders.csv"]) if o["reason"] == "kill_switch"]
    assert [int(o["decision_ts_ms"]) for o in exits] == [body["ts_ms"]]
    # kill_switch_reset (the next UTC day) is in alerts.csv but is no §15.2 type: not sent.
    assert [a["kind"] for a in out.alerts].count("kill_switch_reset") == 1
    assert not out.of("kill_switch_reset")


def test_the_leverage_cap_reaches_the_webhook(sessions: dict[str, Outcome]) -> None:
    bodies = sessions["kill"].of("leverage_cap")
    assert len(bodies) == 2  # the entry before the kill switch and the one after the day's reset
    entries = {int(o["decision_ts_ms"]): o for o in _rows(sessions["kill"].exports["orders.csv"])
               if o["intent"] == "entry"}
    for b in bodies:
        m = re.fullmatch(r"Leverage cap hit, position reduced: (\d+\.\d+) -> (\d+\.\d+) BTC \(max_leverage 10\.0\)",
                         b["message"])
        assert m and float(m[2]) < float(m[1]), b["message"]
        # The entry sent at that minute has the reduced quantity.
        assert float(entries[b["ts_ms"]]["qty"]) == float(m[2])


def test_an_invalid_value_area_reaches_the_webhook(sessions: dict[str, Outcome]) -> None:
    out = sessions["quality"]
    [body] = out.of("va_invalid")
    assert body["message"] == "value area invalid: 9 bins < min_va_bins 20; no signals"
    # At the close of the strategy's 20th minute, the end of its warm-up; never repeated after.
    assert body["ts_ms"] == _ms("2024-03-01T00:20:00Z")
    assert _rows(out.exports["orders.csv"]) == []


def test_a_high_ambiguous_fraction_reaches_the_webhook(sessions: dict[str, Outcome]) -> None:
    out = sessions["quality"]
    features = {int(f["ts_min_ms"]) + MIN_MS: f for f in _rows(out.exports["features.csv"])}  # by minute close
    watched = [t for t in sorted(features) if t >= _ms("2024-03-01T00:20:00Z")]
    # Every watched minute is above the limit: one episode, one alert, at its first minute.
    assert len(watched) >= 5 and all(float(features[t]["ambiguous_trade_frac_1m"]) > 0.35 for t in watched)
    [body] = out.of("high_ambiguous_fraction")
    assert body["ts_ms"] == watched[0]
    frac = float(features[watched[0]]["ambiguous_trade_frac_1m"])
    assert body["message"] == (f"High ambiguous fraction: ambiguous_trade_frac_1m {frac:.3f} > "
                               "ambiguous_trade_frac_max 0.35; setups need both order-flow and qimb confirmation")


def test_a_position_mismatch_at_connect_reaches_the_webhook(sessions: dict[str, Outcome]) -> None:
    out = sessions["mismatch"]
    [body] = out.of("position_mismatch")
    assert body["message"].startswith("exchange position 0.005 != ours 0 (start); trading halted")
    assert out.answers == ["409 refused: trading is halted (exchange position 0.005 != ours 0 (start))"]
    # The probe's orders stayed in the session (refused: never activated); the venue only ever saw
    # the other client's order.
    orders = _rows(out.exports["orders.csv"])
    assert orders and {o["state"] for o in orders} == {"rejected"}
    assert [o["orderLinkId"] for o in out.exchange["orders"]] == ["someone-else-1"]


def test_a_stale_feed_reaches_the_webhook(sessions: dict[str, Outcome]) -> None:
    out = sessions["stale"]
    [body] = out.of("data_stale")
    assert body["message"] == "no market data from bybit for more than 1.5 s"
    # Raised in the outage (the session's clock stands at the last data before it), not at the
    # start-up or in the fast-forward before it.
    assert _ms("2024-03-01T00:12:00Z") <= body["ts_ms"] <= _ms("2024-03-01T00:14:00Z")
    assert "stale" in [f.split(":")[1] for f in out.exchange["faults_fired"]]


def test_a_shadow_divergence_reaches_the_webhook(sessions: dict[str, Outcome]) -> None:
    out = sessions["shadow"]
    [body] = out.of("shadow_divergence")
    assert body["message"] == "order hourly_probe-000002: filled 0.01 on paper, 0 live (filled / rejected)"
    assert out.exchange["orders_accepted"] == len(_rows(out.exports["orders.csv"])) - 1


def test_the_amt_sessions_raise_the_replays_alerts(sessions: dict[str, Outcome]) -> None:
    # Live on paper, from the emulator's WebSocket ticks, the strategy raises at the same market
    # times and in the same words what the in-process replay of the scenario raises.
    kill = sessions["kill"]
    assert kill.exports["alerts.csv"] == (GOLDEN / KILL_SWITCH / "alerts.csv").read_text()
    assert sessions["quality"].exports["alerts.csv"] == run(DATA_QUALITY).exports["alerts.csv"]


# -- the delivery and the shape -----------------------------------------------------------------


def test_the_webhook_gets_exactly_the_sessions_alerts_in_order(sessions: dict[str, Outcome]) -> None:
    for name, out in sessions.items():
        expected = [(int(a["ts_ms"]), ALERT_ALIASES.get(a["kind"], a["kind"]), a["message"])
                    for a in out.alerts if _forwarded(a["kind"])]
        got = [(b["ts_ms"], b["kind"], b["message"]) for b in out.bodies]
        assert got == expected, name


def test_every_body_has_the_documented_shape(sessions: dict[str, Outcome]) -> None:
    for name, out in sessions.items():
        run_id = load_scenario(out.scenario).id
        assert [b["seq"] for b in out.bodies] == list(range(1, len(out.bodies) + 1)), name
        for b in out.bodies:
            assert set(b) == BODY_KEYS, (name, b)
            assert (b["schema"], b["mode"], b["network"], b["symbol"], b["run_id"], b["details"]) == \
                (1, out.mode, "testnet", "BTCUSDT", run_id, {}), (name, b)
            assert isinstance(b["ts_ms"], int) and b["message"], (name, b)


def test_every_section_15_2_kind_was_delivered(sessions: dict[str, Outcome]) -> None:
    delivered = {b["kind"] for out in sessions.values() for b in out.bodies}
    assert SECTION_15_2 <= delivered, SECTION_15_2 - delivered

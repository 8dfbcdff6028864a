"""A session of the pipeline on a live exchange: the same strategy, recorder and event loop as a
replay, with the market engine fed from WebSocket ticks (`sim.live_feed`) and orders sent through
the Bybit adapter — to Bybit (testnet, mainnet) or to the loopback emulator.

The session's clock is the exchange's time as the feed has delivered it (the loop moves it from
event to event, as in replay), so decisions are stamped with exchange time in both; the wall
clock is used only to supervise connections and to give up (`max_wall_s`).
A session over a scenario's window (`run_live(scenario, endpoint=...)`) returns the same exports
as `sim.run.run`, which is what the live/replay parity check compares.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.bybit.adapter import BybitAdapter, BybitSettings, link_prefix_for
from sim.clock import SimClock
from sim.config import load_config
from sim.events import Event
from sim.exports import json_text
from sim.live_feed import LiveFeed
from sim.loop import EventLoop
from sim.recorder import LateJournal, Recorder
from sim.run import pipeline_exports
from sim.scenario.manifest import LoadedScenario, load_scenario
from sim.strategies import make_strategy
from sim.strategy import InstrumentSpec, StrategyContext
from sim.timers import TimerQueue


class WallTimeout(RuntimeError):
    pass


@dataclass
class LiveResult:
    exports: dict[str, str]
    summary: dict[str, Any]
    adapter: BybitAdapter


def run_live(
    scenario: LoadedScenario | str | Path,
    *,
    endpoint: str,
    api_key: str,
    api_secret: str,
    network: str = "testnet",
    overrides: dict[str, Any] | None = None,
    max_wall_s: float = 600.0,
    stale_after_s: float = 10.0,
    grace_ms: int = 0,
) -> LiveResult:
    """Runs the scenario's strategy live against `endpoint` (http://127.0.0.1:PORT) over the
    scenario's window; the exchange is expected to replay that window."""
    sc = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    spec = sc.spec
    config = load_config(overrides={**spec.config, **(overrides or {})}, origin=sc.path)
    start, end = spec.window.start_ns, spec.window.end_ns
    feed = LiveFeed(start_ns=start, tick_size=spec.instrument.tick_size, taker_fee_bps=config.taker_fee_bps,
                    maker_fee_bps=config.maker_fee_bps, features=config.feature_params(), grace_ms=grace_ms,
                    name=f"bybit:{spec.instrument.symbol}")
    clock = SimClock(start)
    timers = TimerQueue()
    loop = EventLoop(clock, feed, timers, end)  # type: ignore[arg-type]
    recorder: Recorder
    alerts: list[tuple[int, str, str]] = []

    def alert(kind: str, message: str) -> None:
        alerts.append((clock.now_ns(), kind, message))
        recorder.alert(clock.now_ns(), kind, message)

    ws_base = "ws://" + endpoint.split("://", 1)[1].rstrip("/")
    settings = BybitSettings(network=network, symbol=spec.instrument.symbol, api_key=api_key, api_secret=api_secret,
                             link_prefix=link_prefix_for(sc.id, str(start)), rest_base=endpoint, ws_base=ws_base,
                             stale_after_s=stale_after_s)
    adapter = BybitAdapter(settings, feed, schedule=loop.schedule, now_ns=clock.now_ns, alert=alert)
    strategy = make_strategy(spec.strategy, spec.strategy_params)

    journal = LateJournal()
    ctx = StrategyContext(
        clock=clock, adapter=adapter, config=config, seed=spec.seed, strategy_name=strategy.name,
        add_timer=lambda t: timers.add(t, clock.now_ns()), on_order=lambda o: recorder.on_order(o),
        instrument=InstrumentSpec(spec.instrument.symbol, spec.instrument.tick_size, spec.instrument.qty_step),
        journal=journal, end_ns=end,
    )
    recorder = Recorder(ctx.orders, ctx.position, ctx.ledger, config.initial_equity)
    journal.recorder = recorder
    deadline = time.monotonic() + max_wall_s  # sim-determinism: allowed (a live session's give-up time)

    def pump(timeout: float) -> bool:
        if time.monotonic() > deadline:  # sim-determinism: allowed
            raise WallTimeout(f"live session over {sc.id}: no end of window after {max_wall_s:g} s "
                              f"(market at {feed.watermark_ns})")
        return adapter.pump(timeout)

    feed.pump = pump

    def handle(ev: Event) -> None:
        recorder.on_event(ev)
        strategy.on_event(ev, ctx)

    try:
        adapter.connect()
        strategy.on_start(ctx)
        ctx.drain()
        loop.run(handle, ctx.drain)
        adapter.reconcile("end of session")
    finally:
        adapter.close()
    exports = pipeline_exports(recorder, ctx)
    st = adapter.stats
    summary = {
        "bars": len(recorder.bars), "orders": len(recorder.order_sequence), "fills": len(recorder.fills),
        "final_qty": ctx.position.qty, "exchange_position": adapter.exchange_position,
        "halted": adapter.halted, "late_ticks": feed.late_ticks, "bad_rows": feed.bad_rows(),
        "adapter": {"fills": st.fills, "recovered_fills": st.recovered_fills, "reconnects": st.reconnects,
                    "reconciliations": st.reconciliations, "rejected": st.rejected,
                    "rate_limited": adapter.rest.rate_limited, "stale_alerts": st.stale_alerts,
                    "duplicate_executions": st.duplicate_executions, "parse_errors": st.parse_errors},
        "alerts": [list(a[1:]) for a in alerts],
    }
    exports["summary.json"] = json_text(summary)
    return LiveResult(exports, summary, adapter)

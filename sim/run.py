"""A run: one scenario through the real pipeline, as a pure function of its inputs.

`run(scenario, overrides)` builds the sources, the market engine, the clock, timers, the
adapter and the strategy, drives the event loop to the end of the window and returns a
`RunResult` with the canonical exports and the manifest. It holds no module-level state, so
many runs can share one process; `write_run_dir` puts a result on disk. Given a `stores_dir`, the
run also writes its DuckDB stores there as it goes (raw ticks with their inferred sides, bars
and features); they are for analysis, never compared as goldens.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

from adapters.simulated import SimulatedAdapter, SlippageModel
from sim.core.clock import SimClock
from sim.core.config import Config, load_config
from sim.core.errors import ManifestError, UserInputError
from sim.core.events import NS_PER_MIN, NS_PER_MS, Event, MinuteClose
from sim.outputs.exports import csv_text, json_text
from sim.outputs.result import RunResult
from sim.core.loop import EventLoop
from sim.outputs.metrics import compute_metrics, curve_metrics
from sim.market.feed import MarketFeed
from sim.outputs.recorder import (ALERT_COLUMNS, BAR_COLUMNS, EQUITY_COLUMNS, FEATURE_COLUMNS, FILL_COLUMNS, ORDER_COLUMNS,
                          LateJournal, POSITION_COLUMNS, SIGNAL_COLUMNS, Recorder, bar_row, feature_row)
from sim.scenario.manifest import LoadedScenario, load_scenario
from sim.scenario.sources import ScenarioMarket, build_market
from sim.outputs.sqlite_stores import EXECUTION_DB, SIGNALS_DB, write_execution_db, write_signals_db
from sim.outputs.stores import RunStores
from sim.strategies import registry
from sim.strategies.api import InstrumentSpec, Strategy, StrategyContext
from sim.strategies.plugin import RunInfo
from sim.core.timers import TimerQueue
from sim.core.version import code_version

def _check_feature_input(sc: LoadedScenario, config: Config, sources: list[Any]) -> None:
    """Bars mode needs one-minute klines; tick mode needs trades or quotes."""
    if config.feature_input == "bars":
        if not any(s.kind == "klines" and s.interval_ns == NS_PER_MIN for s in sources):
            raise UserInputError(f"{sc.path}: feature_input: bars needs a source of 1-minute klines")
    elif not any(s.kind in ("trades", "quotes") for s in sources):
        raise UserInputError(f"{sc.path}: no trades or quotes to compute features from; "
                             "set config feature_input: bars to build them from 1-minute klines")


RAW_FLUSH_NS = 60 * NS_PER_MIN


class _StoreSink:
    """Feeds a run's DuckDB stores: minute rows at each close, the raw tape in hourly batches."""

    def __init__(self, stores: RunStores, market: MarketFeed) -> None:
        self.stores, self.market = stores, market

    def on_minute(self, ev: MinuteClose) -> None:
        features = list(feature_row(ev.features))
        features[FEATURE_COLUMNS.index("rebucketed")] = ev.features.rebucketed is not None  # a BOOLEAN column
        self.stores.append_minutes([bar_row(ev.bar)], [tuple(features)])
        # The raw tape goes in hourly: a DuckDB INSERT costs ~2 ms before any row is written, so one
        # per minute would dominate a long run; an hour of ticks is a batch of modest size.
        if ev.ts_ns % RAW_FLUSH_NS == 0:
            self.take_raw()

    def take_raw(self) -> None:
        trades, quotes = self.market.take_raw()
        self.stores.append_raw_trades(**trades)
        self.stores.append_raw_quotes(**quotes)


def _table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    return {name: [r[i] for r in rows] for i, name in enumerate(columns)}


def pipeline_exports(recorder: Recorder, ctx: StrategyContext) -> dict[str, str]:
    """The canonical CSV exports of one pipeline run (replay or live)."""
    return {
        "bars.csv": csv_text(BAR_COLUMNS, recorder.bars),
        "features.csv": csv_text(FEATURE_COLUMNS, recorder.features),
        "orders.csv": csv_text(ORDER_COLUMNS, recorder.order_rows()),
        "fills.csv": csv_text(FILL_COLUMNS, recorder.fills),
        "positions.csv": csv_text(POSITION_COLUMNS, ctx.ledger.rows()),
        "equity.csv": csv_text(EQUITY_COLUMNS, recorder.equity),
        "signals.csv": csv_text(SIGNAL_COLUMNS, recorder.signals),
        "alerts.csv": csv_text(ALERT_COLUMNS, recorder.alerts),
    }


def _run_info(sc: LoadedScenario, seed: int, market: ScenarioMarket) -> RunInfo:
    spec = sc.spec
    return RunInfo(origin=sc.path, scenario_id=sc.id, start_ns=spec.window.start_ns, end_ns=spec.window.end_ns,
                   seed=seed, symbol=spec.instrument.symbol, tick_size=spec.instrument.tick_size,
                   qty_step=spec.instrument.qty_step, symbols=market.symbols, expiries=market.expiries,
                   market_kind=market.kind, synthetic_contracts=market.synthetic_contracts)


def check_instrument(config: Config, symbol: str, origin: Path) -> None:
    """The config's `instrument` is the symbol a single-instrument strategy trades: the scenario's
    instrument must be it (a config written for one market never runs silently on another)."""
    if config.instrument != symbol:
        raise ManifestError(origin, "config.instrument",
                            f"{config.instrument!r}, but the scenario trades {symbol!r} (instrument.symbol)")


def run(
    scenario: LoadedScenario | str | Path,
    overrides: dict[str, Any] | None = None,
    *,
    seed: int | None = None,
    speed: float | None = None,
    stores_dir: Path | None = None,
    observer: Callable[[Event | None, StrategyContext, Strategy], None] | None = None,
) -> RunResult:
    """Replays one scenario through its strategy; `overrides` are config keys or (dotted) strategy
    parameters. The only run path: every strategy comes in through its plugin. `observer`, if
    given, sees every event after the strategy handled it (before its orders are sent), then
    `None` once after the strategy's end: the hook invariant checks (`sim fuzz`) watch a run by."""
    t0 = time.perf_counter()  # sim-determinism: allowed (wall_s in the manifest only)
    sc = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    spec = sc.spec
    plugin = registry.plugin(spec.strategy, sc.path)
    config_over, param_over = plugin.split_overrides(overrides or {})
    params = plugin.params(spec.strategy_params, param_over, sc.path)
    config = load_config(overrides={**plugin.config_layers(spec.config, sc.path), **config_over}, origin=sc.path)
    if plugin.single_instrument:
        check_instrument(config, spec.instrument.symbol, sc.path)
    seed = spec.seed if seed is None else seed
    start, end = spec.window.start_ns, spec.window.end_ns

    scenario_market = build_market(sc, seed)
    info = _run_info(sc, seed, scenario_market)
    setup = plugin.market(info, config, params)
    if not scenario_market.multi_instrument:
        _check_feature_input(sc, config, scenario_market.sources)
    if not plugin.pipeline_exports:
        stores_dir = None  # the stores hold one instrument's tape, bars and features
    market = MarketFeed(
        scenario_market.sources,
        start_ns=start,
        end_ns=end,
        tick_size=setup.tick_size,
        taker_fee_bps=setup.taker_fee_bps,
        maker_fee_bps=setup.maker_fee_bps,
        on_bad_rows=spec.on_bad_rows,
        features=config.feature_params(),
        record_raw=stores_dir is not None,
        funding=sc.funding_schedule(config.funding_rate_8h_bps) if plugin.wants_funding else None,
        instruments=setup.instruments,
        source_instruments=scenario_market.source_instruments if setup.instruments else None,
    )
    sink = _StoreSink(RunStores(stores_dir), market) if stores_dir is not None else None
    clock = SimClock(start, speed=speed)
    timers = TimerQueue()
    adapter = SimulatedAdapter(market, SlippageModel(*setup.slippage_ticks))
    strategy = plugin.build(info, config, params)
    recorder: Recorder

    journal = LateJournal()
    ctx = StrategyContext(
        clock=clock,
        adapter=adapter,
        config=config,
        seed=seed,
        strategy_name=strategy.name,
        add_timer=lambda t: timers.add(t, clock.now_ns()),
        on_order=lambda o: recorder.on_order(o),
        instrument=InstrumentSpec(info.symbol, setup.tick_size, info.qty_step),
        journal=journal,
        end_ns=end,
    )
    recorder = Recorder(ctx.orders, ctx.position, ctx.ledger, config.initial_equity,
                        single_instrument=plugin.pipeline_exports)
    journal.recorder = recorder
    loop = EventLoop(clock, market, timers, end)

    def handle(ev: Any) -> None:
        recorder.on_event(ev)
        if sink is not None and isinstance(ev, MinuteClose):
            sink.on_minute(ev)
        strategy.on_event(ev, ctx)
        if observer is not None:
            observer(ev, ctx, strategy)

    try:
        strategy.on_start(ctx)
        ctx.drain()
        loop.run(handle, ctx.drain)
        strategy.on_end(ctx)
        recorder.close(end)
        if observer is not None:
            observer(None, ctx, strategy)
        if sink is not None:
            sink.take_raw()
            write_signals_db(stores_dir / SIGNALS_DB, recorder.signals, recorder.feature_snapshots)
            write_execution_db(stores_dir / EXECUTION_DB, ctx.ledger.rows(), recorder.snapshots)
    finally:
        if sink is not None:
            sink.stores.close()

    exports = pipeline_exports(recorder, ctx) if plugin.pipeline_exports else {}
    for name, table in plugin.exports(strategy, ctx, recorder.fill_events, recorder.alert_events).items():
        exports[name] = csv_text(table.columns, table.rows)
    summary = plugin.summary(strategy, ctx, info)
    if summary is None:
        summary = _standard_summary(recorder, ctx, config, market, exports, start // NS_PER_MS)
        exports["summary.json"] = json_text({k: v for k, v in summary.items() if k != "metrics"})
    else:
        exports["summary.json"] = json_text(summary)
        curve = plugin.equity_curve(strategy)
        if curve is not None:  # the strategy's own equity curve: the return-based metrics of it
            summary["metrics"] = curve_metrics(*curve)
            exports["metrics.json"] = json_text(summary["metrics"])
    manifest = {
        "scenario": sc.id,
        "scenario_hash": sc.content_hash(),
        "config_hash": plugin.config_hash(config, params),
        "code_version": code_version(),
        "seed": seed,
        "events": market.engine.events_processed,
        "bad_rows": market.bad_rows(),
    }
    if plugin.pipeline_exports:
        manifest["side_agreement"] = market.side_agreement()
    manifest["outputs"] = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(exports.items())}
    manifest["wall_s"] = round(time.perf_counter() - t0, 3)  # sim-determinism: allowed
    outside = {s.name: (s.kind, n) for s, n in zip(market.sources, market.rows_outside_window) if n}
    return RunResult(sc.id, manifest, exports, summary, outside)


def _standard_summary(recorder: Recorder, ctx: StrategyContext, config: Config, market: MarketFeed,
                      exports: dict[str, str], start_ms: int) -> dict[str, Any]:
    """Counts and the metrics of spec §12.6 (the metrics also go to `metrics.json`)."""
    bad_rows = market.bad_rows()
    metrics = compute_metrics(
        initial_equity=config.initial_equity,
        equity=_table(EQUITY_COLUMNS, recorder.equity),
        positions=_table(POSITION_COLUMNS, ctx.ledger.rows()),
        fills=_table(FILL_COLUMNS, recorder.fills),
        features=_table(FEATURE_COLUMNS, recorder.features),
        ambiguous_max=config.ambiguous_trade_frac_max,
        start_ms=start_ms,
    )
    exports["metrics.json"] = json_text(metrics)
    return {
        "bars": len(recorder.bars),
        "orders": len(recorder.order_sequence),
        "fills": len(recorder.fills),
        "final_qty": ctx.position.qty,
        "alerts": len(recorder.alerts),
        "bad_rows_dropped": sum(sum(v.values()) for v in bad_rows.values()),
        "metrics": metrics,
    }


def write_run_dir(result: RunResult, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in result.exports.items():
        (out_dir / name).write_text(text)
    (out_dir / "manifest.json").write_text(json_text(result.manifest))
    return out_dir

"""A basis-trade run: the scenario's minute markets (spot and quarterlies) through the one market
engine and simulated exchange, the basis strategy, and the seeds' CSV logs as the run's exports.

Like `sim.run.run`, a pure function of (scenario, parameter overrides, seed) holding no module
state; the parameters are `strategy_params` (validated by `BasisParams`, dotted overrides on top)
and their hash is the run's config hash.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime
from typing import Any

from adapters.simulated import SimulatedAdapter, SlippageModel
from sim.core.expiry import NS_PER_DAY, expiry_of_symbol
from sim.core.instruments import Instrument
from sim.scenario.basis_market import SyntheticBasis, build_basis_market, to_ns
from sim.core.clock import SimClock
from sim.core.config import load_config
from sim.core.errors import ManifestError
from sim.core.events import Fill, OrderUpdate
from sim.outputs.exports import csv_text, json_text
from sim.core.loop import EventLoop
from sim.market.feed import EngineInstrument, MarketFeed
from sim.execution.orders import OrderEvent
from sim.core.rng import component_seed
from sim.run import RunResult
from sim.scenario.manifest import LoadedScenario
from sim.strategies.basis.entry import EntryProgram
from sim.strategies.basis.params import BasisParams, with_overrides
from sim.strategies.basis.rollover import RollProgram
from sim.strategies.basis.strategy import BasisStrategy, day_of, iso_ts
from sim.strategies.basis.unwind import UnwindProgram
from sim.strategies.api import InstrumentSpec, StrategyContext
from sim.core.timers import TimerQueue
from sim.core.version import code_version
from sim.core.yaml_file import validate

ENTRY_COLUMNS = ("ts", "slot", "fut_symbol", "basis_bps", "opportunity", "weight", "pov", "pov_cap_btc", "child_btc",
                 "aggressive",
                 "spot_px", "fill_spot_btc", "fut_px", "fill_fut_ct")
ROLL_COLUMNS = ("ts", "symbol", "side", "price", "filled_qty", "attempts", "slot", "from_symbol", "to_symbol")
PNL_COLUMNS = ("timestamp", "symbol", "pnl_usd", "source", "contracts", "price", "spot_px", "pnl_btc")
REHEDGE_COLUMNS = ("timestamp", "symbol", "side", "qty", "price", "net_delta_btc", "reason")
DAILY_COLUMNS = ("date", "spot_price", "portfolio_value_usd", "daily_pnl_usd", "cumulative_pnl_usd",
                 "spot_mtm_pnl_usd", "futures_unrealized_pnl_usd", "futures_realized_pnl_usd", "fees_usd")
UNWIND_COLUMNS = ("ts", "slot", "symbol", "side", "price", "filled_qty", "attempts", "basis_bps", "pov", "child_btc",
                  "aggressive")
ORDER_COLUMNS = ("order_id", "decision_ts", "symbol", "side", "type", "price", "qty", "reason", "state")
FILL_COLUMNS = ("order_id", "ts", "symbol", "side", "price", "qty", "fee", "liquidity", "mid_px")
ALERT_COLUMNS = ("ts", "kind", "message")

_UPDATE = {"accepted": OrderEvent.ACCEPT, "rejected": OrderEvent.REJECT, "cancelled": OrderEvent.CANCEL,
           "cancel_rejected": OrderEvent.CANCEL_REJECT}


def _side(s: int) -> str:
    return "BUY" if s > 0 else "SELL"


def _expiries(market: Any) -> dict[str, int]:
    if isinstance(market, SyntheticBasis):
        return {s: to_ns(c.expiry) if c.expiry else expiry_of_symbol(s) for s, c in market.futures.items()}
    return {s: expiry_of_symbol(s) for s in [*market.futures, *market.synthetic_futures]}


def _params(sc: LoadedScenario, overrides: dict[str, Any] | None) -> BasisParams:
    raw = with_overrides(sc.spec.strategy_params, overrides or {})
    return validate(BasisParams, raw, sc.path, prefix="strategy_params")


def _days(sc: LoadedScenario, p: BasisParams) -> tuple[int, int]:
    w = sc.spec.window
    first, last = w.start_ns // NS_PER_DAY, (w.end_ns - 1) // NS_PER_DAY
    entry = day_of(p.entry_date) if p.entry_date else first
    end = day_of(p.end_date) if p.end_date else last
    if w.start_ns % NS_PER_DAY or w.end_ns % NS_PER_DAY:
        raise ManifestError(sc.path, "window", "a basis run covers whole UTC days (start and end at 00:00)")
    if not first <= entry < end <= last:
        raise ManifestError(sc.path, "strategy_params", "need window start <= entry_date < end_date <= the window's last day")
    return entry, end


class _Journal:
    def __init__(self) -> None:
        self.alerts: list[tuple[Any, ...]] = []

    def signal(self, row: tuple[Any, ...], feature_snapshot: tuple[float, ...]) -> None:
        pass

    def alert(self, ts_ns: int, kind: str, message: str) -> None:
        self.alerts.append((iso_ts(ts_ns), kind, message))

    def snapshot(self, ts_ns: int, kind: str, state: dict[str, Any]) -> None:
        pass


def run_basis(sc: LoadedScenario, overrides: dict[str, Any] | None = None, *, seed: int | None = None,
              speed: float | None = None) -> RunResult:
    t0 = time.perf_counter()  # sim-determinism: allowed (wall_s in the manifest only)
    spec = sc.spec
    params = _params(sc, overrides)
    seed = spec.seed if seed is None else seed
    start, end = spec.window.start_ns, spec.window.end_ns
    entry_day, end_day = _days(sc, params)
    market_spec = sc.basis_market()
    if market_spec is None:
        raise ManifestError(sc.path, "basis_market", "the basis strategy needs a basis_market section")
    sources = build_basis_market(market_spec, seed=seed, start_ns=start, end_ns=end, resolve=sc.resolve_data_path)
    ex = params.exchange
    expiries = _expiries(market_spec)
    instruments: dict[str, Instrument] = {}
    engine_instruments = []
    fill_seed = component_seed(seed, "basis/fills") & ((1 << 64) - 1)
    for sym in sources:
        spot = sym == params.spot_symbol
        instruments[sym] = (Instrument(sym, "spot", ex.spot_tick) if spot else
                            Instrument(sym, "inverse_future", ex.futures_tick, ex.contract_value_usd, expiries[sym]))
        engine_instruments.append(EngineInstrument(
            sym, ex.spot_tick if spot else ex.futures_tick,
            taker_fee_bps=ex.spot_taker_bps if spot else ex.futures_taker_bps,
            maker_fee_bps=ex.spot_maker_bps if spot else ex.futures_maker_bps,
            contract_value=0.0 if spot else ex.contract_value_usd,
            bar_spread_bps=ex.spot_spread_bps if spot else ex.futures_spread_bps,
            fill_model=ex.fill_model, fill_prob=ex.fill_prob, fill_seed=fill_seed))
    if list(sources)[0] != params.spot_symbol:
        raise ManifestError(sc.path, "strategy_params.spot_symbol", f"the market's first instrument is {list(sources)[0]}")
    config = load_config(overrides={"feature_input": "bars", "order_flow_source": "bvc", "bin_width_max_ticks": 20000},
                         origin=sc.path)
    market = MarketFeed(list(sources.values()), start_ns=start, end_ns=end, tick_size=ex.spot_tick,
                        taker_fee_bps=ex.spot_taker_bps, maker_fee_bps=ex.spot_maker_bps, on_bad_rows=spec.on_bad_rows,
                        features=config.feature_params(), instruments=engine_instruments,
                        source_instruments=list(range(len(sources))))
    clock = SimClock(start, speed=speed)
    timers = TimerQueue()
    adapter = SimulatedAdapter(market, SlippageModel(0, 0, 0))
    journal = _Journal()
    strategy = BasisStrategy(params, instruments, entry_day, end_day)
    ctx = StrategyContext(clock=clock, adapter=adapter, config=config, seed=seed, strategy_name="basis",
                          add_timer=lambda t: timers.add(t, clock.now_ns()), on_order=lambda o: None,
                          instrument=InstrumentSpec(params.spot_symbol, ex.spot_tick, 1e-5), journal=journal, end_ns=end)
    fills: list[tuple[Any, ...]] = []

    def handle(ev: Any) -> None:
        if isinstance(ev, OrderUpdate):
            ctx.orders[ev.order_id].apply(_UPDATE[ev.status], ev.ts_ns)
        elif isinstance(ev, Fill):
            order = ctx.orders[ev.order_id]
            order.filled_qty += ev.qty
            order.apply(OrderEvent.FILL if order.filled_qty >= order.qty - 1e-12 else OrderEvent.PARTIAL_FILL, ev.ts_ns)
            fills.append((ev.order_id, iso_ts(ev.ts_ns), order.symbol, _side(ev.side), ev.price, ev.qty, ev.fee,
                          ev.liquidity, ev.mid))
        strategy.on_event(ev, ctx)

    strategy.on_start(ctx)
    ctx.drain()
    loop = EventLoop(clock, market, timers, end)
    loop.run(handle, ctx.drain)
    strategy.on_end(ctx)
    exports = _exports(strategy, ctx, fills, journal)
    summary = summarize(strategy, market_spec)
    exports["summary.json"] = json_text(summary)
    manifest = {
        "scenario": sc.id,
        "scenario_hash": sc.content_hash(),
        "config_hash": params.hash(),
        "code_version": code_version(),
        "seed": seed,
        "events": market.engine.events_processed,
        "bad_rows": market.bad_rows(),
        "outputs": {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(exports.items())},
        "wall_s": round(time.perf_counter() - t0, 3),  # sim-determinism: allowed
    }
    return RunResult(sc.id, manifest, exports, summary)


def _exports(s: BasisStrategy, ctx: StrategyContext, fills: list[tuple[Any, ...]], journal: _Journal) -> dict[str, str]:
    entry_rows, roll_rows, unwind_rows = [], [], []
    for prog in s.programs:
        if isinstance(prog, EntryProgram):
            entry_rows += [(iso_ts(r["ts_ns"]), r["slot"], r["fut_symbol"], r["basis_bps"], r["opportunity"], r["weight"],
                            r["pov"], r["pov_cap_btc"], r["child_btc"], r["aggressive"], r["spot_px"], r["fill_spot_btc"], r["fut_px"],
                            r["fill_fut_ct"]) for r in prog.slot_log()]
        elif isinstance(prog, RollProgram):
            roll_rows += [(iso_ts(r["ts_ns"]), r["symbol"], r["side"], r["price"], int(r["filled_qty"]), r["attempts"],
                           r["slot"], prog.from_symbol, prog.to_symbol) for r in prog.leg_rows()]
        elif isinstance(prog, UnwindProgram):
            info = {r["slot"]: r for r in prog.slot_rows}
            for r in prog.leg_rows():
                i = info.get(r["slot"], {})
                unwind_rows.append((iso_ts(r["ts_ns"]), r["slot"], r["symbol"], r["side"], r["price"], r["filled_qty"],
                                    r["attempts"], i.get("basis_bps", math.nan), i.get("pov", math.nan),
                                    i.get("child_btc", math.nan), i.get("aggressive", True)))
    orders = [(o.client_order_id, iso_ts(o.decision_ts_ns), o.symbol, _side(o.side), o.order_type, o.price, o.qty,
               o.reason, o.state.value) for o in ctx.orders.values()]
    return {
        "entry_day_exec_log.csv": csv_text(ENTRY_COLUMNS, entry_rows),
        "rollover_exec_log.csv": csv_text(ROLL_COLUMNS, roll_rows),
        "pnl_tracker.csv": csv_text(PNL_COLUMNS, s.pnl_rows),
        "rehedge_log.csv": csv_text(REHEDGE_COLUMNS, s.rehedge_rows),
        "daily_pnl_tracker.csv": csv_text(DAILY_COLUMNS, s.daily_rows),
        "unwind_exec_log.csv": csv_text(UNWIND_COLUMNS, unwind_rows),
        "orders.csv": csv_text(ORDER_COLUMNS, orders),
        "fills.csv": csv_text(FILL_COLUMNS, fills),
        "alerts.csv": csv_text(ALERT_COLUMNS, journal.alerts),
    }


def _cents(x: float) -> float:
    return round(x, 2)


def summarize(s: BasisStrategy, market_spec: Any) -> dict[str, Any]:
    """The summary table: total, spot and futures PnL, fees, the basis harvested, rolls, re-hedges."""
    last = s.daily_rows[-1] if s.daily_rows else None
    spot_px = s.view.mid(s.p.spot_symbol)
    total = (last[2] - s.p.capital_usd) if last else 0.0
    spot_pnl = s.book.spot.pnl(spot_px) if math.isfinite(spot_px) else 0.0
    fut = s.book.futures_realized()
    fees = s.book.fees_usd()
    synthetic = sorted(getattr(market_spec, "synthetic_futures", {}) or {})
    return {
        "capital_usd": s.p.capital_usd,
        "final_value_usd": _cents(last[2]) if last else s.p.capital_usd,
        "total_pnl_usd": _cents(total),
        "spot_pnl_usd": _cents(spot_pnl),
        "futures_realized_pnl_usd": _cents(fut),
        "fees_usd": _cents(fees),
        "basis_harvested_usd": _cents(s.book.harvested),
        "hedge_residual_usd": _cents(total + fees - s.book.harvested),
        "return_pct": round(100 * total / s.p.capital_usd, 4),
        "days": len(s.daily_rows),
        "rolls": [{"day": r["day"], "from": r["from"], "to": r["to"]} for r in s.rolls],
        "rehedges": len(s.rehedge_rows),
        "flat_at_end": s.book.spot.qty <= 1e-9 and not s.book.open_futures(),
        "synthetic_contracts": synthetic,
        "delta_model": s.p.rehedge.delta_model,
        "fill_model": s.p.exchange.fill_model,
        "entry_day": datetime.fromtimestamp(s.entry_day * 86_400, tz=UTC).strftime("%Y-%m-%d"),
        "end_day": datetime.fromtimestamp(s.end_day * 86_400, tz=UTC).strftime("%Y-%m-%d"),
    }



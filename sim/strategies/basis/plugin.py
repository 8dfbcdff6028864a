"""The basis strategy's plugin: its parameters (`strategy_params`, the seeds' values as defaults),
the instruments of its minute markets (spot and COIN-M quarterlies, each with its fees, spread
model and limit-fill model), the seeds' CSV logs as its exports, its summary table, its report
page and the `sim basis-backtest` alias.

The run itself is the one run path (`sim.run.run`); this module only describes the strategy to it.
The configuration a basis run's market engine works under is fixed (bars mode, the BVC order-flow
proxy, a bin width cap wide enough for a year of prices): the basis strategy reads no feature, its
parameters are all in `strategy_params`, and their hash is the run's config hash.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar, Mapping

from sim.core.config import Config
from sim.core.errors import ManifestError
from sim.core.events import Fill
from sim.core.expiry import NS_PER_DAY
from sim.core.instruments import EngineInstrument, Instrument
from sim.core.rng import component_seed
from sim.strategies.api import StrategyContext
from sim.strategies.basis.entry import EntryProgram
from sim.strategies.basis.invariants import BasisInvariants
from sim.strategies.basis.params import BasisParams
from sim.strategies.basis.rollover import RollProgram
from sim.strategies.basis.strategy import BasisStrategy, day_of, iso_ts
from sim.strategies.basis.unwind import UnwindProgram
from sim.strategies.plugin import CliAlias, MarketSetup, RunInfo, StrategyPlugin, StrictParams, Table

ENTRY_COLUMNS = ("ts", "slot", "fut_symbol", "basis_bps", "opportunity", "weight", "pov", "pov_cap_btc", "child_btc",
                 "aggressive",
                 "spot_px", "fill_spot_btc", "fut_px", "fill_fut_ct")
ROLL_COLUMNS = ("ts", "symbol", "side", "price", "filled_qty", "attempts", "slot", "from_symbol", "to_symbol")
PNL_COLUMNS = ("timestamp", "symbol", "pnl_usd", "source", "contracts", "price", "spot_px", "pnl_btc")
REHEDGE_COLUMNS = ("timestamp", "symbol", "side", "qty", "price", "net_delta_btc", "reason")
DAILY_COLUMNS = ("date", "spot_price", "portfolio_value_usd", "daily_pnl_usd", "cumulative_pnl_usd",
                 "spot_mtm_pnl_usd", "futures_unrealized_pnl_usd", "futures_realized_pnl_usd", "fees_usd",
                 # beyond the seed's columns: the borrowing, the leverage and the hedge error at the mark
                 "cash_usd", "financing_cost_usd", "gross_leverage", "net_delta_btc", "net_delta_pct_of_spot")
UNWIND_COLUMNS = ("ts", "slot", "symbol", "side", "price", "filled_qty", "attempts", "basis_bps", "pov", "child_btc",
                  "aggressive")
ORDER_COLUMNS = ("order_id", "decision_ts", "symbol", "side", "type", "price", "qty", "reason", "state")
FILL_COLUMNS = ("order_id", "ts", "symbol", "side", "price", "qty", "fee", "liquidity", "mid_px")
ALERT_COLUMNS = ("ts", "kind", "message")

ENGINE_CONFIG = {"feature_input": "bars", "order_flow_source": "bvc", "bin_width_max_ticks": 20000}


def _side(s: int) -> str:
    return "BUY" if s > 0 else "SELL"


def _days(info: RunInfo, p: BasisParams) -> tuple[int, int]:
    first, last = info.start_ns // NS_PER_DAY, (info.end_ns - 1) // NS_PER_DAY
    entry = day_of(p.entry_date) if p.entry_date else first
    end = day_of(p.end_date) if p.end_date else last
    if info.start_ns % NS_PER_DAY or info.end_ns % NS_PER_DAY:
        raise ManifestError(info.origin, "window", "a basis run covers whole UTC days (start and end at 00:00)")
    if not first <= entry < end <= last:
        raise ManifestError(info.origin, "strategy_params",
                            "need window start <= entry_date < end_date <= the window's last day")
    return entry, end


class BasisPlugin(StrategyPlugin):
    name: ClassVar[str] = "basis"
    params_model = BasisParams
    pipeline_exports: ClassVar[bool] = False
    wants_funding: ClassVar[bool] = False
    single_instrument: ClassVar[bool] = False
    run_dir_marker: ClassVar[str | None] = "daily_pnl_tracker.csv"

    def split_overrides(self, overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, dict(overrides)  # every key of a basis run is a strategy parameter

    def config_layers(self, scenario_config: Mapping[str, Any], origin: Path) -> dict[str, Any]:
        if scenario_config:
            raise ManifestError(origin, "config", "the basis strategy takes its parameters in strategy_params")
        return dict(ENGINE_CONFIG)

    def config_hash(self, config: Config, params: StrictParams) -> str:
        return params.hash()

    def _instruments(self, info: RunInfo, p: BasisParams) -> dict[str, Instrument]:
        ex = p.exchange
        if info.symbols[0] != p.spot_symbol:
            raise ManifestError(info.origin, "strategy_params.spot_symbol",
                                f"the market's first instrument is {info.symbols[0]}")
        return {sym: Instrument(sym, "spot", ex.spot_tick) if sym == p.spot_symbol else
                Instrument(sym, "inverse_future", ex.futures_tick, ex.contract_value_usd, info.expiries[sym])
                for sym in info.symbols}

    def market(self, info: RunInfo, config: Config, params: StrictParams) -> MarketSetup:
        assert isinstance(params, BasisParams)
        if not info.expiries and len(info.symbols) == 1:
            raise ManifestError(info.origin, "basis_market", "the basis strategy needs a basis_market section")
        ex = params.exchange
        fill_seed = component_seed(info.seed, "basis/fills") & ((1 << 64) - 1)
        engine = []
        for sym, inst in self._instruments(info, params).items():
            spot = inst.kind == "spot"
            engine.append(EngineInstrument(
                sym, ex.spot_tick if spot else ex.futures_tick,
                taker_fee_bps=ex.spot_taker_bps if spot else ex.futures_taker_bps,
                maker_fee_bps=ex.spot_maker_bps if spot else ex.futures_maker_bps,
                contract_value=0.0 if spot else ex.contract_value_usd,
                bar_spread_bps=ex.spot_spread_bps if spot else ex.futures_spread_bps,
                fill_model=ex.fill_model, fill_prob=ex.fill_prob, fill_seed=fill_seed))
        return MarketSetup(ex.spot_tick, ex.spot_taker_bps, ex.spot_maker_bps, tuple(engine), (0, 0, 0))

    def build(self, info: RunInfo, config: Config, params: StrictParams) -> BasisStrategy:
        assert isinstance(params, BasisParams)
        entry_day, end_day = _days(info, params)
        return BasisStrategy(params, self._instruments(info, params), entry_day, end_day)

    def exports(self, strategy: Any, ctx: StrategyContext, fills: list[Any],
                alerts: list[tuple[Any, ...]]) -> dict[str, Table]:
        return _exports(strategy, ctx, fills, alerts)

    def summary(self, strategy: Any, ctx: StrategyContext, info: RunInfo) -> dict[str, Any]:
        return summarize(strategy, info.synthetic_contracts)

    def equity_curve(self, strategy: Any) -> tuple[list[int], list[float]]:
        """The capital at the entry day's start, then each daily mark at the end of its day (the
        `portfolio_value_usd` of daily_pnl_tracker.csv)."""
        ms_per_day = NS_PER_DAY // 1_000_000
        ts = [strategy.entry_day * ms_per_day]
        ts += [(day_of(date.fromisoformat(r[0])) + 1) * ms_per_day for r in strategy.daily_rows]
        values = [strategy.p.capital_usd] + [r[DAILY_COLUMNS.index("portfolio_value_usd")] for r in strategy.daily_rows]
        return ts, values

    def report_page(self, run_dir: Path) -> str | None:
        from sim.strategies.basis.report import report_page

        return report_page(run_dir)

    def aliases(self) -> list[CliAlias]:
        from sim.strategies.basis.backtest_alias import BasisBacktestAlias

        return [BasisBacktestAlias()]

    # -- scenario fuzzing (`sim fuzz`) ----------------------------------------------------------
    def invariants(self) -> BasisInvariants:
        return BasisInvariants()

    def fuzz_space(self) -> dict[str, Any]:
        return FUZZ_SPACE


#: A few synthetic days ending at or just before a quarterly's delivery (so most runs roll), with
#: the exchange's fill model, the re-hedge and the pacing drawn within their parameters' ranges.
FUZZ_SPACE: dict[str, Any] = {
    "market": {"kind": "basis_market", "days": [4, 6]},
    "overrides": {
        "capital_usd": {"one_of": [1_000_000.0, 100_000.0]},
        "exchange.fill_model": {"one_of": ["probabilistic", "touch"]},
        "exchange.fill_prob": [0.2, 1.0],
        "rehedge.threshold_pct": [0.01, 0.1],
        "rehedge.delta_model": {"one_of": ["usd_neutral", "seed"]},
        "roll.window_days": {"one_of": [2, 1, 3]},
        "entry.contract_choice": {"one_of": ["annualized", "raw"]},
        "execution.max_attempts": [1, 4],
        "execution.retry_after_minutes": [1, 3],
        "_pacing": {"one_of": [{}, {"entry.slots": 48, "entry.slot_minutes": 30},
                               {"roll.slots": 24, "roll.slot_minutes": 60, "unwind.slots": 144, "unwind.slot_minutes": 10}]},
    },
}


def _exports(s: BasisStrategy, ctx: StrategyContext, fills: list[tuple[Fill, str | None]],
             alerts: list[tuple[Any, ...]]) -> dict[str, Table]:
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
    fill_rows = [(ev.order_id, iso_ts(ev.ts_ns), symbol, _side(ev.side), ev.price, ev.qty, ev.fee, ev.liquidity, ev.mid)
                 for ev, symbol in fills]
    return {
        "entry_day_exec_log.csv": Table(ENTRY_COLUMNS, entry_rows),
        "rollover_exec_log.csv": Table(ROLL_COLUMNS, roll_rows),
        "pnl_tracker.csv": Table(PNL_COLUMNS, s.pnl_rows),
        "rehedge_log.csv": Table(REHEDGE_COLUMNS, s.rehedge_rows),
        "daily_pnl_tracker.csv": Table(DAILY_COLUMNS, s.daily_rows),
        "unwind_exec_log.csv": Table(UNWIND_COLUMNS, unwind_rows),
        "orders.csv": Table(ORDER_COLUMNS, orders),
        "fills.csv": Table(FILL_COLUMNS, fill_rows),
        "alerts.csv": Table(ALERT_COLUMNS, [(iso_ts(ts), kind, msg) for ts, kind, msg in alerts]),
    }


def _cents(x: float) -> float:
    return round(x, 2)


def summarize(s: BasisStrategy, synthetic_contracts: tuple[str, ...]) -> dict[str, Any]:
    """The summary table: total, spot and futures PnL, fees, financing, the basis harvested, the
    borrowing and the leverage, rolls (with their sizes), re-hedges.

    `min_cash_usd`/`min_cash_date`: the lowest cash balance after any fill or financing charge.
    `peak_gross_leverage`/`_date`: the highest, over the daily marks, of (spot BTC × spot +
    Σ |contracts| × CV) / portfolio value — 2× is a fully funded hedged book, above it is borrowed.
    `financing_cost_usd`: interest on negative cash at `financing_rate_annual` (act/365, daily at
    the mark), already in the total PnL; the hedge residual leaves it out with the fees."""
    last = s.daily_rows[-1] if s.daily_rows else None
    spot_px = s.view.mid(s.p.spot_symbol)
    total = (last[2] - s.p.capital_usd) if last else 0.0
    spot_pnl = s.book.spot.pnl(spot_px) if math.isfinite(spot_px) else 0.0
    fut = s.book.futures_realized()
    fees = s.book.fees_usd()
    financing = s.book.financing
    levered = [(r[11], r[0]) for r in s.daily_rows if math.isfinite(r[11])]
    peak = max(levered, key=lambda x: x[0]) if levered else (math.nan, None)  # the first day on ties
    return {
        "capital_usd": s.p.capital_usd,
        "final_value_usd": _cents(last[2]) if last else s.p.capital_usd,
        "total_pnl_usd": _cents(total),
        "spot_pnl_usd": _cents(spot_pnl),
        "futures_realized_pnl_usd": _cents(fut),
        "fees_usd": _cents(fees),
        "financing_rate_annual": s.p.financing_rate_annual,
        "financing_cost_usd": _cents(financing),
        "min_cash_usd": _cents(s.min_cash[0]),
        "min_cash_date": _day(s.min_cash[1]),
        "peak_gross_leverage": round(peak[0], 4),
        "peak_gross_leverage_date": peak[1],
        "basis_harvested_usd": _cents(s.book.harvested),
        "hedge_residual_usd": _cents(total + fees + financing - s.book.harvested),
        "return_pct": round(100 * total / s.p.capital_usd, 4),
        "days": len(s.daily_rows),
        "rolls": [_roll(r) for r in s.rolls],
        "roll_sizing": s.p.roll.sizing,
        "rehedges": len(s.rehedge_rows),
        "flat_at_end": s.book.spot.qty <= 1e-9 and not s.book.open_futures(),
        "synthetic_contracts": list(synthetic_contracts),
        "delta_model": s.p.rehedge.delta_model,
        "fill_model": s.p.exchange.fill_model,
        "entry_day": _day(s.entry_day),
        "end_day": _day(s.end_day),
    }


def _day(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def _roll(r: dict[str, Any]) -> dict[str, Any]:
    """A roll and its sizes: contracts bought back and sold, the BTC the new short was to hedge and
    the BTC its fills hedge (contracts × CV / fill price)."""
    prog: RollProgram = r["program"]
    legs = prog.legs()
    return {"day": r["day"], "from": r["from"], "to": r["to"],
            "bought_contracts": int(legs[0].filled) if legs else 0,
            "sold_contracts": int(legs[1].filled) if len(legs) > 1 else 0,
            "hedge_target_btc": round(prog.hedge_btc, 6), "hedge_sold_btc": round(prog.sold_btc, 6)}

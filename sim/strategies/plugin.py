"""The protocol a strategy plugs into the one run path with (`sim.run.run`).

A plugin declares everything the run needs to know about its strategy and nothing else does:
its frozen parameter model, the configuration it runs under, the instruments it trades and how
the simulated exchange matches them, the events it wants, the strategy object itself, the exports
it adds to the run's, its summary, its report page and any CLI alias. The run, the outputs, the
batches and the CLI go through this protocol only, so no code outside a strategy's own package
names a strategy (the registry, `sim.strategies.registry`, is the one place that lists them).

A plugin sees only the core (events, instruments, errors) and plain data the run hands it
(`RunInfo`); it returns plain data (`MarketSetup`, `Table`, dicts). It never imports the run, a
loader, the outputs or a concrete adapter.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from sim.core.config import Config
from sim.core.errors import UserInputError
from sim.core.instruments import EngineInstrument
from sim.core.yaml_file import validate
from sim.strategies.api import Strategy, StrategyContext


class StrictParams(BaseModel):
    """A strategy's parameters: frozen; an unknown key, a value of the wrong type (validated
    strictly, see `StrategyPlugin.params`) or a NaN/infinite number is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def hash(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class NoParams(StrictParams):
    """The parameters of a strategy configured by the config file alone (any key is unknown)."""


@dataclass(frozen=True)
class Table:
    """A canonical export: fixed column order, rows in the order they are to be written."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class RunInfo:
    """What the run knows about the scenario when it asks the plugin to set up: plain data only."""

    origin: Path  # the scenario file, for error messages
    scenario_id: str
    start_ns: int
    end_ns: int
    seed: int
    symbol: str  # the scenario's main instrument
    tick_size: float
    qty_step: float
    symbols: tuple[str, ...]  # every instrument the scenario's market holds, main one first
    expiries: Mapping[str, int] = field(default_factory=dict)  # delivery times of dated contracts
    market_kind: str | None = None
    synthetic_contracts: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarketSetup:
    """How the simulated exchange is to match the strategy's instruments."""

    tick_size: float  # the main instrument's
    taker_fee_bps: float
    maker_fee_bps: float
    #: one per instrument of a multi-instrument market, in the market's order; empty: the main one only
    instruments: tuple[EngineInstrument, ...] = ()
    #: (entry, exit, other) slippage ticks of market orders
    slippage_ticks: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True)
class AliasRun:
    """What a CLI alias asks for: a scenario run with these overrides, written where it says."""

    scenario: Any  # a LoadedScenario (window possibly cut) or a scenario reference
    overrides: dict[str, Any]
    seed: int | None
    out: Path
    report: bool
    manifest_extra: dict[str, Any] = field(default_factory=dict)


class CliAlias(Protocol):
    """A command a strategy adds to `sim` that builds a scenario run (e.g. `sim basis-backtest`)."""

    name: str
    help: str

    def add_arguments(self, p: argparse.ArgumentParser) -> None: ...

    def build(self, args: argparse.Namespace) -> AliasRun: ...

    def summary_text(self, result: Any, run: AliasRun) -> str: ...


@dataclass(frozen=True)
class Violation:
    """An invariant that did not hold: which one, when (loop time, ns) and what was seen."""

    invariant: str
    ts_ns: int
    message: str


class InvariantChecker(Protocol):
    """A strategy's invariants, checked by `sim fuzz` after every event of a run (`event` is None
    once at the end). One checker per run: it may keep state between events."""

    #: the invariants it checks (each event counts as one check of each)
    names: tuple[str, ...]

    def check(self, event: Any, ctx: StrategyContext, strategy: Strategy) -> list[Violation]: ...


class StrategyPlugin:
    """The base every strategy's plugin derives from; the defaults suit a single-instrument strategy
    configured by the config file (`config/default.yaml` with the scenario's `config:` on top)."""

    name: ClassVar[str]
    params_model: ClassVar[type[StrictParams]] = NoParams
    #: the run records bars, features, equity, positions and signals of the main instrument and
    #: writes the pipeline's canonical exports and stores; False: the strategy writes its own
    pipeline_exports: ClassVar[bool] = True
    #: funding settlements of the main instrument reach the strategy's position
    wants_funding: ClassVar[bool] = True
    #: the strategy runs on one instrument (the live modes and `sim record` need that)
    single_instrument: ClassVar[bool] = True
    #: files whose presence marks a run directory as this strategy's (for `sim report RUN_DIR`)
    run_dir_marker: ClassVar[str | None] = None

    # -- parameters and configuration ----------------------------------------------------------
    def split_overrides(self, overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(config overrides, parameter overrides): a key whose first part names a parameter goes to
        the parameters, every other key to the config (both are checked strictly)."""
        fields = self.params_model.model_fields
        config, params = {}, {}
        for key, value in overrides.items():
            (params if key.split(".", 1)[0] in fields else config)[key] = value
        return config, params

    def params(self, raw: Mapping[str, Any], overrides: Mapping[str, Any], origin: Path) -> StrictParams:
        """The strategy's parameters from the scenario's `strategy_params` with dotted overrides,
        validated strictly: an unknown key or a value of the wrong type (no coercion) is a one-line
        error naming `strategy_params.<key>`."""
        try:
            merged = with_overrides(dict(raw), overrides)
        except ValueError as e:
            raise UserInputError(f"{origin}: strategy_params.{e}") from None
        return validate(self.params_model, merged, origin, prefix="strategy_params", strict=True)

    def config_layers(self, scenario_config: Mapping[str, Any], origin: Path) -> dict[str, Any]:
        """The config keys the strategy runs under, before the run's overrides."""
        return dict(scenario_config)

    def config_hash(self, config: Config, params: StrictParams) -> str:
        """The run's configuration identity, recorded in its manifest."""
        return config.hash()

    # -- the market and the strategy -----------------------------------------------------------
    def market(self, info: RunInfo, config: Config, params: StrictParams) -> MarketSetup:
        return MarketSetup(info.tick_size, config.taker_fee_bps, config.maker_fee_bps,
                           slippage_ticks=(config.slippage_ticks_entry, config.slippage_ticks_exit,
                                           config.slippage_ticks_exit))

    def build(self, info: RunInfo, config: Config, params: StrictParams) -> Strategy:
        raise NotImplementedError

    # -- what the run writes -------------------------------------------------------------------
    def exports(self, strategy: Strategy, ctx: StrategyContext, fills: list[Any],
                alerts: list[tuple[Any, ...]]) -> dict[str, Table]:
        """Exports the strategy adds (its own logs); with `pipeline_exports` false, all of them.
        `fills` are the run's (Fill event, symbol) pairs in order, `alerts` its (ts_ns, kind, message)."""
        return {}

    def summary(self, strategy: Strategy, ctx: StrategyContext, info: RunInfo) -> dict[str, Any] | None:
        """The strategy's summary; None: the run's standard summary (counts and metrics)."""
        return None

    def equity_curve(self, strategy: Strategy) -> tuple[list[int], list[float]] | None:
        """The strategy's own equity curve when the run records none (`pipeline_exports` false):
        (timestamps in ms of each daily mark, portfolio values), the initial capital first at the time
        it stands. The run computes the return-based metrics of it; None: no curve."""
        return None

    def report_page(self, run_dir: Path) -> str | None:
        """The strategy's self-contained HTML report page of a run directory, or None for the
        standard report."""
        return None

    def aliases(self) -> list[CliAlias]:
        return []

    # -- scenario fuzzing (`sim fuzz`) ----------------------------------------------------------
    def invariants(self) -> InvariantChecker | None:
        """A fresh checker of the strategy's own invariants for one run, or None."""
        return None

    def fuzz_space(self) -> dict[str, Any]:
        """What `sim fuzz` may draw for this strategy (the grammar is in `sim.batch.fuzz_scenarios`):
        the market kind and its sizes, and ranges of config keys and parameters. Empty: not fuzzed."""
        return {}


def with_overrides(params: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Applies dotted overrides (`rehedge.delta_model=seed`) to a raw parameter mapping."""
    out = json.loads(json.dumps(params, default=str))
    for key, value in overrides.items():
        node = out
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key}: {part} is not a section")
        node[last] = value
    return out

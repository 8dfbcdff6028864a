"""Turns a scenario's data section into batch sources: recorded files through the readers, the
seeded synthetic generator, or minute markets of spot and dated futures."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.data.source import BatchSource
from sim.scenario.manifest import LoadedScenario


def build_sources(sc: LoadedScenario) -> list[BatchSource]:
    spec = sc.spec
    if spec.synthetic is not None:
        from sim.scenario.segments import parse_segments
        from sim.scenario.synthetic import TickGenerator

        syn = spec.synthetic
        gen = TickGenerator(
            start_ns=spec.window.start_ns,
            segments=parse_segments(syn.segments, origin=sc.path),
            seed=spec.seed,
            tick_size=spec.instrument.tick_size,
            start_price=syn.start_price,
            name=sc.id,
            **syn.params,
        )
        return [gen.trades(), gen.quotes()]
    from sim.data.readers import open_source

    return [open_source(sc.resolve(f, i), f.format, f.kind, **f.options) for i, f in enumerate(spec.data)]


@dataclass(frozen=True)
class ScenarioMarket:
    """Everything the scenario's data section gives a run: its batch sources, the instrument each
    source is for (an index into `symbols`, main instrument first), and what is known about the
    instruments (delivery times of dated contracts, which contracts are synthetic)."""

    sources: list[BatchSource]
    source_instruments: list[int]
    symbols: tuple[str, ...]
    expiries: dict[str, int] = field(default_factory=dict)
    kind: str | None = None
    synthetic_contracts: tuple[str, ...] = ()

    @property
    def multi_instrument(self) -> bool:
        return len(self.symbols) > 1


def build_market(sc: LoadedScenario, seed: int) -> ScenarioMarket:
    """The scenario's market: its `data` or `synthetic` section for its one instrument, or its
    `basis_market` of minute markets (spot and quarterlies) drawn with `seed`."""
    spec = sc.spec
    basis = sc.basis_market()
    if basis is None:
        sources = build_sources(sc)
        return ScenarioMarket(sources, [0] * len(sources), (spec.instrument.symbol,))
    from sim.scenario.futures_market import build_futures_market, expiries, synthetic_contracts

    by_symbol = build_futures_market(basis, seed=seed, start_ns=spec.window.start_ns, end_ns=spec.window.end_ns,
                                   resolve=sc.resolve_data_path)
    symbols = tuple(by_symbol)
    return ScenarioMarket(list(by_symbol.values()), list(range(len(symbols))), symbols, expiries(basis),
                          getattr(basis, "kind", None), synthetic_contracts(basis))

"""Turns a scenario's data section into batch sources: recorded files through the readers,
or the seeded synthetic generator."""

from __future__ import annotations

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

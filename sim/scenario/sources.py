"""Turns a scenario's data section into batch sources: recorded files through the readers, the
seeded synthetic generator, or minute markets of spot and dated futures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sim.core.errors import ManifestError, UserInputError, validation_key_and_message
from sim.data.source import BatchSource
from sim.scenario.manifest import MAX_SCRIPT_OVERRUN_S, NS_PER_S, LoadedScenario


def _synthetic_params(sc: LoadedScenario, params: dict[str, Any]) -> dict[str, Any]:
    """The generator's keyword arguments from `synthetic.params`: the calibration's numbers
    (`sim.scenario.calibration.OVERRIDABLE`), `chunk_minutes`, and `calibration`, a JSON file
    resolved like a data file under the manifest's folder."""
    from sim.scenario.calibration import OVERRIDABLE

    known = (*OVERRIDABLE, "calibration", "chunk_minutes")
    out = dict(params)
    for key in params:
        if key not in known:
            raise ManifestError(sc.path, f"synthetic.params.{key}", f"unknown key (known: {', '.join(known)})")
    chunk = out.get("chunk_minutes", 60)
    if not isinstance(chunk, int) or isinstance(chunk, bool) or not 1 <= chunk <= 1440:
        raise ManifestError(sc.path, "synthetic.params.chunk_minutes", "must be an integer from 1 to 1440")
    if "calibration" in out:
        if not isinstance(out["calibration"], str):
            raise ManifestError(sc.path, "synthetic.params.calibration", "must be a file path")
        out["calibration"] = sc._resolve_path(out["calibration"], "scenario", "synthetic.params.calibration")
    return out


def _generator(sc: LoadedScenario) -> Any:
    from sim.scenario.segments import parse_segments
    from sim.scenario.synthetic import TickGenerator

    spec = sc.spec
    syn = spec.synthetic
    assert syn is not None
    segments = parse_segments(syn.segments, origin=sc.path)
    window_s = (spec.window.end_ns - spec.window.start_ns) // NS_PER_S
    script_s = sum(s.duration_s for s in segments)
    if script_s > window_s + MAX_SCRIPT_OVERRUN_S:
        raise ManifestError(sc.path, "synthetic.segments", f"the script lasts {script_s} s, more than a day past "
                                                           f"the window's {window_s} s")
    params = _synthetic_params(sc, syn.params)
    try:
        return TickGenerator(start_ns=spec.window.start_ns, segments=segments, seed=spec.seed,
                             tick_size=spec.instrument.tick_size, start_price=syn.start_price, name=sc.id, **params)
    except ValidationError as e:  # a calibration number out of its range, or a bad calibration file
        key, msg = validation_key_and_message(e.errors(), prefix="synthetic.params")  # type: ignore[arg-type]
        raise ManifestError(sc.path, key, msg) from None
    except UserInputError:
        raise
    except (ValueError, TypeError) as e:  # what a segment or the tick model refuses to draw
        raise ManifestError(sc.path, "synthetic", str(e)) from None


def build_sources(sc: LoadedScenario) -> list[BatchSource]:
    spec = sc.spec
    if spec.synthetic is not None:
        gen = _generator(sc)
        return [gen.trades(), gen.quotes()]
    from sim.core.errors import DataFileError
    from sim.data.readers import open_source

    sources = []
    for i, f in enumerate(spec.data):
        path = sc.resolve(f, i)
        try:
            sources.append(open_source(path, f.format, f.kind, **f.options))
        except DataFileError:
            raise  # the file itself: named with its row
        except UserInputError as e:  # the entry's format, kind or options: name the manifest's key too
            raise ManifestError(sc.path, f"data[{i}]", str(e)) from None
    return sources


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

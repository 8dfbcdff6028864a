"""Scenario manifests: strict YAML validated by pydantic.

A scenario names its strategy, config overrides, instrument, time window, seed, data (recorded
files relative to the data root, or a seeded synthetic generator), adapter, optionally its
funding (a fixed rate, or a file of recorded rates), and — by rule — the golden folder it is
checked against: `scenarios/<group>/<name>.yaml` ↔ `golden/<group>/<name>/`.
Any unknown key, missing file or bad value is a one-line error naming the key and the file.

Bounded: the window lies in the plausible range of recorded times (`sim.data.timestamps`) and is
at most MAX_WINDOW_DAYS long, and a synthetic script ends at most a day past the window, since a
run keeps a row per minute and a generator a value per second of them. Contained: every path the
manifest names resolves, symlinks followed, inside its root (the data root, or the manifest's
folder for `root: scenario`).
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.core.errors import ManifestError
from sim.data.funding import file_schedule, fixed_schedule
from sim.data.timestamps import EARLIEST_NS, LATEST_NS, PLAUSIBLE_RANGE
from sim.core.yaml_file import read_mapping, validate

from sim.scenario.roots import GOLDEN_DIR, REPO, SCENARIOS_DIR, ScenarioUnavailable, data_root

__all__ = ["GOLDEN_DIR", "REPO", "SCENARIOS_DIR", "ScenarioUnavailable", "data_root", "LoadedScenario", "Scenario",
           "load_scenario", "all_scenarios", "scenario_id_for"]


#: the longest window a scenario may have: a run keeps bars, features, signals and equity per minute
#: in memory (about 2 kB a minute), so two years is about 1 M minutes and 2 GB
MAX_WINDOW_DAYS = 731
NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
#: how far past the window's end a synthetic script may run (what runs past it is generated, then
#: skipped as outside the window)
MAX_SCRIPT_OVERRUN_S = 86_400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Instrument(_Strict):
    symbol: str = "BTCUSDT"
    tick_size: float = Field(0.1, gt=0)
    qty_step: float = Field(0.001, gt=0)


class Window(_Strict):
    start: datetime
    end: datetime

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        for name in ("start", "end"):
            ns = getattr(self, f"{name}_ns")
            if not EARLIEST_NS <= ns <= LATEST_NS:
                raise ValueError(f"{name} {getattr(self, name).isoformat()} is outside the plausible range {PLAUSIBLE_RANGE}")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end_ns - self.start_ns > MAX_WINDOW_DAYS * NS_PER_DAY:
            raise ValueError(f"longer than {MAX_WINDOW_DAYS} days; run a longer span as several scenarios")
        return self

    @property
    def start_ns(self) -> int:
        return _ns(self.start)

    @property
    def end_ns(self) -> int:
        return _ns(self.end)


def _ns(t: datetime) -> int:
    # whole seconds from the aware datetime's difference, never a float timestamp
    delta = t - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


class DataFile(_Strict):
    kind: Literal["trades", "quotes", "klines"]
    format: str
    path: str
    #: "data": relative to the data root; "scenario": relative to the manifest's folder.
    root: Literal["data", "scenario"] = "data"
    options: dict[str, Any] = Field(default_factory=dict)


class FundingSpec(_Strict):
    """`funding:` — `{rate_8h_bps: x}` (a fixed rate; overrides the config's
    `funding_rate_8h_bps`) or `{file: path}` (recorded rates, resolved like a data file)."""

    rate_8h_bps: float | None = Field(None, allow_inf_nan=False)
    file: str | None = None
    #: As for a data file: "data" (the data root) or "scenario" (the manifest's folder).
    root: Literal["data", "scenario"] = "data"

    @model_validator(mode="after")
    def _one_kind(self) -> FundingSpec:
        if (self.rate_8h_bps is None) == (self.file is None):
            raise ValueError("give exactly one of 'rate_8h_bps' (a fixed rate) or 'file' (recorded rates)")
        if self.file is None and "root" in self.model_fields_set:
            raise ValueError("'root' applies to 'file' only")
        return self


class Synthetic(_Strict):
    generator: Literal["ticks"] = "ticks"
    start_price: float = Field(30000.0, gt=0)
    segments: list[dict[str, Any]] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class Adapter(_Strict):
    type: Literal["simulated"] = "simulated"


class Scenario(_Strict):
    name: str
    description: str
    strategy: str
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    covers: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    instrument: Instrument = Field(default_factory=Instrument)
    window: Window
    seed: int
    data: list[DataFile] = Field(default_factory=list)
    synthetic: Synthetic | None = None
    adapter: Adapter = Field(default_factory=Adapter)
    on_bad_rows: Literal["fail", "drop"] = "fail"
    funding: FundingSpec | None = None
    #: how `sim emulator` serves this scenario (replay speed, scripted faults); checked there
    emulator: dict[str, Any] | None = None
    #: minute markets of spot and dated futures (`sim.scenario.futures_market`), validated on load
    basis_market: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_source_of_data(self) -> Scenario:
        given = [bool(self.data), self.synthetic is not None, self.basis_market is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of 'data' (recorded files), 'synthetic' or 'basis_market'")
        if self.synthetic is not None and self.window.start_ns % (60 * NS_PER_S):
            raise ValueError("window: a synthetic scenario starts on a whole minute")
        return self

    @field_validator("seed")
    @classmethod
    def _seed_range(cls, v: int) -> int:
        if not 0 <= v < 2**63:
            raise ValueError("must be an integer from 0 to 2**63 - 1")
        return v


class LoadedScenario:
    """A validated scenario with where it came from and what it is called."""

    def __init__(self, spec: Scenario, path: Path, scenario_id: str, text: str) -> None:
        self.spec = spec
        self.path = path
        self.id = scenario_id
        self.text = text

    @property
    def golden_dir(self) -> Path:
        return GOLDEN_DIR / self.id

    def _resolve_path(self, path: str, root: str, key: str) -> Path:
        """`path` under its root (the manifest's folder, or the data root), which it may not leave:
        no absolute path, no `..` out of it, no symlink pointing out of it."""
        if "\x00" in path or not path.strip():
            raise ManifestError(self.path, key, f"not a file path: {path!r}")
        if Path(path).is_absolute():
            raise ManifestError(self.path, key, f"{path} is absolute; give it relative to the "
                                                f"{'manifest' if root == 'scenario' else 'data root'}")
        if root == "scenario":
            base, name = self.path.parent, "the manifest's folder"
        else:
            data = data_root()
            if data is None or not data.is_dir():
                raise ScenarioUnavailable(
                    f"{self.id}: data root not found (set SIM_DATA_DIR; {path} is read from it)"
                )
            base, name = data, "the data root"
        base = base.resolve()
        try:
            p = (base / path).resolve()
        except (OSError, RuntimeError) as e:  # a symlink loop
            raise ManifestError(self.path, key, f"{path}: {e}") from None
        if not p.is_relative_to(base):
            raise ManifestError(self.path, key, f"{path} resolves to {p}, outside {name} ({base})")
        if not p.is_file():
            raise ManifestError(self.path, key, f"file not found: {base / path}")
        return p

    def resolve(self, f: DataFile, index: int) -> Path:
        return self._resolve_path(f.path, f.root, f"data[{index}].path")

    def funding_file(self) -> Path | None:
        """The recorded funding-rate file the scenario names, if any."""
        f = self.spec.funding
        if f is None or f.file is None:
            return None
        return self._resolve_path(f.file, f.root, "funding.file")

    def funding_schedule(self, config_rate_8h_bps: float) -> tuple[np.ndarray, np.ndarray]:
        """(times in Unix ns, rates as a fraction) of the funding settlements in the window:
        the scenario's `funding:` if it has one, else the config's fixed rate (`sim.data.funding`)."""
        w, f = self.spec.window, self.spec.funding
        path = self.funding_file()
        if path is not None:
            return file_schedule(path, w.start_ns, w.end_ns)
        bps = config_rate_8h_bps if f is None or f.rate_8h_bps is None else f.rate_8h_bps
        return fixed_schedule(w.start_ns, w.end_ns, bps / 10_000)

    def basis_market(self) -> Any:
        """The validated `basis_market:` section, or None."""
        if self.spec.basis_market is None:
            return None
        from sim.scenario.futures_market import parse_futures_market

        return parse_futures_market(self.spec.basis_market, self.path)

    def resolve_data_path(self, path: str, key: str) -> Path:
        """A path relative to the data root, as a data file's."""
        return self._resolve_path(path, "data", key)

    def content_hash(self) -> str:
        """SHA-256 over the manifest text and the bytes of every data file it names (the
        funding-rate file and the futures market's files included)."""
        h = hashlib.sha256(self.text.encode())
        files = [(f.path, self.resolve(f, i)) for i, f in enumerate(self.spec.data)]
        market = self.basis_market()
        if market is not None:
            from sim.scenario.futures_market import files as market_files

            files += [(path, self._resolve_path(path, "data", key)) for key, path in market_files(market)]
        funding = self.funding_file()
        if funding is not None:
            assert self.spec.funding is not None and self.spec.funding.file is not None
            files.append((self.spec.funding.file, funding))
        for name, p in files:
            h.update(f"\x00{name}\x00".encode())
            with p.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()


def scenario_id_for(path: Path) -> str:
    path = path.resolve()
    try:
        rel = path.relative_to(SCENARIOS_DIR)
        return str(rel.with_suffix("")).replace(os.sep, "/")
    except ValueError:
        return path.stem


def load_scenario(ref: str | Path) -> LoadedScenario:
    """Loads a scenario by path or by id (`group/name` under scenarios/)."""
    path = Path(ref)
    if not path.suffix:
        path = SCENARIOS_DIR / f"{ref}.yaml"
    raw, text = read_mapping(path, "scenario")
    spec = validate(Scenario, raw, path)
    return LoadedScenario(spec, path, scenario_id_for(path), text)


def all_scenarios() -> list[Path]:
    paths = sorted(SCENARIOS_DIR.rglob("*.yaml"))
    return [p for p in paths if "calibration" not in p.parts]

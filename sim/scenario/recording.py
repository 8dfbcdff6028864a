"""Recorded live ticks written as a replayable scenario: `<name>.yaml` plus its data files beside
it (`root: scenario`), which `sim run <name>.yaml` replays.

Usage::

    rec = ScenarioRecording(out_dir, "btc_2024_03_01")
    rec.trade(ts_ns, price, size, side, trade_id)        # the call shapes of `sim.market.live_feed.LiveFeed`
    rec.quote(ts_ns, bid_px, bid_sz, ask_px, ask_sz)
    path = rec.write(base=base_from_scenario(spec), window_start_ns=start, window_end_ns=end)

Files: `<name>.trades.parquet` and `<name>.quotes.parquet` in the project's own Parquet format (the
normalized schema of `sim.data.schema`, the kind in the `sim.kind` metadata, timestamps in Unix
ns) — the format `sim import` writes and the `parquet` reader reads back exactly. Both files are
always written, an empty one being a valid empty source.

Fidelity: ticks are written in the order they were received, with their exchange timestamps to
the nanosecond and every value as given. Nothing is dropped or repaired: a row the replay rejects
(NaN, non-positive price or size, crossed quote, duplicate trade id, time going backwards, a side
other than −1/0/+1) is written anyway, and replaying the recording fails on it with the loader's
message naming the file and row (unless the manifest says `on_bad_rows: drop`). Refused at the
`trade`/`quote` call (ValueError) is only what the file's schema cannot hold: a non-integer or
out-of-range timestamp, side or trade id. Note that this keeps ticks the live feed itself set
aside (late or before the session's start): a replay judges them by exchange time.

The manifest: `name`, a `description` (from `base` or a default), the keys given in `base`
(strategy, strategy_params, config, instrument, seed, funding, ...), the `window` and the `data`
list. `base` may not carry what the recording supplies (name, window, data) or what would replace
it (synthetic, basis_market). The manifest is validated as `load_scenario` validates it before
any file is written, so a bad `base` writes nothing. The window is written as ISO 8601 with
microseconds, the resolution of a manifest's window; a window bound off the microsecond grid is
refused rather than rounded.

Memory: ticks are held until `write`, as Arrow columns (~41 bytes per tick).
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sim.data.normalize import make_batch
from sim.data.schema import META_KIND, SCHEMAS, SourceKind
from sim.core.errors import ManifestError
from sim.scenario.manifest import LoadedScenario, Scenario, load_scenario, scenario_id_for
from sim.core.yaml_file import loads, validate

#: manifest keys the recording writes itself
OWNED_KEYS = ("name", "window", "data")
#: manifest keys that would replace the recorded data
EXCLUSIVE_KEYS = ("synthetic", "basis_market")
#: the keys `base_from_scenario` copies from a live session's scenario
COPIED_KEYS = ("strategy", "strategy_params", "config", "instrument", "seed", "adapter", "on_bad_rows", "funding")

CHUNK_ROWS = 65_536
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INT64 = (-(2**63), 2**63 - 1)
_INT8 = (-(2**7), 2**7 - 1)

_F64 = np.float64
_TRADE_COLUMNS = (("ts_ns", np.int64), ("price", _F64), ("size", _F64), ("side", np.int8), ("trade_id", np.int64))
_QUOTE_COLUMNS = (("ts_ns", np.int64), ("bid_px", _F64), ("bid_sz", _F64), ("ask_px", _F64), ("ask_sz", _F64))


def base_from_scenario(spec: Scenario) -> dict[str, Any]:
    """The `base` of a recording made under the scenario `spec` (a live session's): its
    `COPIED_KEYS`, as plain YAML-able data. A `funding.file` keeps its root: a file relative to
    the original manifest (`root: scenario`) will not resolve beside the recording, and `write`
    says so."""
    dumped = spec.model_dump(mode="json")
    return {k: dumped[k] for k in COPIED_KEYS if dumped.get(k) is not None}


def _int(value: Any, what: str, bounds: tuple[int, int] = _INT64) -> int:
    try:
        v = operator.index(value)  # ints and numpy integers; a float is refused, not truncated
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None
    if not bounds[0] <= v <= bounds[1]:
        raise ValueError(f"{what} {v} does not fit the file's column (range {bounds[0]}..{bounds[1]})")
    return v


def iso_utc_us(ts_ns: int, what: str) -> str:
    """`ts_ns` as an ISO 8601 UTC string with microseconds; ValueError if not a whole µs."""
    us, rest = divmod(ts_ns, 1000)
    if rest:
        raise ValueError(f"{what} {ts_ns} ns is not a whole microsecond (a manifest window has µs resolution)")
    return (_EPOCH + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


class _Tape:
    """One kind's ticks in receipt order: rows buffered as tuples, sealed into Arrow batches."""

    def __init__(self, kind: SourceKind, columns: tuple[tuple[str, type[np.generic]], ...], chunk_rows: int) -> None:
        self.kind = kind
        self.columns = columns
        self.chunk_rows = chunk_rows
        self.rows: list[tuple[Any, ...]] = []
        self.batches: list[pa.RecordBatch] = []
        self.count = 0

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= self.chunk_rows:
            self.seal()

    def seal(self) -> None:
        if not self.rows:
            return
        values = zip(*self.rows, strict=True)
        cols = {name: np.array(v, dtype=dtype) for (name, dtype), v in zip(self.columns, values, strict=True)}
        self.batches.append(make_batch(self.kind, cols))
        self.rows = []

    def write(self, path: Path) -> None:
        self.seal()
        schema = SCHEMAS[self.kind].with_metadata({META_KIND: self.kind.encode()})
        table = pa.Table.from_batches(self.batches, schema=schema)
        tmp = path.with_name(path.name + ".tmp")
        try:
            pq.write_table(table, str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


class ScenarioRecording:
    """Collects live ticks and writes them as a scenario; see the module docstring."""

    def __init__(self, out_dir: Path, name: str, *, chunk_rows: int = CHUNK_ROWS) -> None:
        if not _NAME_RE.match(name) or name.endswith((".yaml", ".parquet")):
            raise ValueError(f"recording name {name!r}: use letters, digits, '_', '-', '.' (a file stem)")
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
        self.out_dir = Path(out_dir)
        self.name = name
        self._trades = _Tape("trades", _TRADE_COLUMNS, chunk_rows)
        self._quotes = _Tape("quotes", _QUOTE_COLUMNS, chunk_rows)

    @property
    def trade_count(self) -> int:
        return self._trades.count

    @property
    def quote_count(self) -> int:
        return self._quotes.count

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / f"{self.name}.yaml"

    def data_path(self, kind: SourceKind) -> Path:
        return self.out_dir / f"{self.name}.{kind}.parquet"

    def trade(self, ts_ns: int, price: float, size: float, side: int, trade_id: int) -> None:
        """One trade as received: exchange time (Unix ns), price, size, taker side (+1 buy,
        −1 sell, 0 unknown), trade id (−1 when none)."""
        self._trades.add((_int(ts_ns, "trade ts_ns"), float(price), float(size), _int(side, "trade side", _INT8),
                          _int(trade_id, "trade_id")))

    def quote(self, ts_ns: int, bid_px: float, bid_sz: float, ask_px: float, ask_sz: float) -> None:
        """One L1 quote as received, at exchange time `ts_ns` (Unix ns)."""
        self._quotes.add((_int(ts_ns, "quote ts_ns"), float(bid_px), float(bid_sz), float(ask_px), float(ask_sz)))

    def manifest(self, *, base: Mapping[str, Any], window_start_ns: int, window_end_ns: int) -> dict[str, Any]:
        """The manifest `write` would write, unvalidated (keys in the order of `Scenario`'s
        fields, unknown keys of `base` last so that validation names them)."""
        clash = [k for k in OWNED_KEYS + EXCLUSIVE_KEYS if k in base]
        if clash:
            raise ValueError(f"base must not carry {', '.join(clash)}: the recording supplies its own "
                             "name, window and data")
        own: dict[str, Any] = {
            "name": self.name,
            "description": base.get("description", f"Live ticks recorded as scenario {self.name}: "
                                    f"{self.trade_count} trades, {self.quote_count} quotes."),
            "window": {"start": iso_utc_us(window_start_ns, "window_start_ns"),
                       "end": iso_utc_us(window_end_ns, "window_end_ns")},
            "data": [{"kind": kind, "format": "parquet", "path": self.data_path(kind).name, "root": "scenario"}
                     for kind in ("trades", "quotes")],
        }
        out: dict[str, Any] = {}
        for key in Scenario.model_fields:
            if key in own:
                out[key] = own[key]
            elif key in base:
                out[key] = base[key]
        for key in sorted(k for k in base if k not in out):
            out[key] = base[key]
        return out

    def write(self, *, base: Mapping[str, Any], window_start_ns: int, window_end_ns: int,
              overwrite: bool = False) -> Path:
        """Writes `<out_dir>/<name>.yaml` and its two Parquet files; returns the manifest's path.

        Raises ValueError (a clashing `base` key, a window off the µs grid), ManifestError (the
        manifest would not load: unknown key, bad value, a funding file that does not resolve
        from `out_dir`) before writing anything, and FileExistsError if a target exists and
        `overwrite` is false. The data files are written before the manifest, each through a
        temporary file, so a manifest on disk always names complete files.
        """
        path = self.manifest_path
        text = yaml.safe_dump(self.manifest(base=base, window_start_ns=window_start_ns, window_end_ns=window_end_ns),
                              sort_keys=False, allow_unicode=True, width=100)
        # Validate what the loader will read: the dumped text, not the dict it came from.
        spec = validate(Scenario, loads(text), path)
        if spec.window.start_ns != window_start_ns or spec.window.end_ns != window_end_ns:
            raise ValueError(f"window {window_start_ns}..{window_end_ns} ns does not survive the manifest's "
                             f"datetime ({spec.window.start_ns}..{spec.window.end_ns})")
        LoadedScenario(spec, path, scenario_id_for(path), text).funding_file()
        targets = [self.data_path("trades"), self.data_path("quotes"), path]
        existing = [str(p) for p in targets if p.exists()]
        if existing and not overwrite:
            raise FileExistsError(f"recording would overwrite {', '.join(existing)} (pass overwrite=True)")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._trades.write(self.data_path("trades"))
        self._quotes.write(self.data_path("quotes"))
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        loaded = load_scenario(path)
        if loaded.spec != spec:  # the YAML round trip changed something: a bug here, not in the input
            raise ManifestError(path, None, "the written manifest does not load back as validated")
        return path

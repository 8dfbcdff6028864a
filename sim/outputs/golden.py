"""Golden files: compare a run's canonical exports with `golden/<scenario>/`, bless on
purpose, and find golden folders no scenario produces.

A mismatch never overwrites the golden: the obtained file is written beside it as
`<name>.obtained`, and the first difference is described by file, row, column, expected and
actual values, and the event (time and id) that produced the row.
"""

from __future__ import annotations

import csv

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sim.outputs.exports import json_text
from sim.outputs.result import RunResult

MANIFEST = "manifest.json"
OBTAINED = ".obtained"


@dataclass(frozen=True)
class Difference:
    file: str
    where: str  # "row 12, column price" / "key outputs.fills.csv" / "missing file"
    expected: str
    actual: str
    event: str = ""

    def describe(self) -> str:
        s = f"{self.file}: {self.where}: expected {self.expected!r}, got {self.actual!r}"
        return f"{s} ({self.event})" if self.event else s


def golden_files(result: RunResult) -> dict[str, str]:
    files = dict(result.exports)
    files[MANIFEST] = json_text(result.golden_manifest())
    return files


def _event_of(columns: list[str], fields: list[str]) -> str:
    row = dict(zip(columns, fields))
    parts = []
    for col, label, shift_ms in (("ts_ms", "event at", 0), ("decision_ts_ms", "decision at", 0),
                                 ("ts_min_ms", "minute close at", 60_000)):
        if row.get(col):
            try:
                ms = int(row[col]) + shift_ms
            except ValueError:
                continue
            iso = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")
            parts.append(f"{label} {iso}")
            break
    for k in ("order_id", "event"):
        if row.get(k):
            parts.append(f"{k} {row[k]}")
    return ", ".join(parts)


def _fields(line: str) -> list[str]:
    return next(csv.reader([line]))  # RFC 4180: alert messages and JSON states are quoted


def _csv_difference(name: str, expected: str, actual: str) -> Difference:
    e_lines, a_lines = expected.splitlines(), actual.splitlines()
    if not e_lines or not a_lines or e_lines[0] != a_lines[0]:
        return Difference(name, "header", e_lines[0] if e_lines else "", a_lines[0] if a_lines else "")
    columns = _fields(e_lines[0])
    for i in range(1, max(len(e_lines), len(a_lines))):
        e = e_lines[i] if i < len(e_lines) else None
        a = a_lines[i] if i < len(a_lines) else None
        if e == a:
            continue
        if e is None or a is None:
            present = _fields(a if e is None else e)
            return Difference(name, f"row {i}", e or "<no row>", a or "<no row>", _event_of(columns, present))
        ef, af = _fields(e), _fields(a)
        for j, col in enumerate(columns):
            ev = ef[j] if j < len(ef) else ""
            av = af[j] if j < len(af) else ""
            if ev != av:
                return Difference(name, f"row {i}, column {col}", ev, av, _event_of(columns, ef))
    return Difference(name, "content", "", "")


def _json_difference(name: str, expected: str, actual: str, path: str = "") -> Difference:
    def walk(e: object, a: object, p: str) -> Difference | None:
        if isinstance(e, dict) and isinstance(a, dict):
            for k in sorted(set(e) | set(a)):
                sub = f"{p}.{k}" if p else str(k)
                if k not in e or k not in a:
                    return Difference(name, f"key {sub}", json.dumps(e.get(k)), json.dumps(a.get(k)))
                d = walk(e[k], a[k], sub)
                if d:
                    return d
            return None
        if e != a:
            return Difference(name, f"key {p}", json.dumps(e), json.dumps(a))
        return None

    try:
        return walk(json.loads(expected), json.loads(actual), path) or Difference(name, "formatting", "", "")
    except json.JSONDecodeError:
        return Difference(name, "content", expected[:80], actual[:80])


def compare(result: RunResult, golden_dir: Path) -> list[Difference]:
    """Differences between the run and its golden folder (first difference per file)."""
    diffs: list[Difference] = []
    files = golden_files(result)
    for name in sorted(files):
        path = golden_dir / name
        obtained = path.with_name(name + OBTAINED)
        actual = files[name]
        if not path.is_file():
            diffs.append(Difference(name, "missing golden file", "<file>", "<none>"))
            continue
        expected = path.read_text()
        if expected == actual:
            obtained.unlink(missing_ok=True)
            continue
        obtained.write_text(actual)
        if name.endswith(".csv"):
            diffs.append(_csv_difference(name, expected, actual))
        else:
            diffs.append(_json_difference(name, expected, actual))
    for extra in sorted(golden_dir.glob("*")) if golden_dir.is_dir() else []:
        if extra.name not in files and not extra.name.endswith(OBTAINED):
            diffs.append(Difference(extra.name, "golden file the run no longer produces", "<file>", "<none>"))
    return diffs


def bless(result: RunResult, golden_dir: Path) -> list[str]:
    """Writes the run's files as the new golden; returns the names that changed."""
    golden_dir.mkdir(parents=True, exist_ok=True)
    files = golden_files(result)
    changed = []
    for name, text in sorted(files.items()):
        path = golden_dir / name
        if not path.is_file() or path.read_text() != text:
            changed.append(name)
        path.write_text(text)
        path.with_name(name + OBTAINED).unlink(missing_ok=True)
    for extra in sorted(golden_dir.glob("*")):
        if extra.name not in files:
            extra.unlink()
            changed.append(extra.name)
    return changed


def unused_golden_dirs(golden_root: Path, produced: set[str]) -> list[str]:
    """Golden folders (scenario ids) that no scenario produced in a full run."""
    found = sorted(
        str(p.parent.relative_to(golden_root)).replace("\\", "/") for p in golden_root.rglob(MANIFEST)
    )
    return [g for g in found if g not in produced]

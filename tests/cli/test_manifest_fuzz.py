"""Fuzzing the CLI's inputs: random mutations of valid scenario manifests (keys dropped, duplicated,
retyped or given random values, the text cut or sprinkled with random bytes) and of live settings.
Whatever the mutation, `sim run` ends with exit 0 or exit 2 and one line on stderr: never a
traceback, never a hang.

Most examples call `sim.cli.main` in-process (with stderr captured and an alarm as the time bound)
to keep the file's budget under a minute; a few go through a real subprocess.
"""

from __future__ import annotations

import contextlib
import io
import random
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.core.errors import UserInputError
from sim.live.settings import load_settings
from tests.cli.bad_input_kit import RECORDED, SYNTHETIC, one_line_error, sim, write_data

#: seconds one in-process example may take; the valid bases run in well under a second
EXAMPLE_BOUND_S = 20

BASES = {"recorded": yaml.safe_load(RECORDED), "synthetic": yaml.safe_load(SYNTHETIC)}
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 1, 2**63, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "..", "../x.csv", "/etc/passwd", "2200-01-01T00:00:00Z", "1970-01-01", "nan", "{", "[",
                     "trades", "walk", "hourly_probe", "amt", "basis"]),
    st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.sampled_from(["a", "type", "minutes"]),
                                                             st.integers(-2, 3), max_size=2),
)


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path to a value in a nested mapping/list."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated_manifest(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(BASES)))
    doc = yaml.safe_load(yaml.safe_dump(BASES[name]))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent, key = _get(doc, path[:-1]), path[-1]
        op = draw(st.sampled_from(["drop", "retype", "value", "nest", "add"]))
        if op == "drop":
            del parent[key]
        elif op == "retype":
            v = parent[key]
            parent[key] = str(v) if not isinstance(v, str) else [v]
        elif op == "value":
            parent[key] = draw(ODD_VALUES)
        elif op == "nest":
            parent[key] = {"x": parent[key]}
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "seeds", "root", "options", "params"]))] = draw(ODD_VALUES)
    text = yaml.safe_dump(doc, sort_keys=False).encode()
    how = draw(st.sampled_from(["as is", "as is", "duplicate a line", "cut", "bytes"]))
    if how == "duplicate a line":
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1))
        text = b"".join(lines[: i + 1] + [lines[i]] + lines[i + 1:])
    elif how == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif how == "bytes":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]
    return name, text


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _run_in_process(folder: Path, text: bytes) -> tuple[int, str]:
    (folder / "case.yaml").write_bytes(text)
    err = io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(EXAMPLE_BOUND_S)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["run", str(folder / "case.yaml"), "--out", str(folder / "out")])
    except _Timeout:
        pytest.fail(f"no answer within {EXAMPLE_BOUND_S} s for:\n{text.decode(errors='replace')}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, err.getvalue()


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_manifest())
def test_a_mutated_manifest_runs_or_is_one_line_exit_2(case: tuple[str, bytes]) -> None:
    _, text = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_data(folder)
        try:
            code, err = _run_in_process(folder, text)
        except SystemExit as e:  # argparse's own exit: never expected here, but say what it printed
            pytest.fail(f"SystemExit {e.code}")
        assert code in (0, 2), (code, err, text)
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (err, text)
            assert "Traceback" not in err


def test_a_few_mutations_through_a_real_process(tmp_path: Path) -> None:
    """The same contract through `python -m sim`, for a handful of fixed mutations."""
    write_data(tmp_path)
    rng = random.Random(7)
    base = RECORDED.encode()
    texts = [base + b"seed: 2\n", base.replace(b"seed: 1", b"seed: [1"), base[: len(base) // 2],
             base.replace(b"window", b"w\xffindow"), bytes(rng.randrange(256) for _ in range(200))]
    for text in texts:
        (tmp_path / "case.yaml").write_bytes(text)
        one_line_error(sim("run", str(tmp_path / "case.yaml"), "--out", str(tmp_path / "out"), cwd=tmp_path,
                           timeout=60))


SETTINGS = {"mode": "paper", "network": "testnet", "endpoint": "http://127.0.0.1:1", "warmup_minutes": 1,
            "control_port": 0, "stale_after_s": 10.0, "grace_ms": 0, "max_wall_s": 5.0}


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([*SETTINGS, "mainnet_confirmation", "category", "unknown"]), ODD_VALUES,
                       max_size=4), st.sampled_from(["as is", "duplicate", "bytes"]), st.binary(max_size=6))
def test_mutated_live_settings_load_or_are_one_line_errors(changes: dict, how: str, junk: bytes) -> None:
    text = yaml.safe_dump({**SETTINGS, **changes}, sort_keys=False).encode()
    if how == "duplicate":
        text += text.splitlines(keepends=True)[0]
    elif how == "bytes":
        text = junk + text
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_bytes(text)
        try:
            load_settings(path, {})
        except UserInputError as e:
            assert "\n" not in str(e) and str(path) in str(e)

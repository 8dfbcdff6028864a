"""Fixtures of the data-reader tests: the recorded-data root and small file writers."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    return Path(os.environ.get("SIM_DATA_DIR") or REPO.parent / "shared" / "data")


@pytest.fixture
def data_dir() -> Path:
    """The recorded data (SIM_DATA_DIR or <repo>/../shared/data); skips the test without it."""
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"no recorded data at {root}")
    return root


WriteFile = Callable[..., Path]


def write_file(path: Path, text: str, *, gz: bool = False) -> Path:
    """Writes `text` to `path` (gzip-compressed, with `.gz` appended, when `gz`)."""
    data = text.encode()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def write_to() -> WriteFile:
    """write_to(path, text, gz=False) → the path written (for tests that make their own dirs)."""
    return write_file


@pytest.fixture
def write(tmp_path: Path) -> WriteFile:
    """write(name, text, gz=False) → the path of a file in the test's tmp dir."""

    def _write(name: str, text: str, *, gz: bool = False) -> Path:
        return write_file(tmp_path / name, text, gz=gz)

    return _write

"""Fixtures of the data-reader tests: small file writers (the data root is `data_root`, tests/conftest.py)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

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

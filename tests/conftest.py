"""Shared fixtures: the data root, hypothesis profiles, in-memory sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent

settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _data_root() -> Path | None:
    env = os.environ.get("SIM_DATA_DIR")
    if env:
        return Path(env) if Path(env).is_dir() else None
    p = REPO.parent / "shared" / "data"
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if root is None:
        pytest.skip("recorded data root not present (SIM_DATA_DIR or ../shared/data)")
    return root


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    if _data_root() is None:
        skip = pytest.mark.skip(reason="recorded data root not present (SIM_DATA_DIR or ../shared/data)")
        for item in items:
            if "needs_data" in item.keywords:
                item.add_marker(skip)

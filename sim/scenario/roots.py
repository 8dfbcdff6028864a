"""Where scenarios, goldens and recorded data live: the repository's `scenarios/` and `golden/`,
and the data root (`SIM_DATA_DIR`, else `../shared/data` beside the checkout)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
SCENARIOS_DIR = REPO / "scenarios"
GOLDEN_DIR = REPO / "golden"


class ScenarioUnavailable(Exception):
    """The scenario's recorded data lives under a data root that is not on this machine."""


def data_root() -> Path | None:
    """`SIM_DATA_DIR`, else `../shared/data` beside the checkout when it exists."""
    env = os.environ.get("SIM_DATA_DIR")
    if env:
        return Path(env)
    default = REPO.parent / "shared" / "data"
    return default if default.is_dir() else None

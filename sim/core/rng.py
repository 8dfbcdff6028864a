"""Seeded randomness: the only way pipeline and generator code gets random numbers.

Each component draws from its own `numpy.random.Generator` (PCG64) seeded from the scenario
seed and the component's name, so adding a component never shifts another one's stream and
two simulations in one process never share state.
"""

from __future__ import annotations

import hashlib

import numpy as np


def component_seed(seed: int, name: str) -> int:
    """A 128-bit seed derived from the scenario seed and a component name (SHA-256)."""
    digest = hashlib.sha256(f"{int(seed)}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:16], "little")


def component_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(component_seed(seed, name)))

"""The code version recorded in run manifests: the package version plus a hash of the source
that can change a result (Python under sim/ and adapters/, Rust under rust/crates/)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from sim import __version__

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def code_version() -> str:
    h = hashlib.sha256()
    files = sorted(
        [*REPO.joinpath("sim").rglob("*.py"), *REPO.joinpath("adapters").rglob("*.py"),
         *REPO.joinpath("rust", "crates").rglob("*.rs")]
    )
    for p in files:
        h.update(str(p.relative_to(REPO)).encode() + b"\x00" + p.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"

"""What a run returns: its canonical exports as text, its summary and its manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunResult:
    scenario_id: str
    manifest: dict[str, Any]
    exports: dict[str, str]
    summary: dict[str, Any]
    #: source name → (kind, rows skipped because they lie outside the window), non-zero ones only;
    #: reported by `sim run`, not part of the manifest (see docs/DECISIONS.md)
    rows_outside_window: dict[str, tuple[str, int]] = field(default_factory=dict)

    def golden_manifest(self) -> dict[str, Any]:
        """The stable part of the manifest: no wall time, no code version."""
        return {k: v for k, v in self.manifest.items() if k not in ("wall_s", "code_version")}

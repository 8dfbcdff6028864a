"""DESIGN §4 enforced mechanically: pipeline code reads neither the wall clock nor a global
RNG, and iterates over no set. A line may be exempted only with an explicit marker that says
why (`# sim-determinism: allowed (...)`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIPELINE = [REPO / "sim", REPO / "adapters"]
MARKER = "sim-determinism: allowed"

FORBIDDEN = {
    "wall clock": re.compile(r"\btime\.(time|time_ns|monotonic|perf_counter|sleep)\s*\(|\bdatetime\.(now|utcnow|today)\s*\(|\bdate\.today\s*\("),
    "global RNG": re.compile(r"(^|[^.\w])random\.\w+\s*\(|\bnp\.random\.(?!Generator\b|PCG64\b)\w+\s*\(|\bnumpy\.random\.(?!Generator\b|PCG64\b)\w+\s*\("),
    "set iteration": re.compile(r"\bfor\s+\w+(\s*,\s*\w+)*\s+in\s+(set\(|\{[^}:]*\}\s*:)"),
}


def _violations(root: Path) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if MARKER in line:
                continue
            code = line.split("#", 1)[0]
            for what, rx in FORBIDDEN.items():
                if rx.search(code):
                    out.append(f"{path.relative_to(root)}:{n}: {what}: {line.strip()}")
    return out


@pytest.mark.parametrize("root", PIPELINE, ids=lambda p: p.name)
def test_pipeline_code_reads_no_wall_clock_or_global_rng(root: Path) -> None:
    assert _violations(root) == []


def test_the_scan_catches_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import time, random, datetime\nimport numpy as np\n"
        "a = time.time()\nb = datetime.datetime.now()\nc = random.random()\nd = np.random.rand(3)\n"
        "for x in set(y):\n    pass\n"
        "ok = np.random.Generator(np.random.PCG64(1))\n"
        "e = time.time()  # sim-determinism: allowed (test)\n"
    )
    found = _violations(tmp_path)
    assert [f.split(": ")[1] for f in found] == ["wall clock", "wall clock", "global RNG", "global RNG", "set iteration"]

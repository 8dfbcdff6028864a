"""A live session traded from its first minute over a scenario's window, as the live/replay parity
and fault tests use it: `run_live(scenario, endpoint=...)` returns the same exports as
`sim.run.run` plus a summary of what the adapter saw.

It is `sim.live.session.LiveSession` in `live` mode with no warm-up, activated before it starts —
an operator's session (`sim live`) starts in observation instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.bybit.adapter import BybitAdapter
from sim.outputs.exports import json_text
from sim.live.session import LiveSession, WallTimeout
from sim.live.settings import LiveSettings
from sim.scenario.manifest import LoadedScenario, load_scenario

__all__ = ["LiveResult", "WallTimeout", "run_live"]


@dataclass
class LiveResult:
    exports: dict[str, str]
    summary: dict[str, Any]
    adapter: BybitAdapter


def run_live(
    scenario: LoadedScenario | str | Path,
    *,
    endpoint: str,
    api_key: str,
    api_secret: str,
    network: str = "testnet",
    overrides: dict[str, Any] | None = None,
    max_wall_s: float = 600.0,
    stale_after_s: float = 10.0,
    grace_ms: int = 0,
    category: str | None = None,
) -> LiveResult:
    """Runs the scenario's strategy live against `endpoint` (http://127.0.0.1:PORT) over the
    scenario's window; the exchange is expected to replay that window."""
    sc = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    category = category or str((sc.spec.emulator or {}).get("category", "linear"))
    settings = LiveSettings(mode="live", network=network, endpoint=endpoint, category=category,  # type: ignore[arg-type]
                            warmup_minutes=0, stale_after_s=stale_after_s, max_wall_s=max_wall_s)
    session = LiveSession(sc, settings, api_key=api_key, api_secret=api_secret, overrides=overrides,
                          grace_ms=grace_ms)
    answer = session.activate()
    assert answer.ok, answer.message
    exports = session.run()
    adapter, feed = session.exchange, session.feed
    st = adapter.stats
    summary = {
        "bars": len(session.recorder.bars), "orders": len(session.recorder.order_sequence),
        "fills": len(session.recorder.fills), "final_qty": session.ctx.position.qty,
        "exchange_position": adapter.exchange_position, "halted": adapter.halted, "late_ticks": feed.late_ticks,
        "bad_rows": feed.bad_rows(),
        "adapter": {"fills": st.fills, "recovered_fills": st.recovered_fills, "reconnects": st.reconnects,
                    "reconciliations": st.reconciliations, "rejected": st.rejected,
                    "rate_limited": adapter.rest.rate_limited, "stale_alerts": st.stale_alerts,
                    "duplicate_executions": st.duplicate_executions, "parse_errors": st.parse_errors},
        "alerts": [[kind, message] for _ts, kind, message in session.alerts],
    }
    exports.pop("status.json", None)
    exports["summary.json"] = json_text(summary)
    return LiveResult(exports, summary, adapter)

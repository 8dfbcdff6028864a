"""`sim record SCENARIO --endpoint URL --out DIR`: capture a live or emulated window as a
replayable scenario, with the decisions the session made on it.

The session runs the scenario's strategy in `paper` mode, trading from its first minute as a
replay does (no observation period: a recording is a capture, not an operating mode, and paper
orders never reach an exchange). Every tick the session's market engine was given is written to
the recording — the engine's own input, in the order it was accepted — so `sim run` of the
recording replays exactly the market the session decided on: its signals, orders and paper fills
come out the same (`tests/live/test_record.py`). The session's exports are written beside the
recording under `session/`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.core.errors import UserInputError


class _RecordingJournal:
    """The live feed's journal interface over a `ScenarioRecording` (kept in memory until written)."""

    def __init__(self, recording: Any) -> None:
        self.recording = recording

    def write_batch(self, trades: Any, quotes: Any) -> None:
        for row in zip(*(c.tolist() for c in trades)) if trades is not None else ():
            self.recording.trade(*row)
        for row in zip(*(c.tolist() for c in quotes)) if quotes is not None else ():
            self.recording.quote(*row)


def add_record_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario id or path: the strategy, its config and instrument, and the window")
    from sim.core import args as types

    p.add_argument("--endpoint", type=types.http_url, required=True, help="the exchange: a loopback emulator's base URL")
    p.add_argument("--out", type=types.out_dir, required=True, help="directory for the recording (NAME.yaml and its data)")
    p.add_argument("--name", type=types.plain_name, help="the recording's name (default: the scenario's name + _recorded)")
    p.add_argument("--network", choices=("testnet", "mainnet"), default="testnet")
    p.add_argument("--max-wall-s", type=types.positive_float, default=3600.0)


def cmd_record(args: argparse.Namespace) -> int:
    from sim.live.session import LiveSession
    from sim.live.settings import LiveSettings
    from sim.scenario.manifest import load_scenario
    from sim.strategies.registry import plugin
    from sim.scenario.recording import ScenarioRecording, base_from_scenario

    sc = load_scenario(args.scenario)
    if not plugin(sc.spec.strategy, sc.path).single_instrument:
        raise UserInputError(f"{sc.path}: sim record runs single-instrument strategies; {sc.spec.strategy} is not one")
    name = args.name or f"{sc.spec.name}_recorded"
    recording = ScenarioRecording(args.out, name)
    if recording.manifest_path.exists():
        raise UserInputError(f"{recording.manifest_path}: exists already; choose another --name or --out")
    settings = LiveSettings(mode="paper", network=args.network, endpoint=args.endpoint, warmup_minutes=0,
                            max_wall_s=args.max_wall_s)
    session = LiveSession(sc, settings)
    session.feed.journal = _RecordingJournal(recording)
    answer = session.activate()
    assert answer.ok, answer.message
    exports = session.run()
    path = recording.write(base=base_from_scenario(sc.spec), window_start_ns=session.start_ns,
                           window_end_ns=session.end_ns)
    out = args.out / "session"
    out.mkdir(parents=True, exist_ok=True)
    for fname, text in sorted(exports.items()):
        (out / fname).write_text(text)
    print(f"recorded {recording.trade_count} trades and {recording.quote_count} quotes: {path}")
    print(f"session outputs: {out}")
    return 0

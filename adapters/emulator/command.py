"""`sim emulator SCENARIO --port N`: serve a scenario as a Bybit v5 exchange on 127.0.0.1.

The scenario's `emulator:` block (optional) sets the replay and scripts faults:

    emulator:
      speed: 60                      # market time runs 60x real time once paced
      fast_until: "2024-03-01T03:50:00Z"   # before this, replay as fast as the clients read
      pause_without_clients: true    # market time stands still while no client is subscribed
      faults:                        # see adapters/emulator/faults.py
        - {kind: disconnect, stream: private, at: "2024-03-01T04:05:00Z"}
      category: linear               # linear | spot | inverse: how the instrument is served
      balances: {USDT: 10000}        # the account's starting coins (default: USDT = initial_equity)
      clock: wall                    # wall: venue time starts at the wall clock (default);
                                     # scenario: every time served is the scenario's own

Command-line options override it. `--state FILE` (command line only: a scenario describes a
market, not one venue's account) keeps the account across restarts (`state_file`). API keys
accepted: `--api-key/--api-secret`, else the environment's BYBIT_API_KEY / BYBIT_API_SECRET, else
the emulator's own test pair (`EMULATOR_KEY`/`EMULATOR_SECRET`) — it is a loopback fake holding
no money.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sim.core import args as types
from sim.core.errors import UserInputError

from .clock import CLOCKS

EMULATOR_KEY = "emulator-api-key"
EMULATOR_SECRET = "emulator-api-secret"
EMULATOR_KEYS = ("speed", "fast_until", "faults", "start_on_subscribe", "category", "balances",
                 "pause_without_clients", "clock")
CATEGORIES = ("linear", "spot", "inverse")


def _time_ns(value: Any, origin: str) -> int:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise UserInputError(f"{origin}: fast_until: not an ISO-8601 time: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000) * 1_000_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario id (group/name) or path to its YAML")
    p.add_argument("--port", type=types.port, required=True, help="TCP port (0: any free port, printed on start)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    p.add_argument("--speed", type=types.positive_float, help="market time per real time once paced (default 60)")
    p.add_argument("--fast-until", metavar="TIME", help="replay as fast as clients read until this market time")
    p.add_argument("--start", choices=("subscribe", "now"), default=None,
                   help="start the replay at the first public subscription (default) or at once")
    p.add_argument("--api-key")
    p.add_argument("--api-secret")
    p.add_argument("--rate-limit-scale", type=types.positive_float, default=1.0,
                   help="multiply Bybit's per-second limits")
    p.add_argument("--pause-without-clients", action="store_true", default=None,
                   help="hold market time while no public subscriber is connected")
    p.add_argument("--clock", choices=CLOCKS, default=None,
                   help="the timeline served: wall (venue time starts at the wall clock and, at --speed 1, "
                   "runs with it; default) or scenario (the scenario's own times)")
    p.add_argument("--category", choices=CATEGORIES, help="serve the instrument as this category (default: "
                   "the scenario's emulator.category, else linear)")
    p.add_argument("--state", metavar="FILE", type=Path,
                   help="keep the venue's account in FILE and restore it from there on start (see state_file)")


def _category(value: Any, origin: str) -> str:
    if value not in CATEGORIES:
        raise UserInputError(f"{origin}: emulator.category: {value!r} is not one of {', '.join(CATEGORIES)}")
    return str(value)


def _balances(value: Any, origin: str) -> dict[str, float]:
    """The starting wallet: coin -> amount. Zero is allowed (a coin listed empty), negative not."""
    if not isinstance(value, dict) or not value:
        raise UserInputError(f"{origin}: emulator.balances: expected a mapping of coin to amount, got {value!r}")
    out: dict[str, float] = {}
    for coin, amount in value.items():
        if not isinstance(coin, str) or not coin.isalnum() or coin != coin.upper():
            raise UserInputError(f"{origin}: emulator.balances: {coin!r} is not a coin name such as USDT or BTC")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount < 0:
            raise UserInputError(f"{origin}: emulator.balances.{coin}: expected a number >= 0, got {amount!r}")
        out[coin] = float(amount)
    return out


def _check_instrument(sc: Any, category: str) -> None:
    if category == "inverse":
        step = sc.spec.instrument.qty_step
        if step < 1 or step != int(step):
            raise UserInputError(f"{sc.path}: instrument.qty_step: an inverse instrument counts whole 1-USD "
                                 f"contracts, so its step must be a whole number >= 1, got {step!r}")


def build(args: argparse.Namespace) -> Any:
    from adapters.emulator.auth import KeyStore
    from adapters.emulator.clock import VenueClock
    from adapters.emulator.exchange import EmulatedExchange
    from adapters.emulator.faults import FaultPlan
    from adapters.emulator.server import Emulator, EmulatorSettings
    from sim.scenario.manifest import load_scenario

    sc = load_scenario(args.scenario)
    block = dict(sc.spec.emulator or {})
    unknown = sorted(set(block) - set(EMULATOR_KEYS))
    if unknown:
        raise UserInputError(f"{sc.path}: emulator.{unknown[0]}: unknown key (known: {', '.join(EMULATOR_KEYS)})")
    for flag in ("pause_without_clients", "start_on_subscribe"):
        if not isinstance(block.get(flag, False), bool):
            raise UserInputError(f"{sc.path}: emulator.{flag}: must be true or false, got {block[flag]!r}")
    speed = args.speed if args.speed is not None else block.get("speed", 60.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed) or speed <= 0:
        raise UserInputError(f"{sc.path}: emulator.speed: must be a finite number > 0, got {speed!r}")
    fast = args.fast_until if args.fast_until is not None else block.get("fast_until")
    start = args.start or ("subscribe" if block.get("start_on_subscribe", True) else "now")
    try:
        plan = FaultPlan.from_config(list(block.get("faults") or []), origin=str(sc.path))
    except ValueError as e:
        raise UserInputError(str(e)) from None
    origin = str(sc.path)
    scenario_category = _category(block["category"], origin) if "category" in block else "linear"
    category = args.category or scenario_category
    _check_instrument(sc, category)
    balances = _balances(block["balances"], origin) if "balances" in block else None
    clock = args.clock or block.get("clock", "wall")
    if clock not in CLOCKS:
        raise UserInputError(f"{origin}: emulator.clock: {clock!r} is not one of {', '.join(CLOCKS)}")
    key = args.api_key or os.environ.get("BYBIT_API_KEY") or EMULATOR_KEY
    secret = args.api_secret or os.environ.get("BYBIT_API_SECRET") or EMULATOR_SECRET
    settings = EmulatorSettings(speed=speed, fast_until_ns=_time_ns(fast, str(sc.path)) if fast else None,
                                start_on_subscribe=start == "subscribe", rate_limit_scale=args.rate_limit_scale,
                                pause_without_clients=bool(args.pause_without_clients
                                                           if args.pause_without_clients is not None
                                                           else block.get("pause_without_clients", False)))
    exchange = EmulatedExchange(sc, category=category, balances=balances, clock=VenueClock(clock))
    if getattr(args, "state", None) is not None:
        from adapters.emulator.state_file import attach

        attach(exchange, args.state)
    return Emulator(exchange, KeyStore.from_pairs([(key, secret)]), settings, plan)


def cmd_emulator(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from adapters.emulator.server import create_app

    emulator = build(args)
    if args.start == "now":
        emulator.start_now = True
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        raise UserInputError(f"cannot bind {args.host}:{args.port}: {e.strerror}") from None
    port = sock.getsockname()[1]
    print(f"emulator listening on http://{args.host}:{port} (ws://{args.host}:{port}/v5/...)", flush=True)
    app = create_app(emulator)
    keeper = emulator.ex.keeper
    if keeper is not None:
        app.router.on_shutdown.append(keeper.save)  # the market time reached, on a clean stop
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="on",
                            ws_ping_interval=None)
    server = uvicorn.Server(config)
    if getattr(emulator, "start_now", False):
        emulator.start()
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    print("emulator stopped", file=sys.stderr, flush=True)
    return 0

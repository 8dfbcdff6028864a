"""`sim live`, `sim status`, `sim activate`, `sim mode`: run a live session and operate it.

    sim live SCENARIO --mode dry_run|paper|shadow|live --network testnet|mainnet [--endpoint URL]
    sim status   [--data-dir DIR]      # mode, warm-up, position, heat, today's PnL, kill switch
    sim activate [--data-dir DIR]      # manual activation (needs ACTIVATION_TOKEN)
    sim mode MODE [--data-dir DIR]     # switch modes (flat book only; needs ACTIVATION_TOKEN)

A session writes `control.json` (its control server's address, never the token) into the data
directory; the operating commands find it there and speak to the server over loopback. Secrets
(API keys, webhook URL, activation token) come from the environment or `config/.env` only.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sim.core import args as types
from sim.core.errors import UserInputError

EXIT_REFUSED = 1


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario id (group/name) or path: the strategy, its config and instrument")
    p.add_argument("--mode", choices=("dry_run", "paper", "shadow", "live"))
    p.add_argument("--network", choices=("testnet", "mainnet"))
    p.add_argument("--endpoint", type=types.http_url, help="a loopback emulator's base URL (http://127.0.0.1:PORT)")
    p.add_argument("--category", choices=("linear", "spot", "inverse"))
    p.add_argument("--settings", type=types.existing_file, help="a YAML file of live settings (flags override it)")
    p.add_argument("--data-dir", type=types.out_dir, help="the data directory (default: DATABASE_DIR, else ./data)")
    p.add_argument("--control-port", type=types.port, help="the control server's port (default: any free one)")
    p.add_argument("--warmup-minutes", type=types.non_negative_int,
                   help="minutes of market data before activation (default 240)")
    p.add_argument("--max-wall-s", type=types.positive_float, help="stop after this many seconds of wall time")
    p.add_argument("--out", type=types.out_dir, help="where to write the session's exports (default: DATA_DIR/session)")


def add_operate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=types.out_dir,
                   help="the running session's data directory (default: DATABASE_DIR, else ./data)")


def _data_dir(given: Path | None, secrets: Any) -> Path:
    return given or secrets.database_dir or Path("data")


class LiveRuntime:
    """A session with its control server and alerter, as `sim live` runs it (tests use this too)."""

    def __init__(self, scenario: Any, settings: Any, secrets: Any) -> None:
        from sim.live.alerts import WebhookAlerter
        from sim.core.events import NS_PER_MS
        from sim.live.control import ControlServer
        from sim.live.session import LiveSession
        from sim.scenario.manifest import LoadedScenario, load_scenario

        settings.check_mainnet()
        key = secret = ""
        if settings.trades:
            key, secret = secrets.bybit_credentials(settings.network)
        sc = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
        self.settings = settings

        def clock_ms() -> int:
            return self.session.clock.now_ns() // NS_PER_MS

        self.alerter = WebhookAlerter(secrets.alert_webhook_url, clock=clock_ms, redact=secrets.redact,
                                      context={"mode": settings.mode, "network": settings.network,
                                               "symbol": sc.spec.instrument.symbol, "run_id": sc.id},
                                      log_path=settings.data_dir / "alerts.jsonl")
        self.session = LiveSession(sc, settings, api_key=key, api_secret=secret, send_alert=self.alerter.send,
                                   durable=True)
        self.control = ControlServer(self.session, secrets.activation_token, settings.control_host,
                                     settings.control_port, settings.data_dir)
        self.control.start()

    def run(self) -> dict[str, str]:
        try:
            return self.session.run()
        finally:
            self.close()

    def close(self) -> None:
        self.control.stop()
        self.alerter.close()


def cmd_live(args: argparse.Namespace) -> int:
    from sim.outputs.exports import json_text
    from sim.live.settings import load_settings
    from sim.live.secrets import install_log_redaction, load_secrets

    secrets = load_secrets()
    data_dir = _data_dir(args.data_dir, secrets)
    _log_to(data_dir / "session.log")
    install_log_redaction(secrets)  # on every handler: a secret never reaches a log
    settings = load_settings(args.settings, {
        "mode": args.mode, "network": args.network, "endpoint": args.endpoint, "category": args.category,
        "data_dir": data_dir, "control_port": args.control_port, "warmup_minutes": args.warmup_minutes,
        "max_wall_s": args.max_wall_s})
    rt = LiveRuntime(args.scenario, settings, secrets)
    print(f"control listening on {rt.control.url}", flush=True)
    print(f"session {rt.session.scenario.id}: mode {settings.mode}, network {settings.network}, "
          f"{'in observation' if settings.mode != 'dry_run' else 'signals only'}", flush=True)
    exports = rt.run()
    out = args.out or settings.data_dir / "session"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(exports.items()):
        (out / name).write_text(text)
    status = rt.session.status()
    print(json_text({k: status[k] for k in ("mode", "state", "position", "today_pnl", "halted")}).strip())
    print(f"outputs: {out}")
    return 0


def _log_to(path: Path) -> None:
    """The session's log: everything from INFO into the data directory, warnings also on stderr."""
    import logging

    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file = logging.FileHandler(path)
    file.setFormatter(fmt)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(fmt)
    root.addHandler(file)
    root.addHandler(console)


def _control_url(data_dir: Path) -> str:
    path = data_dir / "control.json"
    try:
        return str(json.loads(path.read_text())["url"])
    except FileNotFoundError:
        raise UserInputError(f"{path}: no running session (no control file)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise UserInputError(f"{path}: not a control file written by `sim live`") from None
    except IsADirectoryError:
        raise UserInputError(f"{path}: not a control file written by `sim live` (a directory)") from None


def _call(url: str, method: str, token: str | None = None, body: dict[str, Any] | None = None) -> tuple[int, dict]:
    from sim.live.control import TOKEN_HEADER

    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        req.add_header(TOKEN_HEADER, token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
    except urllib.error.URLError as e:
        raise UserInputError(f"{url}: the session does not answer ({e.reason})") from None


def cmd_status(args: argparse.Namespace) -> int:
    from sim.live.secrets import load_secrets

    url = _control_url(_data_dir(args.data_dir, load_secrets()))
    _code, status = _call(url + "/status", "GET")
    print(json.dumps(status, sort_keys=True, indent=1))
    return 0


def _command(args: argparse.Namespace, path: str, body: dict[str, Any] | None = None) -> int:
    from sim.live.secrets import load_secrets

    secrets = load_secrets()
    if not secrets.activation_token:
        raise UserInputError("ACTIVATION_TOKEN: not set in the environment or config/.env")
    url = _control_url(_data_dir(args.data_dir, secrets))
    code, answer = _call(url + path, "POST", secrets.activation_token, body if body is not None else {})
    print(answer.get("message", ""), file=sys.stdout if code == 200 else sys.stderr)
    return 0 if code == 200 else EXIT_REFUSED


def cmd_activate(args: argparse.Namespace) -> int:
    return _command(args, "/activate")


def cmd_mode(args: argparse.Namespace) -> int:
    return _command(args, "/mode", {"mode": args.mode})

"""The control server of a live session: status for anyone on the machine, activation and mode
switches only with the activation token (DESIGN §10; spec §11.4).

It binds to 127.0.0.1 unless told otherwise and runs uvicorn on its own thread; it never touches
the session's state itself — commands are queued to the session (`LiveSession.request`), which
applies them between events and answers. Without a configured token the order-affecting
endpoints refuse everything. The token is compared in constant time and never logged or echoed.

    GET  /status                       -> the session's status (JSON)
    POST /activate  (X-Activation-Token) -> {"ok": bool, "message": str}
    POST /mode      (X-Activation-Token) {"mode": "paper"} -> {"ok": bool, "message": str}

Malformed requests are answered 4xx with the same JSON shape and never reach the session: a
body that is not a UTF-8 JSON object -> 400, a `mode` that is missing, not a string or not one of
the modes -> 422, a token header that is not ASCII -> 401 like any wrong token.
"""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sim.core.errors import UserInputError
from sim.live.session import LiveSession
from sim.live.settings import Mode

TOKEN_HEADER = "X-Activation-Token"
CONTROL_FILE = "control.json"
MODES: tuple[str, ...] = get_args(Mode)


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "message": message}, status_code=status)


def _json_object(raw: bytes) -> dict[str, Any] | JSONResponse:
    """The body as a JSON object (empty is {}), or the 400 answer saying why it is not one."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    # UnicodeDecodeError and JSONDecodeError are ValueErrors; RecursionError: nested too deep.
    except (ValueError, RecursionError):
        return _refused(400, "body is not UTF-8 JSON")
    if not isinstance(body, dict):
        return _refused(400, f"body must be a JSON object, not {type(body).__name__}")
    return body


def create_control_app(session: LiveSession, token: str | None) -> FastAPI:
    app = FastAPI(title="live session control", docs_url=None, redoc_url=None, openapi_url=None)

    def authorised(request: Request) -> JSONResponse | None:
        if not token:
            return JSONResponse({"ok": False, "message": "refused: no ACTIVATION_TOKEN is configured"},
                                status_code=403)
        given = request.headers.get(TOKEN_HEADER, "")
        # Header values arrive as latin-1 text: encode them back to the bytes that were sent.
        if not hmac.compare_digest(given.encode("latin-1"), token.encode()):
            return JSONResponse({"ok": False, "message": "refused: missing or wrong activation token"},
                                status_code=401)
        return None

    @app.get("/status")
    async def status() -> dict[str, Any]:
        return session.status()

    @app.post("/activate", response_model=None)
    async def activate(request: Request) -> JSONResponse:
        denied = authorised(request)
        if denied is not None:
            return denied
        answer = await _ask(session, "activate")
        return JSONResponse({"ok": answer.ok, "message": answer.message}, status_code=200 if answer.ok else 409)

    @app.post("/mode", response_model=None)
    async def mode(request: Request) -> JSONResponse:
        denied = authorised(request)
        if denied is not None:
            return denied
        body = _json_object(await request.body())
        if isinstance(body, JSONResponse):
            return body
        mode = body.get("mode")
        if not isinstance(mode, str):
            return _refused(422, f"mode is required and must be a string, one of {', '.join(MODES)}")
        if mode not in MODES:
            return _refused(422, f"unknown mode {mode[:64]!r}: one of {', '.join(MODES)}")
        answer = await _ask(session, "mode", mode=mode)
        return JSONResponse({"ok": answer.ok, "message": answer.message}, status_code=200 if answer.ok else 409)

    return app


async def _ask(session: LiveSession, command: str, **args: Any) -> Any:
    import asyncio

    # The session answers from its own thread; wait for it without blocking the server's loop.
    return await asyncio.get_running_loop().run_in_executor(None, lambda: session.request(command, **args))


class ControlServer:
    """uvicorn on a thread, bound before the session starts so its address can be written out."""

    def __init__(self, session: LiveSession, token: str | None, host: str, port: int, data_dir: Path) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as e:
            raise UserInputError(f"control server: cannot bind {host}:{port}: {e.strerror}") from None
        self.host, self.port = host, self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(create_control_app(session, token), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
                                       name="control-server")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.control_file = data_dir / CONTROL_FILE
        self.control_file.write_text(json.dumps({"url": self.url}, sort_keys=True) + "\n")

    def start(self) -> None:
        """Starts serving; returns once the server accepts requests."""
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return
            time.sleep(0.01)  # sim-determinism: allowed (waiting for the server thread)
        raise RuntimeError("control server did not start within 5 s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()
        self.control_file.unlink(missing_ok=True)

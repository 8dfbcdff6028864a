"""A real local webhook endpoint for tests: an HTTP server on 127.0.0.1 that records what is POSTed.

    with WebhookReceiver(fail_first=2) as hook:    # answers 500 twice, then 200
        alerter = WebhookAlerter(hook.url, ...)
        bodies = hook.wait_for(1, timeout=5)      # the JSON bodies it accepted

It can fail the next N requests with a status (`fail_next`), answer slowly (`stall_s`), and
`refused_url()` gives an address where nothing listens. Every request is kept in `requests`,
accepted or not, so tests can count retries.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    status: int  # what the receiver answered

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.raw)
        except ValueError:
            return None

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close(), so a test ends with no thread left behind.
    daemon_threads = False
    block_on_close = True
    receiver: WebhookReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self.server.receiver._handle(self)

    def do_PUT(self) -> None:  # noqa: N802
        self.server.receiver._handle(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


class WebhookReceiver:
    """See the module docstring. Thread-safe; use as a context manager (or `start`/`close`)."""

    def __init__(self, *, fail_first: int = 0, fail_status: int = 500, stall_s: float = 0.0,
                 status: int = 200) -> None:
        self.stall_s = stall_s
        self.status = status  # the answer to requests that are not failed on purpose
        self._fail_left = fail_first
        self._fail_status = fail_status
        self._requests: list[ReceivedRequest] = []
        self._cond = threading.Condition()
        self._closing = threading.Event()  # releases stalled handlers at close
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("receiver not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def start(self) -> WebhookReceiver:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is None:
            return
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def fail_next(self, n: int, status: int = 500) -> None:
        """Answers the next `n` requests with `status` (and records them as not accepted)."""
        with self._cond:
            self._fail_left, self._fail_status = n, status

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies of accepted requests, in arrival order."""
        return [r.json for r in self.requests if r.accepted]

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Any]:
        """The accepted JSON bodies once there are at least `n`; AssertionError after `timeout` s."""
        with self._cond:
            ok = self._cond.wait_for(lambda: sum(r.accepted for r in self._requests) >= n, timeout)
        if not ok:
            raise AssertionError(f"webhook receiver: wanted {n} accepted requests within {timeout} s, "
                                 f"got {len(self.bodies)} (of {len(self.requests)} requests)")
        return self.bodies

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """All requests once at least `n` have arrived, accepted or not."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._requests) >= n, timeout)
        if not ok:
            raise AssertionError(f"webhook receiver: wanted {n} requests within {timeout} s, got {len(self.requests)}")
        return self.requests

    def _handle(self, h: _Handler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        with self._cond:
            if self._fail_left > 0:
                self._fail_left -= 1
                status = self._fail_status
            else:
                status = self.status
        if self.stall_s > 0:
            self._closing.wait(self.stall_s)
        req = ReceivedRequest(h.command, h.path, {k: v for k, v in h.headers.items()}, raw, status)
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", "2")
            h.end_headers()
            h.wfile.write(b"{}")
        except OSError:
            pass  # the client gave up (its timeout); the request still counts as received
        with self._cond:
            self._requests.append(req)
            self._cond.notify_all()


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"

"""Request frames of the emulator's WebSockets: parsing, and the refusals Bybit answers a
malformed one with.

A request is a JSON object `{"op": ..., "req_id"?: str, "args"?: [...]}` (bybit-v5.md §3). Any
other frame — text that is not JSON, JSON that is not an object, a binary frame that is not
UTF-8, an `op` or `req_id` that is not a string, `args` that is not a list — is refused on the
same connection with `{"success": false, "ret_msg": "error:...", "conn_id", "req_id", "op"}`,
the shape of Bybit's public and private refusals; the connection stays open, as at Bybit.
Bybit's docs show only the successful replies; the refusal texts follow the refusals Bybit is
seen to send ("error:handler not found,topic:X", "args size >10") and are listed in
docs/DECISIONS.md ("Emulator input validation").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Public connections: "args" may not exceed 21,000 characters, and spot takes at most 10 args
#: per request (wss-authentication, "Public channel - Args limits").
PUBLIC_ARGS_CHARS = 21_000
SPOT_ARGS = 10


class WsRefusal(Exception):
    """A request refused with `ret_msg`, answered on the connection it came from."""

    def __init__(self, ret_msg: str, op: str = "", req_id: str = "") -> None:
        super().__init__(ret_msg)
        self.ret_msg, self.op, self.req_id = ret_msg, op, req_id


@dataclass(frozen=True)
class WsRequest:
    op: str
    req_id: str  # "" when the request carried none
    args: Any  # as sent; each op checks its own (auth and subscribe differ)


def ws_error(conn_id: str, ret_msg: str, op: str = "", req_id: str = "") -> dict[str, Any]:
    return {"success": False, "ret_msg": ret_msg, "conn_id": conn_id, "req_id": req_id, "op": op}


def parse_ws_frame(frame: Mapping[str, Any]) -> WsRequest:
    """One received ASGI `websocket.receive` message as a request, or WsRefusal."""
    text = frame.get("text")
    if text is None:
        data = frame.get("bytes") or b""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise WsRefusal("error:request is not UTF-8 text") from None
    try:
        msg = json.loads(text)
    # ValueError: not JSON, or an integer too long to convert; RecursionError: nested too deep.
    except (ValueError, RecursionError):
        raise WsRefusal("error:request is not valid JSON") from None
    if not isinstance(msg, dict):
        raise WsRefusal(f"error:request must be a JSON object, not {type(msg).__name__}")
    op, req_id = msg.get("op"), msg.get("req_id", "")
    # The refusal echoes req_id and op only when they are strings (what Bybit's replies carry).
    echo_req = req_id if isinstance(req_id, str) else ""
    if req_id is not None and not isinstance(req_id, str):
        raise WsRefusal("error:req_id must be a string", op if isinstance(op, str) else "")
    if op is None or op == "":
        raise WsRefusal("error:op is required", "", echo_req)
    if not isinstance(op, str):
        raise WsRefusal("error:op must be a string", "", echo_req)
    return WsRequest(op, req_id or "", msg.get("args"))


def topic_args(req: WsRequest, channel: str) -> list[str]:
    """The topics of a subscribe/unsubscribe: a non-empty list of strings, within the public
    channels' size limits."""
    args = req.args
    if args is None or args == []:
        raise WsRefusal("error:args is required", req.op, req.req_id)
    if not isinstance(args, list):
        raise WsRefusal("error:args must be a list of topics", req.op, req.req_id)
    if not all(isinstance(t, str) for t in args):
        raise WsRefusal("error:every topic in args must be a string", req.op, req.req_id)
    if channel != "private":
        if channel == "spot" and len(args) > SPOT_ARGS:
            raise WsRefusal(f"args size >{SPOT_ARGS}", req.op, req.req_id)
        if sum(len(t) for t in args) > PUBLIC_ARGS_CHARS:
            raise WsRefusal(f"error:args longer than {PUBLIC_ARGS_CHARS} characters", req.op, req.req_id)
    return list(args)

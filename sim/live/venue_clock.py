"""Where a live session's window lies on an emulator's timeline.

An emulator at `--endpoint` serves the scenario's window shifted onto its venue clock (by default
starting at the wall clock; adapters/emulator/clock.py), and says by how much on its loopback
control endpoint. The session covers the window where the venue serves it, so its clock, bars and
outputs are the venue's times — what a session against Bybit records. Bybit itself (no endpoint)
has no offset: the scenario's window is real time there.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from sim.core.errors import UserInputError
from sim.core.events import NS_PER_MS

CONNECT_ATTEMPTS = 50
CONNECT_EVERY_S = 0.1


def venue_offset_ns(endpoint: str | None) -> int:
    """The emulator's venue time minus the scenario's time, in ns (0 without an endpoint)."""
    if endpoint is None:
        return 0
    url = endpoint.rstrip("/") + "/emulator/state"
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - a loopback URL of the operator's
                body = json.loads(r.read())
            offset_ms = body["clock"]["offset_ms"]
            break
        except urllib.error.URLError as e:
            # An emulator started a moment ago prints its address before it serves.
            if attempt + 1 == CONNECT_ATTEMPTS:
                raise UserInputError(f"endpoint {endpoint}: cannot read the emulator's clock at {url}: "
                                     f"{e.reason}") from None
            time.sleep(CONNECT_EVERY_S)  # sim-determinism: allowed (waiting for a server, not market time)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserInputError(f"endpoint {endpoint}: cannot read the emulator's clock at {url}: {e}") from None
    if isinstance(offset_ms, bool) or not isinstance(offset_ms, int):
        raise UserInputError(f"endpoint {endpoint}: the emulator's clock offset is not an integer: {offset_ms!r}")
    return offset_ms * NS_PER_MS

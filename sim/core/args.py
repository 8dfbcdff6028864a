"""Types of command-line options: each parses one option's text or refuses it with a short reason,
which the `sim` parser prints as one line (`error: sim run: argument --speed: ...`) with exit 2.

Every command's options use these, so a bad flag never reaches the code that would trip on it
(a negative speed, an output directory that is a file, an endpoint that is not a URL).
"""

from __future__ import annotations

import argparse
import math
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEED_MAX = 2**63 - 1


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None


def positive_float(text: str) -> float:
    """A finite number > 0 (a speed, a duration, a scale)."""
    v = _number(text, float)
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text!r}")
    return float(v)


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An integer from lo to hi inclusive."""

    def parse(text: str) -> int:
        v = _number(text, int)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer from {lo} to {hi}, not {text!r}")
        return int(v)

    parse.__name__ = f"int_{lo}_{hi}"
    return parse


seed = int_in(0, SEED_MAX)
port = int_in(0, 65535)
non_negative_int = int_in(0, 10**9)


def http_url(text: str) -> str:
    """An http(s) URL with a host (and a valid port, if it gives one), without a trailing slash."""
    try:
        u = urllib.parse.urlsplit(text.strip())
        u.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL") from None
    if u.scheme not in ("http", "https") or not u.hostname or any(c.isspace() for c in text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL like http://127.0.0.1:18080")
    if u.query or u.fragment:
        raise argparse.ArgumentTypeError(f"{text!r}: a base URL has no query or fragment")
    return text.strip().rstrip("/")


def _path(text: str) -> Path:
    if not text.strip() or "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a path")
    return Path(text)


def out_dir(text: str) -> Path:
    """A directory to write into: new, or an existing directory; never an existing file."""
    p = _path(text)
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: {parent} is not a directory")
    return p


def out_file(text: str) -> Path:
    """A file to write: new, or an existing file to replace; never an existing directory."""
    p = _path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: {parent} is not a directory")
    return p


def existing_file(text: str) -> Path:
    """A file that exists (an input)."""
    p = _path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    return p


def existing_dir(text: str) -> Path:
    """A directory that exists (an input)."""
    p = _path(text)
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    return p


def plain_name(text: str) -> str:
    """A name that becomes a file name: letters, digits, `_`, `-`, `.`; no path, not hidden."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain name (letters, digits, _ - .)")
    return text


def key_value(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` with VALUE parsed as strict YAML (`--set`)."""
    from sim.core.errors import UserInputError
    from sim.core.yaml_file import parse_value

    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expects KEY=VALUE, got {text!r}")
    try:
        return key, parse_value(value, key)
    except UserInputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None

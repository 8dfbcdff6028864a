"""Secrets for live sessions (spec §17.2, DESIGN §10): read from the environment or `config/.env`,
never shown, and scrubbed from anything written to a log.

    secrets = load_secrets()                  # os.environ first, then config/.env
    secrets.require("BYBIT_API_KEY", "BYBIT_API_SECRET")
    install_log_redaction(secrets)            # after logging is configured
    alerter = WebhookAlerter(secrets.alert_webhook_url, ..., redact=secrets.redact)

Keys read: BYBIT_API_KEY, BYBIT_API_SECRET (mainnet), BYBIT_TESTNET_API_KEY,
BYBIT_TESTNET_API_SECRET (testnet: the two networks never share a variable, as `config/.env.example`
has it; `bybit_credentials(network)` picks the pair), ALERT_WEBHOOK_URL, ACTIVATION_TOKEN (all secret)
and DATABASE_DIR (a path; configuration, not a credential, so it is shown in `repr` and not redacted).
An empty value counts as unset, wherever it comes from, so the keys of `config/.env.example` copied
with blank values change nothing. Other keys in a `.env` are ignored without error: the file is
often shared with other tools, and they never enter `Secrets`.

`.env` syntax: `KEY=value`, `export KEY=value`, `KEY="double quoted"` (escapes `\\"`, `\\\\`, `\\n`),
`KEY='single quoted'` (literal), `# comments` (whole line, or after whitespace following a value),
blank lines. A later line for the same key wins, as in a shell. Multi-line values are not supported.
A line that does not parse is a `UserInputError` naming `file:line`; its text is never echoed,
because a malformed line is most often a secret pasted in the wrong place.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sim.core.errors import UserInputError

DEFAULT_DOTENV = Path(__file__).resolve().parents[2] / "config" / ".env"
SECRET_KEYS = ("BYBIT_API_KEY", "BYBIT_API_SECRET", "BYBIT_TESTNET_API_KEY", "BYBIT_TESTNET_API_SECRET",
               "ALERT_WEBHOOK_URL", "ACTIVATION_TOKEN")
_BYBIT_KEYS = {"mainnet": ("BYBIT_API_KEY", "BYBIT_API_SECRET"),
               "testnet": ("BYBIT_TESTNET_API_KEY", "BYBIT_TESTNET_API_SECRET")}
KEYS = (*SECRET_KEYS, "DATABASE_DIR")
MASK = "***"
# Shorter values would mask ordinary words and digits all over the logs, hiding more than they protect.
MIN_REDACT_LEN = 4

_KEY = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)")
_DQ_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


@dataclass(frozen=True, repr=False)
class Secrets:
    """The session's secrets. `repr`/`str` say only `<set>` or `<unset>` for each secret."""

    bybit_api_key: str | None = None
    bybit_api_secret: str | None = None
    bybit_testnet_api_key: str | None = None
    bybit_testnet_api_secret: str | None = None
    alert_webhook_url: str | None = None
    activation_token: str | None = None
    database_dir: Path | None = None
    _pattern: re.Pattern[str] | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        terms = {v for v in self._redaction_terms() if len(v) >= MIN_REDACT_LEN}
        # Longest first, so a secret that contains another is masked whole, not in pieces.
        ordered = sorted(terms, key=lambda t: (-len(t), t))
        pattern = re.compile("|".join(re.escape(t) for t in ordered)) if ordered else None
        object.__setattr__(self, "_pattern", pattern)

    def _redaction_terms(self) -> list[str]:
        terms = [v for v in (self.get(k) for k in SECRET_KEYS) if v]
        if self.alert_webhook_url:
            # Webhook URLs (Slack, Discord, ...) carry their token in the path or query; an error
            # message from an HTTP library may quote that part without the scheme and host.
            parts = urlsplit(self.alert_webhook_url)
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            if len(tail) >= 8:
                terms.append(tail)
            if parts.password:
                terms.append(parts.password)
        return terms

    def get(self, name: str) -> str | None:
        """The value of one of `KEYS` by its environment name, or None when unset."""
        if name not in KEYS:
            raise ValueError(f"unknown secret {name!r}; known: {', '.join(KEYS)}")
        value = getattr(self, name.lower())
        return None if value is None else str(value)

    def require(self, *names: str) -> None:
        """Raises `UserInputError` naming every one of `names` that is unset."""
        missing = [n for n in names if self.get(n) is None]
        if missing:
            raise UserInputError(f"{', '.join(missing)} not set (environment or config/.env)")

    def bybit_credentials(self, network: str) -> tuple[str, str]:
        """(api key, api secret) for `network` ("mainnet" or "testnet"); `UserInputError` if unset."""
        if network not in _BYBIT_KEYS:
            raise ValueError(f"unknown network {network!r}; known: mainnet, testnet")
        key, secret = _BYBIT_KEYS[network]
        self.require(key, secret)
        return str(self.get(key)), str(self.get(secret))

    def redact(self, text: str) -> str:
        """`text` with every occurrence of a secret value (of length >= 4) replaced by `***`."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def __repr__(self) -> str:
        def state(v: str | None) -> str:
            return "<set>" if v else "<unset>"

        shown = ", ".join(f"{k.lower()}={state(self.get(k))}" for k in SECRET_KEYS)
        return f"Secrets({shown}, database_dir={self.database_dir!r})"

    __str__ = __repr__


def load_secrets(env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> Secrets:
    """Secrets from `env` (default `os.environ`), falling back to the `.env` file.

    `dotenv_path=None` reads `config/.env` of the project when it exists; a path given explicitly
    must exist. The environment wins over the file, key by key.
    """
    env = os.environ if env is None else env
    if dotenv_path is None:
        file_values = parse_dotenv(DEFAULT_DOTENV) if DEFAULT_DOTENV.is_file() else {}
    else:
        if not dotenv_path.is_file():
            raise UserInputError(f"{dotenv_path}: secrets file not found")
        file_values = parse_dotenv(dotenv_path)
    values: dict[str, str | None] = {}
    for key in KEYS:
        values[key] = env.get(key) or file_values.get(key) or None
    db = values["DATABASE_DIR"]
    # A relative DATABASE_DIR (the example's `./data`) is kept as written: the caller decides what
    # it is relative to.
    return Secrets(**{k.lower(): values[k] for k in SECRET_KEYS}, database_dir=Path(db) if db else None)


def parse_dotenv(path: Path) -> dict[str, str]:
    """Every `KEY=value` of a `.env` file (all keys, not only ours). See the module docstring."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserInputError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise UserInputError(f"{path}: cannot read ({e.strerror})") from None
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _KEY.fullmatch(line)
        value = _value(m.group(2)) if m else None
        if m is None or value is None:
            raise UserInputError(f"{path}:{n}: malformed line (expected KEY=value; the line is not shown)")
        out[m.group(1)] = value
    return out


def _value(rest: str) -> str | None:
    """The value after `=`, or None when it does not parse (an unterminated quote, junk after one)."""
    stripped = rest.lstrip()
    if stripped[:1] == "#" and stripped != rest:
        return ""  # `KEY= # comment`: an empty value; `KEY=#x` (no space) is the value `#x`
    rest = stripped
    if rest[:1] == '"':
        chars: list[str] = []
        i = 1
        while i < len(rest):
            c = rest[i]
            if c == "\\" and i + 1 < len(rest) and rest[i + 1] in _DQ_ESCAPES:
                chars.append(_DQ_ESCAPES[rest[i + 1]])
                i += 2
                continue
            if c == '"':
                return "".join(chars) if _only_comment(rest[i + 1:]) else None
            chars.append(c)
            i += 1
        return None
    if rest[:1] == "'":
        end = rest.find("'", 1)
        return rest[1:end] if end > 0 and _only_comment(rest[end + 1:]) else None
    # Unquoted: a `#` starts a comment only after whitespace, so `pa#ss` stays one value.
    return re.split(r"\s#", rest, maxsplit=1)[0].rstrip()


def _only_comment(tail: str) -> bool:
    tail = tail.strip()
    return not tail or tail.startswith("#")


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, exception text and stack before it is emitted."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not let the raw args through
            message = f"{record.msg} {record.args!r}"
        # The formatted message replaces msg and args, so no handler or formatter sees the raw args.
        record.msg = self.secrets.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.secrets.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.secrets.redact(record.stack_info)
        return True


def add_redaction(handler: logging.Handler, secrets: Secrets) -> RedactingFilter:
    """Adds a `RedactingFilter` to `handler`, replacing one added before (e.g. for older secrets)."""
    for f in list(handler.filters):
        if isinstance(f, RedactingFilter):
            handler.removeFilter(f)
    flt = RedactingFilter(secrets)
    handler.addFilter(flt)
    return flt


def install_log_redaction(secrets: Secrets) -> list[logging.Handler]:
    """Adds redaction to every handler of the root logger and to `logging.lastResort`.

    Filters sit on handlers because a logger's own filters do not see records propagated from
    child loggers. Handlers added to the root later need `add_redaction` (or a second call).
    Returns the handlers it changed.
    """
    handlers = list(logging.getLogger().handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for h in handlers:
        add_redaction(h, secrets)
    return handlers

"""sim.live.secrets: environment over config/.env, the .env syntax, values never shown, logs scrubbed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sim.core.errors import UserInputError
from sim.live.secrets import (DEFAULT_DOTENV, KEYS, SECRET_KEYS, RedactingFilter, Secrets, add_redaction,
                         install_log_redaction, load_secrets, parse_dotenv)

REPO = Path(__file__).resolve().parents[2]
KEY, SECRET, TOKEN = "AbCdEfGh12345678", "s3cr3t-VALUE-with-symbols_!", "activation-token-9f8e7d"
HOOK = "https://hooks.example.com/services/T000/B000/XXXXXXXXXXXX"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / ".env"
    p.write_text(text)
    return p


def test_the_environment_beats_the_file_key_by_key(tmp_path: Path) -> None:
    p = write(tmp_path, f"BYBIT_API_KEY=from-file\nBYBIT_API_SECRET={SECRET}\nDATABASE_DIR=/file/data\n")
    s = load_secrets({"BYBIT_API_KEY": KEY, "DATABASE_DIR": "/env/data", "ACTIVATION_TOKEN": TOKEN}, p)
    assert (s.bybit_api_key, s.bybit_api_secret, s.activation_token) == (KEY, SECRET, TOKEN)
    assert s.database_dir == Path("/env/data") and s.alert_webhook_url is None


def test_empty_values_count_as_unset(tmp_path: Path) -> None:
    p = write(tmp_path, "BYBIT_API_KEY=from-file\nBYBIT_API_SECRET=\n")
    s = load_secrets({"BYBIT_API_KEY": ""}, p)
    assert (s.bybit_api_key, s.bybit_api_secret) == ("from-file", None)


def test_dotenv_syntax(tmp_path: Path) -> None:
    p = write(tmp_path, "\n".join([
        "# secrets for the live session",
        "",
        "   ",
        "export BYBIT_API_KEY=plain-value",
        'BYBIT_API_SECRET="quoted value with # hash and \\"quotes\\""  # trailing comment',
        "ALERT_WEBHOOK_URL = 'https://hooks.example.com/a?b=c#frag'",
        "ACTIVATION_TOKEN=tok#en  # the # inside a word stays",
        "DATABASE_DIR=",
        "OTHER_TOOL_SETTING=ignored",
        "export EMPTY_COMMENT= # nothing",
    ]) + "\n")
    values = parse_dotenv(p)
    assert values == {"BYBIT_API_KEY": "plain-value", "BYBIT_API_SECRET": 'quoted value with # hash and "quotes"',
                      "ALERT_WEBHOOK_URL": "https://hooks.example.com/a?b=c#frag", "ACTIVATION_TOKEN": "tok#en",
                      "DATABASE_DIR": "", "OTHER_TOOL_SETTING": "ignored", "EMPTY_COMMENT": ""}
    s = load_secrets({}, p)
    assert s.bybit_api_secret == 'quoted value with # hash and "quotes"' and s.database_dir is None
    assert not hasattr(s, "other_tool_setting")


@pytest.mark.parametrize("line", [
    f"just-a-pasted-secret-{SECRET}",
    f'BYBIT_API_SECRET="{SECRET}',
    f"BYBIT_API_SECRET='{SECRET}' junk",
    f"9BAD={SECRET}",
    f"export {SECRET}",
])
def test_a_malformed_line_names_file_and_line_but_not_the_value(tmp_path: Path, line: str) -> None:
    p = write(tmp_path, f"# header\nBYBIT_API_KEY={KEY}\n{line}\n")
    with pytest.raises(UserInputError) as e:
        load_secrets({}, p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:3: ") and "\n" not in msg
    assert SECRET not in msg and KEY not in msg


def test_an_explicit_dotenv_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not found"):
        load_secrets({}, tmp_path / "nope.env")


def test_repr_and_str_hide_the_values() -> None:
    s = Secrets(bybit_api_key=KEY, bybit_api_secret=SECRET, alert_webhook_url=HOOK, database_dir=Path("/d"))
    for text in (repr(s), str(s), f"{s}", repr([s])):
        assert KEY not in text and SECRET not in text and HOOK not in text
        assert "bybit_api_key=<set>" in text and "activation_token=<unset>" in text and "/d" in text


def test_redact_masks_every_secret_of_four_or_more_characters() -> None:
    s = Secrets(bybit_api_key=KEY, bybit_api_secret=SECRET, alert_webhook_url=HOOK, activation_token="abc")
    text = f"key={KEY} secret={SECRET} again {KEY}; hook {HOOK}; path /services/T000/B000/XXXXXXXXXXXX; abc"
    assert s.redact(text) == "key=*** secret=*** again ***; hook ***; path ***; abc"
    assert Secrets().redact(text) == text


def test_a_secret_containing_another_is_masked_whole() -> None:
    s = Secrets(bybit_api_key="abcd", bybit_api_secret="xxabcdyy")
    assert s.redact("xxabcdyy abcd") == "*** ***"


def test_require_names_what_is_missing() -> None:
    s = Secrets(bybit_api_key=KEY)
    s.require("BYBIT_API_KEY")
    with pytest.raises(UserInputError, match="BYBIT_API_SECRET, ALERT_WEBHOOK_URL not set"):
        s.require("BYBIT_API_KEY", "BYBIT_API_SECRET", "ALERT_WEBHOOK_URL")
    assert set(KEYS) == {"BYBIT_API_KEY", "BYBIT_API_SECRET", "BYBIT_TESTNET_API_KEY", "BYBIT_TESTNET_API_SECRET",
                         "ALERT_WEBHOOK_URL", "DATABASE_DIR", "ACTIVATION_TOKEN"}


def test_each_network_has_its_own_bybit_credentials(tmp_path: Path) -> None:
    p = write(tmp_path, f"BYBIT_TESTNET_API_KEY=test-key-1\nBYBIT_TESTNET_API_SECRET={SECRET}\n")
    s = load_secrets({"BYBIT_API_KEY": KEY}, p)
    assert s.bybit_credentials("testnet") == ("test-key-1", SECRET)
    with pytest.raises(UserInputError, match="^BYBIT_API_SECRET not set"):
        s.bybit_credentials("mainnet")
    with pytest.raises(ValueError):
        s.bybit_credentials("devnet")
    assert SECRET not in repr(s) and "bybit_testnet_api_secret=<set>" in repr(s)
    assert s.redact(f"signing with {SECRET}") == "signing with ***"


def test_a_handler_with_redaction_never_writes_a_secret(tmp_path: Path) -> None:
    s = Secrets(bybit_api_key=KEY, bybit_api_secret=SECRET)
    logger = logging.getLogger("test_secrets.handler")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    log_file = tmp_path / "session.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    add_redaction(handler, s)
    add_redaction(handler, s)  # a second call replaces the first filter
    logger.addHandler(handler)
    try:
        logger.warning("connecting with key %s", KEY)
        logger.error(f"signing failed: secret={SECRET}")
        logger.info("dict %(k)s", {"k": KEY})
        try:
            raise RuntimeError(f"auth rejected for {KEY}")
        except RuntimeError:
            logger.exception("while authenticating")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = log_file.read_text()
    assert len(handler.filters) == 1
    assert KEY not in text and SECRET not in text
    assert "connecting with key ***" in text and "secret=***" in text and "auth rejected for ***" in text


def test_install_log_redaction_covers_the_root_handlers(tmp_path: Path) -> None:
    s = Secrets(activation_token=TOKEN)
    root = logging.getLogger()
    log_file = tmp_path / "root.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    root.addHandler(handler)
    changed: list[logging.Handler] = []
    try:
        changed = install_log_redaction(s)
        assert handler in changed
        logging.getLogger("some.child.logger").error("token %s leaked", TOKEN)
    finally:
        for h in changed:
            for f in [f for f in h.filters if isinstance(f, RedactingFilter)]:
                h.removeFilter(f)
        root.removeHandler(handler)
        handler.close()
    text = log_file.read_text()
    assert TOKEN not in text and "token *** leaked" in text


def test_config_dotenv_is_gitignored_and_the_example_lists_every_key() -> None:
    assert "config/.env" in (REPO / ".gitignore").read_text().splitlines()
    assert DEFAULT_DOTENV == REPO / "config" / ".env"
    example = parse_dotenv(REPO / "config" / ".env.example")
    assert set(KEYS) <= set(example)
    assert {example[k] for k in SECRET_KEYS} == {""}  # no secret, not even a placeholder

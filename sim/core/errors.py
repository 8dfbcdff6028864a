"""Errors a user can cause with bad input, each rendered by the CLI as one line and exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class UserInputError(Exception):
    """Bad input from the user: a file, a manifest, a flag. `str()` is the one-line message."""


class DataFileError(UserInputError):
    """A data file that cannot be used as it is. Names the file and, where known, the row.

    `row` is the 1-based data row (the header, if any, is not counted).
    """

    def __init__(self, path: Path | str, message: str, row: int | None = None) -> None:
        self.path = Path(path)
        self.row = row
        self.message = message
        where = f"{self.path}, row {row}" if row is not None else f"{self.path}"
        super().__init__(f"{where}: {message}")


class ManifestError(UserInputError):
    """A scenario manifest that does not validate. Names the file and the key."""

    def __init__(self, path: Path | str, key: str | None, message: str) -> None:
        self.path = Path(path)
        self.key = key
        where = f"{self.path}: {key}" if key else f"{self.path}"
        super().__init__(f"{where}: {message}")


def validation_key_and_message(errors: list[dict[str, Any]], prefix: str = "") -> tuple[str, str]:
    """The key path and a short message of the first pydantic validation error."""
    err = errors[0]
    key = ".".join(str(p) for p in err["loc"])
    key = f"{prefix}.{key}" if prefix and key else (prefix or key)
    kind = err["type"]
    if kind == "extra_forbidden":
        return key, "unknown key"
    if kind == "missing":
        return key, "required key is missing"
    return key, err["msg"]

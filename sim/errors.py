"""Errors a user can cause with bad input, each rendered by the CLI as one line and exit 2."""

from __future__ import annotations

from pathlib import Path


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

"""Reading a YAML file that must hold a mapping, validated by a strict pydantic model: the one
place that turns YAML and validation errors into one-line messages naming the file and key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sim.core.errors import ManifestError, validation_key_and_message

M = TypeVar("M", bound=BaseModel)


def read_mapping(path: Path, what: str) -> tuple[dict, str]:
    """The file's mapping and its text. `what` names the file's role in messages."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ManifestError(path, None, f"{what} file not found") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ManifestError(path, None, f"not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ManifestError(path, None, "expected a mapping")
    return raw, text


def validate(model: type[M], raw: dict, path: Path, prefix: str = "") -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        key, msg = validation_key_and_message(e.errors(), prefix=prefix)
        raise ManifestError(path, key, msg) from None

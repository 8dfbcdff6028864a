"""Strict YAML: the one loader every YAML the project reads goes through (scenario manifests, the
config, live settings, `--set`/`--grid` values), and the one place that turns YAML and validation
errors into one-line messages naming the file and key.

Strict means: a key given twice in one mapping is an error naming the key and its line (PyYAML
keeps the last one silently), and a document that does not parse is an error naming the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sim.core.errors import ManifestError, UserInputError, validation_key_and_message

M = TypeVar("M", bound=BaseModel)


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping that names one key twice."""

    def __init__(self, key: Any, mark: yaml.Mark, first_line: int) -> None:
        super().__init__(problem=f"duplicate key {key!r} (first given at line {first_line})", problem_mark=mark)
        self.key = key
        self.first_line = first_line


class StrictLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key given twice in one mapping (merge keys `<<` aside)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: let the base class say so
                continue
            if first is not None:
                raise DuplicateKeyError(key, key_node.start_mark, first)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _describe(e: yaml.YAMLError) -> str:
    """One line: where and what, from a PyYAML error."""
    if isinstance(e, DuplicateKeyError):
        assert e.problem_mark is not None
        return f"line {e.problem_mark.line + 1}: {e.problem}"
    if isinstance(e, TooLargeError):
        return str(e)
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    what = f": {' '.join(str(problem).split())}" if problem else ""
    return f"not valid YAML{where}{what}"


#: the most values a document may hold once its aliases are expanded: anchors are fine (the
#: benchmarks repeat segments with them), but a few lines of nested aliases can stand for billions
#: of values, which every consumer that walks the data (validation, hashing) would expand
MAX_VALUES = 1_000_000


class TooLargeError(yaml.YAMLError):
    """A document whose aliases expand to more than MAX_VALUES values."""

    def __str__(self) -> str:
        return f"more than {MAX_VALUES:,} values once its aliases are expanded"


def _check_size(data: Any) -> None:
    stack, count = [data], 0
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise TooLargeError()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def loads(text: str) -> Any:
    """Parses one YAML document strictly; raises yaml.YAMLError (DuplicateKeyError for a repeated
    key, TooLargeError for aliases that expand past MAX_VALUES)."""
    data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    _check_size(data)
    return data


def parse_value(text: str, what: str) -> Any:
    """A YAML value given on the command line (`--set KEY=VALUE`); `what` names it in the error."""
    try:
        return loads(text)
    except yaml.YAMLError as e:
        raise UserInputError(f"{what}: {_describe(e)}") from None


def read_mapping(path: Path, what: str) -> tuple[dict, str]:
    """The file's mapping and its text. `what` names the file's role in messages."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(path, None, f"{what} file not found") from None
    except IsADirectoryError:
        raise ManifestError(path, None, f"{what} file is a directory") from None
    except OSError as e:
        raise ManifestError(path, None, f"cannot read the {what} file: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(path, None, f"not UTF-8 text (byte {e.start})") from None
    try:
        raw = loads(text)
    except DuplicateKeyError as e:
        assert e.problem_mark is not None
        raise ManifestError(path, str(e.key), f"duplicate key at line {e.problem_mark.line + 1} "
                                              f"(first given at line {e.first_line})") from None
    except yaml.YAMLError as e:
        raise ManifestError(path, None, _describe(e)) from None
    except RecursionError:
        raise ManifestError(path, None, "nested too deeply") from None
    if not isinstance(raw, dict):
        raise ManifestError(path, None, "expected a mapping")
    return raw, text


def validate(model: type[M], raw: dict, path: Path, prefix: str = "", *, strict: bool = False) -> M:
    """`raw` validated by `model`; an error names the file and the key (under `prefix`).

    `strict` validates the data as JSON in pydantic's strict mode: no coercion of a wrong type
    (the string "3" is not a number, 2.0 is not an integer, true is not 1), while dates may still
    be given as ISO strings. `raw` must then be JSON-able, as YAML mappings of scalars are."""
    try:
        if strict:
            import json

            return model.model_validate_json(json.dumps(raw, default=str), strict=True)
        return model.model_validate(raw)
    except ValidationError as e:
        key, msg = validation_key_and_message(e.errors(), prefix=prefix)
        raise ManifestError(path, key, msg) from None

"""The canonical CSV text: fixed columns, NaN empty, and text with commas or quotes quoted per
RFC 4180 so any CSV reader gets the same fields back."""

from __future__ import annotations

import csv
import io

import pytest

from sim.outputs.exports import csv_text


def test_text_with_commas_and_quotes_round_trips_through_a_csv_reader() -> None:
    rows = [(1, "Leverage cap hit, position reduced", '{"up":{"count":2,"level":1.5},"down":null}', float("nan")),
            (2, "plain", "", 0.5)]
    text = csv_text(("ts_ms", "message", "state", "x"), rows)
    assert text.splitlines()[2] == "2,plain,,0.5"  # nothing to quote, nothing quoted
    back = list(csv.reader(io.StringIO(text)))
    assert back[1] == ["1", "Leverage cap hit, position reduced", '{"up":{"count":2,"level":1.5},"down":null}', ""]


def test_a_row_of_the_wrong_width_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 fields, header has 3"):
        csv_text(("a", "b", "c"), [(1, 2)])


def test_columns_are_formatted_as_value_by_value() -> None:
    import numpy as np

    from sim.outputs.exports import _field

    floats = [0.1, -0.0, 0.0, float("nan"), float("inf"), -1e-05, 1e16, 28145.3, 1 / 3, 5e-324, -2.5]
    columns = {
        "float": floats,
        "float_or_none": [None if i % 3 == 0 else v for i, v in enumerate(floats)],
        "int": [0, -1, 2**63, 7, 1_700_000_000_000, 3, 4, 5, 6, 7, 8],
        "str": ["a", "b,c", 'say "hi"', "line\nbreak", "cr\r", "", "x", "y", "z", "w", "v"],
        "bool": [True, False] * 5 + [True],
        "str_or_none": [None, "a,b", "", None, "x", '"', None, "y", "z", None, "w"],
        "mixed": [1, 1.5, None, True, "s", float("nan"), -0.0, np.float64(2.5), np.int64(3), 0, ""],
    }
    names = tuple(columns)
    rows = list(zip(*columns.values(), strict=True))
    expected = ",".join(names) + "\n" + "".join(",".join(_field(v) for v in r) + "\n" for r in rows)
    assert csv_text(names, rows) == expected
    assert csv_text(names, iter(rows)) == expected
    assert csv_text(names, []) == ",".join(names) + "\n"


def test_float_columns_are_repr_on_random_floats() -> None:
    """The Rust writer of float columns against Python's repr: random bit patterns (every exponent,
    17-digit ties), random decimals of every magnitude, and prices of a few decimals."""
    import random
    import struct

    from sim.outputs.exports import _field

    rng = random.Random(20261207)
    values = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(100_000)]
    values += [rng.random() * 10 ** rng.randint(-30, 30) * rng.choice((1, -1)) for _ in range(100_000)]
    values += [round(rng.random() * 60_000, rng.randint(0, 9)) for _ in range(100_000)]
    values += [1059438285926254.2, 26363981746409.312, 9999999999999998.0, 1234567890123456.0, 0.0001, 0.00001]
    text = csv_text(("x",), [(v,) for v in values])
    assert text.split("\n")[1:-1] == [_field(v) for v in values]

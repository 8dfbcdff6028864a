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

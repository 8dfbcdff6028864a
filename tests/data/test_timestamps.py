"""Timestamp-unit detection and conversion to Unix ns (sim.data.timestamps)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sim.data.timestamps import NS_PER_UNIT, TimestampColumn, detect_unit, to_ns, unit_of_magnitude
from sim.core.errors import DataFileError

T0 = 1_670_889_600  # 2022-12-13T00:00:00Z


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (T0, "s"),
        (9_000_000_000, "s"),
        (100_000_000_000, "ms"),
        (T0 * 1_000, "ms"),
        (100_000_000_000_000, "us"),
        (T0 * 1_000_000, "us"),
        (10**17, "ns"),
        (T0 * 1_000_000_000, "ns"),
    ],
)
def test_integer_units_by_magnitude(value: int, unit: str) -> None:
    assert unit_of_magnitude(value) == unit
    assert detect_unit(pa.array([value]), path="f", row0=1) == unit
    assert detect_unit(pa.array([str(value)]), path="f", row0=1) == unit
    assert to_ns(pa.array([value]), path="f", row0=1).tolist() == [value * NS_PER_UNIT[unit]]
    assert to_ns(pa.array([str(value)]), path="f", row0=1).tolist() == [value * NS_PER_UNIT[unit]]


@pytest.mark.parametrize(("value", "unit"), [(99_999_999_999, "s"), (99_999_999_999_999, "ms"), (10**17 - 1, "us")])
def test_upper_bounds_of_each_unit(value: int, unit: str) -> None:
    assert detect_unit(pa.array([value]), path="f", row0=1) == unit
    assert detect_unit(pa.array([value * 0.99]), path="f", row0=1) == unit


def test_seconds_beyond_int64_ns_are_an_error() -> None:
    # 99,999,999,999 s is still "seconds" by magnitude but past the year 2262.
    with pytest.raises(DataFileError, match="row 3"):
        to_ns(pa.array([1, 2, 99_999_999_999]), path="f", row0=1)


def test_same_instant_in_every_unit() -> None:
    expected = T0 * 10**9 + 123_400_000
    cases = [
        pa.array(["1670889600.1234"]),
        pa.array(["1670889600123.4"]),
        pa.array(["1670889600123400"]),
        pa.array([str(expected)]),
        pa.array([1670889600123400], pa.int64()),
        pa.array([expected], pa.int64()),
        pa.array([1670889600.1234]),
        pa.array([1670889600123.4]),
        pa.array(["2022-12-13T00:00:00.1234Z"]),
        pa.array(["2022-12-13 00:00:00.1234"]),
        pa.array(["2022-12-13T01:00:00.1234+01:00"]),
        pa.array(["2022-12-12T19:30:00.1234-04:30"]),
        pa.array([expected // 1_000], pa.timestamp("us", tz="UTC")).cast(pa.timestamp("ns", tz="UTC")),
        pa.array([expected], pa.timestamp("ns")),
    ]
    for array in cases:
        got = to_ns(array, path="f", row0=1)
        assert got.dtype == np.int64
        assert got.tolist() == [expected], array


def test_bybit_decimal_seconds_are_exact() -> None:
    # 1670889600.1234 is not representable as a double; the string path must not go through one.
    got = to_ns(pa.array(["1670889600.1234", "1670889600.9999999999", "1670889601", "-0.5"]), path="f", row0=1)
    assert got.tolist() == [1670889600123400000, 1670889600999999999, 1670889601000000000, -500000000]


def test_float_seconds_round_to_the_microsecond() -> None:
    values = np.array([1670889600.1234, 1670889600.000001, 1670889600.999999])
    assert to_ns(pa.array(values), path="f", row0=1).tolist() == [
        1670889600123400000,
        1670889600000001000,
        1670889600999999000,
    ]


def test_unit_is_kept_for_the_whole_file() -> None:
    col = TimestampColumn("f")
    assert col.to_ns(pa.array(["1670889600000"]), 1).tolist() == [T0 * 10**9]
    assert col.unit == "ms"
    # A later batch of second-sized numbers is not re-detected: it is an error naming the row.
    with pytest.raises(DataFileError, match="row 2: timestamp '1670889600' looks like s, but this file's "
                                            r"timestamps are ms \(mixed units"):
        col.to_ns(pa.array(["1670889600"]), 2)
    assert col.unit == "ms"


def test_null_timestamp_names_its_row() -> None:
    with pytest.raises(DataFileError) as e:
        to_ns(pa.array(["1", None, "3"]), path="file.csv", row0=10)
    assert e.value.row == 11
    assert "file.csv" in str(e.value) and "row 11" in str(e.value)


@pytest.mark.parametrize(
    ("values", "unit", "row"),
    [
        (["1670889600", "x", "1670889602"], "s", 2),
        (["1670889600.5", "1670889601.5", "1.2.3"], "s", 3),
        (["2022-12-13T00:00:00Z", "2022-12-13T00:00:01Z", "1670889600"], "iso", 3),
        (["1670889600000", "2022-12-13T00:00:01Z"], "ms", 2),
        (["99999999999999999999"], "ns", 1),
    ],
)
def test_unparseable_timestamp_names_its_row(values: list[str], unit: str, row: int) -> None:
    with pytest.raises(DataFileError) as e:
        to_ns(pa.array(values), path="f.csv", row0=1, unit=unit)  # type: ignore[arg-type]
    assert e.value.row == row


def test_unrecognized_first_value() -> None:
    with pytest.raises(DataFileError, match="unrecognized timestamp"):
        detect_unit(pa.array(["yesterday"]), path="f", row0=5)

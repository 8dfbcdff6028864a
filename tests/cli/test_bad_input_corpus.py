"""The bad-input corpus: every case spawns the real `sim` command on one malformed input — a data
file, a manifest, a YAML value, an option — and asserts the contract of docs/DECISIONS.md: exit 2,
exactly one line on stderr, no traceback, and the line names what is wrong (the file and row, the
manifest key, the option).

Cases are built in a temporary folder from a tiny valid scenario (`bad_input_kit`): five minutes
of the plumbing probe over a trades and a quotes CSV beside the manifest. Each case changes one
thing of it.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from tests.cli.bad_input_kit import (GOOD_QUOTES, GOOD_TRADES, QUOTES_HEADER, RECORDED, REPO, SYNTHETIC, T0,
                                     TRADES_HEADER, one_line_error, sim, write_data)


@dataclass(frozen=True)
class Case:
    id: str
    #: builds the case in the folder and returns the arguments of `sim` and what the line must name
    build: Callable[[Path], tuple[list[str], list[str]]]


CASES: list[Case] = []


def case(id: str) -> Callable[[Callable[[Path], tuple[list[str], list[str]]]], None]:
    def add(build: Callable[[Path], tuple[list[str], list[str]]]) -> None:
        CASES.append(Case(id, build))
    return add


def _run(tmp: Path, manifest: str = RECORDED, *extra: str) -> list[str]:
    (tmp / "case.yaml").write_text(manifest)
    return ["run", str(tmp / "case.yaml"), "--out", str(tmp / "out"), *extra]


# -- data files ------------------------------------------------------------------------------------

def trades_rows(id: str, rows: dict[int, str], *needles: str) -> None:
    """A trades file with some rows (1-based) replaced."""
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        trades = list(GOOD_TRADES)
        for row, text in rows.items():
            trades[row - 1] = text
        write_data(tmp, trades=trades)
        return _run(tmp), ["trades.csv", *needles]
    case(id)(build)


def quotes_rows(id: str, rows: dict[int, str], *needles: str) -> None:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        quotes = list(GOOD_QUOTES)
        for row, text in rows.items():
            quotes[row - 1] = text
        write_data(tmp, quotes=quotes)
        return _run(tmp), ["quotes.csv", *needles]
    case(id)(build)


def trades_bytes(id: str, content: bytes, *needles: str, name: str = "trades.csv") -> None:
    """The trades file replaced by these bytes."""
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        write_data(tmp)
        (tmp / name).write_bytes(content)
        fmt = {".parquet": "parquet", ".feather": "feather"}.get(Path(name).suffix, "trades_csv")
        manifest = RECORDED.replace("format: trades_csv, path: trades.csv", f"format: {fmt}, path: {name}")
        return _run(tmp, manifest), [name, *needles]
    case(id)(build)


TS = T0 + 10_000
trades_rows("nan-price", {5: f"{T0 + 4000},NaN,0.01,buy,5"}, "row 5", "not finite")
trades_rows("inf-price", {5: f"{T0 + 4000},inf,0.01,buy,5"}, "row 5", "not finite")
trades_rows("huge-price-overflows", {5: f"{T0 + 4000},1e400,0.01,buy,5"}, "row 5")
trades_rows("negative-price", {7: f"{T0 + 6000},-100.1,0.01,buy,7"}, "row 7", "price")
trades_rows("zero-price", {7: f"{T0 + 6000},0,0.01,buy,7"}, "row 7", "price")
trades_rows("zero-size", {8: f"{T0 + 7000},100.1,0,buy,8"}, "row 8", "size")
trades_rows("negative-size", {9: f"{T0 + 8000},100.1,-0.5,sell,9"}, "row 9", "non positive size")
trades_rows("empty-price-field", {4: f"{T0 + 3000},,0.01,buy,4"}, "row 4", "not finite")
trades_rows("text-in-price", {6: f"{T0 + 5000},abc,0.01,buy,6"}, "row 6", "price")
trades_rows("text-in-trade-id", {6: f"{T0 + 5000},100.1,0.01,buy,x6"}, "row 6", "trade_id")
trades_rows("bad-side-word", {3: f"{T0 + 2000},100.1,0.01,up,3"}, "row 3", "side")
trades_rows("too-many-fields", {10: f"{T0 + 9000},100.1,0.01,buy,10,extra"}, "row 10", "fields")
trades_rows("too-few-fields", {10: f"{T0 + 9000},100.1"}, "row 10", "fields")
trades_rows("time-backwards", {12: f"{T0 + 5000},100.1,0.5,sell,12"}, "row 12", "time backwards")
trades_rows("duplicate-trade-id", {12: f"{T0 + 11000},100.1,0.5,sell,11"}, "row 12", "duplicate")
trades_rows("missing-timestamp", {3: ",100.1,0.01,buy,3"}, "row 3", "timestamp")
trades_rows("year-2200-timestamp", {20: f"7258118400000,100.1,0.01,buy,20"}, "row 20", "2200", "plausible range")
trades_rows("seconds-in-a-ms-file", {20: f"{T0 // 1000 + 19},100.1,0.01,buy,20"}, "row 20", "mixed units")
trades_rows("microseconds-in-a-ms-file", {20: f"{(T0 + 19000) * 1000},100.1,0.01,buy,20"}, "row 20", "mixed units")
trades_rows("negative-timestamp", {20: "-1700000059000,100.1,0.01,buy,20"}, "row 20", "timestamp")
trades_rows("garbage-timestamp", {20: "soon,100.1,0.01,buy,20"}, "row 20", "timestamp")
trades_rows("first-timestamp-1970", {1: "1000,100.1,0.01,buy,1"}, "row 1", "plausible range")
trades_rows("int64-overflow-timestamp", {20: "99999999999999999999,100.1,0.01,buy,20"}, "row 20", "timestamp")
trades_rows("price-far-off-market", {31: f"{T0 + 30_500},5000000.0,0.01,buy,1000"}, "row 31", "price off market")
quotes_rows("crossed-quote", {7: f"{T0 + 6000 - 1},100.2,1.5,100.1,2.5"}, "row 7", "crossed quote")
quotes_rows("locked-quote", {7: f"{T0 + 6000 - 1},100.1,1.5,100.1,2.5"}, "row 7")
quotes_rows("negative-bid-size", {7: f"{T0 + 6000 - 1},100.0,-1.5,100.1,2.5"}, "row 7", "size")
quotes_rows("nan-ask", {7: f"{T0 + 6000 - 1},100.0,1.5,nan,2.5"}, "row 7", "not finite")
trades_bytes("empty-file", b"", "empty file")
trades_bytes("header-only", TRADES_HEADER.encode(), "no data rows")
trades_bytes("wrong-columns", b"a,b,c\n1,2,3\n", "column")
trades_bytes("binary-garbage", bytes(range(256)) * 8, "")
trades_bytes("non-utf8-field", (TRADES_HEADER + f"{T0},100.1,0.01,b\xfcy,1\n").encode("latin-1"), "row 1")
trades_bytes("non-utf8-header", b"ts_ms,pr\xffice,size\n1700000040000,1,1\n", "")
trades_bytes("only-blank-lines", b"\n\n\n", "empty file")
trades_bytes("headerless-two-fields", f"{T0},100.1\n".encode(), "fields")
_GZ = gzip.compress((TRADES_HEADER + "".join(r + "\n" for r in GOOD_TRADES)).encode())
trades_bytes("truncated-gzip", _GZ[: len(_GZ) // 2], "truncated gzip", name="trades.csv.gz")
trades_bytes("not-gzip-at-all", b"this is not gzip\n", "gzip", name="trades.csv.gz")
trades_bytes("empty-gzip", b"", "empty file", name="trades.csv.gz")
trades_bytes("garbage-parquet", b"PAR1 not really parquet PAR1", "Parquet", name="trades.parquet")
trades_bytes("garbage-feather", b"ARROW1\x00\x00garbage", "Feather", name="trades.feather")


def _parquet(id: str, table: pa.Table, *needles: str, kind: str = "trades") -> None:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        write_data(tmp)
        pq.write_table(table, tmp / "t.parquet")
        manifest = RECORDED.replace("format: trades_csv, path: trades.csv", "format: parquet, path: t.parquet")
        return _run(tmp, manifest), ["t.parquet", *needles]
    case(id)(build)


_ts = np.array([T0 + i * 1000 for i in range(60)], dtype=np.int64)
_parquet("parquet-year-2200", pa.table({"ts_ms": np.where(np.arange(60) == 9, 7258118400000, _ts),
                                        "price": [100.0] * 60, "size": [0.01] * 60}), "row 10", "plausible range")
_parquet("parquet-missing-price", pa.table({"ts_ms": _ts, "size": [0.01] * 60}), "price")
_parquet("parquet-null-timestamp", pa.table({"ts_ms": pa.array([*_ts[:5].tolist(), None, *_ts[6:].tolist()]),
                                             "price": [100.0] * 60, "size": [0.01] * 60}), "row 6", "timestamp")
_parquet("parquet-text-prices", pa.table({"ts_ms": _ts, "price": ["x"] * 60, "size": [0.01] * 60}), "price")


@case("parquet-truncated")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    pq.write_table(pa.table({"ts_ms": _ts, "price": [100.0] * 60, "size": [0.01] * 60}), tmp / "t.parquet")
    data = (tmp / "t.parquet").read_bytes()
    (tmp / "t.parquet").write_bytes(data[: len(data) // 2])
    manifest = RECORDED.replace("format: trades_csv, path: trades.csv", "format: parquet, path: t.parquet")
    return _run(tmp, manifest), ["t.parquet", "Parquet"]


@case("feather-v1")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    with pytest.warns(DeprecationWarning):  # pyarrow still writes it, warning that it is deprecated
        feather.write_feather(pa.table({"ts_ms": _ts, "price": [100.0] * 60, "size": [0.01] * 60}),
                              str(tmp / "t.feather"), version=1)
    manifest = RECORDED.replace("format: trades_csv, path: trades.csv", "format: feather, path: t.feather")
    return _run(tmp, manifest), ["t.feather", "Feather v1"]


@case("data-file-is-a-directory")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    (tmp / "trades.csv").unlink()
    (tmp / "trades.csv").mkdir()
    return _run(tmp), ["data[0].path", "trades.csv"]


@case("klines-one-bar-no-interval")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    (tmp / "k.csv").write_text("open_time,open,high,low,close,volume\n1700000040000,1,2,0.5,1.5,3\n")
    manifest = RECORDED.split("data:")[0] + "config: {feature_input: bars}\ndata:\n" \
        "  - {kind: klines, format: klines_csv, path: k.csv, root: scenario}\n"
    return _run(tmp, manifest), ["k.csv", "interval"]


@case("klines-high-below-low")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    rows = "".join(f"{T0 + i * 60_000},100,{99 if i == 2 else 101},99.5,100.5,3\n" for i in range(5))
    (tmp / "k.csv").write_text("open_time,open,high,low,close,volume\n" + rows)
    manifest = RECORDED.split("data:")[0] + "config: {feature_input: bars}\ndata:\n" \
        "  - {kind: klines, format: klines_csv, path: k.csv, root: scenario}\n"
    return _run(tmp, manifest), ["k.csv", "row 3"]


# -- manifests -------------------------------------------------------------------------------------

def manifest(id: str, text: str | bytes, *needles: str, data: bool = True) -> None:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        if data:
            write_data(tmp)
        if isinstance(text, bytes):
            (tmp / "case.yaml").write_bytes(text)
            return ["run", str(tmp / "case.yaml"), "--out", str(tmp / "out")], ["case.yaml", *needles]
        return _run(tmp, text), ["case.yaml", *needles]
    case(id)(build)


def edited(old: str, new: str, base: str = RECORDED) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


manifest("yaml-parse-error", RECORDED + "data: [\n", "not valid YAML", "line")
manifest("yaml-tab-indent", RECORDED + "\tseed: 2\n", "not valid YAML")
manifest("duplicate-top-level-key", RECORDED + "seed: 2\n", "seed", "duplicate key", "line 9", "line 5")
manifest("duplicate-nested-key", edited("window: {", "window: {start: \"2023-11-14T22:15:00Z\", "),
         "start", "duplicate key")
manifest("duplicate-key-in-data-entry", edited("root: scenario}", "root: scenario, root: data}"), "root",
         "duplicate key")
manifest("not-a-mapping", "- a\n- b\n", "expected a mapping")
manifest("empty-manifest", "", "expected a mapping")
manifest("non-utf8-manifest", RECORDED.encode() + b"description2: \xff\xfe\n", "not UTF-8")
manifest("missing-name", edited("name: case\n", ""), "name", "required key is missing")
manifest("missing-window", edited(f"window: {RECORDED.split('window: ')[1].splitlines()[0]}\n", ""), "window",
         "required key")
manifest("unknown-top-level-key", RECORDED + "sede: 3\n", "sede", "unknown key")
manifest("window-end-before-start", edited("end: \"2023-11-14T22:19:00Z\"", "end: \"2023-11-14T22:10:00Z\""),
         "window", "end must be after start")
manifest("window-ends-in-2200", edited("end: \"2023-11-14T22:19:00Z\"", "end: \"2200-01-01T00:00:00Z\""),
         "window", "plausible range")
manifest("window-starts-in-1990", edited("start: \"2023-11-14T22:14:00Z\"", "start: \"1990-01-01T00:00:00Z\""),
         "window", "plausible range")
manifest("window-three-years", edited("end: \"2023-11-14T22:19:00Z\"", "end: \"2026-11-14T22:19:00Z\""),
         "window", "731 days")
manifest("window-not-a-time", edited("end: \"2023-11-14T22:19:00Z\"", "end: tomorrow"), "window.end")
manifest("window-a-list", edited("window: {", "window: [").replace("}\nseed", "]\nseed"), "window")
manifest("seed-a-string", edited("seed: 1", "seed: one"), "seed")
manifest("seed-negative", edited("seed: 1", "seed: -1"), "seed")
manifest("seed-too-large", edited("seed: 1", f"seed: {2**70}"), "seed")
manifest("unknown-strategy", edited("strategy: hourly_probe", "strategy: moonshot"), "strategy", "unknown strategy")
manifest("strategy-params-unknown-key", RECORDED + "strategy_params: {qtty: 1}\n", "strategy_params.qtty",
         "unknown key")
manifest("strategy-params-string-number", RECORDED + "strategy_params: {qty: '0.01'}\n", "strategy_params.qty",
         "valid number")
manifest("strategy-params-float-for-int", RECORDED + "strategy_params: {every_minutes: 2.5}\n",
         "strategy_params.every_minutes", "valid integer")
manifest("strategy-params-bool-for-int", RECORDED + "strategy_params: {every_minutes: true}\n",
         "strategy_params.every_minutes")
manifest("strategy-params-infinite", RECORDED + "strategy_params: {qty: .inf}\n", "strategy_params.qty", "finite")
manifest("strategy-params-negative", RECORDED + "strategy_params: {qty: -1}\n", "strategy_params.qty")
manifest("strategy-params-not-a-mapping", RECORDED + "strategy_params: [1, 2]\n", "strategy_params")
manifest("amt-takes-no-strategy-params", edited("strategy: hourly_probe", "strategy: amt") +
         "strategy_params: {risk: 1}\n", "strategy_params.risk", "unknown key")
manifest("config-unknown-key", RECORDED + "config: {risk_pcnt: 0.1}\n", "config.risk_pcnt", "unknown key")
manifest("config-bad-value", RECORDED + "config: {risk_pct: -1}\n", "config.risk_pct")
manifest("data-kind-unknown", edited("kind: trades", "kind: candles"), "data.0.kind")
manifest("data-format-unknown", edited("format: trades_csv", "format: excel"), "data[0]", "unknown format")
manifest("data-path-dotdot", edited("path: trades.csv", "path: ../elsewhere/trades.csv"), "data[0].path",
         "outside the manifest's folder")
manifest("data-path-absolute", edited("path: trades.csv", "path: /etc/passwd"), "data[0].path", "absolute")
manifest("data-path-missing", edited("path: trades.csv", "path: nope.csv"), "data[0].path", "file not found")
manifest("data-path-not-a-string", edited("path: trades.csv", "path: [a]"), "data.0.path")
manifest("data-option-unknown", edited("root: scenario}", "root: scenario, options: {speed: 1}}"), "data[0]", "speed")
manifest("data-option-block-size-huge", edited("root: scenario}", "root: scenario, options: {block_size: "
                                               "1000000000000}}"), "data[0]", "block_size")
manifest("data-option-block-size-text", edited("root: scenario}", "root: scenario, options: {block_size: big}}"),
         "data[0]", "block_size")
manifest("data-and-synthetic", RECORDED + "synthetic: {segments: [{type: walk, minutes: 1}]}\n", "exactly one of")
manifest("no-data-at-all", RECORDED.split("data:")[0], "exactly one of")
manifest("on-bad-rows-unknown", RECORDED + "on_bad_rows: ignore\n", "on_bad_rows")
manifest("tick-size-zero", RECORDED + "instrument: {tick_size: 0}\n", "instrument.tick_size")
manifest("funding-rate-and-file", RECORDED + "funding: {rate_8h_bps: 1, file: r.csv}\n", "funding", "exactly one")
manifest("funding-file-dotdot", RECORDED + "funding: {file: ../r.csv, root: scenario}\n", "funding.file",
         "outside")
manifest("funding-file-missing", RECORDED + "funding: {file: r.csv, root: scenario}\n", "funding.file",
         "file not found")
manifest("yaml-alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)), "aliases")
manifest("yaml-nested-too-deep", "a: " + "[" * 5000 + "]" * 5000 + "\n", "")
manifest("synthetic-unknown-segment", edited("{type: quiet, minutes: 2}", "{type: moon, minutes: 2}", SYNTHETIC),
         "synthetic.segments[1]", "unknown segment type", data=False)
manifest("synthetic-segment-missing-minutes", edited("{type: quiet, minutes: 2}", "{type: quiet}", SYNTHETIC),
         "synthetic.segments[1].minutes", data=False)
manifest("synthetic-segment-a-billion-minutes", edited("{type: quiet, minutes: 2}", "{type: quiet, minutes: "
                                                       "1000000000}", SYNTHETIC), "synthetic.segments",
         "past the window", data=False)
manifest("synthetic-params-unknown", edited("trade_rate_per_s: 1", "trade_rate: 1", SYNTHETIC),
         "synthetic.params.trade_rate", "unknown key", data=False)
manifest("synthetic-params-negative-rate", edited("trade_rate_per_s: 1", "trade_rate_per_s: -1", SYNTHETIC),
         "synthetic.params.trade_rate_per_s", data=False)
manifest("synthetic-params-calibration-escape", edited("trade_rate_per_s: 1", "calibration: ../../etc/passwd",
                                                       SYNTHETIC), "synthetic.params.calibration", "outside",
         data=False)
manifest("synthetic-start-off-the-minute", edited("start: \"2024-03-01T00:00:00Z\"", "start: "
                                                  "\"2024-03-01T00:00:30Z\"", SYNTHETIC), "whole minute",
         data=False)
manifest("synthetic-start-price-zero", edited("start_price: 30000", "start_price: 0", SYNTHETIC),
         "synthetic.start_price", data=False)
manifest("synthetic-hold-outside-without-history", edited("{type: walk, minutes: 2}", "{type: hold_outside, "
                                                          "side: high, closes: 2, beyond_ticks: 5}", SYNTHETIC),
         "synthetic", "recent range", data=False)


@case("data-path-symlink-escape")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    outside = tmp / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text(TRADES_HEADER + "".join(r + "\n" for r in GOOD_TRADES))
    inside = tmp / "scenario"
    inside.mkdir()
    write_data(inside)
    (inside / "link.csv").symlink_to(outside / "secret.csv")
    (inside / "case.yaml").write_text(edited("path: trades.csv", "path: link.csv"))
    return ["run", str(inside / "case.yaml"), "--out", str(tmp / "out")], ["data[0].path", "link.csv", "outside"]


@case("data-root-dotdot")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    root = tmp / "root"
    root.mkdir()
    write_data(tmp)
    (tmp / "case.yaml").write_text(edited("path: trades.csv, root: scenario", "path: ../trades.csv"))
    os.environ["__CASE_DATA_ROOT"] = str(root)
    return ["run", str(tmp / "case.yaml"), "--out", str(tmp / "out")], ["data[0].path", "outside the data root"]


# -- options and YAML values -----------------------------------------------------------------------

def option(id: str, args: Callable[[Path], list[str]], *needles: str) -> None:
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        write_data(tmp)
        (tmp / "case.yaml").write_text(RECORDED)
        return args(tmp), list(needles)
    case(id)(build)


def run_with(*extra: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["run", str(tmp / "case.yaml"), "--out", str(tmp / "out"), *extra]


option("speed-negative", run_with("--speed", "-5"), "--speed", "> 0")
option("speed-zero", run_with("--speed", "0"), "--speed")
option("speed-nan", run_with("--speed", "nan"), "--speed")
option("speed-inf", run_with("--speed", "inf"), "--speed")
option("speed-text", run_with("--speed", "fast"), "--speed", "not a number")
option("seed-text", run_with("--seed", "abc"), "--seed", "not an integer")
option("seed-negative-option", run_with("--seed", "-1"), "--seed")
option("seed-huge-option", run_with("--seed", str(2**64)), "--seed")
option("set-unparseable-yaml", run_with("--set", "risk_pct=[1"), "--set", "risk_pct", "not valid YAML")
option("set-without-equals", run_with("--set", "risk_pct"), "--set", "KEY=VALUE")
option("set-duplicate-key-in-value", run_with("--set", "x={a: 1, a: 2}"), "--set", "duplicate key")
option("set-key-twice", run_with("--set", "risk_pct=0.1", "--set", "risk_pct=0.2"), "--set", "risk_pct", "twice")
option("set-unknown-config-key", run_with("--set", "risk_pcnt=0.1"), "risk_pcnt", "unknown key")
option("set-strategy-param-wrong-type", run_with("--set", "qty=lots"), "strategy_params.qty")
option("on-bad-rows-unknown-choice", run_with("--on-bad-rows", "skip"), "--on-bad-rows", "invalid choice")
option("unknown-option", run_with("--sped", "2"), "unrecognized arguments")
option("unknown-command", lambda tmp: ["runn", str(tmp / "case.yaml")], "invalid choice", "runn")
option("no-command", lambda tmp: [], "required")
option("run-without-scenario", lambda tmp: ["run"], "sim run", "scenario")
option("run-scenario-missing", lambda tmp: ["run", str(tmp / "nope.yaml")], "nope.yaml", "not found")
option("run-scenario-is-a-directory", lambda tmp: ["run", str(tmp) + "/x.yaml/"], "x.yaml")


@case("out-names-an-existing-file")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    (tmp / "case.yaml").write_text(RECORDED)
    (tmp / "taken").write_text("a file")
    return ["run", str(tmp / "case.yaml"), "--out", str(tmp / "taken")], ["--out", "taken", "not a directory"]


@case("out-under-an-existing-file")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    (tmp / "case.yaml").write_text(RECORDED)
    (tmp / "taken").write_text("a file")
    return ["run", str(tmp / "case.yaml"), "--out", str(tmp / "taken" / "run")], ["--out", "taken"]


option("sweep-grid-unparseable", lambda tmp: ["sweep", str(tmp / "case.yaml"), "--grid", "risk_pct=[1"],
       "--grid risk_pct", "not valid YAML")
option("sweep-grid-no-values", lambda tmp: ["sweep", str(tmp / "case.yaml"), "--grid", "risk_pct="], "no values")
option("sweep-grid-too-many-points", lambda tmp: ["sweep", str(tmp / "case.yaml")] + [
    a for k in ("a", "b", "c", "d", "e") for a in ("--grid", f"{k}=1,2,3,4,5,6,7")], "16807 points")
option("sweep-out-is-a-directory", lambda tmp: ["sweep", str(tmp / "case.yaml"), "--grid", "risk_pct=0.1",
                                                "--out", str(tmp)], "--out", "is a directory")
option("live-endpoint-not-a-url", lambda tmp: ["live", str(tmp / "case.yaml"), "--mode", "paper", "--endpoint",
                                               "not a url", "--data-dir", str(tmp / "d")], "--endpoint",
       "not an http(s) URL")
option("live-endpoint-ftp", lambda tmp: ["live", str(tmp / "case.yaml"), "--endpoint", "ftp://127.0.0.1:1"],
       "--endpoint")
option("live-endpoint-bad-port", lambda tmp: ["live", str(tmp / "case.yaml"), "--endpoint",
                                              "http://127.0.0.1:99999"], "--endpoint")
option("live-control-port-out-of-range", lambda tmp: ["live", str(tmp / "case.yaml"), "--control-port", "70000"],
       "--control-port", "65535")
option("live-warmup-negative", lambda tmp: ["live", str(tmp / "case.yaml"), "--warmup-minutes", "-1"],
       "--warmup-minutes")
option("live-max-wall-zero", lambda tmp: ["live", str(tmp / "case.yaml"), "--max-wall-s", "0"], "--max-wall-s")
option("live-settings-missing", lambda tmp: ["live", str(tmp / "case.yaml"), "--settings", str(tmp / "no.yaml")],
       "--settings", "no such file")
option("live-mode-unknown", lambda tmp: ["live", str(tmp / "case.yaml"), "--mode", "yolo"], "--mode")


@case("live-settings-duplicate-key")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    (tmp / "case.yaml").write_text(RECORDED)
    (tmp / "s.yaml").write_text("mode: paper\nwarmup_minutes: 1\nmode: live\n")
    return (["live", str(tmp / "case.yaml"), "--settings", str(tmp / "s.yaml"), "--data-dir", str(tmp / "d")],
            ["s.yaml", "mode", "duplicate key", "line 3"])


@case("live-settings-unknown-key")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    (tmp / "case.yaml").write_text(RECORDED)
    (tmp / "s.yaml").write_text("mode: paper\nwarmup_minuts: 1\n")
    return (["live", str(tmp / "case.yaml"), "--settings", str(tmp / "s.yaml"), "--data-dir", str(tmp / "d")],
            ["s.yaml", "warmup_minuts", "unknown key"])


option("emulator-port-negative", lambda tmp: ["emulator", str(tmp / "case.yaml"), "--port", "-1"], "--port")
option("emulator-port-text", lambda tmp: ["emulator", str(tmp / "case.yaml"), "--port", "http"], "--port")
option("emulator-port-missing", lambda tmp: ["emulator", str(tmp / "case.yaml")], "--port", "required")
option("emulator-speed-zero", lambda tmp: ["emulator", str(tmp / "case.yaml"), "--port", "0", "--speed", "0"],
       "--speed")
option("emulator-rate-limit-scale-negative", lambda tmp: ["emulator", str(tmp / "case.yaml"), "--port", "0",
                                                          "--rate-limit-scale", "-2"], "--rate-limit-scale")
option("emulator-fast-until-not-a-time", lambda tmp: ["emulator", str(tmp / "case.yaml"), "--port", "0",
                                                      "--fast-until", "later"], "fast_until", "later")
def emulator_state(id: str, content: Callable[[Path], str], *needles: str) -> None:
    """`sim emulator --state FILE` with FILE holding `content`."""
    def build(tmp: Path) -> tuple[list[str], list[str]]:
        write_data(tmp)
        (tmp / "case.yaml").write_text(RECORDED)
        (tmp / "venue.json").write_text(content(tmp))
        return ["emulator", str(tmp / "case.yaml"), "--port", "0", "--state", str(tmp / "venue.json")], \
            ["venue.json", *needles]
    case(id)(build)


def _other_scenarios_state(tmp: Path) -> str:
    import json

    from adapters.emulator.exchange import EmulatedExchange
    from adapters.emulator.state_file import snapshot
    from sim.scenario.manifest import load_scenario

    return json.dumps(snapshot(EmulatedExchange(load_scenario(str(REPO / "tests/fixtures/emulator/probe_plain.yaml")))))


emulator_state("emulator-state-not-json", lambda tmp: '{"version": 1, "orders": [', "not an emulator state file")
emulator_state("emulator-state-other-version", lambda tmp: '{"version": 99}', "format version 99")
emulator_state("emulator-state-missing-fields", lambda tmp: '{"version": 1}', "not an emulator state file")
emulator_state("emulator-state-other-scenario", _other_scenarios_state, "saved for scenario 'probe_plain'")


@case("emulator-block-sets-state")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    (tmp / "case.yaml").write_text(RECORDED + "emulator: {state: venue.json}\n")
    return ["emulator", str(tmp / "case.yaml"), "--port", "0"], ["emulator.state", "unknown key"]


@case("emulator-block-clock-unknown")
def _(tmp: Path) -> tuple[list[str], list[str]]:
    write_data(tmp)
    (tmp / "case.yaml").write_text(RECORDED + "emulator: {clock: 7}\n")
    return ["emulator", str(tmp / "case.yaml"), "--port", "0"], ["emulator.clock", "not one of wall, scenario"]


option("emulator-clock-unknown", lambda tmp: ["emulator", str(tmp / "case.yaml"), "--port", "0", "--clock", "venue"],
       "invalid choice")


option("emulator-state-folder-missing", lambda tmp: ["emulator", str(tmp / "case.yaml"), "--port", "0", "--state",
                                                     str(tmp / "nowhere" / "venue.json")], "nowhere",
       "does not exist")
option("import-missing-file", lambda tmp: ["import", str(tmp / "nope.csv"), "--out", str(tmp / "o")], "nope.csv")
option("import-tick-size-zero", lambda tmp: ["import", str(tmp / "trades.csv"), "--tick-size", "0"],
       "--tick-size")
option("import-format-unknown", lambda tmp: ["import", str(tmp / "trades.csv"), "--format", "xls"], "--format")
option("import-out-is-a-file", lambda tmp: ["import", str(tmp / "trades.csv"), "--out", str(tmp / "quotes.csv")],
       "--out", "not a directory")
option("import-report-is-a-directory", lambda tmp: ["import", str(tmp / "trades.csv"), "--report", str(tmp)],
       "--report", "is a directory")
option("import-kind-contradicts-format", lambda tmp: ["import", str(tmp / "trades.csv"), "--format", "trades_csv",
                                                      "--kind", "quotes", "--out", str(tmp / "o")], "--kind quotes")
option("import-interval-nonsense", lambda tmp: ["import", str(tmp / "trades.csv"), "--interval", "fortnight",
                                                "--out", str(tmp / "o")], "interval")
option("report-not-a-run-dir", lambda tmp: ["report", str(tmp)], "not a run directory")
option("report-run-dir-missing", lambda tmp: ["report", str(tmp / "nope")], "RUN_DIR", "no such directory")
option("verify-golden-missing", lambda tmp: ["verify", str(tmp / "case.yaml"), "--golden", str(tmp / "g")],
       "--golden", "no such directory")
option("verify-nothing-named", lambda tmp: ["verify"], "name at least one scenario")
option("bless-unknown-option", lambda tmp: ["bless", "--skip-unavailable"], "unrecognized arguments")
option("determinism-scenario-missing", lambda tmp: ["determinism", str(tmp / "nope.yaml")], "nope.yaml")
option("record-endpoint-not-a-url", lambda tmp: ["record", str(tmp / "case.yaml"), "--endpoint", "localhost",
                                                 "--out", str(tmp / "r")], "--endpoint")
option("record-name-with-a-path", lambda tmp: ["record", str(tmp / "case.yaml"), "--endpoint",
                                               "http://127.0.0.1:1", "--out", str(tmp / "r"), "--name",
                                               "../../escape"], "--name", "plain name")
option("mode-unknown", lambda tmp: ["mode", "turbo", "--data-dir", str(tmp)], "invalid choice", "turbo")
option("status-no-session", lambda tmp: ["status", "--data-dir", str(tmp)], "control.json", "no running session")
option("status-data-dir-is-a-file", lambda tmp: ["status", "--data-dir", str(tmp / "trades.csv")], "--data-dir")
option("basis-backtest-out-is-a-file", lambda tmp: ["basis-backtest", "2021-01-02", "2021-01-05", "--out",
                                                    str(tmp / "trades.csv")], "--out", "not a directory")
option("basis-backtest-set-unparseable", lambda tmp: ["basis-backtest", "2021-01-02", "2021-01-05", "--set",
                                                      "capital_usd={", "--out", str(tmp / "o")], "--set capital_usd",
       "not valid YAML")


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_naming_it_and_exit_2(c: Case, tmp_path: Path) -> None:
    os.environ.pop("__CASE_DATA_ROOT", None)
    args, needles = c.build(tmp_path)
    env = {"SIM_DATA_DIR": os.environ.pop("__CASE_DATA_ROOT")} if "__CASE_DATA_ROOT" in os.environ else None
    line = one_line_error(sim(*args, cwd=tmp_path, env=env, timeout=60))
    for needle in needles:
        assert needle in line, (needle, line)
    assert not (tmp_path / "out" / "manifest.json").exists()

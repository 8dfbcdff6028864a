"""Every key of config/default.yaml acts: changing it changes what a run (or a live session) does.

`EFFECTS` names, for each key, how that is shown:
- `Replay`: a small synthetic scenario replayed with the key changed (on top of `basis`, when
  another key must first make this one matter) differs from the replay without the change in the
  named outputs, while the outputs upstream of the key (the market's bars; for strategy keys
  also the features) stay identical — the change lands where it should and only downstream.
- `Refused`: the key states the only value the simulator has (`exchange: bybit`, `timeframe: 1m`,
  `margin_mode: cross`, `fill_on_next_quote: true`); any other value is an error naming it.
- `Elsewhere`: a named test shows it (live-session keys against the emulator, keys whose effect is
  on what is sent to the adapter rather than on a replay's outputs).

`NOT_READ` lists, with the reason, the keys no code reads yet. The first test fails when a key of
the default file is in neither, so a key that does nothing cannot be added silently.
"""

from __future__ import annotations

import importlib
import inspect
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from sim.core.config import DEFAULT_PATH, Config, load_config
from sim.core.errors import ManifestError
from sim.scenario.roots import REPO
from sim.core.events import NS_PER_MIN
from sim.run import run

MARKET = ("bars.csv",)
FEATURES = ("bars.csv", "features.csv")


@dataclass(frozen=True)
class Replay:
    scenario: str  # scenarios/amt/<name>.yaml
    value: Any
    differs: tuple[str, ...]
    same: tuple[str, ...] = FEATURES  # upstream outputs the key must not touch
    basis: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    value: Any


@dataclass(frozen=True)
class Elsewhere:
    test: str  # "module.path::test_name"; the test's source names the key


TRADES = ("orders.csv", "fills.csv", "positions.csv", "equity.csv")
DECISIONS = ("signals.csv", *TRADES)
LIVE = "tests.live.test_live_config_keys"

EFFECTS: dict[str, Replay | Refused | Elsewhere] = {
    # the run's identity
    "exchange": Refused("binance"),
    "timeframe": Refused("5m"),
    # value area and the feature engine (docs/FEATURES.md)
    "rolling_window_minutes": Replay("entry_breakin_long", 120, ("features.csv", *DECISIONS), MARKET),
    "va_fraction": Replay("entry_breakin_long", 0.5, ("features.csv", *DECISIONS), MARKET),
    "base_bin_ticks": Replay("entry_breakin_long", 2, ("features.csv", "signals.csv"), MARKET),
    "alpha_bin": Replay("entry_breakin_long", 0.5, ("features.csv", *DECISIONS), MARKET),
    "bin_width_max_ticks": Replay("entry_breakin_long", 3, ("features.csv", "signals.csv"), MARKET),
    "rebucket_interval_minutes": Replay("entry_breakin_long", 5, ("features.csv", *DECISIONS), MARKET),
    "rebucket_change_pct": Replay("entry_breakin_long", 0.05, ("features.csv", "signals.csv"), MARKET),
    "min_va_bins": Replay("entry_va_invalid", 8, ("features.csv", *DECISIONS), MARKET),
    "max_quote_staleness_ms": Replay("entry_breakin_long", 1, ("features.csv",), MARKET),
    "use_tick_rule_fallback": Replay("entry_breakin_long", False, ("features.csv",), MARKET),
    "side_source": Replay("entry_breakin_long", "exchange", ("features.csv",), MARKET),
    "quote_alignment": Replay("entry_breakin_long", "before", ("features.csv",), MARKET),
    "order_flow_source": Replay("entry_breakin_long", "bvc", ("features.csv",), MARKET),
    "bvc_lookback_minutes": Replay("entry_breakin_long", 30, ("features.csv",), MARKET, {"order_flow_source": "bvc"}),
    "qimb_ema_span_seconds": Replay("entry_breakin_long", 5, ("features.csv",), MARKET),
    # the rolling spread is a column of the bars export too
    "spread_lookback_minutes": Replay("entry_breakin_long", 5, ("bars.csv", "features.csv"), ()),
    "instrument": Elsewhere("tests.core.test_config_keys_act::test_instrument_is_the_symbol_the_scenario_trades"),
    "feature_input": Elsewhere("tests.core.test_config_keys_act::test_feature_input_bars_takes_the_profile_from_klines"),
    # initiative and the setups' thresholds
    "ambiguous_trade_frac_max": Replay("entry_failbreak_long", 0.01, ("alerts.csv",)),
    "use_qimb": Replay("entry_breakin_long", False, DECISIONS),
    "qimb_source": Replay("entry_breakin_long", "ema_60s", DECISIONS),
    "qimb_entry_min": Replay("entry_breakin_long", 0.9, DECISIONS, basis={"of_entry_min": 1e9, "of_entry_min_norm": 0.99}),
    "qimb_breakout_min": Replay("entry_breakout_long", 0.9, DECISIONS, basis={"of_breakout_min": 1e9}),
    "qimb_fail_min": Replay("entry_failbreak_long", -0.9, DECISIONS,
                            basis={"of_fail_min": -1e9, "of_fail_min_norm": -0.99}),
    "of_entry_min": Replay("entry_flip", 1e9, DECISIONS),
    "of_entry_min_norm": Replay("entry_flip", 0.99, DECISIONS),
    "of_breakout_min": Replay("entry_breakout_long", 1e9, DECISIONS, basis={"use_qimb": False}),
    "of_breakout_min_norm": Replay("entry_breakout_long", 0.99, DECISIONS, basis={"use_qimb": False}),
    "of_fail_min": Replay("entry_failbreak_long", -1e9, DECISIONS, basis={"use_qimb": False}),
    "of_fail_min_norm": Replay("entry_failbreak_long", -0.99, DECISIONS, basis={"use_qimb": False}),
    "accept_outside_k": Replay("entry_failbreak_long", 1, ("signals.csv",)),
    "enable_retest_mode": Replay("entry_breakout_retest", False, DECISIONS),
    "enable_flip_on_signal": Replay("entry_flip", False, DECISIONS),
    "warmup_minutes": Replay("entry_breakin_long", 300, DECISIONS),
    # sizing, exits and risk
    "risk_pct": Replay("entry_breakin_long", 0.001, TRADES),
    "max_leverage": Replay("entry_breakin_long", 2, (*TRADES, "alerts.csv")),
    "margin_mode": Refused("isolated"),
    "tp1_pct": Replay("entry_breakin_long", 0.1, TRADES),
    "tp2_pct": Replay("entry_failbreak_long", 0.4, DECISIONS),
    "move_stop_to_breakeven_after_tp1": Replay("exit_tp1_breakeven", False, DECISIONS),
    "max_hold_minutes": Replay("entry_breakin_long", 5, DECISIONS),
    "extend_if_profitable": Replay("exit_time_stop_extended", False, DECISIONS),
    "cooldown_minutes": Replay("exit_cooldown", 30, DECISIONS),
    "stop_buffer_ticks": Replay("entry_breakin_long", 10, ("positions.csv",)),
    "max_daily_loss": Replay("entry_breakin_long", 1, (*DECISIONS, "alerts.csv")),
    # execution and the simulated exchange
    "fill_on_next_quote": Refused(False),
    "slippage_ticks_entry": Replay("exit_limit_timeout", 3, ("fills.csv", "positions.csv", "equity.csv")),
    "slippage_ticks_exit": Replay("entry_breakin_long", 3, ("fills.csv", "positions.csv", "equity.csv")),
    "taker_fee_bps": Replay("entry_breakin_long", 10, TRADES),
    "maker_fee_bps": Replay("entry_breakin_long", 2, TRADES),
    "limit_order_timeout_minutes": Replay("exit_limit_timeout", 3, TRADES),
    "use_limit_for_entry": Replay("entry_breakin_long", False, TRADES),
    "entry_time_in_force": Elsewhere("tests.core.test_config_keys_act::test_entry_time_in_force_reaches_the_adapter"),
    "use_market_for_exit": Replay("exit_tp1_breakeven", False, TRADES),
    # backtests
    "funding_rate_8h_bps": Replay("exit_funding", 10, ("positions.csv", "equity.csv")),
    "initial_equity": Replay("entry_breakin_long", 5000, TRADES),
    "flatten_at_end_minutes": Replay("entry_breakin_long", 60, DECISIONS),
    # monitoring and start-up
    "state_snapshot_interval_minutes": Elsewhere(
        "tests.core.test_config_keys_act::test_state_snapshot_interval_sets_the_periodic_snapshots"),
    "log_features_every_minute": Elsewhere(f"{LIVE}::test_log_features_every_minute_governs_the_minute_snapshot"),
    "require_manual_activation": Elsewhere(f"{LIVE}::test_a_paper_session_activates_itself_without_manual_activation"),
}

NOT_READ = {
    "backtest_workers": "the process pool `sim sweep` is to use; sweeps run their points in turn today",
}


def test_every_key_of_the_default_file_has_an_effect_test() -> None:
    keys = set(yaml.safe_load(DEFAULT_PATH.read_text()))
    assert keys == set(Config.model_fields)
    assert not set(EFFECTS) & set(NOT_READ)
    missing = sorted(keys - set(EFFECTS) - set(NOT_READ))
    assert missing == [], f"config keys with no effect test: {missing}"
    assert sorted(set(EFFECTS) | set(NOT_READ)) == sorted(keys), "effects listed for keys that do not exist"
    for key, effect in EFFECTS.items():
        if isinstance(effect, Elsewhere):
            module, name = effect.test.split("::")
            fn = getattr(importlib.import_module(module), name, None)
            assert fn is not None, f"{key}: {effect.test} does not exist"
            assert key in inspect.getsource(fn), f"{key}: {effect.test} does not change it"


_RUNS: dict[tuple[str, str], dict[str, str]] = {}


def _exports(scenario: str, overrides: dict[str, Any]) -> dict[str, str]:
    k = (scenario, json.dumps(overrides, sort_keys=True))
    if k not in _RUNS:
        _RUNS[k] = run(f"scenarios/amt/{scenario}.yaml", overrides).exports
    return _RUNS[k]


REPLAYS = sorted((k, e) for k, e in EFFECTS.items() if isinstance(e, Replay))


@pytest.mark.parametrize("key, effect", REPLAYS, ids=[k for k, _ in REPLAYS])
def test_changing_the_key_changes_the_run_downstream_of_it(key: str, effect: Replay) -> None:
    assert getattr(load_config(overrides=effect.basis), key) != effect.value, "the change must be a change"
    before = _exports(effect.scenario, effect.basis)
    after = _exports(effect.scenario, {**effect.basis, key: effect.value})
    changed = [f for f in effect.differs if before[f] == after[f]]
    assert changed == [], f"{key}={effect.value!r} left {changed} unchanged"
    touched = [f for f in effect.same if before[f] != after[f]]
    assert touched == [], f"{key}={effect.value!r} changed {touched}, upstream of it"


REFUSED = sorted((k, e) for k, e in EFFECTS.items() if isinstance(e, Refused))


@pytest.mark.parametrize("key, effect", REFUSED, ids=[k for k, _ in REFUSED])
def test_a_pinned_key_refuses_any_other_value(key: str, effect: Refused) -> None:
    with pytest.raises(ManifestError, match=rf"config\.{key}"):
        load_config(overrides={key: effect.value})


def test_tp2_pct_with_tp1_pct_may_not_exceed_the_position() -> None:
    with pytest.raises(ManifestError, match=r"tp2_pct: tp1_pct \+ tp2_pct must not exceed 1"):
        load_config(overrides={"tp1_pct": 0.5, "tp2_pct": 0.7})


def test_tp2_pct_below_the_rest_exits_a_share_at_tp2_and_the_rest_rides() -> None:
    from tests.strategies.amt.test_amt_state_machine import Driver, at, break_in_long

    d = Driver(tp1_pct=0.3, tp2_pct=0.4)
    entry = break_in_long(d, fill=True)
    row = d.minute(2, 49_960, 50_120, 49_955, 50_110)  # beyond TP2 (VAH 50 100)
    assert row[7:9] == ("EXIT", "tp2")
    x = d.adapter.sent[-1]
    n = round(entry.qty / 0.001)
    assert round(x.qty / 0.001) == int(n * 0.4 + 0.5) and x.reduce_only
    d.ack(x.client_order_id, at(2, 0))
    d.fill(x, at(2, 1), 50_100)
    plan = d.strategy.plan
    assert plan is not None and plan.tp2_done and plan.stop == 49_950, "the rest rides, its stop at breakeven"
    assert d.minute(3, 50_110, 50_130, 50_100, 50_120)[7:9] == ("HOLD", "none"), "TP2 is not taken twice"
    assert d.minute(4, 50_000, 50_010, 49_940, 49_960)[7:9] == ("EXIT", "stop_breakeven")
    assert d.adapter.sent[-1].qty == pytest.approx(entry.qty - x.qty)


def test_entry_time_in_force_reaches_the_adapter() -> None:
    from tests.strategies.amt.test_amt_state_machine import Driver, break_in_long

    for tif in ("GTC", "PostOnly"):
        d = Driver(entry_time_in_force=tif)
        entry = break_in_long(d, fill=False)
        assert (entry.order_type, entry.time_in_force, entry.reduce_only) == ("limit", tif, False)
        assert d.ctx.orders[entry.client_order_id].time_in_force == tif


def test_state_snapshot_interval_sets_the_periodic_snapshots() -> None:
    from tests.strategies.amt.test_amt_state_machine import INSIDE, Driver

    def periodic(minutes: int) -> list[int]:
        d = Driver(state_snapshot_interval_minutes=minutes)
        kinds: list[tuple[int, str]] = []
        d.snapshot = lambda ts, kind, state: kinds.append((ts, kind))  # type: ignore[method-assign]
        for m in range(12):
            d.minute(m, **INSIDE)
        return [ts for ts, kind in kinds if kind == "PERIODIC"]

    five, two = periodic(5), periodic(2)
    assert len(five) == 2 and len(two) == 6
    assert all(ts % (5 * NS_PER_MIN) == 0 for ts in five) and all(ts % (2 * NS_PER_MIN) == 0 for ts in two)


def test_feature_input_bars_takes_the_profile_from_klines() -> None:
    """`feature_input` (docs/FEATURES.md): a tick scenario refuses `bars` (no klines to read),
    and the month of klines runs only in bars mode."""
    from sim.core.errors import UserInputError

    with pytest.raises(UserInputError, match="feature_input"):
        run("scenarios/amt/entry_breakin_long.yaml", {"feature_input": "bars"})


def test_instrument_is_the_symbol_the_scenario_trades() -> None:
    """`instrument` names the market a config is written for: a run (or live session) of a scenario
    trading another symbol is refused, naming the key; the default BTCUSDT runs the BTCUSDT scenarios."""
    from sim.run import run

    with pytest.raises(ManifestError, match=r"config\.instrument: 'ETHUSDT', but the scenario trades 'BTCUSDT'"):
        run(REPO / "scenarios" / "amt" / "entry_breakin_long.yaml", {"instrument": "ETHUSDT"})
    with pytest.raises(ManifestError, match=r"config\.instrument: 'BTCUSDT', but the scenario trades 'BTCUSD'"):
        run(REPO / "tests" / "fixtures" / "emulator" / "probe_inverse.yaml", {"instrument": "BTCUSDT"})
    assert run(REPO / "tests" / "fixtures" / "emulator" / "probe_inverse.yaml").summary["fills"] > 0

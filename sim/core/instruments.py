"""Instruments: how the simulated exchange matches one (`EngineInstrument`), and the instruments of
the basis trade: spot, and coin-margined inverse contracts with a contract value
in USD (DESIGN §9): Binance COIN-M BTCUSD quarterlies are 100 USD a contract (the seeds' data),
Bybit inverse contracts 1 USD a contract. Contract counts are whole numbers; a USD notional turns
into contracts by flooring at the contract value, so the same notional is 100 times as many
Bybit contracts as Binance ones."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sim.core.expiry import expiry_of_symbol

Kind = Literal["spot", "inverse_future", "inverse_perpetual"]

BINANCE_COINM_CONTRACT_USD = 100.0
BYBIT_INVERSE_CONTRACT_USD = 1.0


@dataclass(frozen=True)
class Instrument:
    symbol: str
    kind: Kind
    tick_size: float
    contract_value_usd: float = 0.0  # inverse contracts only
    expiry_ns: int | None = None  # quarterlies only

    @property
    def inverse(self) -> bool:
        return self.kind != "spot"

    def contracts_for_usd(self, notional_usd: float) -> int:
        """Whole contracts for a USD notional, rounded down (never more exposure than asked)."""
        if not self.inverse:
            raise ValueError(f"{self.symbol} is spot: it has no contracts")
        return int(math.floor(notional_usd / self.contract_value_usd + 1e-9))

    def usd_of(self, contracts: int) -> float:
        return contracts * self.contract_value_usd


def spot(symbol: str = "BTCUSDT", tick_size: float = 0.01) -> Instrument:
    return Instrument(symbol, "spot", tick_size)


def binance_quarterly(symbol: str, expiry_ns: int | None = None) -> Instrument:
    """A Binance COIN-M quarterly (`BTCUSD_YYMMDD`); `expiry_ns` overrides the date in its name."""
    return Instrument(symbol, "inverse_future", 0.1, BINANCE_COINM_CONTRACT_USD,
                      expiry_ns if expiry_ns is not None else expiry_of_symbol(symbol))


def bybit_inverse_quarterly(symbol: str, expiry_ns: int) -> Instrument:
    """A Bybit inverse quarterly; its delivery time comes from the exchange's instrument data."""
    return Instrument(symbol, "inverse_future", 0.5, BYBIT_INVERSE_CONTRACT_USD, expiry_ns)


@dataclass(frozen=True)
class EngineInstrument:
    """An instrument as the simulated exchange matches it (see `sim._core.MarketEngine.set_instrument`)."""

    symbol: str
    tick_size: float
    taker_fee_bps: float
    maker_fee_bps: float
    contract_value: float = 0.0  # USD per contract of an inverse contract; 0 for a linear one
    bar_spread_bps: float = 0.0
    fill_model: Literal["touch", "probabilistic"] = "touch"
    fill_prob: float = 1.0
    fill_seed: int = 0

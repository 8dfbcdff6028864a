"""The settings of a live session (spec §11, §16; DESIGN §10): one strict, frozen model.

They come from a YAML file (`sim live --settings FILE`) and command-line flags on top; unknown
keys are errors naming the key. Secrets are not settings: they come from the environment or
`config/.env` (`sim.live.secrets`) and are never written here or anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.core.errors import UserInputError, validation_key_and_message
from sim.core.yaml_file import read_mapping

Mode = Literal["dry_run", "paper", "shadow", "live"]
Network = Literal["testnet", "mainnet"]

#: What `mainnet_confirmation` must say before a session may touch mainnet.
MAINNET_CONFIRMATION = "I accept that this session trades real money on Bybit mainnet"
BYBIT_GRACE_MS = 250  # Bybit's trade and book topics are pushed on their own schedules (10–100 ms)
WARMUP_MINUTES = 240  # spec §16.1: the rolling window must be full before signals are valid


class LiveSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = "dry_run"
    network: Network = "testnet"
    #: A loopback emulator's base URL (http://127.0.0.1:PORT); None: Bybit itself.
    endpoint: str | None = None
    category: Literal["linear", "spot", "inverse"] = "linear"
    data_dir: Path = Path("data")
    #: The control server (status, activation, mode switch): loopback unless told otherwise.
    control_host: str = "127.0.0.1"
    control_port: int = Field(0, ge=0, le=65535)
    warmup_minutes: int = Field(WARMUP_MINUTES, ge=0)
    mainnet_confirmation: str = ""
    stale_after_s: float = Field(10.0, gt=0)
    #: How long the feed waits for messages of other topics that may overtake each other before a
    #: minute is closed. None: 0 against a loopback emulator (one connection, in order), else
    #: BYBIT_GRACE_MS.
    grace_ms: int | None = Field(None, ge=0)
    snapshot_interval_minutes: int = Field(5, gt=0)
    #: Shadow mode: a live fill further than this from its paper twin is a divergence.
    shadow_price_tolerance_ticks: float = Field(2.0, ge=0)
    shadow_time_tolerance_ms: int = Field(5_000, ge=0)
    #: Stop after this much wall time (None: run until the window ends or the process is stopped).
    max_wall_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _mainnet_rules(self) -> LiveSettings:
        if self.network == "mainnet" and self.endpoint is not None:
            raise ValueError("endpoint: mainnet means Bybit itself; an endpoint is for a loopback emulator")
        return self

    @property
    def effective_grace_ms(self) -> int:
        if self.grace_ms is not None:
            return self.grace_ms
        return 0 if self.endpoint else BYBIT_GRACE_MS

    @property
    def trades(self) -> bool:
        """Whether orders can leave for the exchange (live, and shadow's mirror)."""
        return self.mode in ("shadow", "live")

    def check_mainnet(self) -> None:
        """Mainnet refuses to start without the explicit confirmation (DESIGN §10)."""
        if self.network != "mainnet" or self.mode in ("dry_run", "paper"):
            return
        if self.mainnet_confirmation != MAINNET_CONFIRMATION:
            raise UserInputError(
                f"mainnet: refusing to start a {self.mode} session without the confirmation setting "
                f"(mainnet_confirmation: \"{MAINNET_CONFIRMATION}\")")
        if self.warmup_minutes < WARMUP_MINUTES:
            raise UserInputError(f"mainnet: warmup_minutes must be at least {WARMUP_MINUTES}, got {self.warmup_minutes}")


def load_settings(path: Path | None, overrides: dict[str, Any]) -> LiveSettings:
    raw: dict[str, Any] = dict(read_mapping(path, "live settings")[0]) if path is not None else {}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return LiveSettings(**raw)
    except ValidationError as e:
        key, msg = validation_key_and_message(e.errors())  # type: ignore[arg-type]
        raise UserInputError(f"{path or 'live settings'}: {key}: {msg}") from None

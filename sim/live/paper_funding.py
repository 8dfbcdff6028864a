"""Funding for paper positions (spec §12.3: "Live: fetch actual rates from Bybit API").

A paper or shadow session's position lives in the paper engine, so the venue never charges it;
the session charges it itself, from the live ticker: Bybit's `tickers` topic announces the rate
(`fundingRate`) that the next settlement (`nextFundingTime`) will apply. Every announcement
seen is kept by settlement time, the latest winning; once the session's market time reaches a
settlement, it is charged with the last rate announced for it, at the price of the minute
closing there (the mid of the latest quote at or before it, as a replay's funding mark).

A settlement the session never saw announced (it started after the ticker moved on, or no ticker
came) is not charged: the rate is unknown, and guessing one would be a made-up cost.
"""

from __future__ import annotations

from typing import Any


class PaperFunding:
    def __init__(self) -> None:
        self.announced: dict[int, float] = {}  # settlement time (ms) -> the rate last announced for it
        self.settled_ms: int | None = None  # the latest settlement charged (or replayed)

    def observe(self, ticker: Any) -> None:
        """A ticker (`adapters.bybit.messages.Ticker`, or None)."""
        if ticker is None or ticker.next_funding_time_ms is None or ticker.funding_rate is None:
            return
        t = int(ticker.next_funding_time_ms)
        if self.settled_ms is None or t > self.settled_ms:
            self.announced[t] = float(ticker.funding_rate)

    def due(self, now_ms: int) -> list[tuple[int, float]]:
        """Settlements at or before `now_ms` not charged yet, oldest first: (time ms, rate)."""
        out = sorted((t, r) for t, r in self.announced.items() if t <= now_ms)
        for t, _ in out:
            del self.announced[t]
        if out:
            self.settled(out[-1][0])
        return out

    def settled(self, t_ms: int) -> None:
        """Settlement `t_ms` is charged (live, or by the recovery replay of its record)."""
        self.settled_ms = t_ms if self.settled_ms is None else max(self.settled_ms, t_ms)
        for t in [t for t in self.announced if t <= self.settled_ms]:
            del self.announced[t]

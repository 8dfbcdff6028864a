"""Tickers as Bybit documents them per category: REST market/tickers.mdx and WebSocket
websocket/public/ticker.mdx (linear/inverse: a snapshot, then deltas carrying only the fields that
changed; spot: snapshots only).

Where the figures come from (docs/DECISIONS.md, "Emulator market data"):
- last price and tick direction: the last print (a bars scenario: the last bar's close);
- bid/ask: the level-1 quote; index and mark (and spot's usdIndexPrice): its mid, as everywhere
  in the emulator;
- 24-hour figures: the one-minute candles of the last 24 h of venue time (the minute holding
  now − 24 h left out); during the first 24 h of a replay, everything since the data began.
  prevPrice24h / prevPrice1h: the close of the last minute before the window, or the data's first
  price when the window reaches back before it. Before the first print the prices are "" and
  volume/turnover "0";
- open interest: the account's own open position is the only open interest the emulator knows:
  singleOpenInterest is its size, openInterest (both sides) twice that — the position and the
  market's opposite one; values at the mark (inverse: in BTC);
- perpetuals have no delivery: predictedDeliveryPrice, basis, basisRate, basisRateYear,
  deliveryFeeRate and the pre-listing fields are "" and deliveryTime "0", as in Bybit's own
  perpetual examples.
"""

from __future__ import annotations

from typing import Any

from .contract import num
from .klines import DAY_MS, HOUR_MS, amount

#: Push cadence of the stream (venue time): derivatives every 100 ms, spot every 50 ms (ticker.mdx).
PUSH_MS = {"spot": 50, "linear": 100, "inverse": 100}
#: price24hPcnt decimals, as Bybit's examples write them (linear/inverse 0.017103, spot 0.0068).
PCNT_PLACES = {"spot": 4, "linear": 6, "inverse": 6}


def _fixed(x: float, places: int) -> str:
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _market(ex: Any) -> dict[str, str]:
    """The fields every category shares: the quote, the last price and the 24-hour figures."""
    tape, candles = ex.tape, ex.tape.candles
    top = tape.last_top
    bid, ask = (top["b"][0], top["a"][0]) if top else (["", ""], ["", ""])
    now = ex.clock.venue_ms(ex.market_ns)
    out = {"bid1Price": bid[0], "bid1Size": bid[1], "ask1Price": ask[0], "ask1Size": ask[1], "lastPrice": "",
           "prevPrice24h": "", "price24hPcnt": "", "highPrice24h": "", "lowPrice24h": "", "prevPrice1h": "",
           "turnover24h": "0", "volume24h": "0", "tickDirection": candles.tick_direction}
    day = candles.window(now - DAY_MS)
    if day is None:
        return out
    last, first = candles.last_price, candles.first_price
    hi, lo, vol, turn, before = day
    prev = before if before is not None else first
    hour = candles.window(now - HOUR_MS)
    prev_1h = hour[4] if hour is not None and hour[4] is not None else first
    out.update(lastPrice=num(last), prevPrice24h=num(prev), highPrice24h=num(hi), lowPrice24h=num(lo),
               price24hPcnt=_fixed((last - prev) / prev, PCNT_PLACES[ex.category]) if prev else "0",
               prevPrice1h=num(prev_1h), turnover24h=amount(turn), volume24h=candles.volume_text(vol))
    return out


def _mark(ex: Any) -> float | None:
    """The quote's mid; a bars scenario has no quote, and its last close stands in."""
    if ex.mark == ex.mark:
        return float(ex.mark)
    return ex.tape.candles.last_price


def _derivative(ex: Any) -> dict[str, str]:
    px = _mark(ex)
    mark = num(px) if px is not None else ""
    single = abs(ex.position.size)
    value = 0.0
    if single and px:
        value = single / px if ex.category == "inverse" else single * px
    rate, next_time = ex._next_funding()
    text = ex.contract.qty_text
    return {"markPrice": mark, "indexPrice": mark,
            "openInterest": text(2 * single) if single else "0", "openInterestValue": amount(2 * value),
            "singleOpenInterest": text(single) if single else "0", "singleOpenInterestValue": amount(value),
            "fundingRate": rate, "nextFundingTime": next_time, "fundingIntervalHour": "8",
            "fundingCap": ex.instrument()["upperFundingRate"]}


NO_DELIVERY = {"predictedDeliveryPrice": "", "basisRate": "", "deliveryFeeRate": "", "deliveryTime": "0",
               "basis": "", "basisRateYear": ""}
NO_PRELISTING = {"preOpenPrice": "", "preQty": "", "curPreListingPhase": ""}

REST_SPOT = ("symbol", "bid1Price", "bid1Size", "ask1Price", "ask1Size", "lastPrice", "prevPrice24h", "price24hPcnt",
             "highPrice24h", "lowPrice24h", "turnover24h", "volume24h", "usdIndexPrice")
REST_DERIVATIVE = ("symbol", "lastPrice", "indexPrice", "markPrice", "prevPrice24h", "price24hPcnt", "highPrice24h",
                   "lowPrice24h", "prevPrice1h", "openInterest", "openInterestValue", "singleOpenInterest",
                   "singleOpenInterestValue", "turnover24h", "volume24h", "fundingRate", "nextFundingTime",
                   "predictedDeliveryPrice", "basisRate", "deliveryFeeRate", "deliveryTime", "ask1Size", "bid1Price",
                   "ask1Price", "bid1Size", "basis", "preOpenPrice", "preQty", "curPreListingPhase",
                   "fundingIntervalHour", "basisRateYear", "fundingCap")
WS_SPOT = ("symbol", "lastPrice", "highPrice24h", "lowPrice24h", "prevPrice24h", "volume24h", "turnover24h",
           "price24hPcnt", "usdIndexPrice")
WS_DERIVATIVE = ("symbol", "tickDirection", "price24hPcnt", "lastPrice", "prevPrice24h", "highPrice24h",
                 "lowPrice24h", "prevPrice1h", "markPrice", "indexPrice", "openInterest", "openInterestValue",
                 "singleOpenInterest", "singleOpenInterestValue", "turnover24h", "volume24h", "fundingIntervalHour",
                 "fundingCap", "nextFundingTime", "fundingRate", "bid1Price", "bid1Size", "ask1Price", "ask1Size",
                 "preOpenPrice", "preQty", "curPreListingPhase")


def _fields(ex: Any) -> dict[str, str]:
    out = {"symbol": ex.symbol, **_market(ex)}
    if ex.category == "spot":
        px = _mark(ex)
        out["usdIndexPrice"] = num(px) if px is not None else ""
    else:
        out.update(_derivative(ex), **NO_DELIVERY, **NO_PRELISTING)
    return out


def rest_ticker(ex: Any) -> dict[str, str]:
    """One entry of market/tickers' `list`, in the documented field order."""
    f = _fields(ex)
    return {k: f[k] for k in (REST_SPOT if ex.category == "spot" else REST_DERIVATIVE)}


def ws_ticker(ex: Any) -> dict[str, str]:
    f = _fields(ex)
    return {k: f[k] for k in (WS_SPOT if ex.category == "spot" else WS_DERIVATIVE)}


class TickerStream:
    """`tickers.{symbol}`: what was last pushed, so derivatives' deltas carry only what changed.

    A new subscriber's snapshot is that last-pushed state (the deltas that follow are relative to
    it, whoever receives them), so every subscriber's merged view is the same."""

    def __init__(self, symbol: str, category: str) -> None:
        self.topic, self.category = f"tickers.{symbol}", category
        self.last: dict[str, str] | None = None
        self.cs = 0

    def snapshot(self, ex: Any, now_ms: int) -> dict[str, Any]:
        if self.last is None:
            self.last = ws_ticker(ex)
        return self._body("snapshot", dict(self.last), now_ms)

    def step(self, ex: Any, now_ms: int) -> dict[str, Any] | None:
        """The message to push now, or None if nothing changed since the last one."""
        cur = ws_ticker(ex)
        if self.last is None or self.category == "spot":
            if cur == self.last:
                return None
            self.last = cur
            return self._body("snapshot", dict(cur), now_ms)
        changed = {k: v for k, v in cur.items() if self.last.get(k) != v}
        if not changed:
            return None
        self.last = cur
        return self._body("delta", {"symbol": cur["symbol"], **changed}, now_ms)

    def _body(self, kind: str, data: dict[str, str], now_ms: int) -> dict[str, Any]:
        self.cs += 1
        if self.category == "spot":
            return {"topic": self.topic, "ts": now_ms, "type": kind, "cs": self.cs, "data": data}
        return {"topic": self.topic, "type": kind, "data": data, "cs": self.cs, "ts": now_ms}

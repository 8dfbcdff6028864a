"""How one Bybit category counts money, for the emulator: the arithmetic of fees, positions,
funding and the wallet, and the instrument as `instruments-info` lists it (bybit-v5.md §6).

- **linear** (USDT perpetual): qty in the base coin (BTC); PnL, fees and funding in USDT.
  PnL = qty × (exit − entry) for a long; fee = price × qty × rate, the matching engine's number
  kept exactly (the replay's and the emulator's accounts must agree to the bit).
- **inverse** (e.g. BTCUSD): qty in 1-USD contracts; PnL, fees and funding in BTC.
  PnL = contracts × (1/entry − 1/exit) for a long; the entry is the contracts-weighted average of
  1/price (entry = Σq / Σ(q/p)); position value = contracts / entry; fee = contracts / price × rate;
  funding = contracts / mark × rate; execution and order values are in BTC (Σ contracts / price).
- **spot**: qty in BTC and no positions; a fill moves the two coin balances. The fee currency
  follows Bybit's spot rule: with a positive maker rate a buy pays in the base coin (qty × rate)
  and a sell in the quote coin (price × qty × rate); with a zero or negative maker rate a maker
  fill pays the other way round (a taker fill never changes).

Approximation: Bybit's market Buy on spot takes its qty in the quote coin (USDT) by default; the
emulator turns that into a base quantity at the best ask when the order arrives, rounded DOWN to
basePrecision (`Contract.base_from_quote`), and matches that. At Bybit the quote amount itself is
spent across the book, so a real fill may buy slightly more and leave no unspent USDT.

Bar data carries no per-trade prices, so an inverse kline's turnover (Σ contracts / price) is
approximated by volume / ((open + high + low + close) / 4); linear and spot klines keep "0".

Numbers are written as Bybit writes them (`num`): positional decimal strings (never 8e-07), floats
by the digits of their shortest round-trip text; inverse contract counts as whole numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

CATEGORIES = ("linear", "spot", "inverse")

#: Coins worth one US dollar in the wallet's USD totals.
USD_COINS = frozenset({"USDT", "USDC", "USD"})

#: Spot's smallest order value (quote coin), as Bybit's BTCUSDT lists it.
SPOT_MIN_ORDER_AMT = Decimal(5)


def num(x: float | Decimal | int) -> str:
    """A number as Bybit writes it: a positional decimal string, never an exponent (a float by
    the digits of its shortest round-trip text, so it reads back as exactly the same float)."""
    if isinstance(x, float):
        text = repr(x + 0.0)  # -0.0 -> 0.0
        if "e" not in text:
            return text
        return format(Decimal(text), "f")  # 8e-07 -> 0.0000008: the same digits, the same float
    if isinstance(x, Decimal) and x.is_finite():
        return format(x, "f")
    return str(x)


def _split_symbol(symbol: str, quotes: tuple[str, ...]) -> tuple[str, str]:
    """(base, quote) of a symbol such as BTCUSDT or BTCUSD / BTCUSDH25; BTC/USDT when unknown
    (what the emulator always reported before it served other categories)."""
    for q in quotes:
        m = re.fullmatch(rf"([A-Z0-9]+?){q}([A-Z][0-9]{{2}})?", symbol)
        if m:
            return m.group(1), q
    return "BTC", quotes[0]


def _usd(amount: float, px: float) -> float:
    return amount if px == 1.0 else amount * px


def _margin_text(x: float) -> str:
    return num(x) if x else "0"


def _rate(part: float, whole: float) -> str:
    """accountIMRate / accountMMRate: margin over margin balance, to 4 decimals as Bybit gives them."""
    if not part or whole <= 0:
        return "0"
    return format(round(part / whole, 4), ".4f")


@dataclass(frozen=True)
class PositionStep:
    """A one-way position after a fill: signed size, entry, the size the fill closed and the
    PnL (settle coin, before fees) that closing realised."""

    size: float
    entry: float
    closed: float
    pnl: float


@dataclass(frozen=True)
class Contract:
    """The money rules of one category for one instrument. Subclasses override the arithmetic."""

    category: str
    symbol: str
    base: str
    quote: str
    tick: Decimal
    qty_step: Decimal

    # -- coins ------------------------------------------------------------------------------
    @property
    def settle(self) -> str:
        """The coin PnL, fees of a derivative and funding are counted in."""
        return self.quote

    @property
    def has_positions(self) -> bool:
        return True

    # -- fills ------------------------------------------------------------------------------
    def fee(self, side: int, price: float, qty: float, rate: float, *, is_maker: bool, maker_rate: float,
            engine_fee: float) -> tuple[float, str]:
        """(amount paid, coin) for one fill; negative is a rebate."""
        return engine_fee, self.settle

    def exec_value(self, price: float, qty: float) -> float:
        """execValue of a fill (and the step of an order's cumExecValue)."""
        return price * qty

    def qty_text(self, qty: float) -> str:
        """A quantity (size, execQty, leavesQty...) as the wire writes it."""
        return num(qty)

    def order_fee_coin(self, side: int, fees: dict[str, float]) -> str:
        """An order's feeCurrency; linear leaves it empty (it was always empty there)."""
        return ""

    def avg_price(self, cum_qty: float, cum_value: float) -> float:
        return cum_value / cum_qty

    def leaves_value(self, leaves: float, price: float) -> float:
        return leaves * price

    # -- positions --------------------------------------------------------------------------
    def average_entry(self, held: float, entry: float, qty: float, price: float) -> float:
        """Entry after adding `qty` at `price` to `held` (unsigned) at `entry`."""
        total = held + qty
        return (entry * held + price * qty) / total

    def realised_pnl(self, closed: float, entry: float, exit_price: float, direction: float) -> float:
        """PnL of closing `closed` of a position opened at `entry`; direction +1 long, -1 short."""
        return closed * (exit_price - entry) * direction

    def position_value(self, held: float, entry: float) -> float:
        return held * entry

    def unrealised(self, size: float, entry: float, mark: float) -> float:
        return (mark - entry) * size

    def funding(self, size: float, mark: float, rate: float) -> float:
        """What a position of signed `size` pays at a funding settlement (negative: receives)."""
        return size * mark * rate

    def fill(self, size: float, entry: float, side: int, price: float, qty: float) -> PositionStep:
        """A one-way position (signed `size` at `entry`) after a fill; a fill past flat flips the
        position and the rest opens at the fill price."""
        signed = side * qty
        closed, pnl = 0.0, 0.0
        if size == 0.0 or (size > 0) == (signed > 0):
            entry = self.average_entry(abs(size), entry, qty, price)
            size += signed
        else:
            closed = min(qty, abs(size))
            direction = 1.0 if size > 0 else -1.0
            pnl = self.realised_pnl(closed, entry, price, direction)
            rest = qty - closed
            size += signed
            if abs(size) < 1e-12:
                size, entry = 0.0, 0.0
            elif rest > 0:
                entry = price
        return PositionStep(size, entry, closed, pnl)

    # -- market data ------------------------------------------------------------------------
    def kline_turnover(self, open_: float, high: float, low: float, close: float, volume: float) -> str:
        return "0"

    # -- spot quantities ------------------------------------------------------------------------
    def base_from_quote(self, quote_qty: Decimal, price: Decimal) -> Decimal:
        """A quote-coin amount as a base quantity at `price`, rounded down to the base step."""
        return (quote_qty / price / self.qty_step).to_integral_value(ROUND_FLOOR) * self.qty_step

    # -- wire rows --------------------------------------------------------------------------
    def usd_price(self, coin: str, mark: float) -> float:
        if coin in USD_COINS:
            return 1.0
        if coin == self.base and mark == mark:
            return mark
        return 0.0  # no price yet (or a coin this market does not price)

    def coin_row(self, coin: str, balance: float, upl: float, cum_realised: float, locked: float,
                 mark: float, margin: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> dict[str, Any]:
        order_im, pos_im, pos_mm = margin
        equity = balance + upl
        return {
            "coin": coin, "equity": num(equity), "usdValue": num(_usd(equity, self.usd_price(coin, mark))),
            "walletBalance": num(balance), "free": "", "locked": num(locked) if locked else "0",
            "spotHedgingQty": "0", "borrowAmount": "0", "availableToWithdraw": "", "accruedInterest": "0",
            "totalOrderIM": _margin_text(order_im), "totalPositionIM": _margin_text(pos_im),
            "totalPositionMM": _margin_text(pos_mm), "unrealisedPnl": num(upl),
            "cumRealisedPnl": num(cum_realised), "bonus": "0", "marginCollateral": True,
            "collateralSwitch": True, "availableToBorrow": "",
        }

    def wallet_wire(self, balances: dict[str, float], upl: float, cum_realised: float,
                    locked: dict[str, float], mark: float, coins: tuple[str, ...] | None = None,
                    margin: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> dict[str, Any]:
        """The UNIFIED account: one row per coin (sorted by name; `coins` filters them), totals in
        USD over every coin. The settle coin carries the positions' unrealised and realised PnL and
        the margin (`margin`: order IM, position IM, position MM, in the settle coin); the account's
        available balance is its margin balance less the initial margin (wallet-balance.mdx)."""
        # Sums start at int 0 and dollar amounts are not multiplied by 1, as `sum()` over a
        # one-coin USDT wallet did: the linear wallet's text stays what it always was.
        rows: list[dict[str, Any]] = []
        equity: float = 0
        wallet: float = 0
        perp_upl: float = 0
        lock_usd: float = 0
        im_usd: float = 0
        mm_usd: float = 0
        for coin in sorted(balances):
            px = self.usd_price(coin, mark)
            mine = coin == self.settle and self.has_positions
            c_upl, c_cum = (upl, cum_realised) if mine else (0, 0.0)
            bal, c_locked = balances[coin], locked.get(coin, 0.0)
            equity += _usd(bal + c_upl, px)
            wallet += _usd(bal, px)
            perp_upl += _usd(c_upl, px)
            lock_usd += _usd(c_locked, px)
            c_margin = margin if mine else (0.0, 0.0, 0.0)
            if mine and (margin[0] or margin[1]):
                im_usd += _usd(margin[0] + margin[1], px)
                mm_usd += _usd(margin[2], px)
            if coins is None or coin in coins:
                rows.append(self.coin_row(coin, bal, c_upl, c_cum, c_locked, mark, c_margin))
        available = equity - lock_usd if lock_usd else equity
        if im_usd:
            available -= im_usd
        return {
            "accountType": "UNIFIED", "accountLTV": "0", "accountIMRate": _rate(im_usd, equity),
            "accountMMRate": _rate(mm_usd, equity),
            "totalEquity": num(equity), "totalWalletBalance": num(wallet), "totalMarginBalance": num(equity),
            "totalAvailableBalance": num(available), "totalPerpUPL": num(perp_upl),
            "totalInitialMargin": _margin_text(im_usd), "totalMaintenanceMargin": _margin_text(mm_usd), "coin": rows,
        }

    def instrument_row(self) -> dict[str, Any]:
        raise NotImplementedError

    def _price_scale(self) -> str:
        return str(max(-self.tick.as_tuple().exponent, 0))  # type: ignore[operator]


class LinearContract(Contract):
    def instrument_row(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": self.base,
            "quoteCoin": self.quote, "settleCoin": self.quote, "launchTime": "1584230400000", "deliveryTime": "0",
            "deliveryFeeRate": "", "priceScale": self._price_scale(),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": num(self.tick), "maxPrice": "1999999.80", "tickSize": num(self.tick)},
            "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": num(self.qty_step),
                              "qtyStep": num(self.qty_step), "postOnlyMaxOrderQty": "1190.000",
                              "maxMktOrderQty": "500.000", "minNotionalValue": "5"},
            "unifiedMarginTrade": True, "fundingInterval": 480,
            "copyTrading": "both", "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375",
            # market/instrument.mdx, BTCUSDT's response example.
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "isPreListing": False, "preListingInfo": None, "symbolType": "",
        }


class InverseContract(Contract):
    @property
    def settle(self) -> str:
        return self.base

    def fee(self, side: int, price: float, qty: float, rate: float, *, is_maker: bool, maker_rate: float,
            engine_fee: float) -> tuple[float, str]:
        return qty / price * rate, self.base

    def exec_value(self, price: float, qty: float) -> float:
        return qty / price

    def qty_text(self, qty: float) -> str:
        # Contracts are whole: 100, as Bybit writes them, not 100.0.
        return str(int(qty)) if qty.is_integer() else num(qty)

    def order_fee_coin(self, side: int, fees: dict[str, float]) -> str:
        return self.base

    def avg_price(self, cum_qty: float, cum_value: float) -> float:
        return cum_qty / cum_value

    def leaves_value(self, leaves: float, price: float) -> float:
        return leaves / price

    def average_entry(self, held: float, entry: float, qty: float, price: float) -> float:
        if held == 0.0:
            return price
        return (held + qty) / (held / entry + qty / price)

    def realised_pnl(self, closed: float, entry: float, exit_price: float, direction: float) -> float:
        return closed * (1.0 / entry - 1.0 / exit_price) * direction

    def position_value(self, held: float, entry: float) -> float:
        return held / entry if entry else 0.0

    def unrealised(self, size: float, entry: float, mark: float) -> float:
        return size * (1.0 / entry - 1.0 / mark)

    def funding(self, size: float, mark: float, rate: float) -> float:
        return size / mark * rate

    def kline_turnover(self, open_: float, high: float, low: float, close: float, volume: float) -> str:
        typical = (open_ + high + low + close) / 4
        return num(volume / typical) if typical > 0 else "0"

    def instrument_row(self) -> dict[str, Any]:
        max_price = (Decimal(999999) / self.tick).to_integral_value(ROUND_FLOOR) * self.tick
        return {
            "symbol": self.symbol, "contractType": "InversePerpetual", "status": "Trading", "baseCoin": self.base,
            "quoteCoin": self.quote, "settleCoin": self.base, "launchTime": "1542211200000", "deliveryTime": "0",
            "deliveryFeeRate": "", "priceScale": self._price_scale(),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": num(self.tick), "maxPrice": num(max_price), "tickSize": num(self.tick)},
            "lotSizeFilter": {"maxOrderQty": "1000000", "minOrderQty": num(self.qty_step),
                              "qtyStep": num(self.qty_step), "postOnlyMaxOrderQty": "1000000",
                              "maxMktOrderQty": "500000"},
            "unifiedMarginTrade": True, "fundingInterval": 480,
            "copyTrading": "none", "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375",
            # The docs give no inverse example; BTCUSDT's ratios are taken (docs/EMULATOR.md).
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "isPreListing": False, "preListingInfo": None, "symbolType": "",
        }


class SpotContract(Contract):
    @property
    def has_positions(self) -> bool:
        return False

    def fee(self, side: int, price: float, qty: float, rate: float, *, is_maker: bool, maker_rate: float,
            engine_fee: float) -> tuple[float, str]:
        usual = maker_rate > 0 or not is_maker
        in_base = (side > 0) if usual else (side < 0)
        # The quote-coin fee is price × qty × rate, which is the engine's number.
        return (qty * rate, self.base) if in_base else (engine_fee, self.quote)

    def order_fee_coin(self, side: int, fees: dict[str, float]) -> str:
        """The coin the order's fees were paid in; before any fill (or for an order paying in both,
        a maker-rebate fill beside a taker one) the coin a taker fill of its side pays in."""
        if len(fees) == 1:
            return next(iter(fees))
        return self.base if side > 0 else self.quote

    @property
    def quote_precision(self) -> Decimal:
        # Every price × qty the instrument allows is a multiple of this.
        return self.tick * self.qty_step

    def instrument_row(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "baseCoin": self.base, "quoteCoin": self.quote, "innovation": "0",
            "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
            "lotSizeFilter": {"basePrecision": num(self.qty_step), "quotePrecision": num(self.quote_precision),
                              "minOrderQty": num(self.qty_step), "maxOrderQty": "83",
                              "minOrderAmt": num(SPOT_MIN_ORDER_AMT), "maxOrderAmt": "8000000",
                              "maxLimitOrderQty": "83", "maxMarketOrderQty": "41.5",
                              "postOnlyMaxLimitOrderSize": "60000"},
            "priceFilter": {"tickSize": num(self.tick)},
            "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"}, "symbolType": "",
        }


def contract_for(category: str, symbol: str, tick: Decimal, qty_step: Decimal) -> Contract:
    """The contract of `symbol` in `category` (linear | spot | inverse)."""
    if category == "inverse":
        base, quote = _split_symbol(symbol, ("USD",))
        # Contracts are whole: a step of 1.0 is listed as Bybit lists it, "1".
        step = qty_step.to_integral_value() if qty_step == qty_step.to_integral_value() else qty_step
        return InverseContract(category, symbol, base, quote, tick, step)
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r} (known: {', '.join(CATEGORIES)})")
    base, quote = _split_symbol(symbol, ("USDT", "USDC"))
    cls = SpotContract if category == "spot" else LinearContract
    return cls(category, symbol, base, quote, tick, qty_step)


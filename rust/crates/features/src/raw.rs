//! The raw tape a run stores (spec §3.3 `raw_trades`, `raw_quotes`): every trade with its
//! inferred side and the quote it was judged against, and every quote, as columns that cross
//! to Python in batches. A trade's row is ready once its print has been signed.

/// Staleness in whole milliseconds, −1 without a quote.
pub const NO_QUOTE: i32 = -1;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawTrades {
    pub ts_ns: Vec<i64>,
    pub price: Vec<f64>,
    pub size: Vec<f64>,
    pub exchange_side: Vec<i8>,
    pub trade_id: Vec<i64>,
    pub inferred_side: Vec<i8>,
    pub quote_bid_px: Vec<f64>,
    pub quote_ask_px: Vec<f64>,
    pub quote_staleness_ms: Vec<i32>,
}

impl RawTrades {
    pub fn len(&self) -> usize {
        self.ts_ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts_ns.is_empty()
    }

    /// Splits off rows `[0, n)`, keeping the rest.
    fn take_front(&mut self, n: usize) -> RawTrades {
        fn front<T: Copy>(v: &mut Vec<T>, n: usize) -> Vec<T> {
            let rest = v.split_off(n);
            std::mem::replace(v, rest)
        }
        RawTrades {
            ts_ns: front(&mut self.ts_ns, n),
            price: front(&mut self.price, n),
            size: front(&mut self.size, n),
            exchange_side: front(&mut self.exchange_side, n),
            trade_id: front(&mut self.trade_id, n),
            inferred_side: front(&mut self.inferred_side, n),
            quote_bid_px: front(&mut self.quote_bid_px, n),
            quote_ask_px: front(&mut self.quote_ask_px, n),
            quote_staleness_ms: front(&mut self.quote_staleness_ms, n),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawQuotes {
    pub ts_ns: Vec<i64>,
    pub bid_px: Vec<f64>,
    pub bid_sz: Vec<f64>,
    pub ask_px: Vec<f64>,
    pub ask_sz: Vec<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct RawTape {
    trades: RawTrades,
    quotes: RawQuotes,
    /// Rows of `trades` whose inferred side is final.
    ready: usize,
}

impl RawTape {
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn push_trade(&mut self, t: &sim_core::Trade, bid: f64, ask: f64, staleness_ns: Option<i64>) {
        let tr = &mut self.trades;
        tr.ts_ns.push(t.ts_ns);
        tr.price.push(t.price);
        tr.size.push(t.size);
        tr.exchange_side.push(t.side);
        tr.trade_id.push(t.trade_id);
        tr.inferred_side.push(0);
        tr.quote_bid_px.push(bid);
        tr.quote_ask_px.push(ask);
        tr.quote_staleness_ms
            .push(staleness_ns.map_or(NO_QUOTE, |ns| (ns / sim_core::time::NS_PER_MS).min(i32::MAX as i64) as i32));
    }

    /// Signs the last `n` trades, which are now final.
    pub fn sign_last(&mut self, n: usize, side: i8) {
        let len = self.trades.len();
        for s in &mut self.trades.inferred_side[len - n..] {
            *s = side;
        }
        self.ready = len;
    }

    #[inline]
    pub fn push_quote(&mut self, q: &sim_core::Quote) {
        let r = &mut self.quotes;
        r.ts_ns.push(q.ts_ns);
        r.bid_px.push(q.bid_px);
        r.bid_sz.push(q.bid_sz);
        r.ask_px.push(q.ask_px);
        r.ask_sz.push(q.ask_sz);
    }

    /// The trades whose side is final, and every quote, since the last call.
    pub fn take(&mut self) -> (RawTrades, RawQuotes) {
        let trades = self.trades.take_front(self.ready);
        self.ready = 0;
        (trades, std::mem::take(&mut self.quotes))
    }
}

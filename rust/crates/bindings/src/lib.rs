//! The one Python extension module, `sim._core`: the market engine and the total order.
//!
//! Columns cross as buffers (numpy arrays, or anything with the buffer protocol), never one
//! Python object per tick. Rust errors become one Python exception class per kind.

mod text;

use pyo3::buffer::PyBuffer;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use sim_backtest::{
    Advance, EngineConfig, EngineEvent, FeeModel, FillModel, InstrumentModel, OrderRequest, OrderType, Side, TimeInForce,
};
use sim_core::{BadRowKind, DataError, EventKind, Kline, Quote, Trade};
use sim_features::bin_width::Rebucket;
use sim_features::{FeatureInput, FeatureParams, MinuteFeatures, OrderFlowSource, QuoteAlignment, SideSource};
use sim_ingestion::{BadRowPolicy, SourceKind};

create_exception!(_core, SimCoreError, PyException, "Base class of errors raised by the Rust core.");
create_exception!(_core, BadRowError, SimCoreError, "A bad input row under the fail policy: args are (source, row, kind, detail).");
create_exception!(_core, DataInputError, SimCoreError, "Misuse of a data source (unknown, finished, wrong kind, ragged batch).");
create_exception!(_core, EngineError, SimCoreError, "An engine call that would break time order.");

fn data_err(e: DataError) -> PyErr {
    match e {
        DataError::BadRow { src, row, kind, detail } => BadRowError::new_err((src, row, kind.name(), detail)),
        other => DataInputError::new_err(other.to_string()),
    }
}

/// A read-only view of a 1-D buffer of `T`.
struct Column<T: pyo3::buffer::Element> {
    buf: PyBuffer<T>,
}

impl<T: pyo3::buffer::Element + Copy> Column<T> {
    fn new(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Self> {
        let buf = PyBuffer::<T>::get(obj).map_err(|e| {
            DataInputError::new_err(format!("column {name}: {e}"))
        })?;
        if buf.dimensions() != 1 || !buf.is_c_contiguous() {
            return Err(DataInputError::new_err(format!("column {name}: expected a contiguous 1-D buffer")));
        }
        Ok(Column { buf })
    }
    fn len(&self) -> usize {
        self.buf.item_count()
    }
    fn slice<'a>(&'a self, py: Python<'a>) -> &'a [pyo3::buffer::ReadOnlyCell<T>] {
        self.buf.as_slice(py).expect("checked contiguous")
    }
}

fn same_len(source: u32, lens: &[usize]) -> PyResult<usize> {
    let n = lens[0];
    if lens.iter().any(|&l| l != n) {
        return Err(data_err(DataError::RaggedBatch(source)));
    }
    Ok(n)
}

#[pyclass(module = "sim._core", unsendable)]
struct MarketEngine {
    inner: sim_backtest::MarketEngine,
}

fn key_tuple(py: Python<'_>, kind: &str, key: sim_core::EventKey, payload: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    Ok((kind, key.ts_ns, key.source, key.seq, payload).into_pyobject(py)?.into_any().unbind())
}

fn engine_err(e: sim_backtest::engine::EngineError) -> PyErr {
    match e {
        sim_backtest::engine::EngineError::BadTick { src, row, detail } => {
            BadRowError::new_err((src, row, "price_off_market", detail))
        }
        other => EngineError::new_err(other.to_string()),
    }
}

fn rebucket_name(r: Option<Rebucket>) -> Option<&'static str> {
    r.map(|r| match r {
        Rebucket::Initial => "initial",
        Rebucket::Change => "change",
        Rebucket::Schedule => "schedule",
    })
}

/// The features of a minute, in the order of `sim.events.Features`.
fn features_to_py<'py>(py: Python<'py>, f: &MinuteFeatures) -> PyResult<Bound<'py, PyTuple>> {
    let items: Vec<Bound<'py, PyAny>> = vec![
        f.ts_min_ns.into_pyobject(py)?.into_any(),
        f.spread_avg_60m.into_pyobject(py)?.into_any(),
        f.mid_close.into_pyobject(py)?.into_any(),
        f.sigma_240.into_pyobject(py)?.into_any(),
        f.bin_width.into_pyobject(py)?.into_any(),
        f.poc.into_pyobject(py)?.into_any(),
        f.vah.into_pyobject(py)?.into_any(),
        f.val.into_pyobject(py)?.into_any(),
        f.va_coverage.into_pyobject(py)?.into_any(),
        f.va_bin_count.into_pyobject(py)?.into_any(),
        f.of_1m.into_pyobject(py)?.into_any(),
        f.of_norm_1m.into_pyobject(py)?.into_any(),
        f.qimb_close.into_pyobject(py)?.into_any(),
        f.qimb_ema_60s.into_pyobject(py)?.into_any(),
        f.ambiguous_trade_frac_1m.into_pyobject(py)?.into_any(),
        f.total_volume_4h.into_pyobject(py)?.into_any(),
        f.va_valid.into_pyobject(py)?.to_owned().into_any(),
        rebucket_name(f.rebucketed).into_pyobject(py)?.into_any(),
        f.near_vah.into_pyobject(py)?.to_owned().into_any(),
        f.near_val.into_pyobject(py)?.to_owned().into_any(),
        f.stale_trade_frac_1m.into_pyobject(py)?.into_any(),
    ];
    PyTuple::new(py, items)
}

/// Reads the feature parameters from a dict of spec §17.3 names; unknown names are errors.
fn feature_params(tick_size: f64, given: Option<&Bound<'_, PyDict>>) -> PyResult<FeatureParams> {
    let mut p = FeatureParams::defaults(tick_size);
    let Some(given) = given else { return Ok(p) };
    let bad = |name: &str, v: &Bound<'_, PyAny>| DataInputError::new_err(format!("features.{name}: unexpected value {v}"));
    for (k, v) in given.iter() {
        let name: String = k.extract()?;
        let text = || v.extract::<String>().map_err(|_| bad(&name, &v));
        match name.as_str() {
            "rolling_window_minutes" => p.rolling_window_minutes = v.extract()?,
            "va_fraction" => p.va_fraction = v.extract()?,
            "base_bin_ticks" => p.base_bin_ticks = v.extract()?,
            "alpha_bin" => p.alpha_bin = v.extract()?,
            "bin_width_max_ticks" => p.bin_width_max_ticks = v.extract()?,
            "rebucket_interval_minutes" => p.rebucket_interval_minutes = v.extract()?,
            "rebucket_change_pct" => p.rebucket_change_pct = v.extract()?,
            "min_va_bins" => p.min_va_bins = v.extract()?,
            "max_quote_staleness_ms" => p.max_quote_staleness_ns = v.extract::<i64>()? * sim_core::time::NS_PER_MS,
            "use_tick_rule_fallback" => p.use_tick_rule_fallback = v.extract()?,
            "qimb_ema_span_seconds" => p.qimb_ema_span_seconds = v.extract()?,
            "spread_lookback_minutes" => p.spread_lookback_minutes = v.extract()?,
            "bvc_lookback_minutes" => p.bvc_lookback_minutes = v.extract()?,
            "side_source" => {
                p.side_source = match text()?.as_str() {
                    "inferred" => SideSource::Inferred,
                    "exchange" => SideSource::Exchange,
                    _ => return Err(bad(&name, &v)),
                }
            }
            "quote_alignment" => {
                p.quote_alignment = match text()?.as_str() {
                    "at_or_before" => QuoteAlignment::AtOrBefore,
                    "before" => QuoteAlignment::Before,
                    _ => return Err(bad(&name, &v)),
                }
            }
            "order_flow_source" => {
                p.order_flow_source = match text()?.as_str() {
                    "trades" => OrderFlowSource::Trades,
                    "bvc" => OrderFlowSource::Bvc,
                    _ => return Err(bad(&name, &v)),
                }
            }
            "feature_input" => {
                p.feature_input = match text()?.as_str() {
                    "ticks" => FeatureInput::Ticks,
                    "bars" => FeatureInput::Bars,
                    _ => return Err(bad(&name, &v)),
                }
            }
            other => return Err(DataInputError::new_err(format!("features: unknown parameter {other:?}"))),
        }
    }
    p.check().map_err(|e| DataInputError::new_err(format!("features.{e}")))?;
    Ok(p)
}

/// Column name → (numpy dtype, little-endian bytes).
fn columns_to_py<'py>(py: Python<'py>, cols: &[(&str, &str, &[u8])]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, dtype, bytes) in cols {
        d.set_item(*name, (*dtype, PyBytes::new(py, bytes)))?;
    }
    Ok(d)
}

/// The bytes of a slice of plain numbers.
fn bytes_of<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: T is one of i8/i32/i64/f64 here: no padding, every bit pattern valid as bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

fn event_to_py(py: Python<'_>, ev: &EngineEvent) -> PyResult<Py<PyAny>> {
    match ev {
        EngineEvent::MinuteClose { key, bar, features } => {
            let bar_tuple = (
                bar.ts_min_ns,
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume,
                bar.vwap,
                bar.trade_count,
                bar.bid_px_close,
                bar.ask_px_close,
                bar.bid_sz_close,
                bar.ask_sz_close,
            )
                .into_pyobject(py)?
                .into_any();
            let payload = (bar_tuple, features_to_py(py, features)?).into_pyobject(py)?.into_any();
            key_tuple(py, "minute_close", *key, payload)
        }
        EngineEvent::Kline { key, kline: k } => {
            let payload = (k.open_ts_ns, k.interval_ns, k.open, k.high, k.low, k.close, k.volume).into_pyobject(py)?.into_any();
            key_tuple(py, "kline", *key, payload)
        }
        EngineEvent::OrderUpdate { key, order_id, status, reason } => {
            let payload = (*order_id, status.name(), reason.as_str()).into_pyobject(py)?.into_any();
            key_tuple(py, "order_update", *key, payload)
        }
        EngineEvent::Fill { key, fill } => {
            let side: i8 = if fill.side == Side::Buy { 1 } else { -1 };
            let payload =
                (fill.order_id, side, fill.price, fill.qty, fill.fee, fill.maker, fill.mid).into_pyobject(py)?.into_any();
            key_tuple(py, "fill", *key, payload)
        }
        EngineEvent::Funding { key, rate, mark } => {
            let payload = (*rate, *mark).into_pyobject(py)?.into_any();
            key_tuple(py, "funding", *key, payload)
        }
    }
}

#[pymethods]
impl MarketEngine {
    #[new]
    /// `features`: feature-engine parameters by their config names (spec §17.3); the rest default.
    #[pyo3(signature = (*, tick_size, taker_fee_bps, maker_fee_bps, start_ns=None, on_bad_rows="fail", features=None))]
    fn new(
        tick_size: f64,
        taker_fee_bps: f64,
        maker_fee_bps: f64,
        start_ns: Option<i64>,
        on_bad_rows: &str,
        features: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let policy = match on_bad_rows {
            "fail" => BadRowPolicy::Fail,
            "drop" => BadRowPolicy::Drop,
            other => return Err(DataInputError::new_err(format!("on_bad_rows must be 'fail' or 'drop', not {other:?}"))),
        };
        if !(tick_size.is_finite() && tick_size > 0.0) {
            return Err(DataInputError::new_err(format!("tick_size must be positive, not {tick_size}")));
        }
        let features = feature_params(tick_size, features)?;
        let fees = FeeModel { taker_bps: taker_fee_bps, maker_bps: maker_fee_bps };
        let config = EngineConfig { start_ns, policy, tick_size, fees, features };
        Ok(MarketEngine { inner: sim_backtest::MarketEngine::new(config) })
    }

    /// Adds a source of kind "trades", "quotes" or "klines" quoting `instrument` (0: the main
    /// instrument, whose ticks make the minute bars); returns its index.
    #[pyo3(signature = (kind, instrument=0))]
    fn add_source(&mut self, kind: &str, instrument: u32) -> PyResult<u32> {
        let k = SourceKind::parse(kind).ok_or_else(|| DataInputError::new_err(format!("unknown source kind {kind:?}")))?;
        if instrument == 0 {
            return Ok(self.inner.add_source(k));
        }
        self.inner.add_source_for(k, instrument).map_err(|e| EngineError::new_err(e.to_string()))
    }

    /// Sets instrument `index`'s matching model, or adds an instrument when `index` equals the
    /// number of instruments; returns the index. `contract_value` > 0 makes it inverse (fees in
    /// the coin); `bar_spread_bps` is the spread a bar stands for in bars mode; `fill_model`
    /// "touch" or "probabilistic" (with `fill_prob` and `fill_seed`) says how resting limits fill
    /// against bars.
    #[pyo3(signature = (index, *, tick_size, taker_fee_bps, maker_fee_bps, contract_value=0.0, bar_spread_bps=0.0,
                        fill_model="touch", fill_prob=1.0, fill_seed=0))]
    #[allow(clippy::too_many_arguments)]
    fn set_instrument(
        &mut self,
        index: u32,
        tick_size: f64,
        taker_fee_bps: f64,
        maker_fee_bps: f64,
        contract_value: f64,
        bar_spread_bps: f64,
        fill_model: &str,
        fill_prob: f64,
        fill_seed: u64,
    ) -> PyResult<u32> {
        if !(tick_size.is_finite() && tick_size > 0.0) {
            return Err(PyValueError::new_err(format!("tick_size must be positive, not {tick_size}")));
        }
        if !(contract_value.is_finite() && contract_value >= 0.0) || !(bar_spread_bps.is_finite() && bar_spread_bps >= 0.0) {
            return Err(PyValueError::new_err("contract_value and bar_spread_bps must be finite and not negative"));
        }
        let fill_model = match fill_model {
            "touch" => FillModel::Touch,
            "probabilistic" if (0.0..=1.0).contains(&fill_prob) => FillModel::Probabilistic { p: fill_prob, seed: fill_seed },
            "probabilistic" => return Err(PyValueError::new_err(format!("fill_prob must be in [0, 1], not {fill_prob}"))),
            other => return Err(PyValueError::new_err(format!("fill_model must be 'touch' or 'probabilistic', not {other:?}"))),
        };
        let model = InstrumentModel {
            tick: tick_size,
            fees: FeeModel { taker_bps: taker_fee_bps, maker_bps: maker_fee_bps },
            contract_value,
            bar_spread_bps,
            fill_model,
        };
        self.inner.set_instrument(index, model).map_err(|e| EngineError::new_err(e.to_string()))
    }

    /// Pushes a batch of trades; `row0` is the 1-based row number of its first row.
    #[allow(clippy::too_many_arguments)]
    fn push_trades(
        &mut self,
        py: Python<'_>,
        source: u32,
        row0: u64,
        ts_ns: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
        size: &Bound<'_, PyAny>,
        side: &Bound<'_, PyAny>,
        trade_id: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (ts, p, s, sd, id) = (
            Column::<i64>::new(ts_ns, "ts_ns")?,
            Column::<f64>::new(price, "price")?,
            Column::<f64>::new(size, "size")?,
            Column::<i8>::new(side, "side")?,
            Column::<i64>::new(trade_id, "trade_id")?,
        );
        let n = same_len(source, &[ts.len(), p.len(), s.len(), sd.len(), id.len()])?;
        let (ts, p, s, sd, id) = (ts.slice(py), p.slice(py), s.slice(py), sd.slice(py), id.slice(py));
        let rows = (0..n).map(|i| {
            let t = Trade { ts_ns: ts[i].get(), price: p[i].get(), size: s[i].get(), side: sd[i].get(), trade_id: id[i].get() };
            (t, row0 + i as u64)
        });
        self.inner.push_trades(source, rows).map_err(data_err)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_quotes(
        &mut self,
        py: Python<'_>,
        source: u32,
        row0: u64,
        ts_ns: &Bound<'_, PyAny>,
        bid_px: &Bound<'_, PyAny>,
        bid_sz: &Bound<'_, PyAny>,
        ask_px: &Bound<'_, PyAny>,
        ask_sz: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (ts, bp, bs, ap, az) = (
            Column::<i64>::new(ts_ns, "ts_ns")?,
            Column::<f64>::new(bid_px, "bid_px")?,
            Column::<f64>::new(bid_sz, "bid_sz")?,
            Column::<f64>::new(ask_px, "ask_px")?,
            Column::<f64>::new(ask_sz, "ask_sz")?,
        );
        let n = same_len(source, &[ts.len(), bp.len(), bs.len(), ap.len(), az.len()])?;
        let (ts, bp, bs, ap, az) = (ts.slice(py), bp.slice(py), bs.slice(py), ap.slice(py), az.slice(py));
        let rows = (0..n).map(|i| {
            let q = Quote { ts_ns: ts[i].get(), bid_px: bp[i].get(), bid_sz: bs[i].get(), ask_px: ap[i].get(), ask_sz: az[i].get() };
            (q, row0 + i as u64)
        });
        self.inner.push_quotes(source, rows).map_err(data_err)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_klines(
        &mut self,
        py: Python<'_>,
        source: u32,
        row0: u64,
        open_ts_ns: &Bound<'_, PyAny>,
        interval_ns: i64,
        open: &Bound<'_, PyAny>,
        high: &Bound<'_, PyAny>,
        low: &Bound<'_, PyAny>,
        close: &Bound<'_, PyAny>,
        volume: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (ts, o, h, l, c, v) = (
            Column::<i64>::new(open_ts_ns, "open_ts_ns")?,
            Column::<f64>::new(open, "open")?,
            Column::<f64>::new(high, "high")?,
            Column::<f64>::new(low, "low")?,
            Column::<f64>::new(close, "close")?,
            Column::<f64>::new(volume, "volume")?,
        );
        let n = same_len(source, &[ts.len(), o.len(), h.len(), l.len(), c.len(), v.len()])?;
        let (ts, o, h, l, c, v) = (ts.slice(py), o.slice(py), h.slice(py), l.slice(py), c.slice(py), v.slice(py));
        for i in 0..n {
            let k = Kline {
                open_ts_ns: ts[i].get(),
                interval_ns,
                open: o[i].get(),
                high: h[i].get(),
                low: l[i].get(),
                close: c[i].get(),
                volume: v[i].get(),
            };
            self.inner.push_kline(source, k, row0 + i as u64).map_err(data_err)?;
        }
        Ok(())
    }

    /// Installs the funding schedule: times strictly increasing and not before the engine's
    /// time, rates finite (a fraction per funding interval). The engine then emits
    /// ("funding", ts, 0, seq, (rate, mark)) at each of those times it replays. A bad schedule
    /// raises ValueError naming the 0-based index.
    fn set_funding(&mut self, py: Python<'_>, ts_ns: &Bound<'_, PyAny>, rate: &Bound<'_, PyAny>) -> PyResult<()> {
        let (ts, r) = (Column::<i64>::new(ts_ns, "ts_ns")?, Column::<f64>::new(rate, "rate")?);
        if ts.len() != r.len() {
            return Err(PyValueError::new_err(format!(
                "funding schedule: {} times but {} rates",
                ts.len(),
                r.len()
            )));
        }
        let (ts, r) = (ts.slice(py), r.slice(py));
        let schedule = (0..ts.len()).map(|i| (ts[i].get(), r[i].get())).collect();
        self.inner.set_funding(schedule).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// No more rows will come from this source.
    fn finish_source(&mut self, source: u32) -> PyResult<()> {
        self.inner.finish_source(source).map_err(data_err)
    }

    /// Promise that no row stamped before `ts_ns` will come from this source.
    fn mark_source_until(&mut self, source: u32, ts_ns: i64) -> PyResult<()> {
        self.inner.mark_source_until(source, ts_ns).map_err(data_err)
    }

    /// ("events", [event, ...]) | ("reached", None) | ("starved", source).
    /// An event is (kind, ts_ns, source, seq, payload).
    fn advance_to(&mut self, py: Python<'_>, t_ns: i64) -> PyResult<(String, Py<PyAny>)> {
        match self.inner.advance_to(t_ns).map_err(engine_err)? {
            Advance::Events(events) => {
                let items = events.iter().map(|e| event_to_py(py, e)).collect::<PyResult<Vec<_>>>()?;
                Ok(("events".to_string(), items.into_pyobject(py)?.into_any().unbind()))
            }
            Advance::Reached => Ok(("reached".to_string(), py.None())),
            Advance::Starved(s) => Ok(("starved".to_string(), s.into_pyobject(py)?.into_any().unbind())),
        }
    }

    /// Submits a simulated order at `ts_ns`; side is +1 (buy) or −1 (sell); order_type
    /// "market" or "limit"; time_in_force "GTC", "IOC", "FOK" or "PostOnly" (Bybit's spelling);
    /// reduce_only caps its fill at the instrument's position. Its acknowledgement, and any cancel
    /// by time in force, PostOnly or reduce-only, come back from `advance_to`.
    #[pyo3(signature = (order_id, side, order_type, qty, ts_ns, limit_px=f64::NAN, slippage_ticks=0, instrument=0,
                        time_in_force="GTC", reduce_only=false))]
    #[allow(clippy::too_many_arguments)]
    fn submit_order(
        &mut self,
        order_id: u64,
        side: i8,
        order_type: &str,
        qty: f64,
        ts_ns: i64,
        limit_px: f64,
        slippage_ticks: i64,
        instrument: u32,
        time_in_force: &str,
        reduce_only: bool,
    ) -> PyResult<()> {
        let side = match side {
            1 => Side::Buy,
            -1 => Side::Sell,
            other => return Err(EngineError::new_err(format!("side must be +1 or -1, not {other}"))),
        };
        let order_type = match order_type {
            "market" => OrderType::Market,
            "limit" => OrderType::Limit,
            other => return Err(EngineError::new_err(format!("order_type must be 'market' or 'limit', not {other:?}"))),
        };
        let Some(time_in_force) = TimeInForce::parse(time_in_force) else {
            return Err(EngineError::new_err(format!(
                "time_in_force must be 'GTC', 'IOC', 'FOK' or 'PostOnly', not {time_in_force:?}"
            )));
        };
        let req = OrderRequest { order_id, instrument, side, order_type, qty, limit_px, slippage_ticks, time_in_force, reduce_only };
        self.inner.submit_order(req, ts_ns).map_err(|e| EngineError::new_err(e.to_string()))
    }

    /// The net position the simulated fills of `instrument` add up to (positive long).
    #[pyo3(signature = (instrument=0))]
    fn position(&self, instrument: u32) -> PyResult<f64> {
        self.inner.position(instrument).map_err(|e| EngineError::new_err(e.to_string()))
    }

    fn cancel_order(&mut self, order_id: u64, ts_ns: i64) -> PyResult<()> {
        self.inner.cancel_order(order_id, ts_ns).map_err(|e| EngineError::new_err(e.to_string()))
    }

    /// Keeps the raw tape (trades with their inferred side and quote, and quotes) from now on.
    fn record_raw(&mut self) {
        self.inner.record_raw();
    }

    /// (trades, quotes) recorded since the last call, each a dict of column name →
    /// (numpy dtype, bytes). Trades come only once their print is signed.
    fn take_raw<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
        let (t, q) = self.inner.take_raw();
        let trades = columns_to_py(
            py,
            &[
                ("ts_ns", "<i8", bytes_of(&t.ts_ns)),
                ("price", "<f8", bytes_of(&t.price)),
                ("size", "<f8", bytes_of(&t.size)),
                ("exchange_side", "i1", bytes_of(&t.exchange_side)),
                ("trade_id", "<i8", bytes_of(&t.trade_id)),
                ("inferred_side", "i1", bytes_of(&t.inferred_side)),
                ("quote_bid_px", "<f8", bytes_of(&t.quote_bid_px)),
                ("quote_ask_px", "<f8", bytes_of(&t.quote_ask_px)),
                ("quote_staleness_ms", "<i4", bytes_of(&t.quote_staleness_ms)),
            ],
        )?;
        let quotes = columns_to_py(
            py,
            &[
                ("ts_ns", "<i8", bytes_of(&q.ts_ns)),
                ("bid_px", "<f8", bytes_of(&q.bid_px)),
                ("bid_sz", "<f8", bytes_of(&q.bid_sz)),
                ("ask_px", "<f8", bytes_of(&q.ask_px)),
                ("ask_sz", "<f8", bytes_of(&q.ask_sz)),
            ],
        )?;
        Ok((trades, quotes))
    }

    /// (compared, agreed, compared_units, agreed_units): trades with a reported side, and
    /// those whose inferred side matches it; units are 1e-8 of the size.
    fn side_agreement(&self) -> (u64, u64, i64, i64) {
        let a = self.inner.side_agreement();
        (a.compared, a.agreed, a.compared_units, a.agreed_units)
    }

    /// Records the key of every tick consumed from now on (tests and debugging).
    fn enable_trace(&mut self) {
        self.inner.enable_trace();
    }

    /// Keys (ts_ns, priority, source, row) of the ticks consumed since the last call.
    fn take_trace(&mut self) -> Vec<(i64, u8, u32, u64)> {
        self.inner.take_trace().into_iter().map(|k| (k.ts_ns, k.priority, k.source, k.seq)).collect()
    }

    #[getter]
    fn now_ns(&self) -> i64 {
        self.inner.now_ns()
    }

    #[getter]
    fn events_processed(&self) -> u64 {
        self.inner.events_processed()
    }

    /// (ts_ns, bid_px, bid_sz, ask_px, ask_sz) of the latest quote consumed, or None.
    fn last_quote(&self) -> Option<(i64, f64, f64, f64, f64)> {
        self.inner.last_quote().map(|q| (q.ts_ns, q.bid_px, q.bid_sz, q.ask_px, q.ask_sz))
    }

    /// One row per source and bad-row kind: (source, kind, count, first_row, first_detail).
    fn bad_rows(&self) -> Vec<(u32, String, u64, u64, String)> {
        let mut out = Vec::new();
        for (source, stats) in self.inner.merger().bad_rows() {
            for (kind, count) in &stats.counts {
                let (row, detail) = stats.first.get(kind).cloned().unwrap_or_default();
                out.push((source, kind.name().to_string(), *count, row, detail));
            }
        }
        out
    }

    /// One row per source: (source, kind, rows_seen, rows_accepted, rows_buffered).
    fn source_stats(&self) -> Vec<(u32, String, u64, u64, usize)> {
        self.inner
            .merger()
            .sources()
            .iter()
            .map(|s| (s.index, s.kind.name().to_string(), s.rows_seen, s.rows_accepted, s.buffered()))
            .collect()
    }
}

/// The probabilistic fill model's draw in [0, 1) for an order at the bar opening at `ts_ns`.
#[pyfunction]
fn fill_draw(seed: u64, order_id: u64, ts_ns: i64) -> f64 {
    sim_backtest::fill_model::fill_draw(seed, order_id, ts_ns)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(fill_draw, m)?)?;
    m.add_function(wrap_pyfunction!(text::csv_rows, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let prio = PyDict::new(py);
    for k in EventKind::ALL {
        prio.set_item(k.name(), k.priority())?;
    }
    m.add("KIND_PRIORITY", prio)?;
    m.add("BAD_ROW_KINDS", BadRowKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>())?;
    m.add("SimCoreError", py.get_type::<SimCoreError>())?;
    m.add("BadRowError", py.get_type::<BadRowError>())?;
    m.add("DataInputError", py.get_type::<DataInputError>())?;
    m.add("EngineError", py.get_type::<EngineError>())?;
    m.add_class::<MarketEngine>()?;
    Ok(())
}

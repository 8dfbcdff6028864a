//! The rows of the run's CSV exports (`csv_rows`), with floats as `sim.outputs.exports.fmt`
//! writes them: Python's `repr` — the shortest digits that read back as the same float,
//! positional from 1e-4 up to 1e16 and with an exponent of at least two digits outside — with
//! NaN as an empty field and either zero as "0.0". `repr` costs ~0.5 µs a float, and a field a
//! Python string: most of the time of exporting a month of minutes.
//!
//! Rust's `{:e}` gives the shortest digits that read back; where two such strings are equally
//! close (16–17 digits) the correctly rounded one, ties to even, is taken, as Python does. Only
//! the layout is Python's, following `format_float_short` in CPython's pystrtod.c for the 'r'
//! format code. tests/outputs/test_exports.py compares the result with `repr` on 300 000 floats
//! (random bit patterns, every magnitude, short decimals) and the edge cases.

use std::fmt::Write;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Appends the export text of `x` to `out`; `scratch` is any String, for reuse.
pub fn push_float(x: f64, out: &mut String, scratch: &mut String) {
    if x.is_nan() {
        return;
    }
    if x == 0.0 {
        out.push_str("0.0");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    scratch.clear();
    write!(scratch, "{:e}", x.abs()).expect("writing to a String");
    let (mut m_len, mut exp_at) = digits_and_exp(scratch);
    if m_len >= 16 {
        // Of 16 or 17 digits, two strings of the shortest length can be equally close, and `{:e}`
        // may take the other one than Python; the correctly rounded string of that length (ties to
        // even, as Python) is the one Python writes. Up to 15 digits only one string reads back.
        scratch.clear();
        write!(scratch, "{:.*e}", m_len - 1, x.abs()).expect("writing to a String");
        (m_len, exp_at) = digits_and_exp(scratch);
    }
    let mantissa = &scratch[..exp_at];
    let exp: i32 = scratch[exp_at + 1..].parse().expect("{:e} has an integer exponent");
    let (first, rest) = mantissa.split_at(1);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    let n = m_len as i32;
    // The decimal point sits `decpt` digits after the first digit's start.
    let decpt = exp + 1;
    if x < 0.0 {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let e = decpt - 1;
        write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()).expect("writing to a String");
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(first);
        out.push_str(rest);
    } else if decpt >= n {
        out.push_str(first);
        out.push_str(rest);
        out.extend(std::iter::repeat_n('0', (decpt - n) as usize));
        out.push_str(".0");
    } else {
        let cut = decpt as usize - 1; // digits of `rest` before the point
        out.push_str(first);
        out.push_str(&rest[..cut]);
        out.push('.');
        out.push_str(&rest[cut..]);
    }
}

/// (number of mantissa digits, index of the 'e') of a `{:e}` string.
fn digits_and_exp(sci: &str) -> (usize, usize) {
    let e = sci.find('e').expect("{:e} has an exponent");
    (if e > 1 { e - 1 } else { e }, e)
}

/// The rows of a CSV export, each ending in a newline, from its columns: a column is a sequence
/// of floats (written as above; None has been made NaN) when `is_float` says so, else a sequence
/// of its fields' text. One Python string for the whole table instead of one per field.
#[pyfunction]
pub fn csv_rows(columns: Vec<Bound<'_, PyAny>>, is_float: Vec<bool>) -> PyResult<String> {
    enum Col {
        Floats(Vec<f64>),
        Texts(Vec<String>),
    }
    if columns.len() != is_float.len() {
        return Err(PyValueError::new_err(format!("{} columns but {} kinds", columns.len(), is_float.len())));
    }
    let cols = columns
        .iter()
        .zip(&is_float)
        .map(|(c, &f)| if f { c.extract().map(Col::Floats) } else { c.extract().map(Col::Texts) })
        .collect::<PyResult<Vec<Col>>>()?;
    let len = |c: &Col| match c {
        Col::Floats(v) => v.len(),
        Col::Texts(v) => v.len(),
    };
    let n = cols.first().map_or(0, len);
    if cols.iter().any(|c| len(c) != n) {
        return Err(PyValueError::new_err("columns of unequal length"));
    }
    let mut out = String::with_capacity(n * cols.len() * 12);
    let mut scratch = String::with_capacity(32);
    for r in 0..n {
        for (j, c) in cols.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            match c {
                Col::Floats(v) => push_float(v[r], &mut out, &mut scratch),
                Col::Texts(v) => out.push_str(&v[r]),
            }
        }
        out.push('\n');
    }
    Ok(out)
}

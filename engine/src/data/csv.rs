//! The validating loader for gzip-compressed CSV data sets (no header, comma
//! separated, one sample per line, integer class label last).
//!
//! Everything is checked before a value is used: the file's SHA-256, the
//! gzip stream, UTF-8, the column count of every line, every value's range,
//! every label, and the row count. Each failure is an [`Error::Data`] naming
//! the file and the 1-based line (line 0 means the file as a whole: its
//! checksum or an empty file) and saying what was expected. No input panics.
use super::{Dataset, Targets};
use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};

/// What a file must hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Columns per line: the features plus the label.
    pub columns: usize,
    /// Inclusive range every feature value must lie in.
    pub min: f64,
    pub max: f64,
    /// Labels must be integers in `0..classes`.
    pub classes: usize,
    /// Exact number of samples, when known.
    pub rows: Option<usize>,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that `bytes` (the whole file) hash to `expected` (hex, any case).
pub fn verify_sha256(file: &str, bytes: &[u8], expected: &str) -> Result<()> {
    let found = sha256_hex(bytes);
    if found.eq_ignore_ascii_case(expected.trim()) {
        Ok(())
    } else {
        Err(data_err(
            file,
            0,
            format!(
                "SHA-256 mismatch: expected {expected}, found {found} (the file is not the shipped copy)"
            ),
        ))
    }
}

/// Verifies the checksum of a gzip file's bytes, then parses it (see [`parse_gz`]).
pub fn load_gz(file: &str, bytes: &[u8], sha256: &str, spec: &Spec) -> Result<Dataset> {
    verify_sha256(file, bytes, sha256)?;
    parse_gz(file, bytes, spec)
}

/// Decompresses and parses gzip CSV bytes; `file` names the source in errors
/// and becomes the data set's name. Values are kept as they are in the file.
pub fn parse_gz(file: &str, bytes: &[u8], spec: &Spec) -> Result<Dataset> {
    parse_csv(file, BufReader::new(GzDecoder::new(bytes)), spec)
}

/// Parses plain CSV text from any reader against `spec`. A read error (for
/// example a truncated gzip stream) is reported at the line being read.
pub fn parse_csv(file: &str, mut reader: impl BufRead, spec: &Spec) -> Result<Dataset> {
    if spec.columns < 2 || spec.classes == 0 || spec.min.is_nan() || spec.max.is_nan() || spec.min > spec.max
    {
        return Err(data_err(
            file,
            0,
            format!("invalid spec {spec:?}: need ≥ 2 columns, ≥ 1 class, min ≤ max"),
        ));
    }
    let features = spec.columns - 1;
    // A line of in-range numbers is short; a cap keeps a corrupt (or
    // malicious) stream without newlines from filling memory.
    let max_line = spec.columns * 32 + 256;
    let mut x = Vec::with_capacity(spec.rows.unwrap_or(0) * features);
    let mut labels = Vec::with_capacity(spec.rows.unwrap_or(0));
    let mut buf = Vec::with_capacity(max_line);
    let mut line_no = 0;
    loop {
        buf.clear();
        line_no += 1;
        let read = (&mut reader)
            .take(max_line as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| data_err(file, line_no, format!("cannot read (corrupt or truncated data?): {e}")))?;
        if read == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') && buf.len() > max_line {
            return Err(data_err(file, line_no, format!("line longer than {max_line} bytes")));
        }
        let text = std::str::from_utf8(&buf)
            .map_err(|e| data_err(file, line_no, format!("not UTF-8 text: {e}")))?
            .trim_end_matches(['\n', '\r']);
        if spec.rows == Some(labels.len()) {
            return Err(data_err(file, line_no, format!("expected {} rows, found more", labels.len())));
        }
        parse_line(text, spec, &mut x, &mut labels).map_err(|msg| data_err(file, line_no, msg))?;
    }
    if let Some(rows) = spec.rows.filter(|&r| r != labels.len()) {
        return Err(data_err(file, line_no, format!("expected {rows} rows, found {}", labels.len())));
    }
    if labels.is_empty() {
        return Err(data_err(file, 0, "no rows: expected at least one sample".to_string()));
    }
    Ok(Dataset {
        name: dataset_name(file),
        features,
        x,
        targets: Targets::Classes { labels, classes: spec.classes },
    })
}

/// Parses one line's fields onto the ends of `x` and `labels`; on error
/// nothing of the line is kept and the message says which column and why.
fn parse_line(text: &str, spec: &Spec, x: &mut Vec<f32>, labels: &mut Vec<usize>) -> Result<(), String> {
    let found = text.split(',').count();
    if found != spec.columns {
        return Err(format!(
            "expected {} columns ({} values and a label), found {found}",
            spec.columns,
            spec.columns - 1
        ));
    }
    let start = x.len();
    let mut fields = text.split(',');
    for col in 1..spec.columns {
        let field = fields.next().unwrap_or("").trim();
        match field.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= spec.min && v <= spec.max => x.push(v as f32),
            _ => {
                x.truncate(start);
                return Err(format!(
                    "column {col}: expected a number in {}..={}, found `{}`",
                    spec.min,
                    spec.max,
                    shorten(field)
                ));
            }
        }
    }
    let field = fields.next().unwrap_or("").trim();
    match field.parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v >= 0.0 && v < spec.classes as f64 => {
            labels.push(v as usize);
            Ok(())
        }
        _ => {
            x.truncate(start);
            Err(format!(
                "column {} (label): expected an integer class in 0..{}, found `{}`",
                spec.columns,
                spec.classes,
                shorten(field)
            ))
        }
    }
}

/// At most 40 characters of a field, so an error message stays one line.
fn shorten(field: &str) -> String {
    match field.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &field[..i]),
        None => field.to_string(),
    }
}

/// `digits.csv.gz` → `digits`: the file name without directories and extensions.
fn dataset_name(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.split('.').next().unwrap_or(base).to_string()
}

fn data_err(file: &str, line: usize, msg: String) -> Error {
    Error::Data { file: file.to_string(), line, msg }
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;

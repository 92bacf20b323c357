//! Data files beside the page: each scenario's records as CSV and as JSON lines, its key figures and
//! verdicts as JSON, and `SHA256SUMS` (checkable with `sha256sum -c`) listing every data file's SHA-256.
//! Everything here is a pure function of the results, so two runs give byte-identical files.
use crate::error::{ReportError, Result};
use crate::record::Record;
use crate::run::ScenarioResult;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;

/// The folder under the output directory that holds the data files.
pub const DATA_DIR: &str = "data";
pub const CHECKSUMS: &str = "SHA256SUMS";

/// A float as the shortest text that reads back to the same bits; NaN and infinities spelled out.
pub fn num(v: f64) -> String {
    if v.is_finite() {
        serde_json::to_string(&v).expect("finite floats serialise")
    } else if v.is_nan() {
        "NaN".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

pub fn to_csv(records: &[Record]) -> String {
    let mut out = String::from("scenario,variant,seed,step,layer,metric,value\n");
    for r in records {
        let layer = r.layer.map(|l| l.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            csv_field(&r.scenario),
            csv_field(&r.variant),
            r.seed,
            r.step,
            layer,
            csv_field(&r.metric),
            num(r.value)
        );
    }
    out
}

/// One JSON object per line. Non-finite values are written as null (JSON has no NaN).
pub fn to_jsonl(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        out.push_str(&serde_json::to_string(r).expect("records serialise"));
        out.push('\n');
    }
    out
}

pub fn to_summary_json(r: &ScenarioResult) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("results serialise");
    s.push('\n');
    s
}

/// The data files of one scenario: (path relative to the output directory, contents).
pub fn scenario_files(r: &ScenarioResult) -> Vec<(String, String)> {
    let base = format!("{DATA_DIR}/{}", r.scenario);
    vec![
        (format!("{base}.records.csv"), to_csv(&r.records)),
        (format!("{base}.records.jsonl"), to_jsonl(&r.records)),
        (format!("{base}.summary.json"), to_summary_json(r)),
    ]
}

/// `sha256sum` format: one "hex  path" line per file, in the order given.
pub fn checksums(files: &[(String, String)]) -> String {
    let mut out = String::new();
    for (path, contents) in files {
        let digest = Sha256::digest(contents.as_bytes());
        for b in digest.iter() {
            let _ = write!(out, "{b:02x}");
        }
        let _ = writeln!(out, "  {path}");
    }
    out
}

/// Writes every scenario's data files and the checksum list under `dir`.
pub fn write_all(dir: &Path, results: &[ScenarioResult]) -> Result<Vec<(String, String)>> {
    let data = dir.join(DATA_DIR);
    std::fs::create_dir_all(&data).map_err(|e| ReportError::io(&data, e))?;
    let files: Vec<(String, String)> = results.iter().flat_map(scenario_files).collect();
    for (rel, contents) in &files {
        let path = dir.join(rel);
        std::fs::write(&path, contents).map_err(|e| ReportError::io(&path, e))?;
    }
    let sums = dir.join(CHECKSUMS);
    std::fs::write(&sums, checksums(&files)).map_err(|e| ReportError::io(&sums, e))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_and_csv_quotes() {
        for v in [0.25, 1e-40, 3325.256730079651, 0.1 + 0.2] {
            assert_eq!(num(v).parse::<f64>().unwrap().to_bits(), v.to_bits());
        }
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }

    #[test]
    fn checksum_of_known_text() {
        let sums = checksums(&[("a.txt".into(), "abc".into())]);
        assert_eq!(sums, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.txt\n");
    }
}

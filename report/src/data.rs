//! Data files beside the page: each scenario's records as CSV and as JSON lines (written by the engine's
//! writer, so `report diagnose` and the monitor's users read them as they read the monitor's), its key
//! figures and verdicts as JSON, and `SHA256SUMS` (checkable with `sha256sum -c`) listing every data file's SHA-256.
//! Everything here is a pure function of the results, so two runs give byte-identical files.
use crate::error::{ReportError, Result};
use crate::run::ScenarioResult;
use engine::monitor::{write_csv, write_json_lines};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;

/// The folder under the output directory that holds the data files.
pub const DATA_DIR: &str = "data";
pub const CHECKSUMS: &str = "SHA256SUMS";

pub fn to_summary_json(r: &ScenarioResult) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("results serialise");
    s.push('\n');
    s
}

/// The data files of one scenario: (path relative to the output directory, contents).
pub fn scenario_files(r: &ScenarioResult) -> Vec<(String, String)> {
    let base = format!("{DATA_DIR}/{}", r.scenario);
    vec![
        (format!("{base}.records.csv"), write_csv(&r.records)),
        (format!("{base}.records.jsonl"), write_json_lines(&r.records)),
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
    fn checksum_of_known_text() {
        let sums = checksums(&[("a.txt".into(), "abc".into())]);
        assert_eq!(sums, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.txt\n");
    }
}

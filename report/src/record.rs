//! What a runner hands back: tidy records, the key figures its section leads with, and how many training
//! steps it ran. A leaf module: every other part of the report reads these types, none of them imports back.
use serde::Serialize;

/// One measured number, tidy: one row per (scenario, variant, seed, step, layer, metric).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub scenario: String,
    pub variant: String,
    pub seed: u64,
    pub step: u64,
    pub layer: Option<u32>,
    pub metric: String,
    pub value: f64,
    /// The engine's name of the layer (`3:dense(sigmoid)`, `*` for the whole network) when the record
    /// comes from the monitor; the diagnosis regroups such records into the engine's per-run table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_name: Option<String>,
}

/// A number the section leads with, computed by the runner from its measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyFigure {
    pub key: String,
    /// Plain text; a number inside it is written as a [`number`] marker, so the page formats it and the
    /// data files never depend on the page's formatting.
    pub label: String,
    pub value: f64,
}

impl KeyFigure {
    pub fn new(key: impl Into<String>, label: impl Into<String>, value: f64) -> Self {
        KeyFigure { key: key.into(), label: label.into(), value }
    }
}

/// A number inside a label: `{=V}` with V the shortest text that reads back to the same bits. The page
/// renders it with its own formatter (`format::label`); the data files keep the exact value.
pub fn number(v: f64) -> String {
    format!("{{={v:?}}}")
}

/// What a runner returns; the claims are judged afterwards, the same way for every kind.
#[derive(Debug, Default)]
pub struct Output {
    pub records: Vec<Record>,
    pub key_figures: Vec<KeyFigure>,
    /// Training steps (optimiser updates) the runner ran, for the timings section's steps per second.
    pub steps: u64,
}

/// Appends records for one scenario without repeating its name at every call site.
pub struct Recorder {
    scenario: String,
    pub records: Vec<Record>,
}

impl Recorder {
    pub fn new(scenario: &str) -> Self {
        Recorder { scenario: scenario.to_string(), records: Vec::new() }
    }

    pub fn push(
        &mut self,
        variant: &str,
        seed: u64,
        step: u64,
        layer: Option<u32>,
        metric: &str,
        value: f64,
    ) {
        self.records.push(Record {
            scenario: self.scenario.clone(),
            variant: variant.to_string(),
            seed,
            step,
            layer,
            metric: metric.to_string(),
            value,
            layer_name: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_labels_keep_every_bit() {
        for v in [0.1 + 0.2, 1e-40, -3.0, 2.5e300] {
            let m = number(v);
            let inner = m.strip_prefix("{=").and_then(|s| s.strip_suffix('}')).unwrap();
            assert_eq!(inner.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{m}");
        }
    }
}

//! What a runner hands back: its records (the engine's tidy table, one per run, the same format the
//! monitor writes and `report diagnose` reads), the key figures its section leads with, and how many
//! training steps it ran. A leaf module: every other part of the report reads these types.
use serde::Serialize;

pub use engine::monitor::{GLOBAL, Records, point};

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
    /// One table per (variant, seed) run, in the order the runner recorded them.
    pub records: Vec<Records>,
    pub key_figures: Vec<KeyFigure>,
    /// Training steps (optimiser updates) the runner ran, for the timings section's steps per second.
    pub steps: u64,
}

/// Collects one scenario's runs: each (variant, seed) gets its table on first use.
pub struct Recorder {
    scenario: String,
    pub runs: Vec<Records>,
}

impl Recorder {
    pub fn new(scenario: &str) -> Self {
        Recorder { scenario: scenario.to_string(), runs: Vec::new() }
    }

    /// The table of one run, created on first use (runs keep first-use order).
    pub fn run(&mut self, variant: &str, seed: u64) -> &mut Records {
        match self.runs.iter().rposition(|r| r.variant == variant && r.seed == seed) {
            Some(i) => &mut self.runs[i],
            None => {
                self.runs.push(Records::new(self.scenario.as_str(), variant, seed));
                self.runs.last_mut().expect("just pushed")
            }
        }
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

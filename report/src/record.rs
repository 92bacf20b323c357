//! What a runner hands back: its records (the engine's tidy table, one per run, the same format the
//! monitor writes and `report diagnose` reads), the key figures its section leads with, and how many
//! training steps it ran. It imports only `stats`: every other part of the report reads these types.
use serde::Serialize;

use engine::monitor::coordinates;
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

/// Adds `key.variant` (the median over seeds) with `key.variant.min` and `.max`, when any seed measured
/// it (NaN, a seed that could not measure, is left out and the label says how many seeds counted).
pub fn push_seed_spread(
    out: &mut Vec<KeyFigure>,
    key: &str,
    (variant, label): (&str, &str),
    what: &str,
    values: &[f64],
) {
    let Some((med, lo, hi)) = crate::stats::spread(values) else { return };
    let (n, runs) = (values.iter().filter(|x| !x.is_nan()).count(), values.len());
    let of = if n == runs { format!("{n} seeds") } else { format!("{n} of {runs} seeds") };
    let text = if n == 1 {
        format!("{label}: {what}")
    } else {
        format!("{label}: {what} (median of {of}; range {}–{})", number(lo), number(hi))
    };
    out.push(KeyFigure::new(format!("{key}.{variant}"), text, med));
    out.push(KeyFigure::new(format!("{key}.{variant}.min"), format!("{label}: {what}, lowest seed"), lo));
    out.push(KeyFigure::new(format!("{key}.{variant}.max"), format!("{label}: {what}, highest seed"), hi));
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

/// A run's table split by the coordinates every one of its rows carries (a sweep's value, `T=50`), each
/// part with those coordinates taken off its rows: the table of one run setting, whose per-layer rows are
/// the plain series the diagnosis reads. Labelled by what was taken off (`T=50`); a table without such
/// coordinates is one part, itself, labelled "". The records of several runs of one (variant, seed), as
/// `report diagnose` reads them from a file, split the same way as each run's own table.
pub fn sweep_parts(r: &Records) -> Vec<(String, Records)> {
    let names: Vec<&str> = std::iter::once("").chain(r.points.iter().map(String::as_str)).collect();
    let mut used = vec![false; names.len()];
    r.rows.iter().for_each(|row| used[row.point as usize] = true);
    let mut common: Option<Vec<&str>> = None;
    for (name, _) in names.iter().zip(&used).filter(|(_, u)| **u) {
        let keys: Vec<&str> = coordinates(name).map(|(k, _)| k).collect();
        common = Some(common.map_or(keys.clone(), |c| c.into_iter().filter(|k| keys.contains(k)).collect()));
    }
    let common = common.unwrap_or_default();
    if common.is_empty() {
        return vec![(String::new(), r.clone())];
    }
    // Coordinates are stored sorted by key, so each half of a point stays in canonical form.
    let join = |c: &[(&str, &str)]| c.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";");
    let halves: Vec<(String, String)> = names
        .iter()
        .map(|name| {
            let (own, rest): (Vec<_>, Vec<_>) = coordinates(name).partition(|(k, _)| common.contains(k));
            (join(&own), join(&rest))
        })
        .collect();
    let mut parts: Vec<(String, Records)> = Vec::new();
    for row in &r.rows {
        let (label, rest) = &halves[row.point as usize];
        let i = parts.iter().position(|(l, _)| l == label).unwrap_or_else(|| {
            let empty = Records::new(&r.scenario, &r.variant, r.seed);
            let table = Records { layers: r.layers.clone(), metrics: r.metrics.clone(), ..empty };
            parts.push((label.clone(), table));
            parts.len() - 1
        });
        let part = &mut parts[i].1;
        let point = part.point_id(rest);
        part.push_at(row.step, row.layer, point, row.metric, row.value);
    }
    parts
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

    /// Two runs of one (variant, seed) at T = 10 and 25, merged as a file reader merges them, split back
    /// into the two runs with `T` taken off; a row's own coordinates stay.
    #[test]
    fn a_sweeps_runs_split_back_by_the_coordinate_every_row_carries() {
        let mut r = Records::new("s", "v", 3);
        r.push_named_at(0, "1:lstm", "T=10", "grad_norm", 1.0);
        r.push_named_at(0, "1:lstm", "T=10;t=0", "hidden_grad_norm", 2.0);
        r.push_named_at(0, "1:lstm", "T=25", "grad_norm", 3.0);
        r.push_named_at(1, "*", "T=25", "loss", 4.0);
        let parts = sweep_parts(&r);
        let labels: Vec<&str> = parts.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["T=10", "T=25"]);
        let rows = |p: &Records| {
            p.tidy()
                .map(|x| (x.step, x.layer.to_string(), x.point.to_string(), x.metric.to_string(), x.value))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            rows(&parts[0].1),
            [
                (0, "1:lstm".into(), "".into(), "grad_norm".into(), 1.0),
                (0, "1:lstm".into(), "t=0".into(), "hidden_grad_norm".into(), 2.0)
            ]
        );
        assert_eq!(rows(&parts[1].1).len(), 2);
        assert!(parts.iter().all(|(_, p)| p.seed == 3 && p.variant == "v"));
        // A row without the coordinate: nothing is a run coordinate, the table is one part.
        r.push_named(2, "*", "loss", 5.0);
        assert_eq!(sweep_parts(&r), vec![(String::new(), r.clone())]);
    }
}

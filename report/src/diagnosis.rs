//! Verdicts on the page: regroups a scenario's monitor records (those that carry the engine's layer
//! names) into one engine table per run, runs `engine::diagnose::diagnose` on each with the scenario's
//! `[diagnose]` thresholds, and merges the runs of a variant, so the page says which seeds got which
//! verdict. Computed from the records alone, like every chart.
use crate::error::Result;
use crate::record::Record;
use crate::scenario::Scenario;
use engine::diagnose::{DiagnoseConfig, Verdict, diagnose, layer_span};
use engine::monitor::Records;
use serde::{Deserialize, Serialize};

/// One verdict kind as it came out for one variant, over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictSummary {
    /// `engine::diagnose::Kind` in snake case, e.g. `vanishing`.
    pub kind: String,
    /// Readable kind, e.g. `dying ReLU`.
    pub label: String,
    /// `info`, `warning` or `error`.
    pub severity: String,
    /// The seeds whose run got this verdict, ascending.
    pub seeds: Vec<u64>,
    /// The seed whose evidence is shown (the first in `seeds`).
    pub shown_seed: u64,
    /// Where, e.g. `layers 1-6`; empty for whole-network verdicts.
    pub layers: String,
    pub steps: Option<(u64, u64)>,
    pub rule: String,
    pub evidence: Vec<String>,
    pub suggestion: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantDiagnosis {
    pub variant: String,
    /// How many runs (seeds) were diagnosed.
    pub runs: usize,
    pub verdicts: Vec<VerdictSummary>,
}

/// The second parsing pass for `[diagnose]`: only that table, typed, with its own spans for errors.
#[derive(Deserialize)]
struct DiagnoseOnly {
    #[serde(default)]
    diagnose: Option<DiagnoseConfig>,
}

/// The scenario's thresholds: the engine's defaults with the `[diagnose]` table's overrides. An unknown
/// key or a wrong type names the file, line and column.
pub fn config(s: &Scenario) -> Result<DiagnoseConfig> {
    if s.spec.diagnose.is_none() {
        return Ok(DiagnoseConfig::default());
    }
    let parsed: DiagnoseOnly = toml::from_str(&s.text)
        .map_err(|e| s.error_at(e.span().unwrap_or(0..0), format!("[diagnose]: {}", e.message().trim())))?;
    Ok(parsed.diagnose.unwrap_or_default())
}

/// Splits records into the engine's per-run tables, in order of first appearance; records without a
/// layer name (a runner's own figures, e.g. test accuracy) are left out.
pub fn engine_records(scenario: &str, records: &[Record]) -> Vec<Records> {
    let mut runs: Vec<Records> = Vec::new();
    for r in records {
        let Some(layer) = &r.layer_name else { continue };
        let at = match runs.iter().rposition(|x| x.variant == r.variant && x.seed == r.seed) {
            Some(i) => i,
            None => {
                runs.push(Records::new(scenario, r.variant.clone(), r.seed));
                runs.len() - 1
            }
        };
        runs[at].push_named(r.step, layer, &r.metric, r.value);
    }
    runs
}

/// Every variant's merged verdicts; empty when no record carries a layer name.
pub fn diagnose_records(s: &Scenario, records: &[Record]) -> Result<Vec<VariantDiagnosis>> {
    let cfg = config(s)?;
    let runs = engine_records(&s.name, records);
    let mut out: Vec<VariantDiagnosis> = Vec::new();
    // Scenario order of variants, so the page lists them as the charts do.
    for v in s.variants() {
        let mine: Vec<&Records> = runs.iter().filter(|r| r.variant == v.name).collect();
        if mine.is_empty() {
            continue;
        }
        let mut merged: Vec<VerdictSummary> = Vec::new();
        let mut seeds: Vec<&Records> = mine.clone();
        seeds.sort_by_key(|r| r.seed);
        for run in seeds {
            for verdict in diagnose(run, &cfg) {
                merge(&mut merged, verdict, run.seed);
            }
        }
        out.push(VariantDiagnosis { variant: v.name.clone(), runs: mine.len(), verdicts: merged });
    }
    Ok(out)
}

fn merge(merged: &mut Vec<VerdictSummary>, v: Verdict, seed: u64) {
    let kind = serde_json::to_value(v.kind).ok().and_then(|k| k.as_str().map(str::to_string));
    let kind = kind.unwrap_or_else(|| format!("{:?}", v.kind));
    if let Some(m) = merged.iter_mut().find(|m| m.kind == kind) {
        if !m.seeds.contains(&seed) {
            m.seeds.push(seed);
        }
        return;
    }
    let severity = serde_json::to_value(v.severity).ok().and_then(|k| k.as_str().map(str::to_string));
    merged.push(VerdictSummary {
        kind,
        label: v.kind.label().to_string(),
        severity: severity.unwrap_or_default(),
        seeds: vec![seed],
        shown_seed: seed,
        layers: if v.layers.is_empty() { String::new() } else { layer_span(&v.layers) },
        steps: v.steps,
        rule: v.rule,
        evidence: v.evidence,
        suggestion: v.suggestion,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(variant: &str, seed: u64, step: u64, layer: &str, metric: &str, value: f64) -> Record {
        Record {
            scenario: "s".into(),
            variant: variant.into(),
            seed,
            step,
            layer: None,
            metric: metric.into(),
            value,
            layer_name: Some(layer.into()),
        }
    }

    #[test]
    fn records_regroup_by_run_and_skip_unnamed_rows() {
        let mut rs = vec![
            rec("a", 0, 0, "1:dense(relu)", "grad_norm", 1.0),
            rec("b", 0, 0, "1:dense(relu)", "grad_norm", 2.0),
            rec("a", 0, 1, "*", "loss", 0.5),
        ];
        let mut unnamed = rec("a", 0, 1, "", "test_accuracy", 0.9);
        unnamed.layer_name = None;
        rs.push(unnamed);
        let runs = engine_records("s", &rs);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].variant, "a");
        assert_eq!(runs[0].rows.len(), 2);
        assert_eq!(runs[0].series("*", "loss"), vec![(1, 0.5)]);
        assert_eq!(runs[1].series("1:dense(relu)", "grad_norm"), vec![(0, 2.0)]);
    }
}

//! Verdicts on the page: runs `engine::diagnose::diagnose` on each run's records with the scenario's
//! `[diagnose]` thresholds and merges the runs of a variant, so the page says which seeds got which
//! verdict. Computed from the records alone, like every chart, and from the same tables the data files
//! hold, so `report diagnose` on those files finds the same verdicts. Runs that recorded no gradient
//! norms (measurements that are not training runs) are not diagnosed.
use crate::error::Result;
use crate::scenario::Scenario;
use engine::diagnose::{DiagnoseConfig, Verdict, diagnose, has_gradient_data, layer_span};
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

/// Every variant's merged verdicts; empty when no run recorded gradient norms. Runs of variants the
/// scenario does not declare (a remedy's re-run, `VARIANT + remedy K`) are diagnosed too, after the
/// declared ones, so the page shows every records file's verdicts.
pub fn diagnose_records(s: &Scenario, runs: &[Records]) -> Result<Vec<VariantDiagnosis>> {
    let cfg = config(s)?;
    let mut out: Vec<VariantDiagnosis> = Vec::new();
    // Scenario order of variants, so the page lists them as the charts do; then the others in the
    // order their runs come.
    let mut names: Vec<&str> = s.variants().map(|v| v.name.as_str()).collect();
    for r in runs {
        if !names.contains(&r.variant.as_str()) {
            names.push(&r.variant);
        }
    }
    for name in names {
        let mine: Vec<&Records> = runs.iter().filter(|r| r.variant == name && has_gradient_data(r)).collect();
        if mine.is_empty() {
            continue;
        }
        let mut merged: Vec<VerdictSummary> = Vec::new();
        let mut seeds: Vec<&Records> = mine.clone();
        seeds.sort_by_key(|r| r.seed);
        for run in seeds {
            // A swept run is diagnosed without its sweep coordinate, as `report diagnose` reads it.
            for (_, part) in crate::record::sweep_parts(run) {
                for verdict in diagnose(&part, &cfg) {
                    merge(&mut merged, verdict, run.seed);
                }
            }
        }
        out.push(VariantDiagnosis { variant: name.to_string(), runs: mine.len(), verdicts: merged });
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

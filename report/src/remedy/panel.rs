//! The page's remedy panel, for a scenario with `[remedy] enabled = true`: each failing variant's
//! remedies tried during the run, then drawn from the records: the change, the loss and the per-layer
//! gradient norms before and after, the new verdicts, and the remedies that did not cure, said plainly.
use super::DEFAULT_MAX_REMEDIES;
use super::cure::{Cure, cure_variant};
use crate::charts::build::RenderedChart;
use crate::charts::{LineChart, Scale, Series, Table, line_chart, table_svg};
use crate::error::{ReportError, Result};
use crate::experiments::RunOptions;
use crate::run::ScenarioResult;
use crate::scenario::Scenario;
use engine::monitor::detect::median;
use engine::monitor::{GLOBAL, Records, layer_position, metric as m};
use std::collections::BTreeMap;
use toml_edit::DocumentMut;

/// The remedies of every failing variant the scenario's `[remedy]` table asks for (none without one).
pub fn run(s: &Scenario, records: &[Records], opts: &RunOptions) -> Result<Vec<Cure>> {
    let Some(spec) = s.spec.remedy.as_ref().filter(|r| r.enabled) else { return Ok(Vec::new()) };
    if let Some(unknown) = spec.variants.iter().flatten().find(|n| !s.variants().any(|v| &&v.name == n)) {
        return Err(s.error(format!("[remedy] variants: no variant `{unknown}` in this scenario")));
    }
    let max = spec.max_remedies.unwrap_or(DEFAULT_MAX_REMEDIES);
    if max == 0 {
        return Err(s.error("[remedy] max_remedies must be at least 1"));
    }
    let doc: DocumentMut =
        s.text.parse().map_err(|e: toml_edit::TomlError| s.error(format!("cannot edit the file: {e}")))?;
    let mut out = Vec::new();
    for v in s.variants().filter(|v| spec.variants.as_ref().is_none_or(|n| n.contains(&v.name))) {
        let runs: Vec<&Records> = records.iter().filter(|r| r.variant == v.name).collect();
        out.extend(cure_variant(s, &doc, v, &runs, opts, max)?);
    }
    Ok(out)
}

/// Runs the remedies a scenario asks for and adds them to its result: the cures (as JSON) and the
/// re-runs' records, as variants of their own, so the panel is drawn from data.
pub fn attach(s: &Scenario, r: &mut ScenarioResult, opts: &RunOptions) -> Result<()> {
    let cures = run(s, &r.records, opts)?;
    r.records.extend(records(&cures));
    // The re-runs' verdicts beside the others', so the page and `report diagnose` agree on every run.
    r.diagnoses = crate::diagnosis::diagnose_records(s, &r.records)?;
    r.remedies = cures
        .iter()
        .map(|c| serde_json::to_value(c).map_err(|e| ReportError::run(&s.name, e.to_string())))
        .collect::<Result<_>>()?;
    Ok(())
}

/// The name a remedy's re-run has in the data files: `VARIANT + remedy K` (K from 1).
pub fn variant_name(variant: &str, k: usize) -> String {
    format!("{variant} + remedy {}", k + 1)
}

/// Every re-run's records, renamed to [`variant_name`].
pub fn records(cures: &[Cure]) -> Vec<Records> {
    let mut out = Vec::new();
    for c in cures {
        for (k, a) in c.attempts.iter().enumerate() {
            out.extend(a.records.iter().cloned().map(|mut r| {
                r.variant = variant_name(&c.variant, k);
                r
            }));
        }
    }
    out
}

fn chart_err(s: &Scenario, id: &str, msg: String) -> ReportError {
    ReportError::Chart { scenario: s.name.clone(), chart: id.into(), msg }
}

/// Median over seeds, per x, of (x, value) points from each run.
fn median_series(name: &str, runs: &[&Records], points: impl Fn(&Records) -> Vec<(f64, f64)>) -> Series {
    let mut by_x: BTreeMap<i64, (f64, Vec<f64>)> = BTreeMap::new();
    for r in runs {
        for (x, v) in points(r) {
            by_x.entry((x * 1000.0).round() as i64).or_insert((x, Vec::new())).1.push(v);
        }
    }
    let mut s = Series { name: name.into(), ..Default::default() };
    for (_, (x, mut vs)) in by_x {
        let lo = vs.iter().copied().filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min);
        let hi = vs.iter().copied().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
        let med = median(&mut vs);
        if med.is_finite() {
            s.points.push((x, med));
            if runs.len() > 1 {
                s.band.push((x, lo, hi));
            }
        }
    }
    s
}

fn loss(r: &Records) -> Vec<(f64, f64)> {
    r.series(GLOBAL, m::LOSS).into_iter().map(|(s, v)| (s as f64, v)).collect()
}

/// Each layer's weight-gradient norm at the first recorded step, by layer position.
fn first_grad_norms(r: &Records) -> Vec<(f64, f64)> {
    let Some(first) = r.series_steps(m::GRAD_NORM).first().copied() else { return Vec::new() };
    r.layers_with(m::GRAD_NORM)
        .into_iter()
        .filter_map(|l| {
            let v = r.series(l, m::GRAD_NORM).into_iter().find(|&(s, _)| s == first)?.1;
            Some((layer_position(l)?, v))
        })
        .collect()
}

/// What is wrong after a run, grouped over seeds ("vanishing, the loss does not fall (seeds 0, 2)"),
/// short enough for a table cell.
fn seeds_text(results: &[super::SeedResult]) -> String {
    let mut groups: Vec<(String, Vec<u64>)> = Vec::new();
    for s in results.iter().filter(|s| !s.healthy()) {
        let mut what: Vec<&str> = s
            .failures
            .iter()
            .map(|k| engine::diagnose::Kind::from_name(k).map_or(k.as_str(), |k| k.label()))
            .collect();
        if s.stalled {
            what.push("the loss does not fall");
        }
        let what = what.join(", ");
        match groups.iter_mut().find(|(w, _)| *w == what) {
            Some((_, seeds)) => seeds.push(s.seed),
            None => groups.push((what, vec![s.seed])),
        }
    }
    if groups.is_empty() {
        return format!("healthy on all {} seeds", results.len());
    }
    let seeds = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    groups
        .iter()
        .map(|(w, v)| format!("{w} (seed{} {})", if v.len() > 1 { "s" } else { "" }, seeds(v)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The panel's charts for one scenario: per failing variant, a table of the remedies tried and their
/// verdicts, then the loss and the per-layer gradient norms before and after the change that cured (or
/// the last one tried).
pub fn charts(s: &Scenario, r: &ScenarioResult) -> Result<Vec<RenderedChart>> {
    let mut out = Vec::new();
    let cures: Vec<Cure> = r
        .remedies
        .iter()
        .map(|v| serde_json::from_value(v.clone()).map_err(|e| chart_err(s, "remedy", e.to_string())))
        .collect::<Result<_>>()?;
    for (i, c) in cures.iter().enumerate() {
        let id = |what: &str| format!("remedy{i}-{what}");
        let label = s.variants().find(|v| v.name == c.variant).map_or(c.variant.as_str(), |v| v.label());
        let mut rows = vec![vec!["before".to_string(), "(as written)".to_string(), seeds_text(&c.before)]];
        for (k, a) in c.attempts.iter().enumerate() {
            let outcome = match (&a.error, a.cured) {
                (Some(e), _) => format!("not tried: {e}"),
                (None, true) => format!("cured: {}", seeds_text(&a.seeds)),
                (None, false) => format!("did not cure: {}", seeds_text(&a.seeds)),
            };
            // The change's name here, in full (with its numbers) in the caption: a table as wide as the
            // page stays legible.
            rows.push(vec![format!("remedy {}", k + 1), a.remedy.name(), outcome]);
        }
        let table = Table {
            title: format!(
                "Remedies for {label} ({})",
                engine::diagnose::Kind::from_name(&c.kind).map_or(c.kind.as_str(), |k| k.label())
            ),
            header: vec!["run".into(), "change".into(), "verdicts after".into()],
            rows,
        };
        let svg = table_svg(&table).map_err(|e| chart_err(s, &id("table"), e))?;
        let changes: Vec<String> =
            c.attempts.iter().enumerate().map(|(k, a)| format!("remedy {}: {}", k + 1, a.change)).collect();
        let verdict = match c.cure() {
            Some(a) => format!(
                "`{}` was cured by remedy {}: {}.",
                c.variant,
                c.cured_by.map_or(0, |k| k + 1),
                a.change
            ),
            None if c.attempts.is_empty() => {
                format!("No remedy in the catalogue applies to `{}`: it is not cured.", c.variant)
            }
            None => format!(
                "No remedy cured `{}`: after each of the {} changes tried, a failure verdict or a loss that does not fall remained on at least one seed.",
                c.variant,
                c.attempts.len()
            ),
        };
        let caption = if c.attempts.len() > 1 || c.cured_by.is_none() {
            format!("{verdict} The changes tried, each on the network as written: {}.", changes.join("; "))
        } else {
            verdict
        };
        out.push(RenderedChart { id: id("table"), title: table.title.clone(), caption: Some(caption), svg });
        let before: Vec<&Records> = r.records.iter().filter(|x| x.variant == c.variant).collect();
        let Some(k) = c.cured_by.or(c.attempts.len().checked_sub(1)) else { continue };
        let after_name = variant_name(&c.variant, k);
        let after: Vec<&Records> = r.records.iter().filter(|x| x.variant == after_name).collect();
        let after_label = if c.cured_by.is_some() {
            format!("after remedy {} (cured)", k + 1)
        } else {
            format!("after remedy {} (not cured)", k + 1)
        };
        for (what, title, x_label, y_label, f) in [
            ("loss", "training loss", "step", "training loss", loss as fn(&Records) -> Vec<(f64, f64)>),
            ("grad", "gradient norm per layer, first step", "layer", "‖dL/dW‖", first_grad_norms),
        ] {
            let series = vec![median_series("before", &before, f), median_series(&after_label, &after, f)];
            // Gradient norms always span decades; a loss only when one of the runs blew up.
            let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|v| *v > 0.0);
            let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
            let y_scale = if what == "grad" || hi > 100.0 * lo { Scale::Log10 } else { Scale::Linear };
            let chart = LineChart {
                title: format!("{label}: {title}"),
                x_label: x_label.into(),
                y_label: y_label.into(),
                y_scale,
                series,
                ..Default::default()
            };
            let svg = line_chart(&chart).map_err(|e| chart_err(s, &id(what), e))?;
            let caption = format!(
                "Median over seeds, band from the smallest to the largest seed; from the records of `{}` and `{after_name}`.",
                c.variant
            );
            out.push(RenderedChart { id: id(what), title: chart.title.clone(), caption: Some(caption), svg });
        }
    }
    Ok(out)
}

//! The recurrent rule: gradient lost over time inside a recurrent layer, from the per-time-step rows
//! of `hidden_grad_norm` (||dL/dh_t||, point `t=K`).
use super::config::DiagnoseConfig;
use super::verdict::{Kind, Severity, Verdict, sci};
use crate::monitor::detect::median;
use crate::monitor::record::{RecordIndex, coordinate, metric as m};

/// Per recurrent layer, per recorded step, ||dL/dh_first|| / ||dL/dh_last|| over the time steps.
struct LayerRatios {
    name: String,
    first_t: usize,
    last_t: usize,
    /// (training step, ratio), in step order.
    ratios: Vec<(u64, f64)>,
}

/// One layer's rows at time step K: layer name, K, and its (step, ||dL/dh_K||) series.
type TimeRow = (String, usize, Vec<(u64, f64)>);

fn ratios(r: &RecordIndex<'_>) -> Vec<LayerRatios> {
    let mut rows: Vec<TimeRow> = Vec::new();
    for l in r.layers_with(m::HIDDEN_GRAD_NORM) {
        for p in r.points_of(l, m::HIDDEN_GRAD_NORM) {
            let Some(t) = coordinate(p, "t").filter(|t| *t >= 0.0 && t.fract() == 0.0) else { continue };
            rows.push((l.to_owned(), t as usize, r.series_at(l, p, m::HIDDEN_GRAD_NORM)));
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for (n, _, _) in &rows {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    let mut out = Vec::new();
    for name in names {
        let of_layer = || rows.iter().filter(|(n, _, _)| n == name);
        let (Some(first), Some(last)) =
            (of_layer().min_by_key(|(_, t, _)| *t), of_layer().max_by_key(|(_, t, _)| *t))
        else {
            continue;
        };
        if first.1 == last.1 {
            continue;
        }
        let ratios = first
            .2
            .iter()
            .filter_map(|&(step, g0)| {
                let gn = last.2.iter().find(|(s, _)| *s == step)?.1;
                (gn > 0.0 && g0.is_finite()).then_some((step, g0 / gn))
            })
            .collect();
        out.push(LayerRatios { name: name.to_owned(), first_t: first.1, last_t: last.1, ratios });
    }
    out
}

/// A recurrent layer forgets when ||dL/dh_first|| / ||dL/dh_last|| is under `time_ratio` at
/// `persist_frac` of the recorded steps: one noisy batch is no verdict, as for the other rules.
pub(super) fn vanishing_over_time(r: &RecordIndex<'_>, cfg: &DiagnoseConfig) -> Option<Verdict> {
    let mut layers = Vec::new();
    let mut evidence = Vec::new();
    let (mut first_hit, mut last_step) = (u64::MAX, 0);
    for l in ratios(r) {
        let hits: Vec<u64> = l.ratios.iter().filter(|(_, q)| *q < cfg.time_ratio).map(|(s, _)| *s).collect();
        let total = l.ratios.len();
        if total == 0 || (hits.len() as f64) < cfg.persist_frac * total as f64 {
            continue;
        }
        let (step, last) = *l.ratios.last().expect("total > 0");
        let mut all: Vec<f64> = l.ratios.iter().map(|&(_, q)| q).collect();
        evidence.push(format!(
            "||dL/dh_{}|| / ||dL/dh_{}|| = {} in {} at step {step} (median {} over {total} recorded steps, under {} at {})",
            l.first_t,
            l.last_t,
            sci(last),
            l.name,
            sci(median(&mut all)),
            sci(cfg.time_ratio),
            hits.len()
        ));
        first_hit = first_hit.min(hits[0]);
        last_step = last_step.max(step);
        layers.push(l.name);
    }
    if layers.is_empty() {
        return None;
    }
    // A gated layer already has the remedy a plain one lacks: its gates must learn to keep state.
    let gated = layers.iter().any(|l| l.contains("lstm") || l.contains("gru"));
    let suggestion = if gated {
        "the gates forget faster than the sequence needs: train longer, start the forget-gate bias higher, or shorten the sequence (truncated backpropagation through time)"
    } else {
        "the layer cannot carry gradient across the sequence: use an LSTM or GRU (forget-gate bias 1)"
    };
    Some(Verdict {
        kind: Kind::VanishingOverTime,
        severity: Severity::Warning,
        layers,
        steps: Some((first_hit, last_step)),
        rule: format!(
            "||dL/dh_first|| / ||dL/dh_last|| < {} at >= {:.0}% of recorded steps",
            sci(cfg.time_ratio),
            100.0 * cfg.persist_frac
        ),
        evidence,
        suggestion: suggestion.into(),
    })
}

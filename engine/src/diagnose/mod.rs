//! Diagnosis: from a run's records to verdicts a person can act on — what is
//! wrong, where, the rule that fired, the measured evidence, and what to
//! change — or "healthy", or "not enough data", never a guess.
mod config;
mod recurrent;
mod rules;
mod verdict;

pub use config::DiagnoseConfig;
pub use verdict::{Kind, Severity, Verdict, layer_span, sci};

use crate::monitor::record::{RecordIndex, Records, coordinate, metric as m};

/// Verdicts for one run, causes before symptoms.
/// The rows are indexed by (layer, point, metric) once, so the rules' many series lookups cost one
/// pass over the table in all.
pub fn diagnose(records: &Records, cfg: &DiagnoseConfig) -> Vec<Verdict> {
    if !has_gradient_data(records) {
        return vec![not_enough_data(
            "needs at least one recorded step of gradient norms",
            format!("{} rows, none of them a gradient norm", records.rows.len()),
        )];
    }
    let r = &RecordIndex::new(records);
    let mut out = Vec::new();
    let non_finite = rules::non_finite(r);
    let exploding = rules::exploding(r, cfg);
    match (exploding, non_finite) {
        (Some(mut e), Some(n)) => {
            // The explosion led to the non-finite value: one verdict.
            e.evidence.extend(n.evidence);
            out.push(e);
        }
        (Some(e), None) => out.push(e),
        (None, Some(n)) => out.push(n),
        (None, None) => {}
    }
    let blown_up = !out.is_empty();
    let mut dead = rules::dead_units(r, cfg);
    // A cause comes before its effect: units that die only after the blow-up began were killed by
    // its huge updates, so they are evidence of it, not a second diagnosis.
    if matches!((out.first(), &dead), (Some(b), Some(d)) if onset(d) > onset(b))
        && let (Some(blow), Some(d)) = (out.first_mut(), dead.take())
    {
        blow.evidence.extend(d.evidence);
    }
    let vanishing = if blown_up { None } else { rules::vanishing(r, cfg) };
    match (dead, vanishing) {
        (Some(d), Some((mut v, cause))) if onset(&v) < onset(&d) || cause == rules::VanishCause::Scale => {
            // Gradients vanished before the units died (a too-small init leaves activations so
            // small that the first bias updates decide every unit's sign), or they are tiny and
            // non-zero in every layer with a healthy ratio, which dead units cannot produce: they
            // zero what passes through them, making exact zeros or a collapsing ratio. The
            // vanishing is the cause and the dead units its evidence.
            v.evidence.extend(d.evidence);
            out.push(v);
        }
        (Some(mut d), Some((v, _))) => {
            // Dead units pass no gradient: the vanishing is their consequence.
            d.evidence.extend(v.evidence.into_iter().filter(|e| e.contains("ratio") || e.contains("RMS")));
            out.push(d);
        }
        (Some(d), None) => out.push(d),
        (None, Some((v, _))) => out.push(v),
        (None, None) => {}
    }
    let explained = !out.is_empty();
    let mut clipping = rules::clipping(r, cfg);
    if !explained {
        out.extend(rules::saturation(r, cfg));
        let low = rules::update_ratio(r, cfg).into_iter().find(|v| v.kind == Kind::UpdateRatioLow);
        match (&mut clipping, low) {
            // A threshold far below the gradient scale shrinks every update: its effect, not a
            // second diagnosis.
            (Some(c), Some(low)) if c.kind == Kind::ClippingTooAggressive => c.evidence.extend(low.evidence),
            (_, low) => out.extend(low),
        }
    }
    if !blown_up {
        out.extend(rules::update_ratio(r, cfg).into_iter().filter(|v| v.kind == Kind::UpdateRatioHigh));
    }
    out.extend(recurrent::vanishing_over_time(r, cfg));
    out.extend(clipping);
    if !out.iter().any(|v| v.kind.is_failure()) {
        let verdict = match too_little_for_healthy(r) {
            Some(found) => not_enough_data(
                "no failure found; calling a run healthy needs weight-gradient norms of two layers \
                 (or one layer's RMS), or a recurrent layer's norms at two time steps",
                found,
            ),
            None => rules::healthy(r),
        };
        out.insert(0, verdict);
    }
    out
}

/// Whether a run recorded any gradient norm (per layer, global, or over a recurrent layer's time
/// steps): without one no rule can run and the verdict is "not enough data".
pub fn has_gradient_data(r: &Records) -> bool {
    [m::GRAD_NORM, m::GLOBAL_GRAD_NORM, m::HIDDEN_GRAD_NORM].iter().any(|name| {
        r.metrics
            .iter()
            .position(|x| x == name)
            .is_some_and(|id| r.rows.iter().any(|row| row.metric as usize == id))
    })
}

fn not_enough_data(rule: &str, evidence: String) -> Verdict {
    Verdict {
        kind: Kind::NotEnoughData,
        severity: Severity::Info,
        layers: vec![],
        steps: None,
        rule: rule.into(),
        evidence: vec![evidence],
        suggestion: "record grad_norm and grad_rms per layer (see the README's Records format)".into(),
    }
}

/// What was recorded, when it is too little to call the run healthy: "healthy" claims that the
/// vanishing tests passed, and they need per-layer norms (a ratio between two layers, or one
/// layer's RMS for the absolute test) or a recurrent layer's norms over time.
fn too_little_for_healthy(r: &RecordIndex<'_>) -> Option<String> {
    let per_layer = |metric: &str| rules::layers_with(r, metric).len();
    let (norms, rms) = (per_layer(m::GRAD_NORM), per_layer(m::GRAD_RMS));
    let time_rows: usize = r
        .layers_with(m::HIDDEN_GRAD_NORM)
        .into_iter()
        .map(|l| r.points_of(l, m::HIDDEN_GRAD_NORM).iter().filter(|p| coordinate(p, "t").is_some()).count())
        .sum();
    if norms >= 2 || rms >= 1 || time_rows >= 2 {
        return None;
    }
    Some(format!(
        "gradient norms of {norms} layer(s), gradient RMS of none, {time_rows} recurrent time-step row(s)"
    ))
}

/// The first recorded step a verdict concerns (verdicts without steps hold from the start).
fn onset(v: &Verdict) -> u64 {
    v.steps.map_or(0, |(first, _)| first)
}

#[cfg(test)]
mod tests;

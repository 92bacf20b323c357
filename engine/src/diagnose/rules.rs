//! The rules, from records to verdicts. Each rule measures, compares with a
//! threshold from [`DiagnoseConfig`], and reports its figures. Rules are
//! ordered by cause: a non-finite value explains an explosion, dead units
//! explain vanishing, vanishing explains tiny updates and saturation; an
//! explained symptom becomes evidence of its cause rather than a verdict.
use super::config::DiagnoseConfig;
use super::verdict::{Kind, Severity, Verdict, sci};
use crate::monitor::detect::{self, median};
use crate::monitor::record::{GLOBAL, RecordIndex, metric as m};

/// Layers with a recorded metric, in network order, excluding the global row
/// and rows at a point (a recurrent layer's time steps, histogram bins).
pub(super) fn layers_with<'a>(r: &RecordIndex<'a>, metric: &str) -> Vec<&'a str> {
    r.layers_with(metric)
        .into_iter()
        .filter(|l| *l != GLOBAL && r.points_of(l, metric).contains(&""))
        .collect()
}

fn recorded_steps(r: &RecordIndex<'_>, layer: &str, metric: &str) -> Vec<u64> {
    r.series(layer, metric).into_iter().map(|(s, _)| s).collect()
}

fn persists(hits: usize, total: usize, cfg: &DiagnoseConfig) -> bool {
    total > 0 && hits as f64 >= cfg.persist_frac * total as f64
}

/// The first non-finite value; `true` beside it when training went on with finite steps after it (a
/// skipped step, as loss scaling does), which is then reported as intermittent and explains nothing
/// else away.
pub(super) fn non_finite(r: &RecordIndex<'_>) -> Option<(Verdict, bool)> {
    let (event, metric) = detect::first_non_finite(r)?;
    // The runner writes `non_finite:PASS:TENSOR` rows when training stops.
    let (pass, tensor) = metric
        .strip_prefix("non_finite:")
        .and_then(|rest| rest.split_once(':'))
        .map_or(("recorded", metric.as_str()), |(p, t)| (p, t));
    // Whole-network quantities (the loss) sit under the `*` layer: say so in words.
    let place =
        if event.layer == GLOBAL { "the network".to_string() } else { format!("layer {}", event.layer) };
    let mut evidence =
        vec![format!("first non-finite value at step {}, {place}, {tensor}, {pass} pass", event.step)];
    let bad = non_finite_steps(r);
    let last_finite = last_finite_step(r);
    let intermittent = last_finite.is_some_and(|s| s > event.step);
    if intermittent {
        let shown: Vec<String> = bad.iter().take(8).map(u64::to_string).collect();
        let more = if bad.len() > 8 { ", ..." } else { "" };
        evidence.push(format!(
            "{} recorded step(s) non-finite (steps {}{more}); finite steps follow, up to step {}",
            bad.len(),
            shown.join(", "),
            last_finite.unwrap_or(0)
        ));
    } else if let Some((s, v)) =
        r.series(GLOBAL, m::GLOBAL_GRAD_NORM).into_iter().rfind(|(_, v)| v.is_finite())
    {
        evidence.push(format!("last finite global gradient norm {} at step {s}", sci(v)));
    }
    let (severity, suggestion) = if intermittent {
        (
            Severity::Warning,
            "training went on past them (skipped steps, as dynamic loss scaling makes): harmless when \
             rare; if they recur, lower the learning rate or the loss scale",
        )
    } else {
        (
            Severity::Error,
            "training stopped there; reduce the learning rate or the init scale, or clip the global norm",
        )
    };
    let last = if intermittent { bad.last().copied().unwrap_or(event.step) } else { event.step };
    let verdict = Verdict {
        kind: Kind::NonFinite,
        severity,
        layers: if event.layer == GLOBAL { vec![] } else { vec![event.layer.clone()] },
        steps: Some((event.step, last)),
        rule: "any NaN or infinity in a loss, activation or gradient (intermittent when finite steps follow)"
            .into(),
        evidence,
        suggestion: suggestion.into(),
    };
    Some((verdict, intermittent))
}

/// Steps holding a non-finite value in any row, ascending.
fn non_finite_steps(r: &RecordIndex<'_>) -> Vec<u64> {
    let mut steps: Vec<u64> =
        r.records.rows.iter().filter(|row| !row.value.is_finite()).map(|row| row.step).collect();
    steps.sort_unstable();
    steps.dedup();
    steps
}

/// The last step at which the monitor recorded a finite loss or gradient norm.
fn last_finite_step(r: &RecordIndex<'_>) -> Option<u64> {
    [m::LOSS, m::GLOBAL_GRAD_NORM]
        .iter()
        .flat_map(|metric| r.series(GLOBAL, metric))
        .chain(layers_with(r, m::GRAD_NORM).into_iter().flat_map(|l| r.series(l, m::GRAD_NORM)))
        .filter(|(_, v)| v.is_finite())
        .map(|(s, _)| s)
        .max()
}

/// The training loss at the start and the end of the recorded steps (medians of the first and last
/// third of the finite values), when at least 6 steps were recorded.
pub(super) fn loss_trend(r: &RecordIndex<'_>) -> Option<(f64, f64)> {
    let loss: Vec<f64> =
        r.series(GLOBAL, m::LOSS).into_iter().map(|(_, v)| v).filter(|v| v.is_finite()).collect();
    if loss.len() < 6 {
        return None;
    }
    let third = loss.len() / 3;
    let start = median(&mut loss[..third].to_vec());
    let end = median(&mut loss[loss.len() - third..].to_vec());
    Some((start, end))
}

/// Unscaled inputs: the median recorded input standard deviation over `input_std`. The diagnosis
/// reports it only with a symptom it explains (saturated, dead or vanishing first layers, an
/// explosion), whose evidence it then carries.
pub(super) fn input_scale(r: &RecordIndex<'_>, cfg: &DiagnoseConfig) -> Option<Verdict> {
    let mut std: Vec<f64> = r.series(GLOBAL, m::INPUT_STD).into_iter().map(|(_, v)| v).collect();
    if std.is_empty() {
        return None;
    }
    let med = median(&mut std);
    if med.is_nan() || med <= cfg.input_std {
        return None;
    }
    let mut evidence =
        vec![format!("input standard deviation {} (median over {} recorded steps)", sci(med), std.len())];
    let mut max: Vec<f64> = r.series(GLOBAL, m::INPUT_MAX_ABS).into_iter().map(|(_, v)| v).collect();
    if !max.is_empty() {
        evidence.push(format!("largest |input| {}", sci(median(&mut max))));
    }
    Some(Verdict {
        kind: Kind::InputScale,
        severity: Severity::Warning,
        layers: vec![],
        steps: None,
        rule: format!("input standard deviation > {}, with a symptom in the network", sci(cfg.input_std)),
        evidence,
        suggestion: "standardise the inputs (subtract the mean, divide by the standard deviation of the \
                     training set) before changing the activation or the initialiser"
            .into(),
    })
}

/// Gradient explosion. Growth of the norm, a norm over the absolute threshold or a first/last ratio
/// growing towards the input make it a candidate; it is a verdict only with evidence of harm (a
/// non-finite value, the absolute threshold crossed, updates above the band, or a loss that rises),
/// and otherwise a note (`GradientGrowth`): gradients grow as the loss falls in much healthy training.
pub(super) fn exploding(r: &RecordIndex<'_>, cfg: &DiagnoseConfig, non_finite: bool) -> Option<Verdict> {
    let global: Vec<(u64, f64)> = r.series(GLOBAL, m::GLOBAL_GRAD_NORM);
    let th = detect::Thresholds { explode_norm: cfg.explode_norm, ..Default::default() };
    let events = detect::exploding(r, &th);
    let first_norm = global.first().map(|&(_, v)| v);
    let max = global.iter().filter(|(_, v)| v.is_finite()).max_by(|a, b| a.1.total_cmp(&b.1)).copied();
    let growth = match (first_norm, max) {
        (Some(f), Some((_, mx))) if f > 0.0 => mx / f,
        _ => 1.0,
    };
    // Gradients that grow towards the input (first/last layer ratio).
    let layers = layers_with(r, m::GRAD_NORM);
    let mut depth_ratio = None;
    if layers.len() >= 2 {
        let (f, l) = (r.series(layers[0], m::GRAD_NORM), r.series(layers[layers.len() - 1], m::GRAD_NORM));
        let ratios: Vec<f64> =
            f.iter().zip(&l).filter(|(a, b)| b.1 > 0.0 && a.1.is_finite()).map(|(a, b)| a.1 / b.1).collect();
        let hits = ratios.iter().filter(|&&q| q > cfg.explode_ratio).count();
        if persists(hits, ratios.len(), cfg) {
            depth_ratio = Some(median(&mut ratios.clone()));
        }
    }
    let over_threshold = !events.is_empty() && (growth > 10.0 || events.len() * 2 >= global.len().max(1));
    if !(over_threshold || growth > cfg.explode_growth || depth_ratio.is_some()) {
        return None;
    }
    let high = update_ratio(r, cfg).into_iter().find(|v| v.kind == Kind::UpdateRatioHigh);
    let trend = loss_trend(r);
    let rising = trend.is_some_and(|(a, b)| b > a);
    let harmed = non_finite || over_threshold || high.is_some() || rising;
    let mut evidence = Vec::new();
    if let Some((s, v)) = max {
        evidence.push(format!(
            "global gradient norm {} at step {s} ({}x its first value {})",
            sci(v),
            sci(growth),
            sci(first_norm.unwrap_or(f64::NAN))
        ));
    }
    if !events.is_empty() {
        evidence.push(format!(
            "{} of {} recorded steps over {} (first at step {})",
            events.len(),
            global.len(),
            sci(cfg.explode_norm),
            events[0].step
        ));
    }
    if let Some(q) = depth_ratio {
        evidence.push(format!("first/last layer gradient ratio {} (grows towards the input)", sci(q)));
    }
    if let Some(g) = activation_growth(r) {
        evidence.push(format!("activation standard deviation grows about {}x per layer at step 0", sci(g)));
    }
    if let Some(h) = &high {
        evidence.extend(h.evidence.iter().cloned());
    }
    if let Some((a, b)) = trend {
        let word = if b > a { "rises" } else { "falls" };
        evidence.push(format!(
            "the loss {word} from {} to {} (medians of the first and last third)",
            sci(a),
            sci(b)
        ));
    }
    let first_step = events.first().map(|e| e.step).or(global.first().map(|&(s, _)| s)).unwrap_or(0);
    let last_step = global.last().map(|&(s, _)| s).unwrap_or(first_step);
    if !harmed {
        return Some(Verdict {
            kind: Kind::GradientGrowth,
            severity: Severity::Info,
            layers: vec![],
            steps: Some((first_step, last_step)),
            rule: format!(
                "gradient growth > {} or first/last layer ratio > {}, with no sign of harm (no non-finite \
                 value, norm under {}, updates in band, loss not rising)",
                sci(cfg.explode_growth),
                sci(cfg.explode_ratio),
                sci(cfg.explode_norm)
            ),
            evidence,
            suggestion: "nothing to change while the loss falls; clip the global norm if it turns".into(),
        });
    }
    Some(Verdict {
        kind: Kind::Exploding,
        severity: Severity::Error,
        layers: vec![],
        steps: Some((first_step, last_step)),
        rule: format!(
            "global norm over {} on most steps or growing >10x, or growth > {}, or first/last layer ratio > {}; \
             with harm: a non-finite value, the norm over the threshold, updates above the band or a rising loss",
            sci(cfg.explode_norm),
            sci(cfg.explode_growth),
            sci(cfg.explode_ratio)
        ),
        evidence,
        suggestion: "reduce the init scale (glorot or he), lower the learning rate, or clip the global norm"
            .into(),
    })
}

/// Geometric-mean growth of the activation standard deviation per layer at
/// the first recorded step, when it exceeds 1.5x.
fn activation_growth(r: &RecordIndex<'_>) -> Option<f64> {
    let layers = layers_with(r, m::ACT_STD);
    let stds: Vec<f64> =
        layers.iter().filter_map(|l| r.series(l, m::ACT_STD).first().map(|&(_, v)| v)).collect();
    if stds.len() < 2 || stds[0] <= 0.0 {
        return None;
    }
    let g = (stds[stds.len() - 1] / stds[0]).powf(1.0 / (stds.len() - 1) as f64);
    (g.is_finite() && g > 1.5).then_some(g)
}

/// Layers whose dead fraction exceeds the threshold at most recorded steps,
/// with the step from which it stayed over.
pub(super) fn dead_units(r: &RecordIndex<'_>, cfg: &DiagnoseConfig) -> Option<Verdict> {
    let mut layers = Vec::new();
    let mut evidence = Vec::new();
    let mut sinces = Vec::new();
    for l in layers_with(r, m::DEAD_FRAC) {
        let s = r.series(l, m::DEAD_FRAC);
        let hits = s.iter().filter(|(_, v)| *v > cfg.dead_frac).count();
        if !persists(hits, s.len(), cfg) {
            continue;
        }
        // The step from which the fraction stayed over the threshold.
        let since = s
            .iter()
            .rposition(|(_, v)| *v <= cfg.dead_frac)
            .map_or(s[0].0, |i| s.get(i + 1).map_or(s[i].0, |x| x.0));
        sinces.push(since);
        let mut vals: Vec<f64> = s.iter().map(|&(_, v)| v).collect();
        evidence.push(format!(
            "{:.0}% of units in layer {l} dead for the whole batch since step {since}",
            100.0 * median(&mut vals)
        ));
        layers.push(l.to_owned());
    }
    if layers.is_empty() {
        return None;
    }
    // The last step the monitor recorded anything: a table may hold other rows (a runner's epoch
    // summaries) at steps of their own.
    let records = r.records;
    let monitored: Vec<bool> = records.metrics.iter().map(|x| m::is_monitored(x)).collect();
    let rows = records.rows.iter().filter(|row| monitored[row.metric as usize]);
    // The verdict holds from the step by which most of its layers were dead (the median layer's
    // onset): one layer dead early in a stack that dies later does not date the whole verdict, so a
    // cause that acts on every layer from the start (vanishing at initialisation) comes first.
    sinces.sort_unstable();
    let onset = sinces[(sinces.len() - 1) / 2];
    let last = rows.map(|row| row.step).max().unwrap_or(onset);
    Some(Verdict {
        kind: Kind::DeadUnits,
        severity: Severity::Warning,
        layers,
        steps: Some((onset, last)),
        rule: format!("dead fraction > {:.0}% at >= {:.0}% of recorded steps", 100.0 * cfg.dead_frac, 100.0 * cfg.persist_frac),
        evidence,
        suggestion: "dead units pass no gradient: check for large negative biases or a too-high learning rate; try leaky_relu or he_normal with zero biases".into(),
    })
}

/// What made the gradients vanish, as far as the records can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum VanishCause {
    /// The first/last ratio collapsed: gradient lost on the way down through depth.
    Depth,
    /// Every layer tiny but non-zero while the ratio looked healthy: the scale, not the depth.
    Scale,
    /// Tiny with an undefined ratio (the last layer's gradient exactly zero): something emits
    /// exact zeros, the signature of dead units rather than of scale.
    Zeros,
}

/// Per recorded step, the backpropagated signal's first/last ratio ||dL/dh_first|| / ||dL/dh_last||
/// over the layers that record `signal_norm`, in network order.
fn signal_ratios<'a>(r: &RecordIndex<'a>) -> (Vec<&'a str>, Vec<(u64, f64)>) {
    let layers = layers_with(r, m::SIGNAL_NORM);
    if layers.len() < 2 {
        return (layers, Vec::new());
    }
    let last: std::collections::HashMap<u64, f64> =
        r.series(layers[layers.len() - 1], m::SIGNAL_NORM).into_iter().collect();
    let ratios = r
        .series(layers[0], m::SIGNAL_NORM)
        .into_iter()
        .filter_map(|(s, f)| {
            let l = *last.get(&s)?;
            (l > 0.0 && f.is_finite()).then_some((s, f / l))
        })
        .collect();
    (layers, ratios)
}

/// Vanishing gradients, from three measurements: the weight gradients' first/last ratio, their
/// absolute size, and the backpropagated signal's first/last ratio. The signal is what vanishes:
/// ||dL/dW_l|| = ||h_(l-1)|| ||dL/dz_l|| can stay flat across layers when activations shrink
/// forward as fast as the signal shrinks backward (tanh below criticality), so the signal ratio
/// catches at the first step what the weight ratio misses.
pub(super) fn vanishing(r: &RecordIndex<'_>, cfg: &DiagnoseConfig) -> Option<(Verdict, VanishCause)> {
    let th = detect::Thresholds {
        vanish_rms: cfg.vanish_rms,
        vanish_ratio: cfg.vanish_ratio,
        explode_norm: cfg.explode_norm,
    };
    let layers = layers_with(r, m::GRAD_NORM);
    let (signal_layers, signal) = signal_ratios(r);
    if layers.len() < 2 && layers_with(r, m::GRAD_RMS).is_empty() && signal.is_empty() {
        return None;
    }
    let total = layers.first().map_or(0, |l| recorded_steps(r, l, m::GRAD_NORM).len());
    let found = detect::vanishing(r, &th);
    let ratio_hits = found.iter().filter(|v| v.ratio_vanishes).count();
    let tiny_hits = found.iter().filter(|v| !v.tiny_layers.is_empty()).count();
    let by_ratio = persists(ratio_hits, total, cfg);
    let by_size = persists(tiny_hits, total, cfg);
    let signal_hits: Vec<(u64, f64)> =
        signal.iter().filter(|(_, q)| *q < cfg.vanish_ratio).copied().collect();
    let by_signal = persists(signal_hits.len(), signal.len(), cfg);
    if !by_ratio && !by_size && !by_signal {
        return None;
    }
    let first = found.first().filter(|_| by_ratio || by_size);
    let step0 = match (first, signal_hits.first().filter(|_| by_signal)) {
        (Some(f), Some(s)) => f.step.min(s.0),
        (Some(f), None) => f.step,
        (None, Some(s)) => s.0,
        (None, None) => return None,
    };
    let at = |layer: &str, metric: &str, step: u64| {
        r.series(layer, metric).into_iter().find(|&(s, _)| s == step).map(|(_, v)| v)
    };
    // Layers more than `vanish_ratio` below the last layer (weight gradient or signal), or tiny.
    let below = |ls: &[&str], metric: &str| -> Vec<String> {
        let Some(last) = ls.last().and_then(|l| at(l, metric, step0)) else { return Vec::new() };
        ls.iter()
            .filter(|l| at(l, metric, step0).is_some_and(|a| last > 0.0 && a / last < cfg.vanish_ratio))
            .map(|l| l.to_string())
            .collect()
    };
    let mut flagged = below(&layers, m::GRAD_NORM);
    if by_signal {
        flagged.extend(below(&signal_layers, m::SIGNAL_NORM));
    }
    if let Some(f) = first {
        flagged.extend(f.tiny_layers.iter().cloned());
    }
    // Network order, as the records list the layers.
    let order: Vec<&str> = r.records.layers.iter().map(String::as_str).collect();
    let mut concerned: Vec<String> = Vec::new();
    for l in order {
        if flagged.iter().any(|f| f == l) {
            concerned.push(l.to_string());
        }
    }
    // The test that fired first names the cause: gradients tiny everywhere from the start while both
    // ratios look healthy is an init scale too small; a collapsing ratio (of the weight gradients or
    // of the signal) is depth. A ratio that only collapses later (layers dying in a network that
    // started tiny) is then a consequence.
    let size_first = first.is_some_and(|f| !f.ratio_vanishes && f.step == step0);
    // A signal that collapses while the weight gradients' ratio stays healthy means activations
    // shrink forward as fast: weights below the activation's critical scale, an init problem.
    let hidden = by_signal && !by_ratio;
    let cause = match (size_first || hidden, first.is_none_or(|f| f.first_last_ratio.is_finite())) {
        (false, _) => VanishCause::Depth,
        (true, true) => VanishCause::Scale,
        (true, false) => VanishCause::Zeros,
    };
    let mut evidence = Vec::new();
    if let (true, Some(f)) = (size_first, first) {
        let ratio = if f.first_last_ratio.is_finite() {
            format!("although the first/last ratio looks healthy ({})", sci(f.first_last_ratio))
        } else {
            // 0/0: the last layer's gradient is exactly zero too.
            "and the first/last ratio is undefined (both norms are zero)".to_string()
        };
        evidence.push(format!(
            "{} of {} layers have gradient RMS under {} at step {step0} {ratio}",
            f.tiny_layers.len(),
            layers.len(),
            sci(cfg.vanish_rms)
        ));
    }
    let ratio_line = found.iter().find(|v| v.ratio_vanishes).filter(|_| by_ratio).map(|at| {
        format!("first/last weight-gradient ratio {} at step {}", sci(at.first_last_ratio), at.step)
    });
    let signal_line = signal_hits.first().filter(|_| by_signal).map(|&(s, q)| {
        let mut all: Vec<f64> = signal.iter().map(|&(_, q)| q).collect();
        format!(
            "backpropagated signal ||dL/dh|| first/last ratio {} at step {s} (median {} over {} recorded steps, under {} at {})",
            sci(q),
            sci(median(&mut all)),
            signal.len(),
            sci(cfg.vanish_ratio),
            signal_hits.len()
        )
    });
    // The figure that names the cause comes first.
    if !size_first {
        evidence.extend(signal_line.clone());
        evidence.extend(ratio_line.clone());
        if by_signal && !by_ratio {
            let weight = layers
                .first()
                .zip(layers.last())
                .and_then(|(f, l)| Some(at(f, m::GRAD_NORM, step0)? / at(l, m::GRAD_NORM, step0)?));
            if let Some(w) = weight.filter(|w| w.is_finite()) {
                evidence.push(format!(
                    "the weight-gradient ratio ({}) hides it: activations shrink forward as fast as the signal shrinks backward",
                    sci(w)
                ));
            }
        }
    }
    if let Some(&l0) = layers.first()
        && let Some(rms) = at(l0, m::GRAD_RMS, step0)
    {
        evidence.push(format!("layer {l0} gradient RMS {}", sci(rms)));
    }
    if size_first {
        evidence.extend(ratio_line);
        evidence.extend(signal_line);
    }
    // Symptoms this explains: saturation and tiny updates become evidence.
    if let Some(s) = saturation(r, cfg) {
        evidence.extend(s.evidence);
    }
    if let Some(u) = update_ratio(r, cfg).into_iter().find(|v| v.kind == Kind::UpdateRatioLow) {
        evidence.extend(u.evidence);
    }
    if let Some((a, b)) = loss_trend(r) {
        evidence.push(format!(
            "the loss goes from {} to {} (medians of the first and last third)",
            sci(a),
            sci(b)
        ));
    }
    let suggestion = if size_first || hidden {
        "the init scale is too small (below the activation's critical point): use glorot for tanh, he for ReLU"
    } else {
        "try ReLU with he_normal, batch normalisation, or residual connections"
    };
    let last_step = found
        .last()
        .filter(|_| by_ratio || by_size)
        .map(|v| v.step)
        .into_iter()
        .chain(signal_hits.last().filter(|_| by_signal).map(|s| s.0))
        .max()
        .unwrap_or(step0);
    let verdict = Verdict {
        kind: Kind::Vanishing,
        severity: Severity::Warning,
        layers: concerned,
        steps: Some((step0, last_step)),
        rule: format!(
            "first/last weight-gradient norm ratio or backpropagated-signal ratio < {}, or a layer's gradient RMS < {}, at >= {:.0}% of recorded steps",
            sci(cfg.vanish_ratio),
            sci(cfg.vanish_rms),
            100.0 * cfg.persist_frac
        ),
        evidence,
        suggestion: suggestion.into(),
    };
    Some((verdict, cause))
}

pub(super) fn saturation(r: &RecordIndex<'_>, cfg: &DiagnoseConfig) -> Option<Verdict> {
    let mut layers = Vec::new();
    let mut evidence = Vec::new();
    for l in layers_with(r, m::SATURATED_FRAC) {
        let s = r.series(l, m::SATURATED_FRAC);
        let hits = s.iter().filter(|(_, v)| *v > cfg.saturated_frac).count();
        if persists(hits, s.len(), cfg) {
            let mut v: Vec<f64> = s.iter().map(|&(_, v)| v).collect();
            evidence.push(format!("{:.0}% of units saturated in layer {l}", 100.0 * median(&mut v)));
            layers.push(l.to_owned());
        }
    }
    (!layers.is_empty()).then(|| Verdict {
        kind: Kind::Saturation,
        severity: Severity::Warning,
        layers,
        steps: None,
        rule: format!("saturated fraction > {:.0}% at >= {:.0}% of recorded steps", 100.0 * cfg.saturated_frac, 100.0 * cfg.persist_frac),
        evidence,
        suggestion: "saturated sigmoid/tanh units pass almost no gradient: use a smaller init scale, batch normalisation, or ReLU".into(),
    })
}

pub(super) fn update_ratio(r: &RecordIndex<'_>, cfg: &DiagnoseConfig) -> Vec<Verdict> {
    let mut low = Vec::new();
    let mut high = Vec::new();
    for l in layers_with(r, m::UPDATE_RATIO) {
        let mut v: Vec<f64> = r.series(l, m::UPDATE_RATIO).into_iter().map(|(_, v)| v).collect();
        let med = median(&mut v);
        if med < cfg.update_low {
            low.push((l.to_owned(), med));
        } else if med > cfg.update_high {
            high.push((l.to_owned(), med));
        }
    }
    let mut out = Vec::new();
    let band = format!("[{}, {}]", sci(cfg.update_low), sci(cfg.update_high));
    if !low.is_empty() {
        out.push(Verdict {
            kind: Kind::UpdateRatioLow,
            severity: Severity::Warning,
            layers: low.iter().map(|(l, _)| l.clone()).collect(),
            steps: None,
            rule: format!("median update-to-weight ratio below the band {band}"),
            evidence: vec![format!(
                "median update-to-weight ratio {} in {}: those layers barely move",
                low.iter().map(|(_, v)| sci(*v)).collect::<Vec<_>>().join(", "),
                super::verdict::layer_span(&low.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>())
            )],
            suggestion: "learning rate too small for them, or vanishing upstream".into(),
        });
    }
    if !high.is_empty() {
        out.push(Verdict {
            kind: Kind::UpdateRatioHigh,
            severity: Severity::Warning,
            layers: high.iter().map(|(l, _)| l.clone()).collect(),
            steps: None,
            rule: format!("median update-to-weight ratio above the band {band}"),
            evidence: vec![format!(
                "median update-to-weight ratio {}: each step rewrites a large part of the weights",
                high.iter().map(|(_, v)| sci(*v)).collect::<Vec<_>>().join(", ")
            )],
            suggestion: "lower the learning rate or clip the global norm".into(),
        });
    }
    out
}

pub(super) fn clipping(r: &RecordIndex<'_>, cfg: &DiagnoseConfig) -> Option<Verdict> {
    let c = detect::clipping(r)?;
    let frac = c.acted_fraction();
    if frac > cfg.clip_acted_frac && c.median_before > cfg.clip_scale * c.median_after {
        Some(Verdict {
            kind: Kind::ClippingTooAggressive,
            severity: Severity::Warning,
            layers: vec![],
            steps: None,
            rule: format!(
                "clipping acted on > {:.0}% of steps with the median norm > {}x the clipped norm",
                100.0 * cfg.clip_acted_frac,
                cfg.clip_scale
            ),
            evidence: vec![format!(
                "clipping acted on {:.0}% of steps: the threshold {} is far below the natural gradient scale (median norm {})",
                100.0 * frac,
                sci(c.median_after),
                sci(c.median_before)
            )],
            suggestion:
                "raise the threshold to about the median unclipped norm, or lower the learning rate instead"
                    .into(),
        })
    } else if c.acted == 0 {
        Some(Verdict {
            kind: Kind::ClippingNeverActs,
            severity: Severity::Info,
            layers: vec![],
            steps: None,
            rule: "clipping configured but acted on no step".into(),
            evidence: vec![format!("0 of {} steps clipped; largest norm {}", c.steps, sci(c.max_before))],
            suggestion: "harmless; it guards against rare spikes only".into(),
        })
    } else {
        None
    }
}

/// Evidence for a healthy verdict: the spread of per-layer norms, the
/// largest saturation, the median update ratio.
pub(super) fn healthy(r: &RecordIndex<'_>) -> Verdict {
    let mut evidence = Vec::new();
    let layers = layers_with(r, m::GRAD_NORM);
    let firsts: Vec<f64> =
        layers.iter().filter_map(|l| r.series(l, m::GRAD_NORM).first().map(|&(_, v)| v)).collect();
    if firsts.len() >= 2 {
        let (lo, hi) = firsts.iter().fold((f64::MAX, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        evidence.push(format!(
            "per-layer gradient norms within a factor {} of each other at the first step (smallest {})",
            sci(hi / lo),
            sci(lo)
        ));
    }
    let sat = layers_with(r, m::SATURATED_FRAC)
        .iter()
        .flat_map(|l| r.series(l, m::SATURATED_FRAC))
        .map(|(_, v)| v)
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
    if let Some(s) = sat {
        evidence.push(format!("at most {:.0}% of units saturated", 100.0 * s));
    } else {
        evidence.push("no saturating activations".into());
    }
    let mut ups: Vec<f64> = layers_with(r, m::UPDATE_RATIO)
        .iter()
        .flat_map(|l| r.series(l, m::UPDATE_RATIO))
        .map(|(_, v)| v)
        .collect();
    if !ups.is_empty() {
        evidence.push(format!("median update ratio {}", sci(median(&mut ups))));
    }
    Verdict {
        kind: Kind::Healthy,
        severity: Severity::Info,
        layers: vec![],
        steps: None,
        rule: "no failure rule fired".into(),
        evidence,
        suggestion: String::new(),
    }
}

//! Detectors over a run's records: vanishing and exploding gradients, the
//! first non-finite value, and how clipping behaved. They report events with
//! their figures; the diagnosis turns them into verdicts.
use super::record::{GLOBAL, RecordIndex, metric as m};
use std::collections::HashMap;

/// Thresholds with their reasons; every one can be set per scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// A layer whose weight-gradient RMS is below this learns nothing at
    /// usual learning rates (1e-3 · 1e-7 is far below f32 resolution of
    /// weights near 0.1): the absolute test, which catches networks whose
    /// ratios look healthy while every gradient is tiny.
    pub vanish_rms: f64,
    /// First/last layer weight-gradient norm ratio below this (three orders
    /// of magnitude) means the early layers learn at least 1000× slower.
    pub vanish_ratio: f64,
    /// A global gradient norm above this is an explosion event (100, the
    /// seed 003 lecture's threshold; it is scale-dependent, so the diagnosis
    /// also looks at growth relative to the first steps).
    pub explode_norm: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { vanish_rms: 1e-7, vanish_ratio: 1e-3, explode_norm: 100.0 }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub step: u64,
    pub layer: String,
    pub value: f64,
}

/// Vanishing at one recorded step.
#[derive(Clone, Debug, PartialEq)]
pub struct Vanishing {
    pub step: u64,
    /// Layers (first to last) whose gradient RMS is under the absolute threshold.
    pub tiny_layers: Vec<String>,
    /// ||g_first|| / ||g_last|| and whether it is under the ratio threshold.
    pub first_last_ratio: f64,
    pub ratio_vanishes: bool,
}

/// Per recorded step, the layers with weight gradients, in network order.
fn layer_order<'a>(r: &RecordIndex<'a>) -> Vec<&'a str> {
    r.layers_with(m::GRAD_NORM).into_iter().filter(|l| *l != GLOBAL).collect()
}

/// One layer's series of `metric` by step, looked up once so a sweep over the steps stays linear.
fn by_step(r: &RecordIndex<'_>, layer: &str, metric: &str) -> HashMap<u64, f64> {
    r.series(layer, metric).into_iter().collect()
}

/// Vanishing findings at every recorded step where either test fires.
pub fn vanishing(r: &RecordIndex<'_>, th: &Thresholds) -> Vec<Vanishing> {
    let layers = layer_order(r);
    if layers.len() < 2 {
        return Vec::new();
    }
    let rms: Vec<HashMap<u64, f64>> = layers.iter().map(|l| by_step(r, l, m::GRAD_RMS)).collect();
    let first = by_step(r, layers[0], m::GRAD_NORM);
    let last = by_step(r, layers[layers.len() - 1], m::GRAD_NORM);
    let mut out = Vec::new();
    for step in r.series_steps(m::GRAD_NORM) {
        let tiny: Vec<String> = layers
            .iter()
            .zip(&rms)
            .filter(|(_, rms)| rms.get(&step).is_some_and(|&v| v < th.vanish_rms))
            .map(|(l, _)| l.to_string())
            .collect();
        let (Some(&gf), Some(&gl)) = (first.get(&step), last.get(&step)) else {
            continue;
        };
        let ratio = gf / gl;
        let ratio_vanishes = ratio < th.vanish_ratio;
        if ratio_vanishes || !tiny.is_empty() {
            out.push(Vanishing { step, tiny_layers: tiny, first_last_ratio: ratio, ratio_vanishes });
        }
    }
    out
}

/// Every step where the global gradient norm exceeds the threshold (or a
/// layer's norm does, when no global norm was recorded).
pub fn exploding(r: &RecordIndex<'_>, th: &Thresholds) -> Vec<Event> {
    let global = r.series(GLOBAL, m::GLOBAL_GRAD_NORM);
    if !global.is_empty() {
        return global
            .into_iter()
            .filter(|&(_, v)| v > th.explode_norm || v.is_infinite())
            .map(|(step, value)| Event { step, layer: GLOBAL.into(), value })
            .collect();
    }
    let mut events: Vec<Event> = layer_order(r)
        .into_iter()
        .flat_map(|l| {
            r.series(l, m::GRAD_NORM)
                .into_iter()
                .filter(|&(_, v)| v > th.explode_norm || v.is_infinite())
                .map(move |(step, value)| Event { step, layer: l.to_owned(), value })
        })
        .collect();
    events.sort_by_key(|e| e.step);
    events
}

/// The first row holding NaN or ±inf, in step order (ties: record order).
pub fn first_non_finite(r: &RecordIndex<'_>) -> Option<(Event, String)> {
    let r = r.records;
    r.rows.iter().filter(|row| !row.value.is_finite()).min_by_key(|row| row.step).map(|row| {
        (
            Event { step: row.step, layer: r.layers[row.layer as usize].clone(), value: row.value },
            r.metrics[row.metric as usize].clone(),
        )
    })
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClipSummary {
    pub steps: usize,
    pub acted: usize,
    pub median_before: f64,
    pub median_after: f64,
    pub max_before: f64,
}

impl ClipSummary {
    pub fn acted_fraction(&self) -> f64 {
        self.acted as f64 / self.steps.max(1) as f64
    }
}

/// How often clipping acted and the norms before and after.
pub fn clipping(r: &RecordIndex<'_>) -> Option<ClipSummary> {
    let acted = r.series(GLOBAL, m::CLIP_ACTED);
    if acted.is_empty() {
        return None;
    }
    let mut before: Vec<f64> = r.series(GLOBAL, m::CLIP_NORM_BEFORE).into_iter().map(|(_, v)| v).collect();
    let mut after: Vec<f64> = r.series(GLOBAL, m::CLIP_NORM_AFTER).into_iter().map(|(_, v)| v).collect();
    Some(ClipSummary {
        steps: acted.len(),
        acted: acted.iter().filter(|&&(_, v)| v > 0.5).count(),
        median_before: median(&mut before),
        median_after: median(&mut after),
        max_before: before.iter().copied().fold(f64::NAN, f64::max),
    })
}

/// Median of the finite values (NaN when there are none).
pub fn median(v: &mut [f64]) -> f64 {
    let mut finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        return f64::NAN;
    }
    finite.sort_by(f64::total_cmp);
    let n = finite.len();
    if n % 2 == 1 { finite[n / 2] } else { 0.5 * (finite[n / 2 - 1] + finite[n / 2]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::record::Records;

    fn run(norms: &[[f64; 3]]) -> Records {
        let mut r = Records::new("s", "v", 1);
        for (step, layer_norms) in norms.iter().enumerate() {
            let mut global = 0.0;
            for (l, &n) in layer_norms.iter().enumerate() {
                let name = format!("{}:dense", l + 1);
                r.push_named(step as u64, &name, m::GRAD_NORM, n);
                r.push_named(step as u64, &name, m::GRAD_RMS, n / 10.0);
                global += n * n;
            }
            r.push_named(step as u64, GLOBAL, m::GLOBAL_GRAD_NORM, f64::sqrt(global));
        }
        r
    }

    #[test]
    fn vanishing_fires_on_ratio_and_on_absolute_size() {
        let th = Thresholds::default();
        let healthy = run(&[[0.5, 0.8, 1.0]]);
        assert!(vanishing(&RecordIndex::new(&healthy), &th).is_empty());
        let deep_sigmoid = run(&[[1e-6, 1e-3, 1.0]]);
        let v = vanishing(&RecordIndex::new(&deep_sigmoid), &th);
        assert_eq!(v.len(), 1);
        assert!(v[0].ratio_vanishes && (v[0].first_last_ratio - 1e-6).abs() < 1e-18);
        // Healthy-looking ratio, every gradient tiny (ReLU with stddev 0.05).
        let tiny = run(&[[1e-8, 2e-8, 1e-8]]);
        let v = vanishing(&RecordIndex::new(&tiny), &th);
        assert_eq!(v.len(), 1);
        assert!(!v[0].ratio_vanishes);
        assert_eq!(v[0].tiny_layers.len(), 3);
    }

    #[test]
    fn exploding_lists_events_and_non_finite_finds_the_first() {
        let th = Thresholds::default();
        let r = run(&[[1.0, 1.0, 1.0], [90.0, 50.0, 10.0], [1e4, 1e3, 10.0], [f64::NAN, 1.0, 1.0]]);
        let e = exploding(&RecordIndex::new(&r), &th);
        assert_eq!(e.iter().map(|e| e.step).collect::<Vec<_>>(), vec![1, 2]);
        let (first, metric) = first_non_finite(&RecordIndex::new(&r)).unwrap();
        assert_eq!((first.step, first.layer.as_str(), metric.as_str()), (3, "1:dense", m::GRAD_NORM));
    }

    #[test]
    fn clipping_summary_counts_acted_steps() {
        let mut r = Records::new("s", "v", 1);
        for (step, before) in [0.5, 3.0, 4.0, 0.2].into_iter().enumerate() {
            let acted = before > 1.0;
            r.push_named(step as u64, GLOBAL, m::CLIP_NORM_BEFORE, before);
            r.push_named(step as u64, GLOBAL, m::CLIP_NORM_AFTER, if acted { 1.0 } else { before });
            r.push_named(step as u64, GLOBAL, m::CLIP_ACTED, f64::from(u8::from(acted)));
        }
        let c = clipping(&RecordIndex::new(&r)).unwrap();
        assert_eq!((c.steps, c.acted), (4, 2));
        assert_eq!(c.median_before, 1.75);
        assert_eq!(c.max_before, 4.0);
    }
}

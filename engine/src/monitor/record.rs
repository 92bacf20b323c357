//! The monitor's records: a tidy table, one measurement per row —
//! (scenario, variant, seed, step, layer, metric, value) — so that the report,
//! the diagnosis and a user's own tools (pandas, a spreadsheet) read the same
//! data. Within one run the first three columns are constant, so rows keep
//! only (step, layer, metric, value) with the layer and metric interned.
use std::fmt::Write as _;

/// Metric names, documented in the README ("Records format").
pub mod metric {
    /// Per layer, weight (kernel) gradient: L2 norm, RMS, mean |g|, max |g|.
    pub const GRAD_NORM: &str = "grad_norm";
    pub const GRAD_RMS: &str = "grad_rms";
    pub const GRAD_MEAN_ABS: &str = "grad_mean_abs";
    pub const GRAD_MAX_ABS: &str = "grad_max_abs";
    /// Per layer, bias gradient L2 norm.
    pub const BIAS_GRAD_NORM: &str = "bias_grad_norm";
    /// Global L2 norm over every parameter's gradient (layer `*`).
    pub const GLOBAL_GRAD_NORM: &str = "global_grad_norm";
    /// ||dL/dh|| at the layer's output (the backpropagated signal).
    pub const SIGNAL_NORM: &str = "signal_norm";
    /// Layer output statistics.
    pub const ACT_MEAN: &str = "act_mean";
    pub const ACT_STD: &str = "act_std";
    /// Fraction of sigmoid/tanh outputs within 1% of their bounds.
    pub const SATURATED_FRAC: &str = "saturated_frac";
    /// Fraction of ReLU-family units that are zero for the whole batch.
    pub const DEAD_FRAC: &str = "dead_frac";
    /// ||Δw|| / ||w|| of the layer's weights over one optimiser step.
    pub const UPDATE_RATIO: &str = "update_ratio";
    /// Recurrent layers: ||dL/dh_t|| at time step t; the layer column reads `NAME@t`.
    pub const HIDDEN_GRAD_NORM: &str = "hidden_grad_norm";
    /// Recurrent layers: ||h_t||.
    pub const HIDDEN_NORM: &str = "hidden_norm";
    /// Training loss of the step's batch (layer `*`).
    pub const LOSS: &str = "loss";
    /// Clipping: global norm before and after, and 1.0 when clipping acted.
    pub const CLIP_NORM_BEFORE: &str = "clip_norm_before";
    pub const CLIP_NORM_AFTER: &str = "clip_norm_after";
    pub const CLIP_ACTED: &str = "clip_acted";
    /// Histogram of log10 |g| of a layer's weight gradient: the metric reads
    /// `grad_log10_hist:LO` for the bin [LO, LO + width) and the value is the count.
    pub const GRAD_LOG10_HIST: &str = "grad_log10_hist";
    /// Histogram of activation values: `act_hist:LO`.
    pub const ACT_HIST: &str = "act_hist";
}

/// The layer name used for whole-network quantities.
pub const GLOBAL: &str = "*";

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub step: u64,
    pub layer: u32,
    pub metric: u32,
    pub value: f64,
}

/// One run's records: the constant columns once, the rows interned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Records {
    pub scenario: String,
    pub variant: String,
    pub seed: u64,
    pub layers: Vec<String>,
    pub metrics: Vec<String>,
    pub rows: Vec<Row>,
}

/// One row with every column spelled out.
#[derive(Clone, Debug, PartialEq)]
pub struct TidyRow<'a> {
    pub scenario: &'a str,
    pub variant: &'a str,
    pub seed: u64,
    pub step: u64,
    pub layer: &'a str,
    pub metric: &'a str,
    pub value: f64,
}

impl Records {
    pub fn new(scenario: impl Into<String>, variant: impl Into<String>, seed: u64) -> Self {
        Records { scenario: scenario.into(), variant: variant.into(), seed, ..Default::default() }
    }

    /// Index of a layer name, interning it on first use.
    pub fn layer_id(&mut self, name: &str) -> u32 {
        intern(&mut self.layers, name)
    }

    pub fn metric_id(&mut self, name: &str) -> u32 {
        intern(&mut self.metrics, name)
    }

    pub fn push(&mut self, step: u64, layer: u32, metric: u32, value: f64) {
        self.rows.push(Row { step, layer, metric, value });
    }

    /// Convenience for rare rows (names are looked up each call).
    pub fn push_named(&mut self, step: u64, layer: &str, metric: &str, value: f64) {
        let (l, m) = (self.layer_id(layer), self.metric_id(metric));
        self.push(step, l, m, value);
    }

    pub fn tidy(&self) -> impl Iterator<Item = TidyRow<'_>> {
        self.rows.iter().map(|r| TidyRow {
            scenario: &self.scenario,
            variant: &self.variant,
            seed: self.seed,
            step: r.step,
            layer: &self.layers[r.layer as usize],
            metric: &self.metrics[r.metric as usize],
            value: r.value,
        })
    }

    /// Values of one metric for one layer, in step order, as (step, value).
    pub fn series(&self, layer: &str, metric: &str) -> Vec<(u64, f64)> {
        let (Some(l), Some(m)) = (position(&self.layers, layer), position(&self.metrics, metric)) else {
            return Vec::new();
        };
        self.rows.iter().filter(|r| r.layer == l && r.metric == m).map(|r| (r.step, r.value)).collect()
    }

    /// Distinct steps that have a row of `metric`, ascending.
    pub fn series_steps(&self, metric: &str) -> Vec<u64> {
        let Some(m) = position(&self.metrics, metric) else { return Vec::new() };
        let mut s: Vec<u64> = self.rows.iter().filter(|r| r.metric == m).map(|r| r.step).collect();
        s.sort_unstable();
        s.dedup();
        s
    }

    /// Layers that have at least one row of `metric`, in first-seen order.
    pub fn layers_with(&self, metric: &str) -> Vec<&str> {
        let Some(m) = position(&self.metrics, metric) else { return Vec::new() };
        let mut seen = vec![false; self.layers.len()];
        let mut out = Vec::new();
        for r in self.rows.iter().filter(|r| r.metric == m) {
            if !std::mem::replace(&mut seen[r.layer as usize], true) {
                out.push(self.layers[r.layer as usize].as_str());
            }
        }
        out
    }

    /// CSV with a header; values printed with Rust's shortest round-trip
    /// formatting, so a reader gets the same f64 bits back.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("scenario,variant,seed,step,layer,metric,value\n");
        for r in self.tidy() {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{}",
                csv_field(r.scenario),
                csv_field(r.variant),
                r.seed,
                r.step,
                csv_field(r.layer),
                csv_field(r.metric),
                fmt_value(r.value)
            );
        }
        s
    }

    /// JSON lines, one object per row.
    pub fn to_json_lines(&self) -> String {
        let mut s = String::new();
        for r in self.tidy() {
            let _ = writeln!(
                s,
                "{{\"scenario\":{},\"variant\":{},\"seed\":{},\"step\":{},\"layer\":{},\"metric\":{},\"value\":{}}}",
                json_str(r.scenario),
                json_str(r.variant),
                r.seed,
                r.step,
                json_str(r.layer),
                json_str(r.metric),
                json_value(r.value)
            );
        }
        s
    }
}

fn intern(names: &mut Vec<String>, name: &str) -> u32 {
    match position(names, name) {
        Some(i) => i,
        None => {
            names.push(name.to_owned());
            (names.len() - 1) as u32
        }
    }
}

fn position(names: &[String], name: &str) -> Option<u32> {
    names.iter().position(|n| n == name).map(|i| i as u32)
}

pub(crate) fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:?}")
    }
}

fn json_value(v: f64) -> String {
    // JSON has no NaN/Inf: write them as strings the reader understands.
    if v.is_finite() { format!("{v:?}") } else { format!("\"{}\"", fmt_value(v)) }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

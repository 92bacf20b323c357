//! The records: one tidy table, one measurement per row —
//! (scenario, variant, seed, step, layer, point, metric, value) — written by
//! the monitor and by the report alike, and read back by the diagnosis, the
//! report's charts and a user's own tools (pandas, a spreadsheet). The format
//! is documented in the README ("Records format"): `layer` is a layer's name
//! (`3:dense(sigmoid)`) or `*` for the whole network, `step` a training step
//! (0 at initialisation), and `point` the named coordinates that are neither
//! (`bin=-3.25`, `t=12`, `depth=20;sigma_w=1.5`), empty when there are none.
//! Within one run the first three columns are constant, so rows keep only
//! (step, layer, point, metric, value), the names interned.
use std::collections::HashMap;
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
    /// Recurrent layers: ||dL/dh_t|| at time step t (point `t=K`, K from 0).
    pub const HIDDEN_GRAD_NORM: &str = "hidden_grad_norm";
    /// Recurrent layers: ||h_t|| (point `t=K`).
    pub const HIDDEN_NORM: &str = "hidden_norm";
    /// Training loss of the step's batch (layer `*`).
    pub const LOSS: &str = "loss";
    /// Clipping: global norm before and after, and 1.0 when clipping acted.
    pub const CLIP_NORM_BEFORE: &str = "clip_norm_before";
    pub const CLIP_NORM_AFTER: &str = "clip_norm_after";
    pub const CLIP_ACTED: &str = "clip_acted";
    /// Histogram of log10 |g| of a layer's weight gradient: point `bin=LO`
    /// for the bin [LO, LO + width), the value is the count.
    pub const GRAD_LOG10_HIST: &str = "grad_log10_hist";
    /// Histogram of activation values: point `bin=LO`.
    pub const ACT_HIST: &str = "act_hist";
    /// Where training stopped on the first NaN/Inf: `non_finite:PASS:TENSOR` (value NaN).
    pub const NON_FINITE_PREFIX: &str = "non_finite:";

    /// Every name the monitor writes.
    pub const ALL: [&str; 21] = [
        GRAD_NORM,
        GRAD_RMS,
        GRAD_MEAN_ABS,
        GRAD_MAX_ABS,
        BIAS_GRAD_NORM,
        GLOBAL_GRAD_NORM,
        SIGNAL_NORM,
        ACT_MEAN,
        ACT_STD,
        SATURATED_FRAC,
        DEAD_FRAC,
        UPDATE_RATIO,
        HIDDEN_GRAD_NORM,
        HIDDEN_NORM,
        LOSS,
        CLIP_NORM_BEFORE,
        CLIP_NORM_AFTER,
        CLIP_ACTED,
        GRAD_LOG10_HIST,
        ACT_HIST,
        NON_FINITE_PREFIX,
    ];

    /// Whether the monitor writes rows of this metric (other rows in a table are a runner's or a user's).
    pub fn is_monitored(name: &str) -> bool {
        name.starts_with(NON_FINITE_PREFIX) || ALL.contains(&name)
    }
}

/// The layer name used for whole-network quantities.
pub const GLOBAL: &str = "*";

/// The CSV header: the columns in the order the writers put them.
pub const HEADER: &str = "scenario,variant,seed,step,layer,point,metric,value";

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub step: u64,
    pub layer: u32,
    /// 0 for no coordinates, else 1 + the index into [`Records::points`].
    pub point: u32,
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
    /// Distinct non-empty points, each in canonical form (see [`point`]).
    pub points: Vec<String>,
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
    pub point: &'a str,
    pub metric: &'a str,
    pub value: f64,
}

/// A point's text from its coordinates: `key=value` pairs sorted by key and
/// joined by `;`, values as the shortest text that reads back to the same
/// number (integers without a decimal point). Sorting makes the text
/// canonical, so the same coordinates always intern to the same point.
pub fn point(coords: &[(&str, f64)]) -> String {
    let mut c: Vec<&(&str, f64)> = coords.iter().collect();
    c.sort_by(|a, b| a.0.cmp(b.0));
    let mut s = String::new();
    for (i, (k, v)) in c.into_iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        let _ = write!(s, "{k}={}", fmt_coordinate(*v));
    }
    s
}

/// A coordinate's value as [`point`] writes it.
pub fn fmt_coordinate(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { fmt_value(v) }
}

/// The coordinates of a point's text, in order, as (key, value text).
pub fn coordinates(point: &str) -> impl Iterator<Item = (&str, &str)> {
    point.split(';').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// The value of one coordinate of a point, if it has that key and a number.
pub fn coordinate(point: &str, key: &str) -> Option<f64> {
    coordinates(point).find(|(k, _)| *k == key).and_then(|(_, v)| v.parse().ok())
}

/// The position prefix of a layer name (`3` of `3:dense(sigmoid)`, `3.2` of a
/// nested `3.2:dense`) as a number; `None` for `*` and names without one.
pub fn layer_position(name: &str) -> Option<f64> {
    let (pos, _) = name.split_once(':')?;
    if pos.is_empty() || !pos.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    pos.parse().ok()
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

    /// Id of a point's text (0 for the empty point), interning it on first use.
    pub fn point_id(&mut self, point: &str) -> u32 {
        if point.is_empty() { 0 } else { intern(&mut self.points, point) + 1 }
    }

    /// The text of a point id.
    pub fn point_name(&self, id: u32) -> &str {
        if id == 0 { "" } else { &self.points[id as usize - 1] }
    }

    /// A row without coordinates.
    pub fn push(&mut self, step: u64, layer: u32, metric: u32, value: f64) {
        self.rows.push(Row { step, layer, point: 0, metric, value });
    }

    pub fn push_at(&mut self, step: u64, layer: u32, point: u32, metric: u32, value: f64) {
        self.rows.push(Row { step, layer, point, metric, value });
    }

    /// Convenience for rare rows (names are looked up each call).
    pub fn push_named(&mut self, step: u64, layer: &str, metric: &str, value: f64) {
        self.push_named_at(step, layer, "", metric, value);
    }

    pub fn push_named_at(&mut self, step: u64, layer: &str, point: &str, metric: &str, value: f64) {
        let (l, p, m) = (self.layer_id(layer), self.point_id(point), self.metric_id(metric));
        self.push_at(step, l, p, m, value);
    }

    pub fn tidy(&self) -> impl Iterator<Item = TidyRow<'_>> {
        self.rows.iter().map(|r| TidyRow {
            scenario: &self.scenario,
            variant: &self.variant,
            seed: self.seed,
            step: r.step,
            layer: &self.layers[r.layer as usize],
            point: self.point_name(r.point),
            metric: &self.metrics[r.metric as usize],
            value: r.value,
        })
    }

    /// Values of one metric for one layer (rows without coordinates), in
    /// table order, as (step, value). One scan of the table: to ask for many
    /// series, build a [`RecordIndex`] once.
    pub fn series(&self, layer: &str, metric: &str) -> Vec<(u64, f64)> {
        let (Some(l), Some(m)) = (position(&self.layers, layer), position(&self.metrics, metric)) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter(|r| r.layer == l && r.metric == m && r.point == 0)
            .map(|r| (r.step, r.value))
            .collect()
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

    /// This run as CSV with the [`HEADER`]; see [`write_csv`].
    pub fn to_csv(&self) -> String {
        write_csv(std::slice::from_ref(self))
    }

    /// This run as JSON lines; see [`write_json_lines`].
    pub fn to_json_lines(&self) -> String {
        write_json_lines(std::slice::from_ref(self))
    }
}

/// Runs as one CSV table with the [`HEADER`], in the order given. Values are
/// printed with Rust's shortest round-trip formatting, so a reader gets the
/// same f64 bits back; non-finite values as `NaN`, `inf`, `-inf`.
pub fn write_csv(runs: &[Records]) -> String {
    let mut s = String::from(HEADER);
    s.push('\n');
    for r in runs.iter().flat_map(Records::tidy) {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{}",
            csv_field(r.scenario),
            csv_field(r.variant),
            r.seed,
            r.step,
            csv_field(r.layer),
            csv_field(r.point),
            csv_field(r.metric),
            fmt_value(r.value)
        );
    }
    s
}

/// Runs as JSON lines, one object per row with the CSV's keys. The point is
/// an object of numbers (`"point":{"t":12}`), left out when empty; a
/// non-finite value is one of the strings `"NaN"`, `"inf"`, `"-inf"`.
pub fn write_json_lines(runs: &[Records]) -> String {
    let mut s = String::new();
    for r in runs.iter().flat_map(Records::tidy) {
        let _ = write!(
            s,
            "{{\"scenario\":{},\"variant\":{},\"seed\":{},\"step\":{},\"layer\":{},",
            json_str(r.scenario),
            json_str(r.variant),
            r.seed,
            r.step,
            json_str(r.layer),
        );
        if !r.point.is_empty() {
            s.push_str("\"point\":{");
            for (i, (k, v)) in coordinates(r.point).enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let v = match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => v.to_owned(),
                    _ => json_str(v),
                };
                let _ = write!(s, "{}:{v}", json_str(k));
            }
            s.push_str("},");
        }
        let _ = writeln!(s, "\"metric\":{},\"value\":{}}}", json_str(r.metric), json_value(r.value));
    }
    s
}

/// Rows grouped by (layer, point, metric) in one pass over the table, so a
/// reader that asks for many series (the diagnosis asks for every layer's)
/// costs one pass in all rather than one pass per series.
pub struct RecordIndex<'a> {
    pub records: &'a Records,
    /// Row indices of each (layer, point, metric), in table order.
    series: HashMap<(u32, u32, u32), Vec<u32>>,
    /// Per metric id, what it was recorded at.
    by_metric: Vec<MetricRows>,
}

/// Where one metric has rows: its (layer, point) pairs in first-seen order and its distinct steps ascending.
#[derive(Clone, Default)]
struct MetricRows {
    at: Vec<(u32, u32)>,
    steps: Vec<u64>,
}

impl<'a> RecordIndex<'a> {
    pub fn new(records: &'a Records) -> Self {
        let mut series: HashMap<(u32, u32, u32), Vec<u32>> = HashMap::new();
        let mut by_metric = vec![MetricRows::default(); records.metrics.len()];
        for (i, r) in records.rows.iter().enumerate() {
            let rows = series.entry((r.layer, r.point, r.metric)).or_default();
            if rows.is_empty() {
                by_metric[r.metric as usize].at.push((r.layer, r.point));
            }
            rows.push(i as u32);
            by_metric[r.metric as usize].steps.push(r.step);
        }
        for m in &mut by_metric {
            m.steps.sort_unstable();
            m.steps.dedup();
        }
        RecordIndex { records, series, by_metric }
    }

    fn metric(&self, metric: &str) -> Option<&MetricRows> {
        position(&self.records.metrics, metric).map(|m| &self.by_metric[m as usize])
    }

    /// (step, value) of one layer's rows of `metric` at `point`, in table order.
    pub fn series_at(&self, layer: &str, point: &str, metric: &str) -> Vec<(u64, f64)> {
        let r = self.records;
        let p = if point.is_empty() { Some(0) } else { position(&r.points, point).map(|i| i + 1) };
        let (Some(l), Some(p), Some(m)) = (position(&r.layers, layer), p, position(&r.metrics, metric))
        else {
            return Vec::new();
        };
        self.series.get(&(l, p, m)).map_or_else(Vec::new, |rows| {
            rows.iter().map(|&i| (r.rows[i as usize].step, r.rows[i as usize].value)).collect()
        })
    }

    /// One layer's rows of `metric` without coordinates, as [`Records::series`].
    pub fn series(&self, layer: &str, metric: &str) -> Vec<(u64, f64)> {
        self.series_at(layer, "", metric)
    }

    /// Layers with at least one row of `metric` (at any point), first-seen order.
    pub fn layers_with(&self, metric: &str) -> Vec<&'a str> {
        let Some(MetricRows { at: pairs, .. }) = self.metric(metric) else { return Vec::new() };
        let records: &'a Records = self.records;
        let mut seen = vec![false; records.layers.len()];
        let mut out = Vec::new();
        for &(l, _) in pairs {
            if !std::mem::replace(&mut seen[l as usize], true) {
                out.push(records.layers[l as usize].as_str());
            }
        }
        out
    }

    /// The points at which `layer` has rows of `metric`, first-seen order.
    pub fn points_of(&self, layer: &str, metric: &str) -> Vec<&'a str> {
        let Some(MetricRows { at: pairs, .. }) = self.metric(metric) else { return Vec::new() };
        let records: &'a Records = self.records;
        pairs
            .iter()
            .filter(|(l, _)| records.layers[*l as usize] == layer)
            .map(|&(_, p)| records.point_name(p))
            .collect()
    }

    /// Distinct steps that have a row of `metric`, ascending.
    pub fn series_steps(&self, metric: &str) -> Vec<u64> {
        self.metric(metric).map_or_else(Vec::new, |m| m.steps.clone())
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

/// A value as the writers spell it: shortest round-trip text, `NaN`, `inf`, `-inf`.
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
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
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_canonical_and_read_back() {
        let p = point(&[("sigma_w", 1.5), ("depth", 20.0), ("bin", -3.25)]);
        assert_eq!(p, "bin=-3.25;depth=20;sigma_w=1.5", "sorted by key, integers without a point");
        assert_eq!(coordinate(&p, "sigma_w"), Some(1.5));
        assert_eq!(coordinate(&p, "depth"), Some(20.0));
        assert_eq!(coordinate(&p, "t"), None);
        assert_eq!(point(&[("x", 0.1 + 0.2)]), "x=0.30000000000000004", "every bit kept");
        assert_eq!(point(&[]), "");
    }

    #[test]
    fn layer_positions_come_from_the_name() {
        assert_eq!(layer_position("3:dense(sigmoid)"), Some(3.0));
        assert_eq!(layer_position("3.2:dense"), Some(3.2));
        assert_eq!(layer_position(GLOBAL), None);
        assert_eq!(layer_position("dense:3"), None);
    }

    #[test]
    fn the_index_answers_like_a_scan_of_the_table() {
        let mut r = Records::new("s", "v", 0);
        for step in 0..5 {
            r.push_named(step, "1:dense", metric::GRAD_NORM, step as f64);
            r.push_named(step, "2:dense", metric::GRAD_NORM, 10.0 + step as f64);
            r.push_named_at(step, "1:lstm", "t=0", metric::HIDDEN_GRAD_NORM, 0.5);
            r.push_named_at(step, "1:lstm", "t=1", metric::HIDDEN_GRAD_NORM, 1.0);
        }
        r.push_named(9, GLOBAL, metric::LOSS, 0.1);
        let ix = RecordIndex::new(&r);
        for l in ["1:dense", "2:dense", "1:lstm", "*", "nope"] {
            for m in [metric::GRAD_NORM, metric::HIDDEN_GRAD_NORM, metric::LOSS] {
                assert_eq!(ix.series(l, m), r.series(l, m), "{l} {m}");
            }
        }
        assert_eq!(ix.layers_with(metric::GRAD_NORM), r.layers_with(metric::GRAD_NORM));
        assert_eq!(ix.series_steps(metric::GRAD_NORM), r.series_steps(metric::GRAD_NORM));
        assert_eq!(ix.points_of("1:lstm", metric::HIDDEN_GRAD_NORM), vec!["t=0", "t=1"]);
        assert_eq!(ix.series_at("1:lstm", "t=1", metric::HIDDEN_GRAD_NORM).len(), 5);
        assert!(
            ix.series("1:lstm", metric::HIDDEN_GRAD_NORM).is_empty(),
            "rows at a point are not the plain series"
        );
    }
}

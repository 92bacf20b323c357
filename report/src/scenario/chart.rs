//! Chart specifications: which records a chart draws and how. Charts are built from the results only
//! (`charts::build`), so a chart can never show a number the data files do not hold.
use serde::Deserialize;
use std::cmp::Ordering::Less;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// One series per variant: `metric` against `x`; several seeds give a mean line and a min–max band.
    Line,
    /// One heatmap per variant: `metric` by layer (rows) and step (columns).
    Heatmap,
    /// Distribution of every value of `metric`, one colour per variant.
    Histogram,
    /// One bar per variant: `metric` reduced over steps by `reduce`, averaged over seeds.
    Bar,
    /// A table: one row per variant that recorded `metric`, one column per entry of `columns`.
    Table,
}

/// Colours of a heatmap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColourMap {
    /// Sequential, low to high.
    #[default]
    Viridis,
    /// Blue below the middle of the colour range, white at it, red above (e.g. a signed log ratio).
    Diverging,
}

/// One column of a table chart: a metric's value per variant, averaged over seeds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableColumn {
    pub metric: String,
    pub label: String,
    /// Adds ✓ when |value| ≤ this, ✗ otherwise (e.g. a relative error against its tolerance).
    pub check_below: Option<f64>,
}

/// Where a chart reads a coordinate of each record: `"step"`, `"layer"` (the position prefix of the
/// layer's name, 3 for `3:dense(sigmoid)`) or `"point.KEY"` (the point's coordinate KEY, e.g.
/// `"point.sigma_w"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Axis {
    #[default]
    Step,
    Layer,
    Point(String),
}

impl TryFrom<String> for Axis {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "step" => Ok(Axis::Step),
            "layer" => Ok(Axis::Layer),
            _ => match s.strip_prefix("point.") {
                Some(key) if !key.is_empty() => Ok(Axis::Point(key.to_string())),
                _ => Err(format!(
                    "unknown axis `{s}`, expected `step`, `layer` or `point.KEY` (e.g. `point.t`)"
                )),
            },
        }
    }
}

impl Axis {
    /// The axis title when the chart gives none.
    pub fn label(&self) -> &str {
        match self {
            Axis::Step => "step",
            Axis::Layer => "layer",
            Axis::Point(key) => key,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    #[default]
    Linear,
    Log10,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduce {
    #[default]
    Last,
    Max,
    Min,
    Mean,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// A fixed position (e.g. where the source stops) ...
    pub x: Option<f64>,
    /// ... or the value of a key figure the runner measured (e.g. the layer where float32 hits 0).
    pub figure: Option<String>,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    /// Unique within the scenario.
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: ChartKind,
    pub metric: String,
    #[serde(default)]
    pub x: Axis,
    /// Heatmap only: what the rows are (default: the layer position).
    #[serde(default = "layer_axis")]
    pub rows: Axis,
    /// Take x from this metric's value at the same (variant, seed, step, layer, point) instead.
    pub x_metric: Option<String>,
    pub x_label: Option<String>,
    pub y_label: Option<String>,
    #[serde(default)]
    pub y_scale: Scale,
    /// Only these variants (default: all, in scenario order).
    pub variants: Option<Vec<String>>,
    /// Only records of the layer at this position (line, histogram, bar charts).
    pub layer: Option<u32>,
    /// Only records at these point coordinates, e.g. `point = { T = 50 }`.
    #[serde(default)]
    pub point: BTreeMap<String, f64>,
    pub x_range: Option<[f64; 2]>,
    pub y_range: Option<[f64; 2]>,
    /// A horizontal line, e.g. a clipping threshold or the value 1.
    pub threshold: Option<f64>,
    pub threshold_label: Option<String>,
    /// Line only: a shaded horizontal band [low, high], e.g. the healthy range of a ratio.
    pub band: Option<[f64; 2]>,
    pub band_label: Option<String>,
    /// Vertical markers at fixed x positions.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Heatmap only: a line drawn over the heatmap, this metric's value (a layer index) at each step; with
    /// `x_metric`, points in step order at x = that metric's value; a NaN value breaks the line.
    pub overlay_metric: Option<String>,
    /// Legend text of the overlay (default: the metric's name).
    pub overlay_label: Option<String>,
    /// Heatmap only: the values the colour scale spans (others saturate), and the colour map.
    pub colour_range: Option<[f64; 2]>,
    #[serde(default)]
    pub colour_map: ColourMap,
    /// Line only: a second metric drawn for each variant as a dashed line in its colour (e.g. the theory
    /// beside the measurement), named in the legend with `reference_label` (default "theory").
    pub reference_metric: Option<String>,
    pub reference_label: Option<String>,
    /// Table only.
    #[serde(default)]
    pub columns: Vec<TableColumn>,
    /// Histogram only.
    pub bins: Option<usize>,
    /// Bar only.
    #[serde(default)]
    pub reduce: Reduce,
    /// One sentence under the chart.
    pub caption: Option<String>,
}

fn layer_axis() -> Axis {
    Axis::Layer
}

impl ChartSpec {
    pub(super) fn check(&self, variants: &BTreeSet<&str>) -> Result<(), String> {
        if let Some(vs) = &self.variants
            && let Some(v) = vs.iter().find(|v| !variants.contains(v.as_str()))
        {
            let known: Vec<&str> = variants.iter().copied().collect();
            return Err(format!(
                "chart `{}` names unknown variant `{v}`; the variants are: {}",
                self.id,
                known.join(", ")
            ));
        }
        for (name, r) in [("x_range", self.x_range), ("y_range", self.y_range)] {
            if let Some([lo, hi]) = r
                && (lo.partial_cmp(&hi) != Some(Less)
                    || (name == "y_range" && self.y_scale == Scale::Log10 && lo <= 0.0))
            {
                return Err(format!("chart `{}`: {name} [{lo}, {hi}] is empty or not positive", self.id));
            }
        }
        if let Some([lo, hi]) = self.band
            && (self.kind != ChartKind::Line || lo.partial_cmp(&hi) != Some(Less))
        {
            return Err(format!("chart `{}`: band [{lo}, {hi}] needs a line chart and low < high", self.id));
        }
        let only = |field: &str, set: bool, kind: ChartKind| -> Result<(), String> {
            if set && self.kind != kind {
                return Err(format!("chart `{}`: `{field}` applies to {kind:?} charts only", self.id));
            }
            Ok(())
        };
        only("overlay_metric", self.overlay_metric.is_some(), ChartKind::Heatmap)?;
        only("rows", self.rows != Axis::Layer, ChartKind::Heatmap)?;
        only("colour_range", self.colour_range.is_some(), ChartKind::Heatmap)?;
        only("overlay_label", self.overlay_label.is_some(), ChartKind::Heatmap)?;
        only("colour_map", self.colour_map != ColourMap::Viridis, ChartKind::Heatmap)?;
        only("reference_metric", self.reference_metric.is_some(), ChartKind::Line)?;
        only("columns", !self.columns.is_empty(), ChartKind::Table)?;
        if self.kind == ChartKind::Table && self.columns.is_empty() {
            return Err(format!("chart `{}`: a table needs at least one entry in `columns`", self.id));
        }
        if let Some([lo, hi]) = self.colour_range
            && lo.partial_cmp(&hi) != Some(Less)
        {
            return Err(format!("chart `{}`: colour_range [{lo}, {hi}] is empty", self.id));
        }
        only("bins", self.bins.is_some(), ChartKind::Histogram)?;
        only("reduce", self.reduce != Reduce::Last, ChartKind::Bar)?;
        if let Some(e) = self.events.iter().find(|e| e.x.is_some() == e.figure.is_some()) {
            return Err(format!(
                "chart `{}`: event `{}` takes exactly one of `x` or `figure`",
                self.id, e.label
            ));
        }
        if self.bins == Some(0) {
            return Err(format!("chart `{}`: bins must be at least 1", self.id));
        }
        Ok(())
    }
}

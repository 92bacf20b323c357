//! From a scenario's chart specs and its records to SVG: selects the records each chart names, averages
//! over seeds (with a min–max band when there are several) and calls the drawing functions.
use super::{BarChart, Heatmap, Histogram, LineChart, Series, Table};
use crate::error::{ReportError, Result};
use crate::record::Record;
use crate::run::ScenarioResult;
use crate::scenario::{ChartKind, ChartSpec, ColourMap, EventSpec, Reduce, Scenario, Variant, XAxis};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One chart as it goes on the page.
#[derive(Debug, Clone)]
pub struct RenderedChart {
    pub id: String,
    pub title: String,
    pub caption: Option<String>,
    pub svg: String,
}

/// Every chart of a scenario (a heatmap spec gives one chart per variant).
pub fn render_all(s: &Scenario, r: &ScenarioResult) -> Result<Vec<RenderedChart>> {
    let mut out = Vec::new();
    for spec in s.spec.charts.iter().map(|c| c.get_ref()) {
        out.extend(render(s, r, spec)?);
    }
    Ok(out)
}

fn chart_err(s: &Scenario, spec: &ChartSpec, msg: impl Into<String>) -> ReportError {
    ReportError::Chart { scenario: s.name.clone(), chart: spec.id.clone(), msg: msg.into() }
}

/// Ordered key for a float coordinate (records never hold NaN coordinates from our runners; NaN sorts last).
fn key(x: f64) -> (bool, i64) {
    (x.is_nan(), if x.is_nan() { 0 } else { (x * 1e9).round() as i64 })
}

fn render(s: &Scenario, r: &ScenarioResult, spec: &ChartSpec) -> Result<Vec<RenderedChart>> {
    let variants: Vec<&Variant> = match &spec.variants {
        Some(names) => names.iter().filter_map(|n| s.variants().find(|v| &v.name == n)).collect(),
        None => s.variants().collect(),
    };
    let selected = |metric: &str, v: &Variant| -> Vec<&Record> {
        r.records
            .iter()
            .filter(|rec| rec.metric == metric && rec.variant == v.name)
            .filter(|rec| spec.layer.is_none() || rec.layer == spec.layer)
            .collect()
    };
    let none = if spec.kind == ChartKind::Table {
        !r.records.iter().any(|rec| rec.metric == spec.metric)
    } else {
        variants.iter().all(|v| selected(&spec.metric, v).is_empty())
    };
    if none {
        let metrics: BTreeSet<&str> = r.records.iter().map(|rec| rec.metric.as_str()).collect();
        return Err(chart_err(
            s,
            spec,
            format!(
                "no records of metric `{}` for its variants; the runner recorded: {}",
                spec.metric,
                metrics.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let x_of = x_lookup(r, spec);
    let x_label = spec.x_label.clone().unwrap_or_else(|| match (&spec.x_metric, spec.x) {
        (Some(m), _) => m.clone(),
        (None, XAxis::Step) => "step".into(),
        (None, XAxis::Layer) => "layer".into(),
    });
    let y_label = spec.y_label.clone().unwrap_or_else(|| spec.metric.clone());
    let one = |svg: std::result::Result<String, String>| -> Result<Vec<RenderedChart>> {
        Ok(vec![RenderedChart {
            id: spec.id.clone(),
            title: spec.title.clone(),
            caption: spec.caption.clone(),
            svg: svg.map_err(|m| chart_err(s, spec, m))?,
        }])
    };
    match spec.kind {
        ChartKind::Line => {
            let mut series = Vec::new();
            for v in &variants {
                let pts: Vec<(f64, f64)> = selected(&spec.metric, v)
                    .into_iter()
                    .map(|rec| x_of(rec).map(|x| (x, rec.value)))
                    .collect::<Option<_>>()
                    .ok_or_else(|| {
                        chart_err(s, spec, format!("variant `{}`: a record has no x value", v.name))
                    })?;
                series.push(over_seeds(v.label(), pts, r.seeds.len() > 1));
            }
            let mut reference = Vec::new();
            if let Some(m) = &spec.reference_metric {
                let suffix = spec.reference_label.as_deref().unwrap_or("theory");
                for v in &variants {
                    let pts = selected(m, v).into_iter().filter_map(|rec| x_of(rec).map(|x| (x, rec.value)));
                    reference.push(over_seeds(&format!("{} — {suffix}", v.label()), pts.collect(), false));
                }
            }
            let chart = LineChart {
                title: spec.title.clone(),
                x_label,
                y_label,
                y_scale: spec.y_scale,
                series,
                x_range: spec.x_range.map(|[a, b]| (a, b)),
                y_range: spec.y_range.map(|[a, b]| (a, b)),
                threshold: spec.threshold.map(|t| (t, spec.threshold_label.clone().unwrap_or_default())),
                shade: spec.band.map(|[lo, hi]| (lo, hi, spec.band_label.clone().unwrap_or_default())),
                events: spec
                    .events
                    .iter()
                    .map(|e| event_x(s, r, spec, e).map(|x| (x, e.label.clone())))
                    .collect::<Result<_>>()?,
                reference,
            };
            one(super::line_chart(&chart))
        }
        ChartKind::Heatmap => {
            let mut out = Vec::new();
            for v in &variants {
                let cells = selected(&spec.metric, v);
                if cells.is_empty() {
                    continue;
                }
                // Columns: the step, or the x_metric's value at the same record key.
                let col_x = |c: &Record| x_of(c).unwrap_or(f64::NAN);
                let steps: BTreeSet<_> = cells.iter().map(|c| key(col_x(c))).collect();
                let layers: BTreeSet<_> = cells.iter().map(|c| c.layer.unwrap_or(0)).collect();
                let (steps, layers): (Vec<_>, Vec<_>) =
                    (steps.into_iter().collect(), layers.into_iter().collect());
                let mut sums = vec![(0.0, 0usize); steps.len() * layers.len()];
                for c in &cells {
                    let col = steps.binary_search(&key(col_x(c))).expect("collected above");
                    let row = layers.binary_search(&c.layer.unwrap_or(0)).expect("collected above");
                    let cell = &mut sums[row * steps.len() + col];
                    *cell = (cell.0 + c.value, cell.1 + 1);
                }
                let overlay = match &spec.overlay_metric {
                    Some(m) => overlay_points(&selected(m, v), &x_of),
                    None => Vec::new(),
                };
                let chart = Heatmap {
                    title: format!("{} — {}", spec.title, v.label()),
                    x_label: x_label.clone(),
                    y_label: spec.y_label.clone().unwrap_or_else(|| "layer".into()),
                    steps: steps.iter().map(|k| k.1 as f64 / 1e9).collect(),
                    layers: layers.iter().map(|&l| l as f64).collect(),
                    values: sums.iter().map(|&(t, n)| if n == 0 { f64::NAN } else { t / n as f64 }).collect(),
                    scale: spec.y_scale,
                    overlay,
                    overlay_label: spec
                        .overlay_label
                        .clone()
                        .or_else(|| spec.overlay_metric.clone())
                        .unwrap_or_default(),
                    colour_range: spec.colour_range.map(|[a, b]| (a, b)),
                    diverging: spec.colour_map == ColourMap::Diverging,
                };
                let svg = super::heatmap(&chart).map_err(|m| chart_err(s, spec, m))?;
                out.push(RenderedChart {
                    id: format!("{}-{}", spec.id, v.name),
                    title: chart.title,
                    caption: spec.caption.clone(),
                    svg,
                });
            }
            Ok(out)
        }
        ChartKind::Histogram => {
            let groups = variants
                .iter()
                .map(|v| (v.label().to_string(), selected(&spec.metric, v).iter().map(|r| r.value).collect()))
                .collect();
            let chart = Histogram {
                title: spec.title.clone(),
                x_label: y_label,
                groups,
                bins: spec.bins.unwrap_or(40),
                scale: spec.y_scale,
            };
            one(super::histogram(&chart))
        }
        ChartKind::Table => one(super::table_svg(&table(s, r, spec, &variants))),
        ChartKind::Bar => {
            let bars = variants
                .iter()
                .map(|v| (v.label().to_string(), reduce_over_seeds(&selected(&spec.metric, v), spec.reduce)))
                .collect();
            one(super::bar_chart(&BarChart {
                title: spec.title.clone(),
                y_label,
                bars,
                y_scale: spec.y_scale,
            }))
        }
    }
}

/// The overlay line of a heatmap: per step (in order), the mean over seeds of x and of the value; a NaN
/// in either stays NaN and breaks the line where it is drawn.
fn overlay_points(recs: &[&Record], x_of: &dyn Fn(&Record) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut by_step: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    for rec in recs {
        by_step.entry(rec.step).or_default().push((x_of(rec).unwrap_or(f64::NAN), rec.value));
    }
    by_step
        .into_values()
        .map(|pts| {
            let n = pts.len() as f64;
            (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n)
        })
        .collect()
}

/// A table chart: one row per variant with records of `metric` (declared variants first, in scenario
/// order, then others in the order recorded), each column a metric's mean over seeds.
fn table(s: &Scenario, r: &ScenarioResult, spec: &ChartSpec, variants: &[&Variant]) -> Table {
    let mut names: Vec<&str> = Vec::new();
    for rec in r.records.iter().filter(|rec| rec.metric == spec.metric) {
        if !names.contains(&rec.variant.as_str()) {
            names.push(&rec.variant);
        }
    }
    if let Some(only) = &spec.variants {
        names.retain(|n| only.iter().any(|o| o == n));
    }
    let declared: Vec<&str> =
        variants.iter().map(|v| v.name.as_str()).filter(|n| names.contains(n)).collect();
    names.retain(|n| !declared.contains(n));
    let label =
        |n: &str| s.variants().find(|v| v.name == n).map_or_else(|| n.to_string(), |v| v.label().to_string());
    let cell = |variant: &str, metric: &str| -> Option<f64> {
        let vals: Vec<f64> = r
            .records
            .iter()
            .filter(|rec| rec.variant == variant && rec.metric == metric)
            .filter(|rec| spec.layer.is_none() || rec.layer == spec.layer)
            .map(|rec| rec.value)
            .collect();
        (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
    };
    let rows = declared
        .into_iter()
        .chain(names)
        .map(|n| {
            let mut row = vec![label(n)];
            for c in &spec.columns {
                row.push(match cell(n, &c.metric) {
                    None => "–".into(),
                    Some(v) => {
                        let mark = match c.check_below {
                            Some(t) if v.abs() <= t => " ✓",
                            Some(_) => " ✗",
                            None => "",
                        };
                        format!("{}{mark}", crate::format::fmt_figure(v))
                    }
                });
            }
            row
        })
        .collect();
    let mut header = vec![spec.x_label.clone().unwrap_or_else(|| "variant".into())];
    header.extend(spec.columns.iter().map(|c| c.label.clone()));
    Table { title: spec.title.clone(), header, rows }
}

/// Where an event marker goes: its fixed x, or the measured key figure it names.
fn event_x(s: &Scenario, r: &ScenarioResult, spec: &ChartSpec, e: &EventSpec) -> Result<f64> {
    match (&e.x, &e.figure) {
        (Some(x), _) => Ok(*x),
        (None, Some(key)) => r.key_figures.iter().find(|f| &f.key == key).map(|f| f.value).ok_or_else(|| {
            chart_err(
                s,
                spec,
                format!("event `{}` names key figure `{key}`, which the runner did not measure", e.label),
            )
        }),
        (None, None) => Err(chart_err(s, spec, format!("event `{}` has no position", e.label))),
    }
}

/// How a record's x coordinate is found for this chart.
fn x_lookup<'a>(r: &'a ScenarioResult, spec: &'a ChartSpec) -> impl Fn(&Record) -> Option<f64> + 'a {
    let table: HashMap<(&str, u64, u64, Option<u32>), f64> = match &spec.x_metric {
        Some(m) => r
            .records
            .iter()
            .filter(|rec| &rec.metric == m)
            .map(|rec| ((rec.variant.as_str(), rec.seed, rec.step, rec.layer), rec.value))
            .collect(),
        None => HashMap::new(),
    };
    move |rec: &Record| match (&spec.x_metric, spec.x) {
        (Some(_), _) => table.get(&(rec.variant.as_str(), rec.seed, rec.step, rec.layer)).copied(),
        (None, XAxis::Step) => Some(rec.step as f64),
        (None, XAxis::Layer) => rec.layer.map(f64::from),
    }
}

/// Mean over seeds at each x, with the min–max band when asked.
fn over_seeds(name: &str, pts: Vec<(f64, f64)>, band: bool) -> Series {
    let mut by_x: BTreeMap<(bool, i64), (f64, Vec<f64>)> = BTreeMap::new();
    for (x, y) in pts {
        by_x.entry(key(x)).or_insert_with(|| (x, Vec::new())).1.push(y);
    }
    let mut s = Series { name: name.to_string(), ..Series::default() };
    for (x, ys) in by_x.into_values() {
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        s.points.push((x, mean));
        if band {
            let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            s.band.push((x, lo, hi));
        }
    }
    s
}

/// Per seed: the records (in step order) reduced to one number; then the mean over seeds.
fn reduce_over_seeds(recs: &[&Record], how: Reduce) -> f64 {
    let mut by_seed: BTreeMap<u64, Vec<&Record>> = BTreeMap::new();
    for r in recs {
        by_seed.entry(r.seed).or_default().push(r);
    }
    let per_seed: Vec<f64> = by_seed
        .into_values()
        .map(|mut rs| {
            rs.sort_by_key(|r| (r.step, r.layer));
            let vals = rs.iter().map(|r| r.value);
            match how {
                Reduce::Last => rs.last().map_or(f64::NAN, |r| r.value),
                Reduce::Max => vals.fold(f64::NEG_INFINITY, f64::max),
                Reduce::Min => vals.fold(f64::INFINITY, f64::min),
                Reduce::Mean => vals.sum::<f64>() / rs.len() as f64,
            }
        })
        .collect();
    if per_seed.is_empty() { f64::NAN } else { per_seed.iter().sum::<f64>() / per_seed.len() as f64 }
}

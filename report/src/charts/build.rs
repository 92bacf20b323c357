//! From a scenario's chart specs and its records to SVG: selects the records each chart names, averages
//! over seeds (with a min–max band when there are several) and calls the drawing functions.
use super::{BarChart, Heatmap, Histogram, LineChart, Series, Table};
use crate::error::{ReportError, Result};
use crate::record::KeyFigure;
use crate::run::ScenarioResult;
use crate::scenario::{Axis, ChartKind, ChartSpec, ColourMap, EventSpec, Reduce, Scenario, Variant};
use crate::zoo::{EXTRA, MISSED, RIGHT};
use engine::monitor::{coordinate, layer_position};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One record as a chart reads it: a row of one run's table with its names resolved.
#[derive(Debug, Clone, Copy)]
struct Rec<'a> {
    variant: &'a str,
    seed: u64,
    step: u64,
    layer: &'a str,
    point: &'a str,
    value: f64,
}

/// Every record of `metric`, run by run in table order.
fn of_metric<'a>(r: &'a ScenarioResult, metric: &str) -> Vec<Rec<'a>> {
    let mut out = Vec::new();
    for run in &r.records {
        let Some(m) = run.metrics.iter().position(|x| x == metric) else { continue };
        out.extend(run.rows.iter().filter(|row| row.metric as usize == m).map(|row| Rec {
            variant: &run.variant,
            seed: run.seed,
            step: row.step,
            layer: &run.layers[row.layer as usize],
            point: run.point_name(row.point),
            value: row.value,
        }));
    }
    out
}

/// A record's coordinate on an axis; `None` when it has none there (a `*` row on the layer axis).
fn coord(rec: &Rec<'_>, axis: &Axis) -> Option<f64> {
    match axis {
        Axis::Step => Some(rec.step as f64),
        Axis::Layer => layer_position(rec.layer),
        Axis::Point(key) => coordinate(rec.point, key),
    }
}

/// Whether a record passes the chart's `layer` and `point` filters.
fn wanted(spec: &ChartSpec, rec: &Rec<'_>) -> bool {
    spec.layer.is_none_or(|l| layer_position(rec.layer) == Some(f64::from(l)))
        && spec.point.iter().all(|(k, v)| coordinate(rec.point, k) == Some(*v))
}

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
    // A scenario whose variants carry verdict labels gets its diagnosis scored, drawn as a table.
    if let Some(t) = confusion_table(&r.key_figures) {
        let svg = super::table::table_svg(&t).map_err(|msg| ReportError::Chart {
            scenario: s.name.clone(),
            chart: "confusion".into(),
            msg,
        })?;
        let caption = Some(
            "right: expected and given; extra: given to a network not labelled with it; missed: expected, \
             not given. Counted over every labelled network and seed."
                .to_string(),
        );
        out.push(RenderedChart { id: "confusion".into(), title: t.title, caption, svg });
    }
    Ok(out)
}

fn chart_err(s: &Scenario, spec: &ChartSpec, msg: impl Into<String>) -> ReportError {
    ReportError::Chart { scenario: s.name.clone(), chart: spec.id.clone(), msg: msg.into() }
}

/// The confusion matrix as a table, from a scenario's key figures (rows: verdict kinds in the order
/// scored; columns: the counts over every seed, then precision and recall); `None` when the scenario
/// scored no zoo.
fn confusion_table(figures: &[KeyFigure]) -> Option<Table> {
    let get = |key: String| figures.iter().find(|f| f.key == key).map(|f| f.value);
    let prefix = format!("zoo.{RIGHT}.");
    let kinds: Vec<&str> = figures.iter().filter_map(|f| f.key.strip_prefix(prefix.as_str())).collect();
    if kinds.is_empty() {
        return None;
    }
    let cell = |v: Option<f64>| v.map_or("–".to_string(), crate::format::fmt_figure);
    let rows = kinds
        .iter()
        .map(|kind| {
            let mut row = vec![kind.to_string()];
            for part in [RIGHT, EXTRA, MISSED] {
                row.push(cell(get(format!("zoo.{part}.{kind}"))));
            }
            row.push(cell(get(format!("zoo.precision.{kind}"))));
            row.push(cell(get(format!("zoo.recall.{kind}"))));
            row
        })
        .collect();
    let header = ["verdict", "right", "extra", "missed", "precision", "recall"];
    Some(Table {
        title: "Confusion matrix of the diagnosis, every network and seed".into(),
        header: header.map(String::from).to_vec(),
        rows,
    })
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
    let selected = |metric: &str, v: &Variant| -> Vec<Rec<'_>> {
        of_metric(r, metric).into_iter().filter(|rec| rec.variant == v.name && wanted(spec, rec)).collect()
    };
    let none = if spec.kind == ChartKind::Table {
        of_metric(r, &spec.metric).is_empty()
    } else {
        variants.iter().all(|v| selected(&spec.metric, v).is_empty())
    };
    if none {
        let metrics: BTreeSet<&str> =
            r.records.iter().flat_map(|run| run.metrics.iter().map(String::as_str)).collect();
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
    let x_label = spec.x_label.clone().unwrap_or_else(|| match &spec.x_metric {
        Some(m) => m.clone(),
        None => spec.x.label().to_string(),
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
                    .map(|rec| x_of(&rec).map(|x| (x, rec.value)))
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
                    let pts = selected(m, v).into_iter().filter_map(|rec| x_of(&rec).map(|x| (x, rec.value)));
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
                // Columns: the chart's x (the step by default); rows: its `rows` axis (the layer).
                let col_x = |c: &Rec<'_>| x_of(c).unwrap_or(f64::NAN);
                let row_y = |c: &Rec<'_>| coord(c, &spec.rows).unwrap_or(f64::NAN);
                let steps: BTreeSet<_> = cells.iter().map(|c| key(col_x(c))).collect();
                let layers: BTreeSet<_> = cells.iter().map(|c| key(row_y(c))).collect();
                let (steps, layers): (Vec<_>, Vec<_>) =
                    (steps.into_iter().collect(), layers.into_iter().collect());
                let mut sums = vec![(0.0, 0usize); steps.len() * layers.len()];
                for c in &cells {
                    let col = steps.binary_search(&key(col_x(c))).expect("collected above");
                    let row = layers.binary_search(&key(row_y(c))).expect("collected above");
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
                    y_label: spec.y_label.clone().unwrap_or_else(|| spec.rows.label().to_string()),
                    steps: steps.iter().map(|k| k.1 as f64 / 1e9).collect(),
                    layers: layers.iter().map(|k| k.1 as f64 / 1e9).collect(),
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

/// The overlay line of a heatmap: per vertex (the records' (step, point), in first-recorded order), the
/// mean over seeds of x and of the value; a NaN in either stays NaN and breaks the line where it is drawn.
fn overlay_points(recs: &[Rec<'_>], x_of: &dyn Fn(&Rec<'_>) -> Option<f64>) -> Vec<(f64, f64)> {
    // (step, point) of each vertex, and its (x, value) per seed.
    type Vertex<'a> = ((u64, &'a str), Vec<(f64, f64)>);
    let mut vertices: Vec<Vertex<'_>> = Vec::new();
    for rec in recs {
        let at = (rec.step, rec.point);
        let i = match vertices.iter().position(|v| v.0 == at) {
            Some(i) => i,
            None => {
                vertices.push((at, Vec::new()));
                vertices.len() - 1
            }
        };
        vertices[i].1.push((x_of(rec).unwrap_or(f64::NAN), rec.value));
    }
    vertices
        .into_iter()
        .map(|v| v.1)
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
    for rec in of_metric(r, &spec.metric) {
        if !names.contains(&rec.variant) {
            names.push(rec.variant);
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
        let vals: Vec<f64> = of_metric(r, metric)
            .into_iter()
            .filter(|rec| rec.variant == variant && wanted(spec, rec))
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

/// How a record's x coordinate is found for this chart: its coordinate on the `x` axis, or the value of
/// `x_metric` in the same run at the same (step, layer, point).
fn x_lookup<'a>(r: &'a ScenarioResult, spec: &'a ChartSpec) -> impl Fn(&Rec<'_>) -> Option<f64> + 'a {
    type At<'b> = (&'b str, u64, u64, &'b str, &'b str);
    let table: HashMap<At<'a>, f64> = match &spec.x_metric {
        Some(m) => of_metric(r, m)
            .into_iter()
            .map(|rec| ((rec.variant, rec.seed, rec.step, rec.layer, rec.point), rec.value))
            .collect(),
        None => HashMap::new(),
    };
    move |rec: &Rec<'_>| match &spec.x_metric {
        Some(_) => table.get(&(rec.variant, rec.seed, rec.step, rec.layer, rec.point)).copied(),
        None => coord(rec, &spec.x),
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
fn reduce_over_seeds(recs: &[Rec<'_>], how: Reduce) -> f64 {
    let mut by_seed: BTreeMap<u64, Vec<&Rec<'_>>> = BTreeMap::new();
    for r in recs {
        by_seed.entry(r.seed).or_default().push(r);
    }
    let per_seed: Vec<f64> = by_seed
        .into_values()
        .map(|mut rs| {
            // Last in step order, then layer order (records of one step keep the order they were recorded).
            rs.sort_by(|a, b| {
                let pos = |r: &Rec<'_>| layer_position(r.layer).unwrap_or(f64::INFINITY);
                a.step.cmp(&b.step).then(pos(a).total_cmp(&pos(b)))
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confusion_table_reads_the_zoo_counts_and_ratios() {
        let f = |k: &str, v: f64| KeyFigure::new(k, k, v);
        assert!(confusion_table(&[f("zoo.missed", 0.0), f("steps.a", 3.0)]).is_none());
        let figures = [
            f("zoo.right.vanishing", 6.0),
            f("zoo.extra.vanishing", 2.0),
            f("zoo.missed.vanishing", 1.0),
            f("zoo.precision.vanishing", 0.75),
            f("zoo.recall.vanishing", 6.0 / 7.0),
            f("zoo.right.saturation", 0.0),
            f("zoo.extra.saturation", 3.0),
            f("zoo.missed.saturation", 0.0),
            f("zoo.precision.saturation", 0.0),
        ];
        let t = confusion_table(&figures).unwrap();
        assert_eq!(t.header, ["verdict", "right", "extra", "missed", "precision", "recall"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0][..5], ["vanishing", "6", "2", "1", "0.75"]);
        // A kind never expected has no recall: a dash, not a made-up number.
        assert_eq!(t.rows[1], ["saturation", "0", "3", "0", "0", "–"]);
    }
}

//! Every chart type renders to a non-empty SVG with the marks it should have, from data alone.
mod common;

use report::charts::{self, BarChart, Heatmap, Histogram, LineChart, Scale, Series};
use report::experiments::RunOptions;

fn count(svg: &str, tag: &str) -> usize {
    svg.matches(&format!("<{tag}")).count()
}

/// The trimmed contents of every <text> element.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string()))
        .collect()
}

fn has_text(svg: &str, t: &str) -> bool {
    texts(svg).iter().any(|x| x == t)
}

fn assert_svg(svg: &str) {
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{}", &svg[..svg.len().min(200)]);
}

fn series(name: &str, k: f64) -> Series {
    let points: Vec<(f64, f64)> = (0..=20).map(|l| (l as f64, k.powi(l))).collect();
    let band = points.iter().map(|&(x, y)| (x, y * 0.5, y * 2.0)).collect();
    Series { name: name.into(), points, band }
}

#[test]
fn line_chart_draws_series_band_threshold_and_events() {
    for scale in [Scale::Linear, Scale::Log10] {
        let chart = LineChart {
            title: "g".into(),
            x_label: "layer".into(),
            y_label: "gradient".into(),
            y_scale: scale,
            series: vec![series("0.9", 0.9), series("1.5", 1.5)],
            threshold: Some((1.0, "one".into())),
            events: vec![(10.0, "midway".into())],
            ..LineChart::default()
        };
        let svg = charts::line_chart(&chart).unwrap();
        assert_svg(&svg);
        assert!(count(&svg, "polyline") >= 2, "two series");
        assert!(count(&svg, "polygon") >= 2, "two bands");
        assert!(has_text(&svg, "midway") && has_text(&svg, "one") && has_text(&svg, "1.5"));
        assert!(svg.contains("font-family=\"sans-serif\""));
    }
}

#[test]
fn log_axis_labels_are_powers_of_ten() {
    let chart =
        LineChart { y_scale: Scale::Log10, series: vec![series("0.01", 0.01)], ..LineChart::default() };
    let svg = charts::line_chart(&chart).unwrap();
    assert!(has_text(&svg, "10⁻⁴⁰") && has_text(&svg, "10⁰"), "log ticks");
}

#[test]
fn heatmap_draws_every_cell_and_the_overlay() {
    let (steps, layers) = (6, 4);
    let h = Heatmap {
        title: "grad".into(),
        steps: (0..steps).map(f64::from).collect(),
        layers: (0..layers).map(f64::from).collect(),
        values: (0..steps * layers).map(|i| 10f64.powi(-(i % 7))).collect(),
        scale: Scale::Log10,
        overlay: (0..steps).map(|s| (s as f64, s as f64 * 0.5)).collect(),
        overlay_label: "depth".into(),
        ..Heatmap::default()
    };
    let svg = charts::heatmap(&h).unwrap();
    assert_svg(&svg);
    assert!(count(&svg, "rect") >= (steps * layers) as usize + 64, "cells and colour bar");
    assert!(count(&svg, "polyline") >= 1 && has_text(&svg, "depth"));
    let wrong = Heatmap { values: vec![1.0; 3], ..h };
    assert!(charts::heatmap(&wrong).is_err());
}

#[test]
fn histogram_and_bar_chart_draw_rectangles() {
    let h = Histogram {
        title: "weights".into(),
        x_label: "w".into(),
        groups: vec![("a".into(), (0..500).map(|i| (i as f64 / 50.0).sin()).collect())],
        bins: 20,
        scale: Scale::Linear,
    };
    let svg = charts::histogram(&h).unwrap();
    assert_svg(&svg);
    assert!(count(&svg, "rect") >= 20);
    let b = BarChart {
        title: "max".into(),
        y_label: "f'".into(),
        bars: vec![("sigmoid".into(), 0.25), ("tanh".into(), 1.0), ("gelu".into(), 1.13)],
        y_scale: Scale::Linear,
    };
    let svg = charts::bar_chart(&b).unwrap();
    assert_svg(&svg);
    assert!(has_text(&svg, "sigmoid") && has_text(&svg, "0.25") && has_text(&svg, "1.13"));
    let log = charts::bar_chart(&BarChart { y_scale: Scale::Log10, ..b }).unwrap();
    assert_svg(&log);
}

#[test]
fn every_shipped_chart_renders_from_the_results() {
    for s in report::scenario::discover(&common::scenarios_dir()).unwrap() {
        let r = report::run::run_one(&s, &RunOptions::default()).unwrap();
        let rendered = charts::build::render_all(&s, &r).unwrap();
        // A heatmap spec draws one chart per variant.
        let expected: usize = s
            .spec
            .charts
            .iter()
            .map(|c| match c.get_ref().kind {
                report::scenario::ChartKind::Heatmap => {
                    c.get_ref().variants.as_ref().map_or(s.spec.variants.len(), Vec::len)
                }
                _ => 1,
            })
            .sum::<usize>()
            // A scenario of labelled networks also gets the diagnosis' confusion matrix.
            + usize::from(s.variants().any(|v| v.expect.is_some()));
        assert_eq!(rendered.len(), expected, "{}", s.name);
        for c in rendered {
            if c.svg.starts_with("<table") {
                assert!(c.svg.matches("<tr>").count() > 1, "{}/{} has no rows", s.name, c.id);
                continue;
            }
            assert_svg(&c.svg);
            if c.id == "confusion" {
                // Header plus at least one verdict row, six cells each.
                assert!(count(&c.svg, "text") >= 12, "{}/{} has no rows", s.name, c.id);
                continue;
            }
            assert!(count(&c.svg, "polyline") + count(&c.svg, "rect") > 3, "{}/{} is empty", s.name, c.id);
        }
    }
}

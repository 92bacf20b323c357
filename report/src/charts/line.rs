//! Line charts: several series with a legend, linear or log10 y axis, shaded bands, an optional
//! horizontal threshold and vertical event markers.
use super::{
    FONT, LineChart, Scale, canvas, colour, ensure_font, err, frame, legend, padded_range, tick_label,
    to_axis,
};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

pub const SIZE: (u32, u32) = (760, 420);
/// Series with at most this many points get a marker at each point.
const MARKER_MAX_POINTS: usize = 40;

/// Splits a polyline where a point cannot be drawn (log of ≤ 0, NaN), so gaps stay gaps.
fn segments(points: &[(f64, f64)], scale: Scale) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for &(x, y) in points {
        match (x.is_finite(), to_axis(y, scale)) {
            (true, Some(y)) => out.last_mut().expect("never empty").push((x, y)),
            _ => {
                if !out.last().expect("never empty").is_empty() {
                    out.push(Vec::new());
                }
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

pub fn line_chart(c: &LineChart) -> Result<String, String> {
    ensure_font()?;
    let segs: Vec<Vec<Vec<(f64, f64)>>> = c.series.iter().map(|s| segments(&s.points, c.y_scale)).collect();
    let (x0, x1) = c.x_range.unwrap_or_else(|| {
        padded_range(segs.iter().flatten().flatten().map(|p| p.0).chain(c.events.iter().map(|e| e.0)), 0.0)
    });
    let in_x = |x: f64| x >= x0 - 1e-9 && x <= x1 + 1e-9;
    let (y0, y1) = match c.y_range {
        Some((a, b)) => (to_axis(a, c.y_scale).unwrap_or(a), to_axis(b, c.y_scale).unwrap_or(b)),
        None => {
            let ys = segs.iter().flatten().flatten().filter(|p| in_x(p.0)).map(|p| p.1);
            let band = c.series.iter().flat_map(|s| &s.band).filter(|b| in_x(b.0));
            let band = band.flat_map(|b| [to_axis(b.1, c.y_scale), to_axis(b.2, c.y_scale)]).flatten();
            let thr = c.threshold.iter().filter_map(|t| to_axis(t.0, c.y_scale));
            let thr = thr.chain(
                c.shade.iter().flat_map(|b| [to_axis(b.0, c.y_scale), to_axis(b.1, c.y_scale)]).flatten(),
            );
            let refs = c.reference.iter().flat_map(|r| segments(&r.points, c.y_scale)).flatten();
            let refs: Vec<f64> = refs.filter(|p| in_x(p.0)).map(|p| p.1).collect();
            padded_range(ys.chain(band).chain(thr).chain(refs), 0.05)
        }
    };
    let span = y1 - y0;
    // Where the threshold and event labels sit, so the legend avoids them.
    let mut labels: Vec<(f64, f64)> = Vec::new();
    if let Some(ty) = c.threshold.as_ref().and_then(|t| to_axis(t.0, c.y_scale)) {
        labels.extend((0..4).map(|k| (x0 + (x1 - x0) * 0.04 * k as f64, ty + span * 0.035)));
    }
    for (k, (ex, _)) in c.events.iter().enumerate() {
        labels.push((*ex, y1 - span * (0.04 + 0.05 * (k % 3) as f64)));
    }
    canvas(SIZE, |root| {
        let mut chart = frame(root, &c.title, 64, x0..x1, y0..y1)?;
        let y_fmt = |v: &f64| tick_label(*v, c.y_scale, span);
        let y_labels =
            if c.y_scale == Scale::Log10 && span >= 2.0 { (span.ceil() as usize + 1).min(12) } else { 8 };
        chart
            .configure_mesh()
            .x_desc(&c.x_label)
            .y_desc(&c.y_label)
            .y_labels(y_labels)
            .x_labels(10)
            .y_label_formatter(&y_fmt)
            .x_label_formatter(&|v| {
                crate::format::short_num(if v.abs() < (x1 - x0) * 1e-9 { 0.0 } else { *v })
            })
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .bold_line_style(RGBColor(0xE4, 0xE4, 0xE4))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(err)?;

        for (i, s) in c.series.iter().enumerate() {
            let band: Vec<(f64, f64, f64)> = s
                .band
                .iter()
                .filter_map(|&(x, lo, hi)| Some((x, to_axis(lo, c.y_scale)?, to_axis(hi, c.y_scale)?)))
                .filter(|b| in_x(b.0))
                .collect();
            if band.len() >= 2 {
                let poly: Vec<(f64, f64)> =
                    band.iter().map(|b| (b.0, b.2)).chain(band.iter().rev().map(|b| (b.0, b.1))).collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(poly, colour(i).mix(0.18).filled())))
                    .map_err(err)?;
            }
        }
        // The band goes under everything else, clamped to the plot so it never draws outside it.
        if let Some((lo, hi, label)) = &c.shade
            && let (Some(a), Some(b)) = (to_axis(*lo, c.y_scale), to_axis(*hi, c.y_scale))
        {
            let (a, b) = (a.max(y0), b.min(y1));
            if a < b {
                let fill = RGBColor(0x00, 0x9E, 0x73).mix(0.12).filled();
                chart.draw_series(std::iter::once(Rectangle::new([(x0, a), (x1, b)], fill))).map_err(err)?;
                let pos = (x1 - (x1 - x0) * 0.01, b - span * 0.01);
                let style = (FONT, 14).into_font().color(&RGBColor(0x00, 0x6B, 0x4E));
                let style = style.pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Right,
                    plotters::style::text_anchor::VPos::Top,
                ));
                chart.draw_series(std::iter::once(Text::new(label.clone(), pos, style))).map_err(err)?;
            }
        }
        if let Some((t, label)) = &c.threshold
            && let Some(ty) = to_axis(*t, c.y_scale)
        {
            let style = RGBColor(0x66, 0x66, 0x66).stroke_width(1);
            chart.draw_series(DashedLineSeries::new([(x0, ty), (x1, ty)], 6, 4, style)).map_err(err)?;
            let pos = (x0 + (x1 - x0) * 0.01, ty + span * 0.035);
            let text =
                Text::new(label.clone(), pos, (FONT, 14).into_font().color(&RGBColor(0x55, 0x55, 0x55)));
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        for (k, (ex, label)) in c.events.iter().enumerate() {
            let style = RGBColor(0x88, 0x88, 0x88).stroke_width(1);
            chart.draw_series(DashedLineSeries::new([(*ex, y0), (*ex, y1)], 3, 3, style)).map_err(err)?;
            let ty = y1 - span * (0.04 + 0.05 * (k % 3) as f64);
            let text = Text::new(label.clone(), (*ex + (x1 - x0) * 0.005, ty), (FONT, 14));
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        for (i, (s, parts)) in c.series.iter().zip(&segs).enumerate() {
            let col = colour(i);
            let style = col.stroke_width(2);
            let parts: Vec<Vec<(f64, f64)>> =
                parts.iter().map(|p| p.iter().copied().filter(|q| in_x(q.0)).collect()).collect();
            let count: usize = parts.iter().map(Vec::len).sum();
            let mut labelled = false;
            for p in parts.iter().filter(|p| !p.is_empty()) {
                let ann = chart.draw_series(LineSeries::new(p.iter().copied(), style)).map_err(err)?;
                if !labelled {
                    ann.label(s.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(3))
                    });
                    labelled = true;
                }
                if count <= MARKER_MAX_POINTS {
                    chart.draw_series(p.iter().map(|&q| Circle::new(q, 3, col.filled()))).map_err(err)?;
                }
            }
            if !labelled {
                // Nothing drawable (e.g. all zero on a log axis): keep the legend entry honest.
                chart
                    .draw_series(LineSeries::new(std::iter::empty::<(f64, f64)>(), style))
                    .map_err(err)?
                    .label(format!("{} (not drawable on this axis)", s.name))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(3)));
            }
        }
        for (i, r) in c.reference.iter().enumerate() {
            // Darker than its series, so a reference that coincides with the measurement stays visible.
            let RGBColor(red, green, blue) = colour(i);
            let col = RGBColor(red / 2, green / 2, blue / 2);
            let mut labelled = false;
            for p in segments(&r.points, c.y_scale) {
                let p: Vec<(f64, f64)> = p.into_iter().filter(|q| in_x(q.0)).collect();
                if p.len() < 2 {
                    continue;
                }
                let ann =
                    chart.draw_series(DashedLineSeries::new(p, 7, 5, col.stroke_width(2))).map_err(err)?;
                if !labelled {
                    ann.label(r.name.clone()).legend(move |(x, y)| {
                        DashedPathElement::new(vec![(x, y), (x + 18, y)], 5, 3, col.stroke_width(2))
                    });
                    labelled = true;
                }
            }
        }
        if !c.series.is_empty() {
            legend(&mut chart, legend_corner(&segs, &labels, (x0, x1), (y0, y1)))?;
        }
        Ok(())
    })
}

/// The corner whose quarter-sized box holds the fewest drawn points, so the legend hides the least.
fn legend_corner(
    segs: &[Vec<Vec<(f64, f64)>>],
    labels: &[(f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> SeriesLabelPosition {
    let (w, h) = (x1 - x0, y1 - y0);
    let corners = [
        (SeriesLabelPosition::UpperRight, x1 - 0.35 * w, x1, y1 - 0.4 * h, y1),
        (SeriesLabelPosition::UpperLeft, x0, x0 + 0.35 * w, y1 - 0.4 * h, y1),
        (SeriesLabelPosition::LowerRight, x1 - 0.35 * w, x1, y0, y0 + 0.4 * h),
        (SeriesLabelPosition::LowerLeft, x0, x0 + 0.35 * w, y0, y0 + 0.4 * h),
    ];
    let count = |(ax, bx, ay, by): (f64, f64, f64, f64)| {
        let inside = |p: &&(f64, f64)| p.0 >= ax && p.0 <= bx && p.1 >= ay && p.1 <= by;
        // A text label weighs like many line points: covering it hides a whole word.
        segs.iter().flatten().flatten().filter(inside).count() + 50 * labels.iter().filter(inside).count()
    };
    corners.into_iter().min_by_key(|c| count((c.1, c.2, c.3, c.4))).map(|c| c.0).expect("four corners")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_band_is_shaded_and_labelled_and_widens_the_axis() {
        let c = LineChart {
            y_scale: Scale::Log10,
            series: vec![super::super::Series {
                name: "r".into(),
                points: vec![(0.0, 1e-6), (1.0, 1e-5)],
                band: vec![],
            }],
            shade: Some((1e-4, 1e-2, "healthy".into())),
            ..LineChart::default()
        };
        let texts = |svg: &str| -> Vec<String> {
            let parts = svg.split("<text").skip(1);
            parts
                .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string()))
                .collect()
        };
        let svg = line_chart(&c).unwrap();
        let shown = texts(&svg);
        assert!(shown.iter().any(|t| t == "healthy"), "band label drawn: {shown:?}");
        // The y axis reaches the band's top (10^-2) although the data stop at 10^-5.
        assert!(shown.iter().any(|t| t == "10⁻²"), "axis covers the band: {shown:?}");
        let without = texts(&line_chart(&LineChart { shade: None, ..c }).unwrap());
        assert!(!without.iter().any(|t| t == "healthy" || t == "10⁻²"), "{without:?}");
    }

    #[test]
    fn log_axis_breaks_lines_at_zero() {
        let pts = [(0.0, 1.0), (1.0, 0.1), (2.0, 0.0), (3.0, 0.01), (4.0, f64::NAN)];
        let s = segments(&pts, Scale::Log10);
        assert_eq!(s, vec![vec![(0.0, 0.0), (1.0, -1.0)], vec![(3.0, -2.0)]]);
        assert_eq!(segments(&pts, Scale::Linear).len(), 1);
    }
}

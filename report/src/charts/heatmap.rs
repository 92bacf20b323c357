//! Heatmaps: a value per (layer, step) cell on the viridis colour map (perceptually uniform and
//! colour-blind safe), a colour bar, and an optional line drawn over the cells.
use super::{FONT, Heatmap, Scale, ensure_font, err, short_num, tick_label, to_axis};
use plotters::prelude::*;

pub const SIZE: (u32, u32) = (760, 400);
const BAR_WIDTH: u32 = 96;

/// Viridis sampled at 9 evenly spaced points; linear interpolation between them is visually exact.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// The colour of a position in [0, 1].
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Half the distance to the neighbours: the edges of the cells centred at `centres`.
fn edges(centres: &[f64]) -> Vec<f64> {
    match centres {
        [] => vec![0.0, 1.0],
        [c] => vec![c - 0.5, c + 0.5],
        _ => {
            let n = centres.len();
            let mut e = Vec::with_capacity(n + 1);
            e.push(centres[0] - (centres[1] - centres[0]) / 2.0);
            e.extend(centres.windows(2).map(|w| (w[0] + w[1]) / 2.0));
            e.push(centres[n - 1] + (centres[n - 1] - centres[n - 2]) / 2.0);
            e
        }
    }
}

pub fn heatmap(h: &Heatmap) -> Result<String, String> {
    ensure_font()?;
    let (nr, nc) = (h.layers.len(), h.steps.len());
    if h.values.len() != nr * nc {
        return Err(format!("heatmap has {} values for {nr} layers × {nc} steps", h.values.len()));
    }
    let drawn: Vec<Option<f64>> = h.values.iter().map(|&v| to_axis(v, h.scale)).collect();
    let (lo, hi) =
        drawn.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (lo, hi) =
        if lo.is_finite() { (lo, if hi - lo < 1e-12 { lo + 1.0 } else { hi }) } else { (0.0, 1.0) };
    let (xe, ye) = (edges(&h.steps), edges(&h.layers));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (main, bar) = root.split_horizontally(SIZE.0 - BAR_WIDTH);
        let mut chart = ChartBuilder::on(&main)
            .caption(&h.title, (FONT, 21))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(56)
            .build_cartesian_2d(xe[0]..xe[nc.max(1)], ye[0]..ye[nr.max(1)])
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&h.x_label)
            .y_desc(&h.y_label)
            .x_label_formatter(&|v| short_num(*v))
            .y_label_formatter(&|v| short_num(*v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .draw()
            .map_err(err)?;
        let cells = (0..nr).flat_map(|r| (0..nc).map(move |c| (r, c)));
        chart
            .draw_series(cells.map(|(r, c)| {
                let fill = match drawn[r * nc + c] {
                    Some(v) => viridis((v - lo) / (hi - lo)).filled(),
                    None => RGBColor(0xE8, 0xE8, 0xE8).filled(),
                };
                Rectangle::new([(xe[c], ye[r]), (xe[c + 1], ye[r + 1])], fill)
            }))
            .map_err(err)?;
        if h.overlay.len() >= 2 {
            let white = WHITE.stroke_width(4);
            chart.draw_series(LineSeries::new(h.overlay.iter().copied(), white)).map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    h.overlay.iter().copied(),
                    RGBColor(0xD5, 0x5E, 0x00).stroke_width(2),
                ))
                .map_err(err)?
                .label(h.overlay_label.clone())
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(0xD5, 0x5E, 0x00).stroke_width(3))
                });
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(0xBB, 0xBB, 0xBB))
                .label_font((FONT, 15))
                .draw()
                .map_err(err)?;
        }
        colour_bar(&bar, lo, hi, h.scale)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    lo: f64,
    hi: f64,
    scale: Scale,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    const STEPS: usize = 64;
    let mut bar = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(54)
        .margin_right(8)
        .y_label_area_size(58)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(err)?;
    let span = hi - lo;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|v| tick_label(*v, scale, span))
        .label_style((FONT, 14))
        .draw()
        .map_err(err)?;
    let dy = span / STEPS as f64;
    bar.draw_series((0..STEPS).map(|i| {
        let y = lo + dy * i as f64;
        Rectangle::new([(0.0, y), (1.0, y + dy)], viridis((i as f64 + 0.5) / STEPS as f64).filled())
    }))
    .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_edges() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(edges(&[0.0, 1.0, 2.0]), vec![-0.5, 0.5, 1.5, 2.5]);
    }
}

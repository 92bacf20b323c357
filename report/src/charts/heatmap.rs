//! Heatmaps: a value per (layer, step) cell on the viridis colour map (perceptually uniform and
//! colour-blind safe) or a blue–white–red diverging map (for signed quantities such as a log ratio, white
//! at the middle of the range), a colour bar, and an optional line, in pieces, drawn over the cells.
use super::{FONT, Heatmap, Scale, canvas, ensure_font, err, frame, legend, tick_label, to_axis};
use crate::format::short_num;
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
    interpolate(&VIRIDIS, t)
}

/// Blue–white–red (ColorBrewer RdBu, reversed so low is blue), sampled at 7 points.
const DIVERGING: [(u8, u8, u8); 7] = [
    (33, 102, 172),
    (103, 169, 207),
    (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199),
    (239, 138, 98),
    (178, 24, 43),
];

fn interpolate(stops: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let pos = t * (stops.len() - 1) as f64;
    let i = (pos.floor() as usize).min(stops.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The diverging map at a position in [0, 1]; 0.5 is white.
pub fn diverging(t: f64) -> RGBColor {
    interpolate(&DIVERGING, t)
}

/// The overlay's drawable pieces: runs of finite points, split at NaN ones.
fn pieces(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    points
        .split(|p| !(p.0.is_finite() && p.1.is_finite()))
        .filter(|run| run.len() >= 2)
        .map(<[(f64, f64)]>::to_vec)
        .collect()
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
    let (lo, hi) = match h.colour_range {
        Some((a, b)) => (to_axis(a, h.scale).unwrap_or(lo), to_axis(b, h.scale).unwrap_or(hi)),
        None => (lo, hi),
    };
    let cmap: fn(f64) -> RGBColor = if h.diverging { diverging } else { viridis };
    let (xe, ye) = (edges(&h.steps), edges(&h.layers));
    canvas(SIZE, |root| {
        let (main, bar) = root.split_horizontally(SIZE.0 - BAR_WIDTH);
        let mut chart = frame(&main, &h.title, 56, xe[0]..xe[nc.max(1)], ye[0]..ye[nr.max(1)])?;
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
                    Some(v) => cmap(level((v - lo) / (hi - lo))).filled(),
                    None => RGBColor(0xE8, 0xE8, 0xE8).filled(),
                };
                Rectangle::new([(xe[c], ye[r]), (xe[c + 1], ye[r + 1])], fill)
            }))
            .map_err(err)?;
        let parts = pieces(&h.overlay);
        if !parts.is_empty() {
            // Black on the diverging map (its middle is white), orange on viridis; a halo keeps it visible.
            let (line, halo) = if h.diverging {
                (RGBColor(0x11, 0x11, 0x11), WHITE)
            } else {
                (RGBColor(0xD5, 0x5E, 0x00), WHITE)
            };
            for p in &parts {
                chart.draw_series(LineSeries::new(p.iter().copied(), halo.stroke_width(4))).map_err(err)?;
            }
            for (k, p) in parts.iter().enumerate() {
                let ann = chart
                    .draw_series(LineSeries::new(p.iter().copied(), line.stroke_width(2)))
                    .map_err(err)?;
                if k == 0 {
                    ann.label(h.overlay_label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], line.stroke_width(3))
                    });
                }
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        colour_bar(&bar, lo, hi, h.scale, cmap)?;
        Ok(())
    })
}

/// The colour bar's levels: a cell takes the colour of the bar step its value falls in, so the eye
/// reads it off the bar exactly, and cells of one level share one SVG path (the page stays small).
const LEVELS: usize = 64;

/// The centre of the bar step that holds `t` (0..=1, clamped).
fn level(t: f64) -> f64 {
    let k = (t.clamp(0.0, 1.0) * LEVELS as f64).floor().min(LEVELS as f64 - 1.0);
    (k + 0.5) / LEVELS as f64
}

fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    lo: f64,
    hi: f64,
    scale: Scale,
    cmap: fn(f64) -> RGBColor,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    const STEPS: usize = LEVELS;
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
        Rectangle::new([(0.0, y), (1.0, y + dy)], cmap((i as f64 + 0.5) / STEPS as f64).filled())
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
        assert_eq!(diverging(0.5), RGBColor(247, 247, 247));
        assert_eq!(diverging(0.0), RGBColor(33, 102, 172));
    }

    #[test]
    fn a_cell_takes_the_colour_of_its_bar_step() {
        assert_eq!(level(0.0), 0.5 / 64.0);
        assert_eq!(level(1.0), 63.5 / 64.0);
        assert_eq!(level(0.5), 32.5 / 64.0);
        assert_eq!(level(0.49), 31.5 / 64.0);
        assert_eq!(level(-3.0), level(0.0));
    }

    #[test]
    fn overlay_breaks_at_nan() {
        let nan = f64::NAN;
        let pts = [(1.0, 1.0), (1.0, 5.0), (nan, nan), (2.0, 1.0), (nan, 0.0), (3.0, 1.0), (3.0, 2.0)];
        let p = pieces(&pts);
        assert_eq!(p, vec![vec![(1.0, 1.0), (1.0, 5.0)], vec![(3.0, 1.0), (3.0, 2.0)]]);
    }
}

//! SVG charts drawn with plotters into strings, from chart data only (see `build` for how records become
//! chart data). Text is laid out with the bundled DejaVu Sans (registered through plotters' ab_glyph
//! support), so no system fonts or fontconfig are needed; the SVG names the generic `sans-serif` family.
pub mod build;
mod grid;
mod heatmap;
mod line;
pub mod svg;
mod table;

pub use grid::{bar_chart, histogram};
pub use heatmap::heatmap;
pub use line::line_chart;
pub use table::{Table, table_svg};

use crate::format::{short_num, superscript};
use plotters::coord::Shift;
use plotters::coord::ranged1d::AsRangedCoord;
use plotters::prelude::{Cartesian2d, ChartBuilder, ChartContext, DrawingArea, IntoDrawingArea, SVGBackend};
use plotters::prelude::{SeriesLabelPosition, WHITE};
use plotters::style::{Color, FontStyle, RGBColor};
use std::sync::OnceLock;

pub use crate::scenario::Scale;

/// The family the charts' text uses; the bundled font is registered under this name.
pub const FONT: &str = "sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Okabe–Ito, reordered so the first colours are the most distinct; safe for the common colour-vision
/// deficiencies. Yellow (#F0E442) is left out: it is unreadable as a thin line on white.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x33, 0x33, 0x33),
];

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the bundled font once; the plotting functions call it first.
pub(crate) fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok { Ok(()) } else { Err("the bundled font assets/DejaVuSans.ttf could not be read".into()) }
}

/// One line of a line chart; `band` holds (x, low, high), e.g. the min–max over seeds.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

#[derive(Debug, Clone, Default)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y_scale: Scale,
    pub series: Vec<Series>,
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// A horizontal line and its label.
    pub threshold: Option<(f64, String)>,
    /// A shaded horizontal band (low, high) and its label.
    pub shade: Option<(f64, f64, String)>,
    /// Vertical markers and their labels.
    pub events: Vec<(f64, String)>,
    /// Dashed lines, each in the colour of the series at the same index (e.g. theory beside measurement).
    pub reference: Vec<Series>,
}

/// Values by layer (rows) and step (columns), with an optional line over it in the same coordinates.
#[derive(Debug, Clone, Default)]
pub struct Heatmap {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// The step of each column and the layer of each row, ascending.
    pub steps: Vec<f64>,
    pub layers: Vec<f64>,
    /// Row-major: `values[row * steps.len() + col]`; NaN for a missing cell.
    pub values: Vec<f64>,
    pub scale: Scale,
    /// (step, layer) points of the overlaid line; a NaN coordinate breaks it into pieces.
    pub overlay: Vec<(f64, f64)>,
    pub overlay_label: String,
    /// The values the colour scale spans (default: the data's range); values outside saturate.
    pub colour_range: Option<(f64, f64)>,
    /// Blue–white–red around the middle of the range instead of viridis.
    pub diverging: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Histogram {
    pub title: String,
    pub x_label: String,
    /// (name, values) per group; each group is drawn translucent over the same bins.
    pub groups: Vec<(String, Vec<f64>)>,
    pub bins: usize,
    pub scale: Scale,
}

#[derive(Debug, Clone, Default)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub bars: Vec<(String, f64)>,
    pub y_scale: Scale,
}

/// A value as drawn on an axis of this scale; `None` where it cannot be drawn (log of ≤ 0, NaN, ∞).
pub(crate) fn to_axis(v: f64, scale: Scale) -> Option<f64> {
    match scale {
        Scale::Linear => v.is_finite().then_some(v),
        Scale::Log10 => (v > 0.0 && v.is_finite()).then(|| v.log10()),
    }
}

/// Tick label of an axis position: the value itself, or 10 to the exponent on a log axis (only at
/// whole exponents when the axis spans several decades, so ticks read 10⁻⁴⁰, 10⁻³⁰, ...).
pub(crate) fn tick_label(pos: f64, scale: Scale, span: f64) -> String {
    match scale {
        Scale::Linear => short_num(pos),
        Scale::Log10 if span >= 2.0 => {
            if (pos - pos.round()).abs() < 1e-9 {
                format!("10{}", superscript(pos.round() as i64))
            } else {
                String::new()
            }
        }
        Scale::Log10 => short_num(10f64.powf(pos)),
    }
}

/// The drawn range of some values with a margin, or (0, 1) when there are none.
pub(crate) fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let m = (hi - lo) * pad;
    (lo - m, hi + m)
}

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws on a white SVG canvas of `size` and returns the SVG.
pub(crate) fn canvas(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A chart on `X` by `Y` coordinates, drawn on an SVG canvas.
type Grid<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// The frame every chart on a grid has: its title, a 12 px margin, 42 px under the x axis for its labels
/// and `y_label_width` beside the y axis.
pub(crate) fn frame<'a, 'b, X: AsRangedCoord, Y: AsRangedCoord>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    y_label_width: u32,
    x: X,
    y: Y,
) -> Result<Grid<'a, 'b, X::CoordDescType, Y::CoordDescType>, String> {
    ChartBuilder::on(area)
        .caption(title, (FONT, 21))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(x, y)
        .map_err(err)
}

/// The series' legend as every chart draws it: a translucent white box with a grey border at `at`.
pub(crate) fn legend<'a, 'b: 'a, C: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, C>,
    at: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xBB, 0xBB, 0xBB))
        .label_font((FONT, 15))
        .draw()
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_only_at_whole_exponents_over_several_decades() {
        assert_eq!(tick_label(-40.0, Scale::Log10, 45.0), "10⁻⁴⁰");
        assert_eq!(tick_label(-2.5, Scale::Log10, 45.0), "");
        assert_eq!(tick_label(-6.0, Scale::Linear, 1.0), "-6");
    }
}

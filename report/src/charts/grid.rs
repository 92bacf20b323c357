//! Histograms and bar charts: charts drawn as rectangles on a plain grid.
use super::to_axis;
use super::{
    BarChart, FONT, Histogram, Scale, canvas, colour, ensure_font, err, frame, legend, padded_range,
    tick_label,
};
use crate::format::short_num;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub const SIZE: (u32, u32) = (760, 400);

/// Counts of `values` (on the axis of `scale`) in `bins` equal bins over [lo, hi].
fn bin_counts(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let mut counts = vec![0; bins];
    let w = (hi - lo) / bins as f64;
    for &v in values {
        if v.is_finite() && v >= lo && v <= hi {
            counts[(((v - lo) / w) as usize).min(bins - 1)] += 1;
        }
    }
    counts
}

pub fn histogram(h: &Histogram) -> Result<String, String> {
    ensure_font()?;
    let bins = h.bins.max(1);
    let groups: Vec<Vec<f64>> =
        h.groups.iter().map(|(_, v)| v.iter().filter_map(|&x| to_axis(x, h.scale)).collect()).collect();
    let (lo, hi) = padded_range(groups.iter().flatten().copied(), 0.0);
    let counts: Vec<Vec<usize>> = groups.iter().map(|g| bin_counts(g, lo, hi, bins)).collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.08;
    let w = (hi - lo) / bins as f64;
    canvas(SIZE, |root| {
        let mut chart = frame(root, &h.title, 64, lo..hi, 0.0..top)?;
        let span = hi - lo;
        chart
            .configure_mesh()
            .x_desc(&h.x_label)
            .y_desc("count")
            .x_label_formatter(&|v| tick_label(*v, h.scale, span))
            .y_label_formatter(&|v| short_num(*v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .bold_line_style(RGBColor(0xE4, 0xE4, 0xE4))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(err)?;
        for (i, ((name, _), c)) in h.groups.iter().zip(&counts).enumerate() {
            let col = colour(i);
            chart
                .draw_series(c.iter().enumerate().filter(|(_, n)| **n > 0).map(|(b, &n)| {
                    let x = lo + w * b as f64;
                    Rectangle::new([(x, 0.0), (x + w, n as f64)], col.mix(0.45).filled())
                }))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], col.mix(0.6).filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

pub fn bar_chart(b: &BarChart) -> Result<String, String> {
    ensure_font()?;
    let n = b.bars.len().max(1);
    let drawn: Vec<Option<f64>> = b.bars.iter().map(|(_, v)| to_axis(*v, b.y_scale)).collect();
    let (mut y0, mut y1) = padded_range(drawn.iter().flatten().copied(), 0.08);
    match b.y_scale {
        // Linear bars start at zero; log bars start one decade below the smallest.
        Scale::Linear => {
            y0 = y0.min(0.0);
            y1 = y1.max(0.0);
        }
        Scale::Log10 => {
            y0 = y0.floor() - if y0.fract() == 0.0 { 1.0 } else { 0.0 };
            y1 = y1.ceil().max(y0 + 1.0);
        }
    }
    let span = y1 - y0;
    let names: Vec<String> = b.bars.iter().map(|(name, _)| name.clone()).collect();
    canvas(SIZE, |root| {
        let mut chart = frame(root, &b.title, 64, (0..n as i32 - 1).into_segmented(), y0..y1)?;
        let y_labels = if b.y_scale == Scale::Log10 && span >= 2.0 { (span as usize + 1).min(12) } else { 8 };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(&b.y_label)
            .y_labels(y_labels)
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|v| tick_label(*v, b.y_scale, span))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .bold_line_style(RGBColor(0xE4, 0xE4, 0xE4))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(err)?;
        let base = if b.y_scale == Scale::Linear { 0.0 } else { y0 };
        for (i, ((_, v), d)) in b.bars.iter().zip(&drawn).enumerate() {
            let Some(top) = d else { continue };
            let (l, r) = (SegmentValue::Exact(i as i32), SegmentValue::Exact(i as i32 + 1));
            let mut bar = Rectangle::new([(l, base), (r, *top)], colour(i).filled());
            bar.set_margin(0, 0, 14, 14);
            chart.draw_series(std::iter::once(bar)).map_err(err)?;
            let label_y = top.max(base) + span * 0.01;
            let style = TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
            let text = Text::new(short_num(*v), (SegmentValue::CenterOf(i as i32), label_y), style);
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_both_ends() {
        assert_eq!(bin_counts(&[0.0, 0.5, 1.0, 2.0, f64::NAN], 0.0, 1.0, 2), vec![1, 2]);
    }
}

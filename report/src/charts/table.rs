//! Table "charts": numbers that read best as rows and columns (e.g. measured beside predicted for many
//! configurations), drawn as an SVG like every other chart, so the page, its checks and print treat them
//! alike. Column widths follow the longest cell; the first column is left-aligned, the others right-aligned.
use super::{FONT, canvas, ensure_font, err};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A header row and body rows of already formatted cells; the first column is the row's name.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

const ROW: i32 = 26;
const TOP: i32 = 44;
const PAD: i32 = 12;
/// Average advance of a DejaVu Sans character at the body size, in pixels (a width estimate only).
const CHAR: f64 = 7.6;
const BODY: u32 = 14;

fn text_width(s: &str) -> i32 {
    (s.chars().count() as f64 * CHAR).ceil() as i32
}

/// The table as an SVG. Every row must have as many cells as the header.
pub fn table_svg(t: &Table) -> Result<String, String> {
    ensure_font()?;
    if t.header.is_empty() {
        return Err(format!("table `{}` has no columns", t.title));
    }
    if let Some((i, r)) = t.rows.iter().enumerate().find(|(_, r)| r.len() != t.header.len()) {
        return Err(format!(
            "table `{}`: row {} has {} cells for {} columns",
            t.title,
            i + 1,
            r.len(),
            t.header.len()
        ));
    }
    let widths: Vec<i32> = (0..t.header.len())
        .map(|j| t.rows.iter().map(|r| &r[j]).chain([&t.header[j]]).map(|c| text_width(c)).max().unwrap_or(0))
        .collect();
    let width = (widths.iter().map(|w| w + 2 * PAD).sum::<i32>()).max(text_width(&t.title) + 2 * PAD);
    let height = TOP + ROW * (t.rows.len() as i32 + 1) + PAD;
    canvas((width as u32, height as u32), |root| {
        let title = TextStyle::from((FONT, 18).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw_text(&t.title, &title, (PAD, TOP / 2)).map_err(err)?;
        let grey = RGBColor(0x5F, 0x63, 0x68);
        let rule = RGBColor(0xE3, 0xE3, 0xE3);
        for (i, row) in std::iter::once(&t.header).chain(&t.rows).enumerate() {
            let y = TOP + ROW * i as i32;
            if i % 2 == 0 && i > 0 {
                root.draw(&Rectangle::new([(0, y), (width, y + ROW)], RGBColor(0xF7, 0xF7, 0xF5).filled()))
                    .map_err(err)?;
            }
            root.draw(&PathElement::new(vec![(0, y + ROW), (width, y + ROW)], rule)).map_err(err)?;
            let mut x = 0;
            for (j, cell) in row.iter().enumerate() {
                let (anchor, at) =
                    if j == 0 { (HPos::Left, x + PAD) } else { (HPos::Right, x + PAD + widths[j]) };
                let font = (FONT, BODY).into_font();
                let style = if i == 0 { font.color(&grey) } else { TextStyle::from(font) };
                root.draw_text(cell, &style.pos(Pos::new(anchor, VPos::Center)), (at, y + ROW / 2))
                    .map_err(err)?;
                x += widths[j] + 2 * PAD;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_cells_and_escaping() {
        let t = Table {
            title: "a < b".into(),
            header: vec!["config".into(), "χ₁".into()],
            rows: vec![vec!["tanh/he".into(), "1.2".into()], vec!["relu".into(), "1".into()]],
        };
        let svg = table_svg(&t).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // Title, two header cells, four body cells.
        assert_eq!(svg.matches("<text").count(), 7);
        assert!(svg.contains("a &lt; b") && svg.contains("tanh/he") && svg.contains("χ₁"));
        let bad = Table { rows: vec![vec!["x".into()]], ..t };
        assert!(table_svg(&bad).unwrap_err().contains("row 1 has 1 cells for 2 columns"));
    }
}

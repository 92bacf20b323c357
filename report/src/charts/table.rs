//! Table "charts": numbers that read best as rows and columns (e.g. measured beside predicted for many
//! configurations), rendered as an HTML table that goes on the page where a chart's SVG would.
use super::FONT;

/// A header row and body rows of already formatted cells; the first column is the row's name.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The table as a self-contained HTML fragment (styles inline, like the charts, so it needs no CSS of the
/// page's own). Every row must have as many cells as the header.
pub fn table_html(t: &Table) -> Result<String, String> {
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
    let mut h = String::new();
    h.push_str(&format!(
        "<table class=\"data-table\" style=\"font-family:{FONT};font-variant-numeric:tabular-nums\">"
    ));
    h.push_str(&format!(
        "<caption style=\"caption-side:top;text-align:left;font-weight:600;padding-bottom:.3rem\">{}</caption>",
        escape(&t.title)
    ));
    h.push_str("<thead><tr>");
    for (j, c) in t.header.iter().enumerate() {
        let align = if j == 0 { "left" } else { "right" };
        // No upper-casing (the page's default for th): it would turn χ into X.
        h.push_str(&format!(
            "<th style=\"text-align:{align};text-transform:none;letter-spacing:0\">{}</th>",
            escape(c)
        ));
    }
    h.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        h.push_str("<tr>");
        for (j, c) in r.iter().enumerate() {
            if j == 0 {
                h.push_str(&format!("<td><code>{}</code></td>", escape(c)));
            } else {
                h.push_str(&format!("<td style=\"text-align:right;white-space:nowrap\">{}</td>", escape(c)));
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    Ok(h)
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
        let h = table_html(&t).unwrap();
        assert_eq!(h.matches("<tr>").count(), 3);
        assert_eq!(h.matches("<td").count(), 4);
        assert!(h.contains("a &lt; b") && h.contains("<code>tanh/he</code>"));
        let bad = Table { rows: vec![vec!["x".into()]], ..t };
        assert!(table_html(&bad).unwrap_err().contains("row 1 has 1 cells for 2 columns"));
    }
}

//! Numbers as the page shows them: key figures, chart axes and labels. Page-only: the data files never
//! go through this module, so a cosmetic change here changes the page and not `SHA256SUMS`.
use regex::{Captures, Regex};
use std::sync::LazyLock;

/// A key figure for reading: four significant digits, exponent form outside [0.001, 100000).
pub fn fmt_figure(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i64).clamp(0, 6) as usize;
        return trim(format!("{v:.decimals$}"));
    }
    let e = a.log10().floor() as i64;
    let m = format!("{:.3}", v / 10f64.powi(e as i32));
    format!("{} × 10{}", trim(m), superscript(e))
}

/// A measured number inside prose: `digits` significant digits, whole numbers from 100 to 99999 in
/// full, exponent form outside [0.001, 100000): "0.15", "4.3", "3325", "3.6 × 10⁻⁷".
pub fn fmt_prose(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let digits = digits.clamp(1, 17);
    let a = v.abs();
    if (100.0..1e5).contains(&a) && digits <= 5 && v.round().abs() < 1e5 {
        return format!("{v:.0}");
    }
    // Round first, so 9.96 with two digits reads 10 and 0.000999 reads 0.001.
    let e = a.log10().floor() as i32;
    let scale = 10f64.powi(digits as i32 - 1 - e);
    let r = (v * scale).round() / scale;
    let e = r.abs().log10().floor() as i32;
    if (1e-3..1e5).contains(&r.abs()) {
        let decimals = (digits as i32 - 1 - e).max(0) as usize;
        return trim(format!("{r:.decimals$}"));
    }
    let m = format!("{:.*}", digits - 1, r / 10f64.powi(e));
    format!("{} × 10{}", trim(m), superscript(i64::from(e)))
}

/// A label from the data (`crate::record::number` markers `{=V}` inside plain text) with each number
/// rendered by [`fmt_figure`]; text that is not a well-formed marker is kept as it is.
pub fn label(text: &str) -> String {
    static MARKER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{=([^{}]*)\}").expect("a valid pattern"));
    let number = |c: &Captures<'_>| c[1].parse::<f64>().map_or_else(|_| c[0].to_string(), fmt_figure);
    MARKER.replace_all(text, number).into_owned()
}

/// A compact number for axis labels: up to 4 significant digits, no trailing zeros, exponent form
/// for very small or large values.
pub fn short_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let e = a.log10().floor() as i64;
        let m = v / 10f64.powi(e as i32);
        return format!("{}×10{}", trim(format!("{m:.2}")), superscript(e));
    }
    let decimals = (3 - a.log10().floor() as i64).clamp(0, 6) as usize;
    trim(format!("{v:.decimals$}"))
}

fn trim(s: String) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// An integer in Unicode superscript digits (for 10⁻⁷).
pub fn superscript(n: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let sup = |c: char| c.to_digit(10).map_or('⁻', |d| DIGITS[d as usize]);
    n.to_string().chars().map(sup).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_well() {
        assert_eq!(fmt_figure(0.25), "0.25");
        assert_eq!(fmt_figure(9.5367431640625e-7), "9.537 × 10⁻⁷");
        assert_eq!(fmt_figure(3325.256730079651), "3325");
        assert_eq!(fmt_figure(1e-40), "1 × 10⁻⁴⁰");
    }

    #[test]
    fn prose_numbers_read_well() {
        assert_eq!(fmt_prose(3.604e-7, 2), "3.6 × 10⁻⁷");
        assert_eq!(fmt_prose(4.3125, 2), "4.3");
        assert_eq!(fmt_prose(0.153, 2), "0.15");
        assert_eq!(fmt_prose(9.96, 2), "10");
        assert_eq!(fmt_prose(3325.26, 2), "3325");
        assert_eq!(fmt_prose(-0.5, 2), "-0.5");
        assert_eq!(fmt_prose(2.5e5, 2), "2.5 × 10⁵");
        assert_eq!(fmt_prose(99999.7, 2), "1 × 10⁵");
        assert_eq!(fmt_prose(0.25, 4), "0.25");
    }

    #[test]
    fn axis_numbers_read_well() {
        assert_eq!(short_num(0.25), "0.25");
        assert_eq!(short_num(3325.256), "3325");
        assert_eq!(short_num(-6.0), "-6");
        assert_eq!(short_num(1e-40), "1×10⁻⁴⁰");
    }

    #[test]
    fn label_markers_are_rendered_and_other_braces_kept() {
        let text =
            format!("range {}–{} {{x}} {{=oops}}", crate::record::number(1e-40), crate::record::number(0.25));
        assert_eq!(label(&text), "range 1 × 10⁻⁴⁰–0.25 {x} {=oops}");
    }
}

//! Summaries over seeds, with one NaN policy for the whole report: NaN means "no value" (a run that
//! diverged before it could measure) and is left out; infinities are measurements (a norm that
//! overflowed is larger than every finite one) and are kept. An empty input, or one with only NaN, has no
//! median: `median` returns NaN, `spread` returns None.

/// Median of the non-NaN values (mean of the middle two for an even count); NaN when there are none.
pub fn median(values: &[f64]) -> f64 {
    spread(values).map_or(f64::NAN, |(m, _, _)| m)
}

/// Median, min and max of the non-NaN values; `None` when there are none.
pub fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) };
    Some((median, v[0], v[n - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn nan_is_left_out_and_infinity_kept() {
        assert_eq!(median(&[f64::NAN, 1.0, 3.0]), 2.0);
        assert_eq!(median(&[1.0, f64::INFINITY, 5.0]), 5.0);
        assert_eq!(
            spread(&[f64::NAN, -1.0, f64::NEG_INFINITY]),
            Some((f64::NEG_INFINITY, f64::NEG_INFINITY, -1.0))
        );
    }

    #[test]
    fn no_values_no_median() {
        assert!(median(&[]).is_nan());
        assert!(median(&[f64::NAN, f64::NAN]).is_nan());
        assert_eq!(spread(&[]), None);
    }
}

//! Summary statistics of one tensor for the monitor, in a fixed order (so
//! reproducible) and range-safe (so 1e-25 gradients are not rounded to zero).
use crate::kernels::{Activation, moments};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TensorStats {
    pub l2: f64,
    pub rms: f64,
    pub mean_abs: f64,
    pub max_abs: f64,
    pub mean: f64,
    pub std: f64,
    pub non_finite: usize,
}

/// The moments come from the SIMD kernel (range-safe: see
/// [`crate::kernels::moments`]); a tensor holding NaN or infinities is
/// summarised over its finite values, with the others counted.
pub fn tensor_stats(x: &[f32]) -> TensorStats {
    // The moments are range-safe, so their sums are finite exactly when every
    // element is: no separate finiteness pass.
    let simd = moments::moments_f32(x);
    let (m, bad, n) = if simd.sum.is_finite() && simd.sum_sq.is_finite() {
        (simd, 0, x.len())
    } else {
        let finite: Vec<f32> = x.iter().copied().filter(|v| v.is_finite()).collect();
        (moments::moments(&finite), x.len() - finite.len(), x.len())
    };
    let n = n.max(1) as f64;
    let mean = m.sum / n;
    TensorStats {
        l2: m.sum_sq.sqrt(),
        rms: (m.sum_sq / n).sqrt(),
        mean_abs: m.sum_abs / n,
        max_abs: m.max_abs,
        mean,
        std: (m.sum_sq / n - mean * mean).max(0.0).sqrt(),
        non_finite: bad,
    }
}

/// Whether every value is finite: `v · 0` is 0 for a finite v and NaN for an
/// infinity or a NaN, so the sum of the products is 0 exactly when all are
/// finite (it cannot overflow), and it vectorises where an early-exit scan does not.
pub fn all_finite(x: &[f32]) -> bool {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v * 0.0;
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| v * 0.0).sum();
    (acc.iter().sum::<f32>() + tail) == 0.0
}

/// L2 norm in f64.
pub fn l2(x: &[f32]) -> f64 {
    moments::moments_f32(x).sum_sq.sqrt()
}

/// L2 norm of `a − b`.
pub fn l2_diff(a: &[f32], b: &[f32]) -> f64 {
    moments::diff_sq_f32(a, b).sqrt()
}

/// Fraction of outputs within 1% of a bounded activation's limits: sigmoid
/// outputs below 0.01 or above 0.99, tanh outputs beyond ±0.99. `None` for
/// unbounded activations, where saturation does not apply.
pub fn saturated_fraction(act: Activation, y: &[f32]) -> Option<f64> {
    let (lo, hi) = match act {
        Activation::Sigmoid => (0.01, 0.99),
        Activation::Tanh => (-0.99, 0.99),
        _ => return None,
    };
    Some(moments::count_outside_f32(y, lo, hi) as f64 / y.len().max(1) as f64)
}

/// Fraction of units (columns) whose output is zero for every row of the
/// batch: dead ReLUs. `None` for activations that cannot die.
pub fn dead_fraction(act: Activation, cols: usize, y: &[f32]) -> Option<f64> {
    if !matches!(act, Activation::Relu) || cols == 0 {
        return None;
    }
    let dead = (0..cols).filter(|&j| y.iter().skip(j).step_by(cols).all(|&v| v <= 0.0)).count();
    Some(dead as f64 / cols as f64)
}

/// Fixed, reproducible bins for log10 |g|: [LO, LO + WIDTH) for LO from
/// −12 up to 3.5; values below the first bin (zeros included) count in it,
/// values above the last count in the last.
pub const LOG10_HIST_LO: f64 = -12.0;
pub const LOG10_HIST_WIDTH: f64 = 0.5;
pub const LOG10_HIST_BINS: usize = 32;

pub fn log10_histogram(x: &[f32], counts: &mut [u64; LOG10_HIST_BINS]) {
    counts.iter_mut().for_each(|c| *c = 0);
    for &v in x {
        if !v.is_finite() {
            continue;
        }
        let l = f64::from(v.abs()).log10();
        let k = ((l - LOG10_HIST_LO) / LOG10_HIST_WIDTH).floor();
        let k = if k.is_nan() || k < 0.0 { 0 } else { (k as usize).min(LOG10_HIST_BINS - 1) };
        counts[k] += 1;
    }
}

/// Fixed bins for activation values: [LO, LO + WIDTH) for LO from −4 up to
/// 3.75, which covers sigmoid and tanh whole and the bulk of a healthy ReLU
/// layer; values beyond the range count in the end bins.
pub const ACT_HIST_LO: f64 = -4.0;
pub const ACT_HIST_WIDTH: f64 = 0.25;
pub const ACT_HIST_BINS: usize = 32;

pub fn act_histogram(x: &[f32], counts: &mut [u64; ACT_HIST_BINS]) {
    counts.iter_mut().for_each(|c| *c = 0);
    for &v in x.iter().filter(|v| v.is_finite()) {
        let k = ((f64::from(v) - ACT_HIST_LO) / ACT_HIST_WIDTH).floor();
        let k = if k < 0.0 { 0 } else { (k as usize).min(ACT_HIST_BINS - 1) };
        counts[k] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_a_known_tensor() {
        let s = tensor_stats(&[3.0, -4.0, 0.0, 0.0]);
        assert_eq!(s.l2, 5.0);
        assert_eq!(s.rms, 2.5);
        assert_eq!(s.mean_abs, 1.75);
        assert_eq!(s.max_abs, 4.0);
        assert_eq!(s.mean, -0.25);
        assert_eq!(s.non_finite, 0);
        assert_eq!(tensor_stats(&[1.0, f32::NAN, f32::INFINITY]).non_finite, 2);
    }

    #[test]
    fn saturation_and_dead_units() {
        let y = [0.005, 0.5, 0.995, 0.2];
        assert_eq!(saturated_fraction(Activation::Sigmoid, &y), Some(0.5));
        assert_eq!(saturated_fraction(Activation::Relu, &y), None);
        // 2 rows x 3 units: unit 1 is zero in both rows.
        let r = [0.0, 0.0, 1.0, 2.0, 0.0, 0.0];
        assert_eq!(dead_fraction(Activation::Relu, 3, &r), Some(1.0 / 3.0));
    }

    #[test]
    fn log_histogram_bins_are_fixed() {
        let mut c = [0u64; LOG10_HIST_BINS];
        log10_histogram(&[0.0, 1e-20, 1e-12, 1.0, 0.5, 1e9], &mut c);
        assert_eq!(c[0], 3); // zero, 1e-20 underflow, and 1e-12 itself
        assert_eq!(c[24], 1); // log10(1) = 0 → bin (0 + 12) / 0.5
        assert_eq!(c[23], 1); // log10(0.5) ≈ −0.30
        assert_eq!(c[31], 1); // overflow
        assert_eq!(c.iter().sum::<u64>(), 6);
    }
}

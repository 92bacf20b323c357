//! Row-wise, numerically stable softmax and log-softmax: each row of `cols`
//! values is shifted by its maximum before exponentiation. The f32 versions run
//! f32x8 blocks with a scalar tail on our own exp/ln; each row's sum has an
//! order fixed by `cols`, and rows are split across rayon only when there is
//! enough work, which cannot change any row's bits.
use crate::kernels::math::exp::exp;
use crate::kernels::math::log::ln;
use num_traits::Float;
use rayon::prelude::*;
use wide::f32x8;

/// Matrices with at least this many elements are split across rayon by rows.
const PAR_MIN: usize = 1 << 16;

pub fn softmax_rows<T: Float>(cols: usize, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len());
    if cols == 0 {
        return;
    }
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let max = xr.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
        let mut sum = T::zero();
        for (yi, &xi) in yr.iter_mut().zip(xr) {
            *yi = (xi - max).exp();
            sum = sum + *yi;
        }
        let inv = T::one() / sum;
        for yi in yr.iter_mut() {
            *yi = *yi * inv;
        }
    }
}

pub fn log_softmax_rows<T: Float>(cols: usize, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len());
    if cols == 0 {
        return;
    }
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let max = xr.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
        let mut sum = T::zero();
        for &xi in xr {
            sum = sum + (xi - max).exp();
        }
        let lse = max + sum.ln();
        for (yi, &xi) in yr.iter_mut().zip(xr) {
            *yi = xi - lse;
        }
    }
}

#[inline(always)]
fn load(s: &[f32]) -> f32x8 {
    f32x8::new(s.try_into().expect("block of 8"))
}

/// Lanes combined by a fixed pairwise tree.
#[inline(always)]
fn lane_sum(v: f32x8) -> f32 {
    let l = v.to_array();
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

fn row_max(x: &[f32]) -> f32 {
    let mut blocks = x.chunks_exact(8);
    let mut acc = f32x8::splat(f32::NEG_INFINITY);
    for b in &mut blocks {
        acc = acc.fast_max(load(b));
    }
    acc.to_array().into_iter().chain(blocks.remainder().iter().copied()).fold(f32::NEG_INFINITY, f32::max)
}

/// `Σ exp(x − m)`, writing each term into `y` when given.
fn exp_shift_sum(x: &[f32], m: f32, mut y: Option<&mut [f32]>) -> f32 {
    let mv = f32x8::splat(m);
    let mut acc = f32x8::ZERO;
    let mut blocks = x.chunks_exact(8);
    for (i, b) in (&mut blocks).enumerate() {
        let e = exp(load(b) - mv);
        acc += e;
        if let Some(y) = y.as_deref_mut() {
            y[8 * i..8 * i + 8].copy_from_slice(&e.to_array());
        }
    }
    let start = x.len() / 8 * 8;
    let mut tail = 0.0;
    for (k, &v) in blocks.remainder().iter().enumerate() {
        let e = exp(v - m);
        tail += e;
        if let Some(y) = y.as_deref_mut() {
            y[start + k] = e;
        }
    }
    lane_sum(acc) + tail
}

fn softmax_row(x: &[f32], y: &mut [f32]) {
    let s = exp_shift_sum(x, row_max(x), Some(y));
    let inv = 1.0 / s;
    let iv = f32x8::splat(inv);
    let mut blocks = y.chunks_exact_mut(8);
    for b in &mut blocks {
        let v = load(b) * iv;
        b.copy_from_slice(&v.to_array());
    }
    blocks.into_remainder().iter_mut().for_each(|v| *v *= inv);
}

fn log_softmax_row(x: &[f32], y: &mut [f32]) {
    let m = row_max(x);
    // (x − m) − ln s: the shift is exact near the maximum, where y is smallest.
    let l = ln(exp_shift_sum(x, m, None));
    let (mv, lv) = (f32x8::splat(m), f32x8::splat(l));
    let mut yb = y.chunks_exact_mut(8);
    let mut xb = x.chunks_exact(8);
    for (o, v) in (&mut yb).zip(&mut xb) {
        o.copy_from_slice(&((load(v) - mv) - lv).to_array());
    }
    for (o, &v) in yb.into_remainder().iter_mut().zip(xb.remainder()) {
        *o = (v - m) - l;
    }
}

fn rows_f32(cols: usize, x: &[f32], y: &mut [f32], row: fn(&[f32], &mut [f32])) {
    assert_eq!(x.len(), y.len(), "softmax: input and output lengths differ");
    if cols == 0 {
        return;
    }
    assert_eq!(x.len() % cols, 0, "softmax: length is not a multiple of cols");
    if x.len() >= PAR_MIN && x.len() > cols {
        y.par_chunks_mut(cols).zip(x.par_chunks(cols)).for_each(|(yr, xr)| row(xr, yr));
    } else {
        y.chunks_exact_mut(cols).zip(x.chunks_exact(cols)).for_each(|(yr, xr)| row(xr, yr));
    }
}

pub fn softmax_rows_f32(cols: usize, x: &[f32], y: &mut [f32]) {
    rows_f32(cols, x, y, softmax_row);
}

pub fn log_softmax_rows_f32(cols: usize, x: &[f32], y: &mut [f32]) {
    rows_f32(cols, x, y, log_softmax_row);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::math::tests::{uniform_vec, worse};

    #[test]
    fn simd_matches_f64_with_nan_prefilled_outputs() {
        let shapes = [(0, 5), (1, 1), (3, 7), (5, 8), (2, 9), (4, 1003), (2, 5000), (70, 1001)];
        for (r, c) in shapes {
            for spread in [1.0, 30.0] {
                let x = uniform_vec((r * c) as u64 + spread as u64, r * c, -spread, spread);
                let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
                let (mut s, mut ls) = (vec![f32::NAN; r * c], vec![f32::NAN; r * c]);
                softmax_rows_f32(c, &x, &mut s);
                log_softmax_rows_f32(c, &x, &mut ls);
                let (mut s64, mut ls64) = (vec![0.0; r * c], vec![0.0; r * c]);
                softmax_rows(c, &x64, &mut s64);
                log_softmax_rows(c, &x64, &mut ls64);
                let (mut ws, mut wl) = ((0.0f64, 0usize), (0.0f64, 0usize));
                for i in 0..r * c {
                    let row = &x64[i / c * c..(i / c + 1) * c];
                    let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                    let shift = x64[i] - m;
                    // Tolerance: x − m rounds (relative error of e^(x−m) up to
                    // |x−m|·2⁻²⁴), then exp, sum and scaling add a few ulp.
                    let tol = s64[i] * 2f64.powi(-24) * (8.0 + shift.abs()) + 1e-40;
                    worse((s[i] as f64 - s64[i]).abs() / tol, i, &mut ws);
                    // x − m rounds (|x−m|·2⁻²⁴), ln s carries the few-ulp
                    // relative error of s as an absolute one, the last
                    // subtraction rounds (|y|·2⁻²⁴).
                    let tol = 2f64.powi(-24) * (2.0 * shift.abs() + 2.0 * ls64[i].abs() + 8.0);
                    worse((ls[i] as f64 - ls64[i]).abs() / tol, i, &mut wl);
                }
                assert!(ws.0 <= 1.0, "softmax {r}x{c} spread {spread}: {:.2}× tol at {}", ws.0, ws.1);
                assert!(wl.0 <= 1.0, "log_softmax {r}x{c} spread {spread}: {:.2}× tol at {}", wl.0, wl.1);
                for row in s.chunks_exact(c.max(1)) {
                    let t: f64 = row.iter().map(|&v| v as f64).sum();
                    assert!((t - 1.0).abs() < 2e-6 * (1.0 + (c as f64).sqrt()), "row sums to {t}");
                }
            }
        }
    }

    #[test]
    fn extreme_rows_stay_finite() {
        let x = [1e4f32, -1e4, 0.0, 88.0, -88.0, 1e4, 3.0, -1e30, 1e30];
        let mut y = [f32::NAN; 9];
        softmax_rows_f32(9, &x, &mut y);
        assert_eq!(y, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        log_softmax_rows_f32(9, &x, &mut y);
        assert!(y.iter().all(|v| !v.is_nan()) && y[8] == 0.0, "{y:?}");
        let mut y = [f32::NAN; 3];
        softmax_rows_f32(3, &[5.0, 5.0, 5.0], &mut y);
        assert!(y.iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-7), "{y:?}");
    }
}

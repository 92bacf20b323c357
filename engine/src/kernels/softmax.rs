//! Row-wise, numerically stable softmax and log-softmax: each row of `cols`
//! values is shifted by its maximum before exponentiation.
use num_traits::Float;

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

pub fn softmax_rows_f32(cols: usize, x: &[f32], y: &mut [f32]) {
    softmax_rows(cols, x, y);
}

pub fn log_softmax_rows_f32(cols: usize, x: &[f32], y: &mut [f32]) {
    log_softmax_rows(cols, x, y);
}

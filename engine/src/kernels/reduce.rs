//! Reductions with a fixed summation order: the order depends only on the
//! length, never on the thread count, so results are bit-identical however
//! many threads run.
use num_traits::Float;

pub fn sum<T: Float>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |a, &v| a + v)
}

pub fn sum_sq<T: Float>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |a, &v| v.mul_add(v, a))
}

pub fn max_abs<T: Float>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |a, &v| a.max(v.abs()))
}

/// Column sums over `rows`: `out[j] = Σ_i x[i, j]` (reduce over the batch).
pub fn sum_axis0<T: Float>(cols: usize, x: &[T], out: &mut [T]) {
    assert_eq!(out.len(), cols);
    out.iter_mut().for_each(|o| *o = T::zero());
    if cols == 0 {
        return;
    }
    for row in x.chunks_exact(cols) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o = *o + v;
        }
    }
}

/// Row sums: `out[i] = Σ_j x[i, j]`.
pub fn sum_axis1<T: Float>(cols: usize, x: &[T], out: &mut [T]) {
    if cols == 0 {
        out.iter_mut().for_each(|o| *o = T::zero());
        return;
    }
    assert_eq!(out.len() * cols, x.len());
    for (o, row) in out.iter_mut().zip(x.chunks_exact(cols)) {
        *o = sum(row);
    }
}

pub fn sum_f32(x: &[f32]) -> f32 {
    sum(x)
}

pub fn sum_sq_f32(x: &[f32]) -> f32 {
    sum_sq(x)
}

pub fn max_abs_f32(x: &[f32]) -> f32 {
    max_abs(x)
}

//! Simple element-wise kernels: `y += α·x`, `x *= α`, row-broadcast bias add.
use num_traits::Float;

/// `y += alpha · x`.
pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len());
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = alpha.mul_add(xi, *yi);
    }
}

/// `x *= alpha`.
pub fn scale<T: Float>(alpha: T, x: &mut [T]) {
    for v in x.iter_mut() {
        *v = *v * alpha;
    }
}

/// `y[i, j] = x[i, j] + b[j]`: a bias row broadcast over every row.
pub fn add_row<T: Float>(cols: usize, x: &[T], b: &[T], y: &mut [T]) {
    assert_eq!(b.len(), cols);
    assert_eq!(x.len(), y.len());
    if cols == 0 {
        return;
    }
    for (yr, xr) in y.chunks_exact_mut(cols).zip(x.chunks_exact(cols)) {
        for ((yi, &xi), &bi) in yr.iter_mut().zip(xr).zip(b) {
            *yi = xi + bi;
        }
    }
}

pub fn axpy_f32(alpha: f32, x: &[f32], y: &mut [f32]) {
    axpy(alpha, x, y);
}

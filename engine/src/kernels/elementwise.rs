//! Simple element-wise kernels: `y += α·x`, `x *= α`, row-broadcast bias add;
//! generic scalar references and f32x8 versions with scalar tails.
use num_traits::Float;
use wide::f32x8;

/// `y += alpha · x`.
pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len());
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = super::fmadd(alpha, xi, *yi);
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

#[inline(always)]
fn load(s: &[f32]) -> f32x8 {
    f32x8::new(s.try_into().expect("block of 8"))
}

/// `y += alpha · x` (fused multiply-add where the build has FMA).
pub fn axpy_f32(alpha: f32, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy: x and y lengths differ");
    let a = f32x8::splat(alpha);
    // 32 elements a step: four independent FMAs, as LLVM unrolls the reference.
    let mut yb = y.chunks_exact_mut(32);
    let mut xb = x.chunks_exact(32);
    for (o, v) in (&mut yb).zip(&mut xb) {
        for k in (0..32).step_by(8) {
            let r = a.mul_add(load(&v[k..k + 8]), load(&o[k..k + 8]));
            o[k..k + 8].copy_from_slice(&r.to_array());
        }
    }
    let mut yb = yb.into_remainder().chunks_exact_mut(8);
    let mut xb = xb.remainder().chunks_exact(8);
    for (o, v) in (&mut yb).zip(&mut xb) {
        o.copy_from_slice(&a.mul_add(load(v), load(o)).to_array());
    }
    for (o, &v) in yb.into_remainder().iter_mut().zip(xb.remainder()) {
        *o = super::fmadd(alpha, v, *o);
    }
}

/// `x *= alpha`.
pub fn scale_f32(alpha: f32, x: &mut [f32]) {
    let a = f32x8::splat(alpha);
    let mut xb = x.chunks_exact_mut(8);
    for o in &mut xb {
        o.copy_from_slice(&(load(o) * a).to_array());
    }
    xb.into_remainder().iter_mut().for_each(|v| *v *= alpha);
}

/// `y[i, j] = x[i, j] + b[j]`.
pub fn add_row_f32(cols: usize, x: &[f32], b: &[f32], y: &mut [f32]) {
    assert_eq!(b.len(), cols, "add_row: bias length is not cols");
    assert_eq!(x.len(), y.len(), "add_row: x and y lengths differ");
    if cols == 0 {
        return;
    }
    for (yr, xr) in y.chunks_exact_mut(cols).zip(x.chunks_exact(cols)) {
        let mut yb = yr.chunks_exact_mut(8);
        let mut xb = xr.chunks_exact(8);
        for ((o, v), bb) in (&mut yb).zip(&mut xb).zip(b.chunks_exact(8)) {
            o.copy_from_slice(&(load(v) + load(bb)).to_array());
        }
        let tail_b = &b[cols / 8 * 8..];
        for ((o, &v), &bi) in yb.into_remainder().iter_mut().zip(xb.remainder()).zip(tail_b) {
            *o = v + bi;
        }
    }
}

/// Whether every value is finite. Checked in blocks with a branch-free AND
/// inside each (which vectorises, where a short-circuit scan of one element at
/// a time does not): this runs over every gradient after every step.
pub fn all_finite<T: Float>(x: &[T]) -> bool {
    x.chunks(256).all(|block| block.iter().fold(true, |ok, v| ok & v.is_finite()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::math::tests::uniform_vec;

    /// A single NaN or infinity anywhere, in a full block or in the tail, is found.
    #[test]
    fn all_finite_finds_any_non_finite_value() {
        for n in [0usize, 1, 255, 256, 257, 1003] {
            let x = uniform_vec(n as u64, n, -1e30, 1e30);
            assert!(all_finite(&x), "n = {n}");
            for at in [0, n / 2, n.saturating_sub(1)].into_iter().filter(|&i| i < n) {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    let mut y = x.clone();
                    y[at] = bad;
                    assert!(!all_finite(&y), "{bad} at {at} of {n}");
                }
            }
        }
        assert!(all_finite(&[f32::MAX, f32::MIN, f32::MIN_POSITIVE / 2.0]));
    }

    #[test]
    fn simd_matches_reference_on_odd_lengths() {
        for n in [0, 1, 7, 8, 9, 31, 32, 33, 1003] {
            let x = uniform_vec(n as u64, n, -1.0, 1.0);
            let y0 = uniform_vec(n as u64 + 1, n, -1.0, 1.0);
            let (mut y, mut yr) = (y0.clone(), y0.clone());
            axpy_f32(0.37, &x, &mut y);
            axpy(0.37, &x, &mut yr);
            // both round as the vector lanes do (fused exactly where they fuse), so the bits agree
            assert_eq!(y, yr, "axpy n={n}");
            let (mut s, mut sr) = (x.clone(), x.clone());
            scale_f32(-1.5, &mut s);
            scale(-1.5, &mut sr);
            assert_eq!(s, sr, "scale n={n}");
        }
    }

    #[test]
    fn add_row_overwrites_nan_prefilled_output() {
        for (r, c) in [(0, 3), (3, 0), (1, 1), (4, 7), (3, 8), (2, 9), (5, 1003)] {
            let x = uniform_vec((r * c) as u64, r * c, -1.0, 1.0);
            let b: Vec<f32> = (0..c).map(|j| j as f32).collect();
            let mut y = vec![f32::NAN; r * c];
            add_row_f32(c, &x, &b, &mut y);
            let mut want = vec![0.0; r * c];
            add_row(c, &x, &b, &mut want);
            assert_eq!(y, want, "{r}x{c}");
        }
    }
}

//! Matrix-vector shortcuts for products with one row or one column of C: they are memory-bound, so
//! they skip packing and the register tile (which would waste 5 of its 6 rows) and stream the matrix
//! once.
use wide::f32x8;

/// Loads 8 floats from the front of `s`.
#[inline(always)]
fn load(s: &[f32]) -> f32x8 {
    let arr: [f32; 8] = s[..8].try_into().expect("8 floats");
    f32x8::new(arr)
}

#[inline(always)]
fn put(dst: &mut f32, v: f32, accumulate: bool) {
    *dst = if accumulate { *dst + v } else { v };
}

/// `out[i] (+)= Σ_p rows[i·k + p]·x[p]`: one dot product per contiguous row (`k = x.len()`).
pub(super) fn dot_rows(rows: &[f32], x: &[f32], out: &mut [f32], accumulate: bool) {
    let k = x.len();
    debug_assert_eq!(rows.len(), out.len() * k);
    for (row, o) in rows.chunks_exact(k).zip(out.iter_mut()) {
        put(o, dot(row, x), accumulate);
    }
}

/// Dot product with four independent vector sums (to hide the FMA latency), combined in a fixed
/// order, then a scalar tail.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    let (a4, b4) = (a.chunks_exact(32), b.chunks_exact(32));
    let (ra, rb) = (a4.remainder(), b4.remainder());
    for (ca, cb) in a4.zip(b4) {
        for (q, s) in acc.iter_mut().enumerate() {
            *s = load(&ca[8 * q..]).mul_add(load(&cb[8 * q..]), *s);
        }
    }
    let (a1, b1) = (ra.chunks_exact(8), rb.chunks_exact(8));
    let (ta, tb) = (a1.remainder(), b1.remainder());
    for (ca, cb) in a1.zip(b1) {
        acc[0] = load(ca).mul_add(load(cb), acc[0]);
    }
    let mut sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add();
    for (&u, &v) in ta.iter().zip(tb) {
        sum = crate::kernels::fmadd(u, v, sum);
    }
    sum
}

/// `out[j] (+)= Σ_p x[p]·mat[p·n + j]` with `n = out.len()`: rows of `mat` scaled and summed, a block
/// of columns at a time so the sums stay in registers across the whole of `p`.
pub(super) fn axpy_rows(mat: &[f32], x: &[f32], out: &mut [f32], accumulate: bool) {
    let n = out.len();
    debug_assert_eq!(mat.len(), n * x.len());
    const W: usize = 32;
    let mut j = 0;
    while j + W <= n {
        let mut acc = [f32x8::ZERO; W / 8];
        for (p, &xp) in x.iter().enumerate() {
            let xs = f32x8::splat(xp);
            let row = &mat[p * n + j..][..W];
            for (q, s) in acc.iter_mut().enumerate() {
                *s = xs.mul_add(load(&row[8 * q..]), *s);
            }
        }
        for (q, s) in acc.iter().enumerate() {
            for (o, &v) in out[j + 8 * q..][..8].iter_mut().zip(s.as_array()) {
                put(o, v, accumulate);
            }
        }
        j += W;
    }
    while j + 8 <= n {
        let mut s = f32x8::ZERO;
        for (p, &xp) in x.iter().enumerate() {
            s = f32x8::splat(xp).mul_add(load(&mat[p * n + j..]), s);
        }
        for (o, &v) in out[j..][..8].iter_mut().zip(s.as_array()) {
            put(o, v, accumulate);
        }
        j += 8;
    }
    for (jj, o) in out.iter_mut().enumerate().skip(j) {
        let mut s = 0.0f32;
        for (p, &xp) in x.iter().enumerate() {
            s = crate::kernels::fmadd(xp, mat[p * n + jj], s);
        }
        put(o, s, accumulate);
    }
}

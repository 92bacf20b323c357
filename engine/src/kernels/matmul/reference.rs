//! The scalar reference product: three loops, accumulation in `T`, k in
//! increasing order. Slow on purpose; the tests and the f64 path use it.
use super::Gemm;
use num_traits::Float;

pub fn gemm<T: Float>(g: &Gemm, a: &[T], b: &[T], c: &mut [T]) {
    g.check_lengths(a.len(), b.len(), c.len());
    let (m, n, k) = (g.m, g.n, g.k);
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::zero();
            for p in 0..k {
                let av = if g.trans_a { a[p * m + i] } else { a[i * k + p] };
                let bv = if g.trans_b { b[j * k + p] } else { b[p * n + j] };
                acc = av.mul_add(bv, acc);
            }
            let out = &mut c[i * n + j];
            *out = if g.accumulate { *out + acc } else { acc };
        }
    }
}

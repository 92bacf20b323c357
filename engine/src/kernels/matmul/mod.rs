//! Matrix multiply, row-major: `C = op(A)·op(B)` (or `C += ...`), where
//! `op(A)` is `m × k` and `op(B)` is `k × n`. A transposed operand is read in
//! place, never materialised: backward needs `Aᵀ·G` and `G·Bᵀ`.
//!
//! The f32 path is BLIS-style: `driver.rs` runs the NC/KC/MC cache-block loops, `pack.rs` copies
//! blocks into zero-padded micro-panels, `micro.rs` holds the register-tile FMA kernel (8×32 on
//! AVX-512, 6×16 elsewhere), `parallel.rs` cuts large products into disjoint blocks of C for rayon,
//! `gemv.rs` handles one-row and one-column products, and `params.rs` holds every block size.
mod driver;
mod gemv;
mod micro;
mod pack;
mod parallel;
pub mod params;
pub mod reference;
#[cfg(test)]
mod tests;

use pack::View;

/// Describes one product. `a` holds `m × k` (or `k × m` when `trans_a`), `b`
/// holds `k × n` (or `n × k` when `trans_b`), `c` holds `m × n`; all densely
/// packed, row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    /// Add into `c` instead of overwriting it.
    pub accumulate: bool,
}

impl Gemm {
    pub const fn new(m: usize, k: usize, n: usize) -> Self {
        Gemm { m, n, k, trans_a: false, trans_b: false, accumulate: false }
    }

    /// Floating-point operations of the product (a multiply-add counts two).
    pub const fn flops(&self) -> usize {
        2 * self.m * self.n * self.k
    }

    pub(crate) fn check_lengths(&self, a: usize, b: usize, c: usize) {
        assert_eq!(a, self.m * self.k, "gemm: A holds {a} values, expected m*k = {}", self.m * self.k);
        assert_eq!(b, self.k * self.n, "gemm: B holds {b} values, expected k*n = {}", self.k * self.n);
        assert_eq!(c, self.m * self.n, "gemm: C holds {c} values, expected m*n = {}", self.m * self.n);
    }
}

/// f32 product `C = op(A)·op(B)` (or `C += op(A)·op(B)` when `g.accumulate`). With `k = 0` the
/// product is zero: C is zeroed, or left as it is when accumulating. Results do not depend on the
/// size of the rayon pool this runs in.
///
/// # Panics
/// When a slice length does not match the dimensions (an internal invariant: ops check shapes).
pub fn sgemm(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_split_above(g, a, b, c, params::PAR_MIN_FLOPS)
}

/// [`sgemm`] with the parallel threshold given: products of at least `min_flops` flops are split
/// across the pool. Only for measuring that threshold (`benches/matmul.rs`, `par_crossover`): the
/// split never cuts the shared dimension, so the result is the same for any threshold.
#[doc(hidden)]
pub fn sgemm_split_above(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32], min_flops: usize) {
    g.check_lengths(a.len(), b.len(), c.len());
    let (m, n, k) = (g.m, g.n, g.k);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !g.accumulate {
            c.fill(0.0);
        }
        return;
    }
    // One column of C: b is k contiguous values whether or not it is transposed.
    if n == 1 {
        if g.trans_a {
            gemv::axpy_rows(a, b, c, g.accumulate);
        } else {
            gemv::dot_rows(a, b, c, g.accumulate);
        }
        return;
    }
    if m == 1 {
        if g.trans_b {
            gemv::dot_rows(b, a, c, g.accumulate);
        } else {
            gemv::axpy_rows(b, a, c, g.accumulate);
        }
        return;
    }
    let a = if g.trans_a {
        View { ptr: a.as_ptr(), rs: 1, cs: m }
    } else {
        View { ptr: a.as_ptr(), rs: k, cs: 1 }
    };
    let b = if g.trans_b {
        View { ptr: b.as_ptr(), rs: 1, cs: k }
    } else {
        View { ptr: b.as_ptr(), rs: n, cs: 1 }
    };
    let p = driver::Problem { m, n, k, a, b, c: c.as_mut_ptr(), ldc: n, accumulate: g.accumulate };
    // SAFETY: the lengths were checked against m, n, k above, the views' strides describe exactly
    // those row-major matrices, and `c` is borrowed mutably for the whole call.
    unsafe { parallel::run(&p, min_flops) };
}

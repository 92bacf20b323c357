//! Matrix multiply, row-major: `C = op(A)·op(B)` (or `C += ...`), where
//! `op(A)` is `m × k` and `op(B)` is `k × n`. A transposed operand is read in
//! place, never materialised: backward needs `Aᵀ·G` and `G·Bᵀ`.
pub mod reference;

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

/// f32 product. (The SIMD/packed implementation replaces the reference here.)
pub fn sgemm(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    reference::gemm(g, a, b, c);
}

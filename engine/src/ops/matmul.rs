//! Matrix products. With Â = op(A) (m × k), B̂ = op(B) (k × n), C = Â·B̂:
//! dÂ = G·B̂ᵀ and dB̂ = Âᵀ·G; a transposed operand receives the transpose.
use crate::error::{Error, Result};
use crate::kernels::Gemm;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{Backward, NodeId, Op, Tape};

impl<T: Real> Tape<T> {
    /// `a · b`.
    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.matmul_t(a, b, false, false)
    }

    /// `aᵀ · b`, reading `a` in place.
    pub fn matmul_tn(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.matmul_t(a, b, true, false)
    }

    /// `a · bᵀ`, reading `b` in place.
    pub fn matmul_nt(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.matmul_t(a, b, false, true)
    }

    pub fn matmul_t(&mut self, a: NodeId, b: NodeId, trans_a: bool, trans_b: bool) -> Result<NodeId> {
        self.check_id("matmul", a)?;
        self.check_id("matmul", b)?;
        let (sa, sb) = (self.shape(a), self.shape(b));
        let ea = if trans_a { sa.transposed() } else { sa };
        let eb = if trans_b { sb.transposed() } else { sb };
        if ea.cols != eb.rows {
            return Err(Error::ShapeMismatch { op: "matmul", lhs: ea, rhs: eb });
        }
        let g = Gemm { m: ea.rows, k: ea.cols, n: eb.cols, trans_a, trans_b, accumulate: false };
        let rg = self.any_grad(&[a, b]);
        let (ia, ib) = (a.index(), b.index());
        Ok(self.record(Op::MatMul { a, b, trans_a, trans_b }, Shape::new(g.m, g.n), rg, |v, _, out| {
            T::gemm(&g, &v[ia][..sa.len()], &v[ib][..sb.len()], out)
        }))
    }
}

pub(crate) fn backward<T: Real>(ctx: &mut Backward<'_, T>, a: NodeId, b: NodeId, ta: bool, tb: bool) {
    let out = ctx.out_shape();
    let (m, n) = (out.rows, out.cols);
    let sa = ctx.shape(a);
    let k = if ta { sa.rows } else { sa.cols };
    let sb = ctx.shape(b);
    let (a_len, b_len) = (sa.len(), sb.len());
    let (values, gy, ga) = ctx.parts_for(a);
    let bv = &values[b.index()][..b_len];
    if let Some(ga) = ga {
        if !ta {
            // dA = G·B̂ᵀ (m × k)
            let g = Gemm { m, k: n, n: k, trans_a: false, trans_b: !tb, accumulate: true };
            T::gemm(&g, gy, bv, ga);
        } else {
            // dA = B̂·Gᵀ (k × m)
            let g = Gemm { m: k, k: n, n: m, trans_a: tb, trans_b: true, accumulate: true };
            T::gemm(&g, bv, gy, ga);
        }
    }
    let (values, gy, gb) = ctx.parts_for(b);
    let av = &values[a.index()][..a_len];
    if let Some(gb) = gb {
        if !tb {
            // dB = Âᵀ·G (k × n)
            let g = Gemm { m: k, k: m, n, trans_a: !ta, trans_b: false, accumulate: true };
            T::gemm(&g, av, gy, gb);
        } else {
            // dB = Gᵀ·Â (n × k)
            let g = Gemm { m: n, k: m, n: k, trans_a: true, trans_b: ta, accumulate: true };
            T::gemm(&g, gy, av, gb);
        }
    }
}

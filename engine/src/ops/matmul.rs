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

#[cfg(test)]
mod tests {
    use crate::gradcheck::testing::{config, dim, values, verify};
    use crate::gradcheck::{CheckOptions, check_tape};
    use crate::shape::Shape;
    use crate::tape::Tape;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        /// All four layouts in every case: `a` is stored `m × k` (or `k × m`
        /// when transposed), `b` is `k × n` (or `n × k`); gradients wrt both operands.
        #[test]
        fn matmul_t_gradients((m, k, n) in (dim(), dim(), dim()), seed in values(2 * 81, -2.0, 2.0)) {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let sa = if ta { Shape::new(k, m) } else { Shape::new(m, k) };
                let sb = if tb { Shape::new(n, k) } else { Shape::new(k, n) };
                let a = seed[..sa.len()].to_vec();
                let b = seed[81..81 + sb.len()].to_vec();
                let name = format!("matmul_t(ta={ta}, tb={tb}) {sa}·{sb}");
                verify(&name, &[(sa, a), (sb, b)], |t, x| t.matmul_t(x[0], x[1], ta, tb))?;
            }
        }

        /// The named forms record the right flags, and a transposed operand read
        /// in place gives the same product as an explicit transpose.
        #[test]
        fn matmul_forms_match_explicit_transposes(
            (m, k, n) in (dim(), dim(), dim()),
            seed in values(2 * 81, -2.0, 2.0),
        ) {
            let (a, b) = (seed[..m * k].to_vec(), seed[81..81 + k * n].to_vec());
            verify("matmul", &[(Shape::new(m, k), a.clone()), (Shape::new(k, n), b.clone())], |t, x| {
                t.matmul(x[0], x[1])
            })?;
            verify("matmul_tn", &[(Shape::new(k, m), a.clone()), (Shape::new(k, n), b.clone())], |t, x| {
                t.matmul_tn(x[0], x[1])
            })?;
            verify("matmul_nt", &[(Shape::new(m, k), a.clone()), (Shape::new(n, k), b.clone())], |t, x| {
                t.matmul_nt(x[0], x[1])
            })?;
            let mut t = Tape::<f64>::new();
            let (x, y) = (t.input(Shape::new(k, m), &a)?, t.input(Shape::new(n, k), &b)?);
            let fused = t.matmul_t(x, y, true, true)?;
            let (xt, yt) = (t.transpose(x)?, t.transpose(y)?);
            let plain = t.matmul(xt, yt)?;
            prop_assert_eq!(t.shape(fused), Shape::new(m, n));
            for (p, q) in t.value(fused).iter().zip(t.value(plain)) {
                prop_assert!((p - q).abs() <= 1e-12 * (1.0 + q.abs()), "{} vs {}", p, q);
            }
        }
    }

    /// Operands too large for every coordinate: the random directions still
    /// check the whole gradient of both.
    #[test]
    fn large_matmul_checked_along_random_directions() {
        let (m, k, n) = (33, 65, 17);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.61).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.37).cos()).collect();
        let opts = CheckOptions { directions: 6, ..CheckOptions::default() };
        for (ta, tb) in [(false, false), (true, true)] {
            let sa = if ta { Shape::new(k, m) } else { Shape::new(m, k) };
            let sb = if tb { Shape::new(n, k) } else { Shape::new(k, n) };
            let inputs = [(sa, a.clone()), (sb, b.clone())];
            let report = check_tape("large matmul_t", &inputs, |t, x| t.matmul_t(x[0], x[1], ta, tb), &opts)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((report.coordinates, report.directions), (0, 6));
        }
    }

    #[test]
    fn inner_dimension_mismatch_is_an_error_naming_both_shapes() {
        let mut t = Tape::<f64>::new();
        let a = t.input(Shape::new(2, 3), &[0.0; 6]).unwrap();
        let b = t.input(Shape::new(4, 5), &[0.0; 20]).unwrap();
        let msg = t.matmul(a, b).unwrap_err().to_string();
        assert_eq!(msg, "matmul: shape mismatch: [2, 3] vs [4, 5]");
        // Transposed flags report the effective operand shapes.
        let msg = t.matmul_t(a, b, true, false).unwrap_err().to_string();
        assert_eq!(msg, "matmul: shape mismatch: [3, 2] vs [4, 5]");
        assert_eq!(t.len(), 2, "a failed op records nothing");
    }
}

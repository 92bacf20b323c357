//! Fused, numerically stable losses, each a 1 × 1 mean:
//! - MSE, mean((p − t)²): gp += 2(p − t)/N·g, gt −= the same.
//! - Binary cross-entropy from logits z, mean(max(z,0) − z·t + log1p(e^−|z|)):
//!   gz += (σ(z) − t)/N·g, gt += −z/N·g.
//! - Softmax cross-entropy with target distributions t (rows sum to anything):
//!   −(1/m)Σᵢⱼ tᵢⱼ·log_softmax(z)ᵢⱼ; gz += (softmax(z)·Σⱼtᵢⱼ − t)/m·g,
//!   gt += −log_softmax(z)/m·g.
//! - Sparse softmax cross-entropy with integer labels: gz += (softmax(z) − onehot)/m·g.
use crate::error::{Error, Result};
use crate::kernels::Activation;
use crate::kernels::activation::reference as act_ref;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{Backward, NodeId, Op, Tape};

impl<T: Real> Tape<T> {
    pub fn mse(&mut self, pred: NodeId, target: NodeId) -> Result<NodeId> {
        self.same_shape("mse", pred, target)?;
        let n = self.shape(pred).len();
        let rg = self.any_grad(&[pred, target]);
        Ok(self.record(Op::Mse { pred, target }, Shape::SCALAR, rg, |v, _, out| {
            let (p, t) = (&v[pred.index()][..n], &v[target.index()][..n]);
            let s = p.iter().zip(t).fold(T::zero(), |acc, (&a, &b)| (a - b).mul_add(a - b, acc));
            out[0] = s / count::<T>(n);
        }))
    }

    pub fn bce_with_logits(&mut self, logits: NodeId, target: NodeId) -> Result<NodeId> {
        self.same_shape("bce_with_logits", logits, target)?;
        let n = self.shape(logits).len();
        let rg = self.any_grad(&[logits, target]);
        Ok(self.record(Op::BceLogits { logits, target }, Shape::SCALAR, rg, |v, _, out| {
            let (z, t) = (&v[logits.index()][..n], &v[target.index()][..n]);
            let s = z.iter().zip(t).fold(T::zero(), |acc, (&zi, &ti)| {
                acc + zi.max(T::zero()) - zi * ti + (-zi.abs()).exp().ln_1p()
            });
            out[0] = s / count::<T>(n);
        }))
    }

    /// Softmax cross-entropy against target rows (one-hot or soft labels).
    pub fn softmax_cross_entropy(&mut self, logits: NodeId, target: NodeId) -> Result<NodeId> {
        self.same_shape("softmax_cross_entropy", logits, target)?;
        let s = self.shape(logits);
        let rg = self.any_grad(&[logits, target]);
        Ok(self.record(Op::SoftmaxCe { logits, target }, Shape::SCALAR, rg, |v, _, out| {
            let (z, t) = (&v[logits.index()][..s.len()], &v[target.index()][..s.len()]);
            let mut total = T::zero();
            if s.cols > 0 {
                for (zr, tr) in z.chunks_exact(s.cols).zip(t.chunks_exact(s.cols)) {
                    let lse = log_sum_exp(zr);
                    total = tr.iter().zip(zr).fold(total, |acc, (&ti, &zi)| acc - ti * (zi - lse));
                }
            }
            out[0] = total / count::<T>(s.rows);
        }))
    }

    /// Softmax cross-entropy against integer class labels, one per row.
    pub fn sparse_softmax_cross_entropy(&mut self, logits: NodeId, labels: &[usize]) -> Result<NodeId> {
        const OP: &str = "sparse_softmax_cross_entropy";
        self.check_id(OP, logits)?;
        let s = self.shape(logits);
        if labels.len() != s.rows {
            return Err(Error::invalid(OP, format!("{} labels for logits {s}", labels.len())));
        }
        if let Some((row, &l)) = labels.iter().enumerate().find(|&(_, &l)| l >= s.cols) {
            return Err(Error::invalid(
                OP,
                format!("label {l} at row {row} is not below {} classes", s.cols),
            ));
        }
        let start = self.labels.len();
        self.labels.extend_from_slice(labels);
        let rg = self.any_grad(&[logits]);
        let op = Op::SparseSoftmaxCe { logits, start: start as u32 };
        Ok(self.record(op, Shape::SCALAR, rg, |v, lab, out| {
            let z = &v[logits.index()][..s.len()];
            let mut total = T::zero();
            if s.cols > 0 {
                for (zr, &l) in z.chunks_exact(s.cols).zip(&lab[start..start + s.rows]) {
                    total = total + log_sum_exp(zr) - zr[l];
                }
            }
            out[0] = total / count::<T>(s.rows);
        }))
    }

    fn same_shape(&self, op: &'static str, a: NodeId, b: NodeId) -> Result<()> {
        self.check_id(op, a)?;
        self.check_id(op, b)?;
        let (sa, sb) = (self.shape(a), self.shape(b));
        if sa != sb {
            return Err(Error::ShapeMismatch { op, lhs: sa, rhs: sb });
        }
        Ok(())
    }
}

fn count<T: Real>(n: usize) -> T {
    T::c(n.max(1) as f64)
}

fn log_sum_exp<T: Real>(row: &[T]) -> T {
    let max = row.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
    if max == T::neg_infinity() {
        return max;
    }
    max + row.iter().fold(T::zero(), |acc, &v| acc + (v - max).exp()).ln()
}

pub(crate) fn backward_mse<T: Real>(ctx: &mut Backward<'_, T>, pred: NodeId, target: NodeId) {
    let n = ctx.shape(pred).len();
    let k = ctx.gy()[0] * T::c(2.0) / count::<T>(n);
    for (node, sign) in [(pred, T::one()), (target, -T::one())] {
        let (values, _, g) = ctx.parts_for(node);
        if let Some(g) = g {
            let (p, t) = (&values[pred.index()][..n], &values[target.index()][..n]);
            for i in 0..n {
                g[i] = g[i] + sign * k * (p[i] - t[i]);
            }
        }
    }
}

pub(crate) fn backward_bce<T: Real>(ctx: &mut Backward<'_, T>, logits: NodeId, target: NodeId) {
    let n = ctx.shape(logits).len();
    let k = ctx.gy()[0] / count::<T>(n);
    let (values, _, gz) = ctx.parts_for(logits);
    if let Some(gz) = gz {
        let (z, t) = (&values[logits.index()][..n], &values[target.index()][..n]);
        for i in 0..n {
            gz[i] = gz[i] + k * (act_ref::f(Activation::Sigmoid, z[i]) - t[i]);
        }
    }
    let (values, _, gt) = ctx.parts_for(target);
    if let Some(gt) = gt {
        let z = &values[logits.index()][..n];
        for i in 0..n {
            gt[i] = gt[i] - k * z[i];
        }
    }
}

pub(crate) fn backward_softmax_ce<T: Real>(ctx: &mut Backward<'_, T>, logits: NodeId, target: NodeId) {
    let s = ctx.shape(logits);
    if s.cols == 0 {
        return;
    }
    let k = ctx.gy()[0] / count::<T>(s.rows);
    let (values, _, gz) = ctx.parts_for(logits);
    if let Some(gz) = gz {
        let (z, t) = (&values[logits.index()][..s.len()], &values[target.index()][..s.len()]);
        for ((gr, zr), tr) in
            gz.chunks_exact_mut(s.cols).zip(z.chunks_exact(s.cols)).zip(t.chunks_exact(s.cols))
        {
            let lse = log_sum_exp(zr);
            let tsum = tr.iter().fold(T::zero(), |a, &v| a + v);
            for ((g, &zi), &ti) in gr.iter_mut().zip(zr).zip(tr) {
                *g = *g + k * ((zi - lse).exp() * tsum - ti);
            }
        }
    }
    let (values, _, gt) = ctx.parts_for(target);
    if let Some(gt) = gt {
        let z = &values[logits.index()][..s.len()];
        for (gr, zr) in gt.chunks_exact_mut(s.cols).zip(z.chunks_exact(s.cols)) {
            let lse = log_sum_exp(zr);
            for (g, &zi) in gr.iter_mut().zip(zr) {
                *g = *g - k * (zi - lse);
            }
        }
    }
}

pub(crate) fn backward_sparse_ce<T: Real>(ctx: &mut Backward<'_, T>, logits: NodeId, start: u32) {
    let s = ctx.shape(logits);
    if s.cols == 0 {
        return;
    }
    let k = ctx.gy()[0] / count::<T>(s.rows);
    let labels = ctx.labels;
    let (values, _, gz) = ctx.parts_for(logits);
    let Some(gz) = gz else { return };
    let z = &values[logits.index()][..s.len()];
    let labels = &labels[start as usize..start as usize + s.rows];
    for ((gr, zr), &l) in gz.chunks_exact_mut(s.cols).zip(z.chunks_exact(s.cols)).zip(labels) {
        let lse = log_sum_exp(zr);
        for (j, (g, &zi)) in gr.iter_mut().zip(zr).enumerate() {
            let onehot = if j == l { T::one() } else { T::zero() };
            *g = *g + k * ((zi - lse).exp() - onehot);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::testing::{config, dim, values, verify};
    use crate::shape::Shape;
    use crate::tape::Tape;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        /// Gradients wrt prediction and target.
        #[test]
        fn mse_gradients((m, n) in (dim(), dim()), p in values(81, -3.0, 3.0), y in values(81, -3.0, 3.0)) {
            let s = Shape::new(m, n);
            verify("mse", &[(s, p[..s.len()].to_vec()), (s, y[..s.len()].to_vec())], |t, x| t.mse(x[0], x[1]))?;
        }

        /// Logits of both signs and large enough to reach the stable branches;
        /// targets in [0, 1]; gradients wrt both.
        #[test]
        fn bce_with_logits_gradients(
            (m, n) in (dim(), dim()),
            z in values(81, -8.0, 8.0),
            y in values(81, 0.0, 1.0),
        ) {
            let s = Shape::new(m, n);
            let inputs = [(s, z[..s.len()].to_vec()), (s, y[..s.len()].to_vec())];
            verify("bce_with_logits", &inputs, |t, x| t.bce_with_logits(x[0], x[1]))?;
        }

        /// Soft targets whose rows need not sum to one; gradients wrt logits and targets.
        #[test]
        fn softmax_cross_entropy_gradients(
            (m, n) in (dim(), dim()),
            z in values(81, -5.0, 5.0),
            y in values(81, 0.0, 1.0),
        ) {
            let s = Shape::new(m, n);
            let inputs = [(s, z[..s.len()].to_vec()), (s, y[..s.len()].to_vec())];
            verify("softmax_cross_entropy", &inputs, |t, x| t.softmax_cross_entropy(x[0], x[1]))?;
        }

        #[test]
        fn sparse_softmax_cross_entropy_gradients(
            (m, n) in (dim(), dim()),
            z in values(81, -5.0, 5.0),
            raw in proptest::collection::vec(0usize..9, 9),
        ) {
            let labels: Vec<usize> = raw[..m].iter().map(|l| l % n).collect();
            let inputs = [(Shape::new(m, n), z[..m * n].to_vec())];
            verify("sparse_softmax_cross_entropy", &inputs, |t, x| t.sparse_softmax_cross_entropy(x[0], &labels))?;
        }
    }

    /// The fused losses agree with the same losses built from plain ops.
    #[test]
    fn fused_losses_match_their_definitions() {
        let mut t = Tape::<f64>::new();
        let s = Shape::new(2, 3);
        let z = t.input(s, &[0.5, -1.0, 2.0, 30.0, -30.0, 0.1]).unwrap();
        let y = t.input(s, &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
        let ce = t.softmax_cross_entropy(z, y).unwrap();
        let sparse = t.sparse_softmax_cross_entropy(z, &[1, 0]).unwrap();
        let ls = t.log_softmax(z).unwrap();
        let manual = -(t.value(ls)[1] + t.value(ls)[3]) / 2.0;
        assert!((t.scalar(ce) - manual).abs() < 1e-12 && (t.scalar(sparse) - manual).abs() < 1e-12);
        let bce = t.bce_with_logits(z, y).unwrap();
        let manual: f64 = [0.5f64, -1.0, 2.0, 30.0, -30.0, 0.1]
            .iter()
            .zip([0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
            .map(|(&z, y)| {
                let p = 1.0 / (1.0 + (-z).exp());
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            })
            .sum::<f64>()
            / 6.0;
        assert!((t.scalar(bce) - manual).abs() < 1e-9, "{} vs {manual}", t.scalar(bce));
        let mse = t.mse(z, y).unwrap();
        assert!((t.scalar(mse) - (0.25 + 4.0 + 4.0 + 841.0 + 900.0 + 0.01) / 6.0).abs() < 1e-12);
    }

    #[test]
    fn labels_are_validated() {
        let mut t = Tape::<f64>::new();
        let z = t.input(Shape::new(2, 3), &[0.0; 6]).unwrap();
        let msg = t.sparse_softmax_cross_entropy(z, &[0, 3]).unwrap_err().to_string();
        assert_eq!(msg, "sparse_softmax_cross_entropy: label 3 at row 1 is not below 3 classes");
        let msg = t.sparse_softmax_cross_entropy(z, &[0]).unwrap_err().to_string();
        assert_eq!(msg, "sparse_softmax_cross_entropy: 1 labels for logits [2, 3]");
        let y = t.input(Shape::new(3, 2), &[0.0; 6]).unwrap();
        for msg in [
            t.mse(z, y).unwrap_err().to_string(),
            t.bce_with_logits(z, y).unwrap_err().to_string(),
            t.softmax_cross_entropy(z, y).unwrap_err().to_string(),
        ] {
            assert!(msg.ends_with(": shape mismatch: [2, 3] vs [3, 2]"), "{msg}");
        }
    }
}

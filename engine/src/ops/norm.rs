//! Batch normalisation of a training batch, as one node. Per column j over the m rows:
//!
//! - forward: μ = (Σ_i x)·(1/m), d = x − μ, σ² = (Σ_i d·d)·(1/m), s = √(1·σ² + ε), x̂ = d / s,
//!   y = x̂·γ + β;
//! - backward (g = dL/dy): dβ = Σ_i g, dγ = Σ_i g·x̂, dx̂ = g·γ, dd = dx̂ / s,
//!   ds = Σ_i −dx̂·d / s², dσ² = ds / (2s), dd += 2d·dσ²/m, dμ = −Σ_i dd, dx = dd + dμ/m.
//!
//! This is the arithmetic of the nine-node graph (mean, sub, square, mean, affine, sqrt, div, mul,
//! add) the layer recorded before, operation for operation and in that graph's order (each column
//! sum in increasing row order from zero, each contribution added as that graph's rules add it), so
//! the node's values and gradients equal that graph's to the bit: the tests build both and compare.
//! What changes is the cost: three passes over the batch forward and three back, where the nine
//! nodes made about twenty-five, most of them over broadcast operands.
use crate::error::{Error, Result};
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{Backward, Extra, NodeId, Op, Tape};

/// Layout of the node's values after its output `y` (`len = m·n`): `d` and `x̂` (`len` each),
/// then the rows μ, σ² and s (`n` each).
struct Layout {
    len: usize,
    n: usize,
}

impl Layout {
    fn d(&self) -> std::ops::Range<usize> {
        self.len..2 * self.len
    }
    fn xhat(&self) -> std::ops::Range<usize> {
        2 * self.len..3 * self.len
    }
    fn mean(&self) -> std::ops::Range<usize> {
        3 * self.len..3 * self.len + self.n
    }
    fn var(&self) -> std::ops::Range<usize> {
        3 * self.len + self.n..3 * self.len + 2 * self.n
    }
    fn sd(&self) -> std::ops::Range<usize> {
        3 * self.len + 2 * self.n..3 * self.len + 3 * self.n
    }
}

impl<T: Real> Tape<T> {
    /// Batch normalisation in training: `x` (`m × n`, `m ≥ 1`) normalised by its own column means
    /// and (biased) variances, scaled by the row `gamma` and shifted by the row `beta` (`1 × n`).
    /// The batch statistics are kept on the node: see [`Tape::batch_norm_stats`].
    pub fn batch_norm(&mut self, x: NodeId, gamma: NodeId, beta: NodeId, epsilon: f64) -> Result<NodeId> {
        const OP: &str = "batch_norm";
        for id in [x, gamma, beta] {
            self.check_id(OP, id)?;
        }
        if x == gamma || x == beta || gamma == beta {
            return Err(Error::invalid(OP, "x, gamma and beta must be three different nodes"));
        }
        let s = self.shape(x);
        let row = Shape::new(1, s.cols);
        for p in [gamma, beta] {
            if self.shape(p) != row {
                return Err(Error::ShapeMismatch { op: OP, lhs: s, rhs: self.shape(p) });
            }
        }
        if s.rows == 0 {
            return Err(Error::invalid(OP, "a batch of no rows has no statistics"));
        }
        if !(epsilon.is_finite() && epsilon >= 0.0) {
            return Err(Error::invalid(OP, format!("epsilon must be finite and ≥ 0, got {epsilon}")));
        }
        let (m, n) = (s.rows, s.cols);
        let at = Layout { len: m * n, n };
        let extra = Extra { values: 2 * at.len + 3 * n, grad_carry: 0, grad_scratch: at.len + 2 * n };
        let rg = self.any_grad(&[x, gamma, beta]);
        let op = Op::BatchNorm { x, gamma, beta, epsilon };
        Ok(self.record_with(op, s, extra, rg, |v, _, out| {
            let (xv, g, b) = (&v[x.index()][..at.len], &v[gamma.index()][..n], &v[beta.index()][..n]);
            forward(&at, m, xv, g, b, T::c(epsilon), out)
        }))
    }

    /// The batch mean and (biased) variance rows a [`Tape::batch_norm`] node computed.
    pub fn batch_norm_stats(&self, node: NodeId) -> Result<(&[T], &[T])> {
        self.check_id("batch_norm_stats", node)?;
        if !matches!(self.op(node), Op::BatchNorm { .. }) {
            return Err(Error::invalid(
                "batch_norm_stats",
                format!("node {} is not a batch_norm", node.index()),
            ));
        }
        let s = self.shape(node);
        let at = Layout { len: s.len(), n: s.cols };
        let v = &self.values[node.index()];
        Ok((&v[at.mean()], &v[at.var()]))
    }
}

/// The three passes forward: the column means, `d` with the column sums of `d·d`, then `x̂` and `y`.
fn forward<T: Real>(at: &Layout, m: usize, x: &[T], gamma: &[T], beta: &[T], eps: T, out: &mut [T]) {
    let n = at.n;
    let inv = T::one() / T::c(m as f64);
    let (y, rest) = out.split_at_mut(at.len);
    let (d, rest) = rest.split_at_mut(at.len);
    let (xhat, rest) = rest.split_at_mut(at.len);
    let (mean, rest) = rest.split_at_mut(n);
    let (var, sd) = rest.split_at_mut(n);
    if n == 0 {
        return;
    }
    mean.fill(T::zero());
    for row in x.chunks_exact(n) {
        mean.iter_mut().zip(row).for_each(|(s, &v)| *s = *s + v);
    }
    mean.iter_mut().for_each(|s| *s = *s * inv);
    var.fill(T::zero());
    for (drow, xrow) in d.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
        for (((dv, &xv), &mu), s) in drow.iter_mut().zip(xrow).zip(&*mean).zip(var.iter_mut()) {
            *dv = xv - mu;
            *s = *s + *dv * *dv;
        }
    }
    for (s, v) in sd.iter_mut().zip(var.iter_mut()) {
        *v = *v * inv;
        *s = T::one().mul_add(*v, eps).sqrt();
    }
    for ((yrow, hrow), drow) in y.chunks_exact_mut(n).zip(xhat.chunks_exact_mut(n)).zip(d.chunks_exact(n)) {
        for ((((yv, h), &dv), &s), (&g, &b)) in
            yrow.iter_mut().zip(hrow).zip(drow).zip(&*sd).zip(gamma.iter().zip(beta))
        {
            *h = dv / s;
            *yv = *h * g + b;
        }
    }
}

pub(crate) fn backward<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId, gamma: NodeId, beta: NodeId) {
    let s = ctx.out_shape();
    let (m, n) = (s.rows, s.cols);
    let at = Layout { len: m * n, n };
    if n == 0 {
        return;
    }
    let wants = |ctx: &Backward<'_, T>, id: NodeId| ctx.nodes[id.index()].requires_grad;
    let (want_x, want_g, want_b) = (wants(ctx, x), wants(ctx, gamma), wants(ctx, beta));
    // x's first contribution is written, later ones added (see `Backward::parts_for_write`).
    let x_fresh = match ctx.parts_for_write(x) {
        (_, _, Some(dest)) => dest.fresh,
        _ => false,
    };
    for (id, want) in [(gamma, want_g), (beta, want_b)] {
        if want {
            ctx.touch(id);
        }
    }
    let me = ctx.out;
    let Backward { values, grads, gy, .. } = ctx;
    let val = &values[me];
    let (d, xhat, sd) = (&val[at.d()], &val[at.xhat()], &val[at.sd()]);
    let gam = &values[gamma.index()][..n];
    let (g, scratch) = gy.split_at_mut(at.len);
    let (dd, cols) = scratch.split_at_mut(at.len);
    let (dsd, dmu) = cols[..2 * n].split_at_mut(n);
    let scale = T::one() / T::c(m as f64);
    let two = T::c(2.0);
    // Pass 1: dβ, dγ, and into the scratch dd = dx̂/s with the column sums ds.
    dsd.fill(T::zero());
    for (i, grow) in g.chunks_exact(n).enumerate() {
        let r = i * n..(i + 1) * n;
        if want_b {
            let gb = &mut grads[beta.index()][..n];
            gb.iter_mut().zip(grow).for_each(|(o, &gv)| *o = *o + gv);
        }
        if want_g {
            let gg = &mut grads[gamma.index()][..n];
            for ((o, &gv), &h) in gg.iter_mut().zip(grow).zip(&xhat[r.clone()]) {
                *o = *o + (gv * T::one() + T::zero()) * h;
            }
        }
        if want_x {
            for (((((o, s), &gv), &dv), &sdv), &gm) in
                dd[r.clone()].iter_mut().zip(dsd.iter_mut()).zip(grow).zip(&d[r.clone()]).zip(sd).zip(gam)
            {
                let gh = T::zero() + (gv * T::one() + T::zero()) * gm;
                *o = T::zero() + gh / sdv;
                *s = *s + -gh * dv / (sdv * sdv);
            }
        }
    }
    if !want_x {
        return;
    }
    // dσ² through √ and +ε, spread over the rows by the mean: one value per column, kept in dsd.
    for (s, &sdv) in dsd.iter_mut().zip(sd) {
        let dvar = (T::zero() + *s / (two * sdv)) + T::zero();
        *s = T::zero() + dvar * scale;
    }
    // Pass 2: dd += 2d·dσ²/m, with the column sums dμ = −Σ dd.
    dmu.fill(T::zero());
    for (ddrow, drow) in dd.chunks_exact_mut(n).zip(d.chunks_exact(n)) {
        for (((o, &dv), &dsq), mu) in ddrow.iter_mut().zip(drow).zip(&*dsd).zip(dmu.iter_mut()) {
            *o = *o + two * dv * dsq;
            *mu = *mu - *o;
        }
    }
    // Pass 3: dx = dd (written, or added to what x holds) + dμ/m.
    let gx = &mut grads[x.index()][..at.len];
    for (gxrow, ddrow) in gx.chunks_exact_mut(n).zip(dd.chunks_exact(n)) {
        for ((o, &ddv), &mu) in gxrow.iter_mut().zip(ddrow).zip(&*dmu) {
            let from_d = if x_fresh { ddv * T::one() + T::zero() } else { T::one().mul_add(ddv, *o) };
            *o = from_d + mu * scale;
        }
    }
}

#[cfg(test)]
mod tests;

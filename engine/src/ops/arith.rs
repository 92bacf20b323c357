//! Element-wise arithmetic with broadcasting of the right operand: `b` may
//! have `a`'s shape, one row (a bias, broadcast down the batch), one column
//! (a per-row statistic) or be 1 × 1. Rules, with gb summed over broadcast
//! positions: add ga += g, gb += g; sub gb −= g; mul ga += g·b, gb += g·a;
//! div ga += g/b, gb −= g·a/b². Affine: y = s·x + c, gx += s·g.
use crate::error::{Error, Result};
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{Backward, BinaryKind, NodeId, Op, Tape};

/// Where element `(i, j)` of `a` finds its partner in a broadcast `b`.
#[derive(Clone, Copy)]
struct Broadcast {
    cols: usize,
    b_cols: usize,
    row_step: usize,
    col_step: usize,
}

impl Broadcast {
    fn new(op: &'static str, a: Shape, b: Shape) -> Result<Self> {
        let rows_ok = b.rows == a.rows || b.rows == 1;
        let cols_ok = b.cols == a.cols || b.cols == 1;
        if !rows_ok || !cols_ok {
            return Err(Error::ShapeMismatch { op, lhs: a, rhs: b });
        }
        Ok(Broadcast {
            cols: a.cols,
            b_cols: b.cols,
            row_step: usize::from(b.rows != 1),
            col_step: usize::from(b.cols != 1),
        })
    }

    #[inline]
    fn index(&self, flat: usize) -> usize {
        let (i, j) = (flat / self.cols, flat % self.cols);
        i * self.row_step * self.b_cols + j * self.col_step
    }

    fn is_same(&self, a: Shape, b: Shape) -> bool {
        a == b
    }
}

impl<T: Real> Tape<T> {
    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryKind::Add, a, b)
    }

    pub fn sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryKind::Sub, a, b)
    }

    pub fn mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryKind::Mul, a, b)
    }

    pub fn div(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryKind::Div, a, b)
    }

    fn binary(&mut self, kind: BinaryKind, a: NodeId, b: NodeId) -> Result<NodeId> {
        let op = Op::Binary { kind, a, b };
        self.check_id(op.name(), a)?;
        self.check_id(op.name(), b)?;
        let (sa, sb) = (self.shape(a), self.shape(b));
        let bc = Broadcast::new(op.name(), sa, sb)?;
        let rg = self.any_grad(&[a, b]);
        let (ia, ib) = (a.index(), b.index());
        Ok(self.record(op, sa, rg, |v, _, out| {
            let (av, bv) = (&v[ia][..sa.len()], &v[ib][..sb.len()]);
            let f = |x: T, y: T| match kind {
                BinaryKind::Add => x + y,
                BinaryKind::Sub => x - y,
                BinaryKind::Mul => x * y,
                BinaryKind::Div => x / y,
            };
            if bc.is_same(sa, sb) {
                for ((o, &x), &y) in out.iter_mut().zip(av).zip(bv) {
                    *o = f(x, y);
                }
            } else {
                for (idx, (o, &x)) in out.iter_mut().zip(av).enumerate() {
                    *o = f(x, bv[bc.index(idx)]);
                }
            }
        }))
    }

    /// `scale·x + shift`, elementwise.
    pub fn affine(&mut self, x: NodeId, scale: f64, shift: f64) -> Result<NodeId> {
        self.check_id("affine", x)?;
        let s = self.shape(x);
        let rg = self.any_grad(&[x]);
        let (sc, sh) = (T::c(scale), T::c(shift));
        Ok(self.record(Op::Affine { x, scale, shift }, s, rg, |v, _, out| {
            for (o, &xi) in out.iter_mut().zip(&v[x.index()][..s.len()]) {
                *o = sc.mul_add(xi, sh);
            }
        }))
    }

    /// `s·x`.
    pub fn scale(&mut self, x: NodeId, s: f64) -> Result<NodeId> {
        self.affine(x, s, 0.0)
    }

    /// `x + c`.
    pub fn add_scalar(&mut self, x: NodeId, c: f64) -> Result<NodeId> {
        self.affine(x, 1.0, c)
    }
}

pub(crate) fn backward_binary<T: Real>(ctx: &mut Backward<'_, T>, kind: BinaryKind, a: NodeId, b: NodeId) {
    let (sa, sb) = (ctx.shape(a), ctx.shape(b));
    let bc = Broadcast::new("", sa, sb).expect("checked in forward");
    let (a_len, b_len) = (sa.len(), sb.len());
    // ga: same shape as the output, no reduction.
    let (values, gy, ga) = ctx.parts_for(a);
    if let Some(ga) = ga {
        let bv = &values[b.index()][..b_len];
        for (idx, (g, &gi)) in ga.iter_mut().zip(gy).enumerate() {
            let bj = bv[bc.index(idx)];
            *g = *g
                + match kind {
                    BinaryKind::Add | BinaryKind::Sub => gi,
                    BinaryKind::Mul => gi * bj,
                    BinaryKind::Div => gi / bj,
                };
        }
    }
    // gb: summed over the broadcast positions, in index order.
    let (values, gy, gb) = ctx.parts_for(b);
    if let Some(gb) = gb {
        let (av, bv) = (&values[a.index()][..a_len], &values[b.index()][..b_len]);
        for (idx, &gi) in gy.iter().enumerate() {
            let bj = bc.index(idx);
            let d = match kind {
                BinaryKind::Add => gi,
                BinaryKind::Sub => -gi,
                BinaryKind::Mul => gi * av[idx],
                BinaryKind::Div => -gi * av[idx] / (bv[bj] * bv[bj]),
            };
            gb[bj] = gb[bj] + d;
        }
    }
}

pub(crate) fn backward_affine<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId, scale: f64) {
    let s = T::c(scale);
    let (_, gy, gx) = ctx.parts_for(x);
    if let Some(gx) = gx {
        T::axpy(s, gy, gx);
    }
}

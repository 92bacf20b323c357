//! Element-wise maths: square (gx += 2x·g), sqrt (gx += g/(2y)),
//! exp (gx += y·g), log (gx += g/x).
use crate::error::Result;
use crate::real::Real;
use crate::tape::{Backward, NodeId, Op, Tape, UnaryKind};

impl<T: Real> Tape<T> {
    pub fn square(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryKind::Square, x)
    }

    pub fn sqrt(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryKind::Sqrt, x)
    }

    pub fn exp(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryKind::Exp, x)
    }

    pub fn log(&mut self, x: NodeId) -> Result<NodeId> {
        self.unary(UnaryKind::Log, x)
    }

    fn unary(&mut self, kind: UnaryKind, x: NodeId) -> Result<NodeId> {
        let op = Op::Unary { kind, x };
        self.check_id(op.name(), x)?;
        let s = self.shape(x);
        let rg = self.any_grad(&[x]);
        Ok(self.record(op, s, rg, |v, _, out| {
            let xv = &v[x.index()][..s.len()];
            match kind {
                UnaryKind::Square => out.iter_mut().zip(xv).for_each(|(o, &a)| *o = a * a),
                UnaryKind::Sqrt => out.iter_mut().zip(xv).for_each(|(o, &a)| *o = a.sqrt()),
                UnaryKind::Exp => T::exp_slice(xv, out),
                UnaryKind::Log => T::ln_slice(xv, out),
            }
        }))
    }
}

pub(crate) fn backward<T: Real>(ctx: &mut Backward<'_, T>, kind: UnaryKind, x: NodeId) {
    let len = ctx.shape(x).len();
    let out = ctx.out;
    let (values, gy, gx) = ctx.parts_for(x);
    let Some(gx) = gx else { return };
    let (xv, yv) = (&values[x.index()][..len], &values[out][..len]);
    let two = T::c(2.0);
    for i in 0..len {
        let d = match kind {
            UnaryKind::Square => two * xv[i] * gy[i],
            UnaryKind::Sqrt => gy[i] / (two * yv[i]),
            UnaryKind::Exp => yv[i] * gy[i],
            UnaryKind::Log => gy[i] / xv[i],
        };
        gx[i] = gx[i] + d;
    }
}

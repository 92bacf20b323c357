//! Element-wise maths: square (gx += 2x·g), sqrt (gx += g/(2y)),
//! exp (gx += y·g), log (gx += g/x).
use crate::error::Result;
use crate::real::Real;
use crate::tape::{Backward, Dest, NodeId, Op, Tape, UnaryKind};

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
    let (values, gy, gx) = ctx.parts_for_write(x);
    let Some(Dest { buf: gx, fresh }) = gx else { return };
    let (xv, yv) = (&values[x.index()][..len], &values[out][..len]);
    let two = T::c(2.0);
    for i in 0..len {
        let d = match kind {
            UnaryKind::Square => two * xv[i] * gy[i],
            UnaryKind::Sqrt => gy[i] / (two * yv[i]),
            UnaryKind::Exp => yv[i] * gy[i],
            UnaryKind::Log => gy[i] / xv[i],
        };
        // A first contribution is written as 0 + d, what adding it to zeros gave.
        gx[i] = if fresh { T::zero() } else { gx[i] } + d;
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::testing::{config, dim, values, values_off_zero, verify};
    use crate::shape::Shape;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn square_and_exp_gradients((m, n) in (dim(), dim()), x in values(81, -3.0, 3.0)) {
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            verify("square", &inputs, |t, x| t.square(x[0]))?;
            verify("exp", &inputs, |t, x| t.exp(x[0]))?;
        }

        /// sqrt and log on their domain, at least 0.05 from 0 where the
        /// derivatives 1/(2√x) and 1/x are still moderate.
        #[test]
        fn sqrt_and_log_gradients((m, n) in (dim(), dim()), x in values(81, 0.05, 5.0)) {
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            verify("sqrt", &inputs, |t, x| t.sqrt(x[0]))?;
            verify("log", &inputs, |t, x| t.log(x[0]))?;
        }

        /// Chained, so each rule receives a non-trivial upstream gradient.
        #[test]
        fn chained_unary_gradients((m, n) in (dim(), dim()), x in values_off_zero(81, 1.5)) {
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            verify("log(sqrt(exp(x)²))", &inputs, |t, x| {
                let e = t.exp(x[0])?;
                let s = t.square(e)?;
                let r = t.sqrt(s)?;
                t.log(r)
            })?;
        }
    }
}

//! Activations and row-wise softmax. Activation: gx += f'(x)·g, by the
//! kernels' `df` (written as 0 + f'(x)·g when it is gx's first contribution).
//! Softmax: gx = y ⊙ (g − Σⱼ gⱼyⱼ) per row. Log-softmax:
//! gx = g − softmax(x)·Σⱼ gⱼ per row, with softmax(x) = exp(y).
use crate::error::Result;
use crate::kernels::Activation;
use crate::real::Real;
use crate::tape::{Backward, Dest, NodeId, Op, Tape};

impl<T: Real> Tape<T> {
    pub fn act(&mut self, x: NodeId, act: Activation) -> Result<NodeId> {
        self.check_id(act.name(), x)?;
        let s = self.shape(x);
        let rg = self.any_grad(&[x]);
        Ok(self.record(Op::Act { x, act }, s, rg, |v, _, out| {
            T::act_forward(act, &v[x.index()][..s.len()], out)
        }))
    }

    pub fn softmax(&mut self, x: NodeId) -> Result<NodeId> {
        self.check_id("softmax", x)?;
        let s = self.shape(x);
        let rg = self.any_grad(&[x]);
        Ok(self.record(Op::Softmax { x }, s, rg, |v, _, out| {
            T::softmax_rows(s.cols, &v[x.index()][..s.len()], out)
        }))
    }

    pub fn log_softmax(&mut self, x: NodeId) -> Result<NodeId> {
        self.check_id("log_softmax", x)?;
        let s = self.shape(x);
        let rg = self.any_grad(&[x]);
        Ok(self.record(Op::LogSoftmax { x }, s, rg, |v, _, out| {
            T::log_softmax_rows(s.cols, &v[x.index()][..s.len()], out)
        }))
    }
}

pub(crate) fn backward_act<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId, act: Activation) {
    let len = ctx.shape(x).len();
    let out = ctx.out;
    let (values, gy, gx) = ctx.parts_for_write(x);
    let (xv, yv) = (&values[x.index()][..len], &values[out][..len]);
    match gx {
        Some(Dest { buf: gx, fresh: true }) => T::act_backward_write(act, xv, yv, gy, gx),
        Some(Dest { buf: gx, fresh: false }) => T::act_backward(act, xv, yv, gy, gx),
        None => {}
    }
}

pub(crate) fn backward_softmax<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId) {
    let s = ctx.shape(x);
    let out = ctx.out;
    let (values, gy, gx) = ctx.parts_for(x);
    let Some(gx) = gx else { return };
    if s.cols == 0 {
        return;
    }
    let y = &values[out][..s.len()];
    for ((gxr, gyr), yr) in
        gx.chunks_exact_mut(s.cols).zip(gy.chunks_exact(s.cols)).zip(y.chunks_exact(s.cols))
    {
        let dot = gyr.iter().zip(yr).fold(T::zero(), |acc, (&g, &yv)| g.mul_add(yv, acc));
        for ((o, &g), &yv) in gxr.iter_mut().zip(gyr).zip(yr) {
            *o = *o + yv * (g - dot);
        }
    }
}

pub(crate) fn backward_log_softmax<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId) {
    let s = ctx.shape(x);
    let out = ctx.out;
    let (values, gy, gx) = ctx.parts_for(x);
    let Some(gx) = gx else { return };
    if s.cols == 0 {
        return;
    }
    let y = &values[out][..s.len()];
    for ((gxr, gyr), yr) in
        gx.chunks_exact_mut(s.cols).zip(gy.chunks_exact(s.cols)).zip(y.chunks_exact(s.cols))
    {
        let total = gyr.iter().fold(T::zero(), |acc, &g| acc + g);
        for ((o, &g), &yv) in gxr.iter_mut().zip(gyr).zip(yr) {
            *o = *o + g - yv.exp() * total;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::testing::{config, dim, values, values_off_zero, verify};
    use crate::kernels::Activation;
    use crate::shape::Shape;
    use proptest::prelude::*;

    const ACTS: [Activation; 8] = [
        Activation::Linear,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.3 },
        Activation::Elu { alpha: 1.0 },
        Activation::Gelu,
        Activation::Softplus,
    ];

    proptest! {
        #![proptest_config(config())]

        /// Every activation; values at least `MARGIN` from the kink at 0.
        #[test]
        fn activation_gradients((m, n) in (dim(), dim()), x in values_off_zero(81, 4.0)) {
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            for act in ACTS {
                assert!(act.kinks().iter().all(|&k| k == 0.0), "kinks other than 0 need their own margin");
                verify(&act.to_string(), &inputs, |t, x| t.act(x[0], act))?;
            }
        }

        #[test]
        fn softmax_and_log_softmax_gradients((m, n) in (dim(), dim()), x in values(81, -4.0, 4.0)) {
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            verify("softmax", &inputs, |t, x| t.softmax(x[0]))?;
            verify("log_softmax", &inputs, |t, x| t.log_softmax(x[0]))?;
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_log_softmax_matches() {
        let mut t = crate::tape::Tape::<f64>::new();
        let x = t.input(Shape::new(2, 3), &[1.0, 2.0, 3.0, -500.0, 0.0, 500.0]).unwrap();
        let (s, l) = (t.softmax(x).unwrap(), t.log_softmax(x).unwrap());
        for row in t.value(s).chunks(3) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-15, "{row:?}");
        }
        for (p, lp) in t.value(s).iter().zip(t.value(l)) {
            assert!(lp.is_finite() && (p.ln() - lp).abs() < 1e-12 || *p == 0.0, "{p} vs exp({lp})");
        }
    }
}

//! Activations and row-wise softmax. Activation: gx += f'(x)·g, by the
//! kernels' `df`. Softmax: gx = y ⊙ (g − Σⱼ gⱼyⱼ) per row. Log-softmax:
//! gx = g − softmax(x)·Σⱼ gⱼ per row, with softmax(x) = exp(y).
use crate::error::Result;
use crate::kernels::Activation;
use crate::real::Real;
use crate::tape::{Backward, NodeId, Op, Tape};

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
    let (values, gy, gx) = ctx.parts_for(x);
    if let Some(gx) = gx {
        T::act_backward(act, &values[x.index()][..len], &values[out][..len], gy, gx);
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
    for ((gxr, gyr), yr) in gx.chunks_exact_mut(s.cols).zip(gy.chunks_exact(s.cols)).zip(y.chunks_exact(s.cols)) {
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
    for ((gxr, gyr), yr) in gx.chunks_exact_mut(s.cols).zip(gy.chunks_exact(s.cols)).zip(y.chunks_exact(s.cols)) {
        let total = gyr.iter().fold(T::zero(), |acc, &g| acc + g);
        for ((o, &g), &yv) in gxr.iter_mut().zip(gyr).zip(yr) {
            *o = *o + g - yv.exp() * total;
        }
    }
}

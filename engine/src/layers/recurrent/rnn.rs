//! SimpleRNN (Keras `SimpleRNN`): `h_t = tanh(x_t·W + h_{t−1}·U + b)`.
//! Its Jacobian `∂h_t/∂h_{t−1} = diag(1 − h_t²)·Uᵀ` multiplies once per step,
//! which is why its gradient over long spans vanishes (or explodes).
use super::{RecurrentConfig, Weights, check_input, check_state, finish, project, step_at};
use crate::error::Result;
use crate::layers::{Ctx, Layer, Recorded};
use crate::params::{ParamId, ParamStore};
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{CellKind, NodeId};
use rand_chacha::ChaCha8Rng;

pub struct SimpleRnn {
    name: String,
    cfg: RecurrentConfig,
    w: Weights,
    recorded: Recorded,
}

impl SimpleRnn {
    pub const KIND: &'static str = "simple_rnn";

    /// Registers `layers.{index}.simple_rnn.{kernel [F, H], recurrent_kernel
    /// [H, H], bias [1, H]}` drawn from the configured initialisers.
    pub fn new<T: Real>(
        params: &mut ParamStore<T>,
        index: usize,
        cfg: RecurrentConfig,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        Self::at(params, &format!("layers.{index}"), cfg, rng)
    }

    /// [`Self::new`] under any name prefix (`layers.3`, or a nested one such
    /// as `layers.2.residual.layers.0`): parameters `{prefix}.simple_rnn.*`.
    pub fn at<T: Real>(
        params: &mut ParamStore<T>,
        prefix: &str,
        cfg: RecurrentConfig,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let name = format!("{prefix}.{}", Self::KIND);
        cfg.validate(&name)?;
        let w = Weights::register(params, &name, &cfg, 1, Shape::new(1, cfg.units), |_| {}, rng)?;
        Ok(SimpleRnn { name, cfg, w, recorded: Recorded::default() })
    }

    pub fn config(&self) -> &RecurrentConfig {
        &self.cfg
    }

    /// Forward from a given initial state `h0` (`batch × H`), or from zero.
    pub fn forward_with_state<T: Real>(
        &mut self,
        ctx: &mut Ctx<'_, T>,
        x: NodeId,
        h0: Option<NodeId>,
    ) -> Result<NodeId> {
        let (batch, steps) = check_input(ctx.tape, &self.name, &self.cfg, x)?;
        let h = self.cfg.units;
        if let Some(h0) = h0 {
            check_state(ctx.tape, &self.name, "h", h0, batch, h)?;
        }
        let (kernel, recurrent, bias) =
            (ctx.param(self.w.kernel)?, ctx.param(self.w.recurrent)?, ctx.param(self.w.bias)?);
        let tape = &mut *ctx.tape;
        let xw = project(tape, x, kernel, batch, steps, self.cfg.features)?;
        self.recorded.hidden.clear();
        let mut state = h0;
        for t in 0..steps {
            let hu = state.map(|prev| tape.matmul(prev, recurrent)).transpose()?;
            let next = tape.cell(CellKind::Rnn, h, xw, step_at(t, steps, h), hu, None, Some(bias))?;
            self.recorded.hidden.push(next);
            state = Some(next);
        }
        finish(tape, &mut self.recorded, self.cfg.return_sequences)
    }
}

impl<T: Real> Layer<T> for SimpleRnn {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn output_width(&self, input_width: usize) -> Result<usize> {
        self.cfg.output_width(&self.name, input_width)
    }

    fn forward(&mut self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        self.forward_with_state(ctx, x, None)
    }

    fn params(&self) -> Vec<ParamId> {
        self.w.ids()
    }

    fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    fn unit_activation(&self) -> Option<crate::kernels::Activation> {
        Some(crate::kernels::Activation::Tanh)
    }
}

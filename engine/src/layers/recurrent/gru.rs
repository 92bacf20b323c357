//! GRU in Keras' default `reset_after=True` form (the cuDNN convention), gate
//! order z, r, h in every `[·, 3H]` block and a `[2, 3H]` bias whose row 0
//! joins the input and row 1 the recurrent product:
//! `a = x_t·W + b₀`, `u = h_{t−1}·U + b₁`, `z, r = σ(a_z + u_z, a_r + u_r)`,
//! `ĥ = tanh(a_h + r⊙u_h)`, `h_t = z⊙h_{t−1} + (1 − z)⊙ĥ`. (The classic
//! Cho et al. form applies `r` before the product: `tanh(a_h + (r⊙h)·U_h)`.)
use super::{RecurrentConfig, Weights, check_input, check_state, finish, project, step_at};
use crate::error::Result;
use crate::layers::{Ctx, Layer, Recorded};
use crate::params::{ParamId, ParamStore};
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{CellKind, NodeId};
use rand_chacha::ChaCha8Rng;

pub struct Gru {
    name: String,
    cfg: RecurrentConfig,
    w: Weights,
    recorded: Recorded,
}

impl Gru {
    pub const KIND: &'static str = "gru";

    /// Registers `layers.{index}.gru.{kernel [F, 3H], recurrent_kernel
    /// [H, 3H], bias [2, 3H]}` drawn from the configured initialisers.
    pub fn new<T: Real>(
        params: &mut ParamStore<T>,
        index: usize,
        cfg: RecurrentConfig,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        Self::at(params, &format!("layers.{index}"), cfg, rng)
    }

    /// [`Self::new`] under any name prefix (`layers.3`, or a nested one such
    /// as `layers.2.residual.layers.0`): parameters `{prefix}.gru.*`.
    pub fn at<T: Real>(
        params: &mut ParamStore<T>,
        prefix: &str,
        cfg: RecurrentConfig,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let name = format!("{prefix}.{}", Self::KIND);
        cfg.validate(&name)?;
        let h = cfg.units;
        let w = Weights::register(params, &name, &cfg, 3, Shape::new(2, 3 * h), |_| {}, rng)?;
        Ok(Gru { name, cfg, w, recorded: Recorded::default() })
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
            // From a zero state `u` is the recurrent bias row alone: the cell adds both rows.
            let hu = state.map(|prev| tape.matmul(prev, recurrent)).transpose()?;
            let at = step_at(t, steps, 3 * h);
            let next = tape.cell(CellKind::Gru, h, xw, at, hu, state, Some(bias))?;
            self.recorded.hidden.push(next);
            state = Some(next);
        }
        finish(tape, &mut self.recorded, self.cfg.return_sequences)
    }
}

impl<T: Real> Layer<T> for Gru {
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
}

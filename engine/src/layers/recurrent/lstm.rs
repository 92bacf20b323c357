//! LSTM (Keras `LSTM`, gate order i, f, c, o in every `[·, 4H]` block):
//! `z = x_t·W + h_{t−1}·U + b`, `i, f, o = σ(z_i, z_f, z_o)`, `g = tanh(z_c)`,
//! `c_t = f⊙c_{t−1} + i⊙g`, `h_t = o⊙tanh(c_t)`. The additive cell path
//! (`∂c_t/∂c_{t−1} = diag(f)`) is what carries gradient across long spans.
use super::{RecurrentConfig, Weights, check_input, check_state, finish, project, step_at};
use crate::error::Result;
use crate::layers::{Ctx, Layer, Recorded};
use crate::params::{ParamId, ParamStore};
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{CellKind, NodeId};
use rand_chacha::ChaCha8Rng;

pub struct Lstm {
    name: String,
    cfg: RecurrentConfig,
    w: Weights,
    recorded: Recorded,
    /// The cell state after the last step of the last forward pass.
    last_cell: Option<NodeId>,
}

impl Lstm {
    pub const KIND: &'static str = "lstm";

    /// Registers `layers.{index}.lstm.{kernel [F, 4H], recurrent_kernel
    /// [H, 4H], bias [1, 4H]}`; the bias is drawn from `cfg.bias_initializer`
    /// (zeros by default) except the forget block, set to `cfg.forget_bias` (1 by default).
    pub fn new<T: Real>(
        params: &mut ParamStore<T>,
        index: usize,
        cfg: RecurrentConfig,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        Self::at(params, &format!("layers.{index}"), cfg, rng)
    }

    /// [`Self::new`] under any name prefix (`layers.3`, or a nested one such
    /// as `layers.2.residual.layers.0`): parameters `{prefix}.lstm.*`.
    pub fn at<T: Real>(
        params: &mut ParamStore<T>,
        prefix: &str,
        cfg: RecurrentConfig,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let name = format!("{prefix}.{}", Self::KIND);
        cfg.validate(&name)?;
        let h = cfg.units;
        let forget = |b: &mut [f64]| {
            if let Some(v) = cfg.forget_bias {
                b[h..2 * h].iter_mut().for_each(|x| *x = v);
            }
        };
        let w = Weights::register(params, &name, &cfg, 4, Shape::new(1, 4 * h), forget, rng)?;
        Ok(Lstm { name, cfg, w, recorded: Recorded::default(), last_cell: None })
    }

    pub fn config(&self) -> &RecurrentConfig {
        &self.cfg
    }

    /// The final `(h, c)` of the last forward pass (Keras `return_state`).
    pub fn final_state(&self) -> Option<(NodeId, NodeId)> {
        Some((*self.recorded.hidden.last()?, self.last_cell?))
    }

    /// Forward from a given initial state `(h0, c0)` (each `batch × H`), or from zero.
    pub fn forward_with_state<T: Real>(
        &mut self,
        ctx: &mut Ctx<'_, T>,
        x: NodeId,
        initial: Option<(NodeId, NodeId)>,
    ) -> Result<NodeId> {
        let (batch, steps) = check_input(ctx.tape, &self.name, &self.cfg, x)?;
        let h = self.cfg.units;
        if let Some((h0, c0)) = initial {
            check_state(ctx.tape, &self.name, "h", h0, batch, h)?;
            check_state(ctx.tape, &self.name, "c", c0, batch, h)?;
        }
        let (kernel, recurrent, bias) =
            (ctx.param(self.w.kernel)?, ctx.param(self.w.recurrent)?, ctx.param(self.w.bias)?);
        let tape = &mut *ctx.tape;
        let xw = project(tape, x, kernel, batch, steps, self.cfg.features)?;
        self.recorded.hidden.clear();
        let (mut hs, mut cs) = (initial.map(|s| s.0), initial.map(|s| s.1));
        for t in 0..steps {
            let hu = hs.map(|prev| tape.matmul(prev, recurrent)).transpose()?;
            // The cell node is h_t and carries c_t for the next step.
            let at = step_at(t, steps, 4 * h);
            let cell = tape.cell(CellKind::Lstm, h, xw, at, hu, cs, Some(bias))?;
            self.recorded.hidden.push(cell);
            hs = Some(cell);
            cs = Some(cell);
        }
        let last = *self.recorded.hidden.last().expect("at least one step was checked");
        self.last_cell = Some(tape.cell_state(last)?);
        finish(tape, &mut self.recorded, self.cfg.return_sequences)
    }
}

impl<T: Real> Layer<T> for Lstm {
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

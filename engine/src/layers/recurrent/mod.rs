//! Recurrent layers (SimpleRNN, LSTM, GRU) written on the tape, with the parts
//! they share: input checks, the input projection of every step at once, the
//! output (whole sequence or last state) and Keras' default initial weights.
//!
//! A sequence of `T` steps of `F` features arrives as one `batch × (T·F)`
//! node, step-major within a row. Each layer multiplies every step's input by
//! its kernel in one product (the input does not depend on the state), then
//! walks the steps in order, each step one product `h_{t−1}·U` and one cell
//! node (`ops::recurrent`) that reads step `t`'s rows of that product in
//! place and does all the gate maths. Backpropagation through time is the tape's ordinary
//! reverse sweep over this unrolled graph; the hidden state of every step is
//! a node of its own, listed in [`Recorded::hidden`], so `tape.grad(h_t)`
//! reads `dL/dh_t` after backward.
//!
//! A zero initial state is not materialised: the first step simply omits the
//! recurrent term (`0·U = 0`), which is exact and saves one product.
//!
//! [`Recorded::hidden`]: crate::layers::Recorded
mod config;
mod gru;
mod lstm;
mod rnn;

pub use config::{Recurrent, RecurrentKind};

pub use gru::Gru;
pub use lstm::Lstm;
pub use rnn::SimpleRnn;

use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::layers::Recorded;
use crate::ops::recurrent::StepAt;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};
use rand_chacha::ChaCha8Rng;

/// Configuration shared by the recurrent layers (Keras argument names).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecurrentConfig {
    /// Width `H` of the hidden state.
    pub units: usize,
    /// Width `F` of one step of the input.
    pub features: usize,
    /// Return every step's state (`batch × T·H`) instead of the last (`batch × H`).
    pub return_sequences: bool,
    /// The `[F, G·H]` input kernel's draw (Keras default `glorot_uniform`).
    pub kernel_initializer: Initializer,
    /// The `[H, G·H]` recurrent kernel's draw (Keras default `orthogonal`).
    pub recurrent_initializer: Initializer,
    /// The bias's draw (Keras default `zeros`).
    pub bias_initializer: Initializer,
    /// LSTM only: the forget-gate block of the bias starts at this value
    /// (Keras `unit_forget_bias` is 1, Jozefowicz et al. 2015, so the cell
    /// remembers by default); `None` leaves it to `bias_initializer`.
    pub forget_bias: Option<f64>,
}

impl RecurrentConfig {
    /// `units` hidden units over steps of `features` values; last state only,
    /// glorot_uniform / orthogonal / zeros, forget-gate bias 1 (Keras' defaults).
    pub fn new(units: usize, features: usize) -> Self {
        RecurrentConfig {
            units,
            features,
            return_sequences: false,
            kernel_initializer: Initializer::GlorotUniform,
            recurrent_initializer: Initializer::Orthogonal { gain: 1.0 },
            bias_initializer: Initializer::Zeros,
            forget_bias: Some(1.0),
        }
    }

    pub fn return_sequences(mut self, yes: bool) -> Self {
        self.return_sequences = yes;
        self
    }

    /// LSTM only: start the forget-gate bias at 1 (Keras' default) or 0.
    pub fn unit_forget_bias(mut self, yes: bool) -> Self {
        self.forget_bias = Some(if yes { 1.0 } else { 0.0 });
        self
    }

    /// LSTM only: start the forget-gate bias at `value` (`None`: from `bias_initializer`).
    pub fn forget_bias(mut self, value: Option<f64>) -> Self {
        self.forget_bias = value;
        self
    }

    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = init;
        self
    }

    pub fn recurrent_initializer(mut self, init: Initializer) -> Self {
        self.recurrent_initializer = init;
        self
    }

    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.bias_initializer = init;
        self
    }

    fn validate(&self, layer: &str) -> Result<()> {
        if self.units == 0 {
            return Err(config(layer, "units must be at least 1, got 0"));
        }
        if self.features == 0 {
            return Err(config(layer, "features per step must be at least 1, got 0"));
        }
        let inits = [
            ("kernel_initializer", self.kernel_initializer),
            ("recurrent_initializer", self.recurrent_initializer),
            ("bias_initializer", self.bias_initializer),
        ];
        for (what, init) in inits {
            init.validate().map_err(|e| config(layer, format!("{what}: {e}")))?;
        }
        if let Some(b) = self.forget_bias.filter(|b| !b.is_finite()) {
            return Err(config(layer, format!("forget_bias must be finite, got {b}")));
        }
        Ok(())
    }

    /// Steps in an input of `width` columns.
    fn steps(&self, layer: &str, width: usize) -> Result<usize> {
        if width == 0 || !width.is_multiple_of(self.features) {
            return Err(config(
                layer,
                format!(
                    "input width {width} is not a positive multiple of {} features per step",
                    self.features
                ),
            ));
        }
        Ok(width / self.features)
    }

    fn output_width(&self, layer: &str, input_width: usize) -> Result<usize> {
        let steps = self.steps(layer, input_width)?;
        Ok(if self.return_sequences { steps * self.units } else { self.units })
    }
}

fn config(layer: &str, msg: impl Into<String>) -> Error {
    Error::Config { layer: layer.to_string(), msg: msg.into() }
}

/// The parameters every recurrent layer has, registered under
/// `layers.{index}.{kind}.{kernel, recurrent_kernel, bias}`.
#[derive(Clone, Copy, Debug)]
struct Weights {
    kernel: crate::params::ParamId,
    recurrent: crate::params::ParamId,
    bias: crate::params::ParamId,
}

impl Weights {
    /// Registers `[F, G·H]`, `[H, G·H]` and a bias of `bias_shape`, drawn in
    /// that order from the configured initialisers; `fix_bias` then sets
    /// what the cell fixes in the bias (the LSTM's forget block).
    fn register<T: Real>(
        params: &mut crate::params::ParamStore<T>,
        name: &str,
        cfg: &RecurrentConfig,
        gates: usize,
        bias_shape: Shape,
        fix_bias: impl FnOnce(&mut [f64]),
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let (f, h) = (cfg.features, cfg.units);
        let (kernel, recurrent) = initial_weights(rng, cfg, gates)?;
        let mut bias = cfg.bias_initializer.sample(bias_shape, rng)?;
        fix_bias(&mut bias);
        let conv = |v: Vec<f64>| v.into_iter().map(T::c).collect::<Vec<T>>();
        Ok(Weights {
            kernel: params.add(format!("{name}.kernel"), Shape::new(f, gates * h), conv(kernel))?,
            recurrent: params.add(
                format!("{name}.recurrent_kernel"),
                Shape::new(h, gates * h),
                conv(recurrent),
            )?,
            bias: params.add(format!("{name}.bias"), bias_shape, conv(bias))?,
        })
    }

    fn ids(&self) -> Vec<crate::params::ParamId> {
        vec![self.kernel, self.recurrent, self.bias]
    }
}

/// Batch size and step count of an input node, checked against the layer.
fn check_input<T: Real>(
    tape: &Tape<T>,
    layer: &str,
    cfg: &RecurrentConfig,
    x: NodeId,
) -> Result<(usize, usize)> {
    if x.index() >= tape.len() {
        return Err(config(layer, format!("input node {} is not on this tape", x.index())));
    }
    let s = tape.shape(x);
    Ok((s.rows, cfg.steps(layer, s.cols)?))
}

/// Checks that a given initial state is `batch × units`.
fn check_state<T: Real>(
    tape: &Tape<T>,
    layer: &str,
    what: &str,
    node: NodeId,
    batch: usize,
    units: usize,
) -> Result<()> {
    if node.index() >= tape.len() {
        return Err(config(layer, format!("initial {what} node {} is not on this tape", node.index())));
    }
    let s = tape.shape(node);
    if s != Shape::new(batch, units) {
        return Err(config(layer, format!("initial {what} has shape {s}, expected [{batch}, {units}]")));
    }
    Ok(())
}

/// `x_t·W` for every step at once, as `(batch·T) × G·H`: the packed input
/// read as `(batch·T) × F` rows is exactly one row per (sample, step), and
/// row `r·T + t` (sample `r`, step `t`) is where [`step_at`] points the cell.
/// The bias is added inside each step's cell, not in a pass of its own.
fn project<T: Real>(
    tape: &mut Tape<T>,
    x: NodeId,
    kernel: NodeId,
    batch: usize,
    steps: usize,
    features: usize,
) -> Result<NodeId> {
    let rows = tape.reshape(x, Shape::new(batch * steps, features))?;
    tape.matmul(rows, kernel)
}

/// Where step `t` of `steps` sits in [`project`]'s product of width `width`.
fn step_at(t: usize, steps: usize, width: usize) -> StepAt {
    StepAt { stride: steps * width, offset: t * width }
}

/// The layer's output: every recorded hidden state side by side, or the last.
fn finish<T: Real>(tape: &mut Tape<T>, recorded: &mut Recorded, return_sequences: bool) -> Result<NodeId> {
    let last = *recorded.hidden.last().expect("at least one step was checked");
    let out = if return_sequences { tape.concat_cols(&recorded.hidden)? } else { last };
    recorded.output = Some(out);
    recorded.pre_activation = None;
    Ok(out)
}

/// The initial weights of a layer of `gates` blocks of `units`: the
/// `[features, gates·units]` input kernel from `cfg.kernel_initializer`
/// (Keras: `glorot_uniform`, limit `√(6/(fan_in + fan_out))`), then the
/// `[units, gates·units]` recurrent kernel from `cfg.recurrent_initializer`
/// (Keras: `orthogonal`, whose rows are then orthonormal, `U·Uᵀ = I`). Both
/// draw from the one shared sampler of [`Initializer`]. Row-major, in f64.
fn initial_weights(
    rng: &mut ChaCha8Rng,
    cfg: &RecurrentConfig,
    gates: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let cols = gates * cfg.units;
    let kernel = cfg.kernel_initializer.sample(Shape::new(cfg.features, cols), rng)?;
    let recurrent = cfg.recurrent_initializer.sample(Shape::new(cfg.units, cols), rng)?;
    Ok((kernel, recurrent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn recurrent_kernel_rows_are_orthonormal() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for gates in [1, 3, 4] {
            let (kernel, u) = initial_weights(&mut rng, &RecurrentConfig::new(6, 5), gates).unwrap();
            assert_eq!(kernel.len(), 5 * 6 * gates);
            let cols = 6 * gates;
            for a in 0..6 {
                for b in 0..6 {
                    let dot: f64 = (0..cols).map(|j| u[a * cols + j] * u[b * cols + j]).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-12, "gates {gates}: U·Uᵀ[{a},{b}] = {dot}");
                }
            }
        }
    }

    #[test]
    fn input_kernel_is_glorot_uniform() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (kernel, _) = initial_weights(&mut rng, &RecurrentConfig::new(20, 40), 4).unwrap();
        let limit = (6.0f64 / 120.0).sqrt();
        assert!(kernel.iter().all(|w| w.abs() <= limit));
        // Uniform on [-l, l] has variance l²/3; 3200 draws pin it to a few percent.
        let var = kernel.iter().map(|w| w * w).sum::<f64>() / kernel.len() as f64;
        assert!((var / (limit * limit / 3.0) - 1.0).abs() < 0.1, "variance {var}");
    }

    #[test]
    fn same_seed_same_weights() {
        let cfg = RecurrentConfig::new(4, 3);
        let a = initial_weights(&mut ChaCha8Rng::seed_from_u64(1), &cfg, 4).unwrap();
        let b = initial_weights(&mut ChaCha8Rng::seed_from_u64(1), &cfg, 4).unwrap();
        let c = initial_weights(&mut ChaCha8Rng::seed_from_u64(2), &cfg, 4).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn configured_initialisers_set_each_weight() {
        let cfg = RecurrentConfig::new(6, 5)
            .kernel_initializer(Initializer::Constant(0.25))
            .recurrent_initializer(Initializer::Orthogonal { gain: 0.5 });
        let (kernel, u) = initial_weights(&mut ChaCha8Rng::seed_from_u64(3), &cfg, 4).unwrap();
        assert!(kernel.iter().all(|&w| w == 0.25));
        // gain·Q: the rows are orthogonal with squared norm gain² = 0.25.
        let cols = 24;
        for a in 0..6 {
            for b in 0..6 {
                let dot: f64 = (0..cols).map(|j| u[a * cols + j] * u[b * cols + j]).sum();
                let want = if a == b { 0.25 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12, "U·Uᵀ[{a},{b}] = {dot}");
            }
        }
    }
}

//! Normalisation layers, composed from tape ops so their backward pass is
//! exact by construction (the tape differentiates through mean and variance).
//! - `BatchNormalization`: per feature over the batch (axis `Rows`). Training
//!   uses the batch mean and biased variance and updates the moving
//!   statistics, m ← momentum·m + (1 − momentum)·batch; inference uses them.
//!   In training the composed graph is one `batch_norm` node (`ops::norm`),
//!   which replays that graph's arithmetic and rules to the bit.
//! - `LayerNormalization`: per sample over its features (axis `Cols`).
//!
//! Both compute y = γ·(x − μ)/√(σ² + ε) + β with Keras' defaults (momentum
//! 0.99, ε = 1e-3). Names: `layers.{i}.batch_normalization.{gamma, beta,
//! moving_mean, moving_variance}`, `layers.{i}.layer_normalization.{gamma, beta}`.
use super::{Buffer, Builder, InitArg, Layer, LayerConfig, Recorded, parse_init};
use crate::error::{Error, Result};
use crate::params::ParamId;
use crate::real::Real;
use crate::shape::{Axis, Shape};
use crate::tape::NodeId;

const BN: &str = "batch_normalization";
const LN: &str = "layer_normalization";

/// Keras-like configuration of batch normalisation.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormalization {
    pub momentum: f64,
    pub epsilon: f64,
    pub gamma_initializer: InitArg,
    pub beta_initializer: InitArg,
}

impl Default for BatchNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchNormalization {
    pub fn new() -> Self {
        BatchNormalization {
            momentum: 0.99,
            epsilon: 1e-3,
            gamma_initializer: "ones".into(),
            beta_initializer: "zeros".into(),
        }
    }

    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self
    }

    pub fn epsilon(mut self, e: f64) -> Self {
        self.epsilon = e;
        self
    }
}

/// Keras-like configuration of layer normalisation.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormalization {
    pub epsilon: f64,
    pub gamma_initializer: InitArg,
    pub beta_initializer: InitArg,
}

impl Default for LayerNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerNormalization {
    pub fn new() -> Self {
        LayerNormalization {
            epsilon: 1e-3,
            gamma_initializer: "ones".into(),
            beta_initializer: "zeros".into(),
        }
    }

    pub fn epsilon(mut self, e: f64) -> Self {
        self.epsilon = e;
        self
    }
}

/// γ and β of width `width`, after checking ε and the width.
fn scale_shift<T: Real>(
    b: &mut Builder<'_, T>,
    kind: &'static str,
    width: usize,
    epsilon: f64,
    gamma: &InitArg,
    beta: &InitArg,
) -> Result<(ParamId, ParamId)> {
    if width == 0 {
        return Err(b.error(kind, "input width is 0"));
    }
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(b.error(kind, format!("epsilon must be positive and finite, got {epsilon}")));
    }
    let gi = parse_init(b, kind, "gamma_initializer", gamma)?;
    let bi = parse_init(b, kind, "beta_initializer", beta)?;
    let g = b.param(kind, "gamma", Shape::new(1, width), &gi)?;
    let be = b.param(kind, "beta", Shape::new(1, width), &bi)?;
    Ok((g, be))
}

fn check_width(kind: &'static str, name: &str, width: usize, given: usize) -> Result<usize> {
    if given != width {
        return Err(Error::Config {
            layer: format!("{name} ({kind})"),
            msg: format!("built for input width {width}, given {given}"),
        });
    }
    Ok(width)
}

impl<T: Real> LayerConfig<T> for BatchNormalization {
    fn kind(&self) -> &'static str {
        BN
    }

    fn build(&self, b: &mut Builder<'_, T>, width: usize) -> Result<Box<dyn Layer<T>>> {
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(b.error(BN, format!("momentum must lie in [0, 1], got {}", self.momentum)));
        }
        let (gamma, beta) =
            scale_shift(b, BN, width, self.epsilon, &self.gamma_initializer, &self.beta_initializer)?;
        let buffer = |name: &str, v: f64| Buffer {
            name: format!("{}.{BN}.{name}", b.prefix),
            shape: Shape::new(1, width),
            value: vec![T::c(v); width],
        };
        Ok(Box::new(BatchNormLayer {
            name: b.place.clone(),
            width,
            momentum: self.momentum,
            epsilon: self.epsilon,
            gamma,
            beta,
            moving_mean: buffer("moving_mean", 0.0),
            moving_variance: buffer("moving_variance", 1.0),
            inv_std: vec![T::zero(); width],
            recorded: Recorded::default(),
        }))
    }
}

/// A built batch-normalisation layer.
pub struct BatchNormLayer<T> {
    name: String,
    width: usize,
    momentum: f64,
    epsilon: f64,
    gamma: ParamId,
    beta: ParamId,
    moving_mean: Buffer<T>,
    moving_variance: Buffer<T>,
    /// 1/√(moving variance + ε), refreshed at each inference pass.
    inv_std: Vec<T>,
    recorded: Recorded,
}

impl<T: Real> BatchNormLayer<T> {
    pub fn moving_mean(&self) -> &[T] {
        &self.moving_mean.value
    }

    pub fn moving_variance(&self) -> &[T] {
        &self.moving_variance.value
    }
}

impl<T: Real> Layer<T> for BatchNormLayer<T> {
    fn kind(&self) -> &'static str {
        BN
    }

    fn output_width(&self, input_width: usize) -> Result<usize> {
        check_width(BN, &self.name, self.width, input_width)
    }

    fn forward(&mut self, ctx: &mut super::Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.tape.shape(x);
        if s.cols != self.width {
            return Err(Error::ShapeMismatch { op: BN, lhs: s, rhs: Shape::new(1, self.width) });
        }
        let (gamma, beta) = (ctx.param(self.gamma)?, ctx.param(self.beta)?);
        let t = &mut *ctx.tape;
        let y = if ctx.training {
            if s.rows == 0 {
                return Err(Error::invalid(BN, "training on an empty batch"));
            }
            // One node (`ops::norm`) with the arithmetic of the graph mean, sub, square, mean, +ε,
            // sqrt, div, ·γ, +β, to the bit, in a fraction of its passes.
            let y = t.batch_norm(x, gamma, beta, self.epsilon)?;
            let (mu, var) = t.batch_norm_stats(y)?;
            // Moving statistics follow the batch's (biased) variance, as Keras does.
            let (m, keep) = (T::c(self.momentum), T::c(1.0 - self.momentum));
            for (mm, &b) in self.moving_mean.value.iter_mut().zip(mu) {
                *mm = m * *mm + keep * b;
            }
            for (mv, &b) in self.moving_variance.value.iter_mut().zip(var) {
                *mv = m * *mv + keep * b;
            }
            y
        } else {
            let eps = T::c(self.epsilon);
            for (inv, &v) in self.inv_std.iter_mut().zip(&self.moving_variance.value) {
                *inv = T::one() / (v + eps).sqrt();
            }
            let row = Shape::new(1, self.width);
            let mean = t.input(row, &self.moving_mean.value)?;
            let inv = t.input(row, &self.inv_std)?;
            let d = t.sub(x, mean)?;
            let xhat = t.mul(d, inv)?;
            let scaled = t.mul(xhat, gamma)?;
            t.add(scaled, beta)?
        };
        self.recorded.pre_activation = None;
        self.recorded.output = Some(y);
        Ok(y)
    }

    fn params(&self) -> Vec<ParamId> {
        vec![self.gamma, self.beta]
    }

    fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    fn visit_buffers(&self, f: &mut dyn FnMut(&Buffer<T>)) {
        f(&self.moving_mean);
        f(&self.moving_variance);
    }

    fn visit_buffers_mut(&mut self, f: &mut dyn FnMut(&mut Buffer<T>)) {
        f(&mut self.moving_mean);
        f(&mut self.moving_variance);
    }
}

impl<T: Real> LayerConfig<T> for LayerNormalization {
    fn kind(&self) -> &'static str {
        LN
    }

    fn build(&self, b: &mut Builder<'_, T>, width: usize) -> Result<Box<dyn Layer<T>>> {
        let (gamma, beta) =
            scale_shift(b, LN, width, self.epsilon, &self.gamma_initializer, &self.beta_initializer)?;
        Ok(Box::new(LayerNormLayer {
            name: b.place.clone(),
            width,
            epsilon: self.epsilon,
            gamma,
            beta,
            recorded: Recorded::default(),
        }))
    }
}

/// A built layer-normalisation layer.
pub struct LayerNormLayer {
    name: String,
    width: usize,
    epsilon: f64,
    gamma: ParamId,
    beta: ParamId,
    recorded: Recorded,
}

impl<T: Real> Layer<T> for LayerNormLayer {
    fn kind(&self) -> &'static str {
        LN
    }

    fn output_width(&self, input_width: usize) -> Result<usize> {
        check_width(LN, &self.name, self.width, input_width)
    }

    fn forward(&mut self, ctx: &mut super::Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.tape.shape(x);
        if s.cols != self.width {
            return Err(Error::ShapeMismatch { op: LN, lhs: s, rhs: Shape::new(1, self.width) });
        }
        let (gamma, beta) = (ctx.param(self.gamma)?, ctx.param(self.beta)?);
        let t = &mut *ctx.tape;
        let mu = t.mean_axis(x, Axis::Cols)?;
        let d = t.sub(x, mu)?;
        let sq = t.square(d)?;
        let var = t.mean_axis(sq, Axis::Cols)?;
        let ve = t.add_scalar(var, self.epsilon)?;
        let sd = t.sqrt(ve)?;
        let xhat = t.div(d, sd)?;
        let scaled = t.mul(xhat, gamma)?;
        let y = t.add(scaled, beta)?;
        self.recorded.output = Some(y);
        Ok(y)
    }

    fn params(&self) -> Vec<ParamId> {
        vec![self.gamma, self.beta]
    }

    fn recorded(&self) -> &Recorded {
        &self.recorded
    }
}

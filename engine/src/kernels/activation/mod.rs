//! Element-wise activations, each described by its value `f` and derivative
//! `df`. The backward kernels accumulate: `gx += f'(x) · gy`.
pub mod reference;
mod simd;
#[cfg(test)]
mod tests;

use crate::kernels::hot_pool::{self, Parts};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Linear,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu {
        alpha: f64,
    },
    Elu {
        alpha: f64,
    },
    /// Exact GELU, `x·Φ(x)` (Keras `approximate=False`, PyTorch's default).
    Gelu,
    Softplus,
}

impl Activation {
    pub const ALL_NAMES: [&'static str; 8] =
        ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus"];

    /// Keras-style name.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
        }
    }

    /// Parses a Keras-style name with Keras' default parameters
    /// (leaky_relu alpha 0.3 as in Keras' `LeakyReLU`; elu alpha 1.0).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "linear" | "identity" => Activation::Linear,
            "sigmoid" | "logistic" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" => Activation::LeakyRelu { alpha: 0.3 },
            "elu" => Activation::Elu { alpha: 1.0 },
            "gelu" => Activation::Gelu,
            "softplus" => Activation::Softplus,
            _ => return None,
        })
    }

    /// Points where the derivative jumps; gradient checks keep inputs away.
    pub fn kinks(&self) -> &'static [f64] {
        match self {
            Activation::Relu | Activation::LeakyRelu { .. } | Activation::Elu { .. } => &[0.0],
            _ => &[],
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu { alpha } => write!(f, "leaky_relu({alpha})"),
            Activation::Elu { alpha } => write!(f, "elu({alpha})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Elements below which an activation pass stays whole on the calling thread: a part of 4096
/// sigmoids is a few microseconds, well above a hot-pool split's cost.
const PAR_MIN_PART: usize = 4096;

/// f32 forward, SIMD (see `simd.rs`; the accuracy bounds are in `tests.rs`). In a hot run, long
/// passes are cut into the team's consecutive parts (`hot_pool`), the parts the products before
/// them split C into; every element is computed alone, so the cut changes no bit.
pub fn forward_f32(act: Activation, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "activation forward: input and output lengths differ");
    let out = Parts::new(y);
    hot_pool::for_parts(x.len(), 16, PAR_MIN_PART, &|r| {
        // SAFETY: for_parts hands out disjoint ranges.
        simd::forward(act, &x[r.clone()], unsafe { out.range(r) })
    });
}

/// f32 backward, `gx += f'(x)·gy`, given `y = f(x)`; cut like [`forward_f32`].
pub fn backward_f32(act: Activation, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    backward_by_parts(simd::backward, act, x, y, gy, gx);
}

/// f32 backward into a buffer that holds nothing yet: `gx = f'(x)·gy + 0`,
/// bit for bit [`backward_f32`] into zeros (the backward's first
/// contribution, written without zeroing and reading the buffer first).
pub fn backward_write_f32(act: Activation, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    backward_by_parts(simd::backward_write, act, x, y, gy, gx);
}

type BackwardKernel = fn(Activation, &[f32], &[f32], &[f32], &mut [f32]);

/// Runs a backward kernel over the hot run's parts, like [`forward_f32`].
fn backward_by_parts(
    kernel: BackwardKernel,
    act: Activation,
    x: &[f32],
    y: &[f32],
    gy: &[f32],
    gx: &mut [f32],
) {
    let n = x.len();
    assert!(y.len() == n && gy.len() == n && gx.len() == n, "activation backward: slice lengths differ");
    let out = Parts::new(gx);
    hot_pool::for_parts(n, 16, PAR_MIN_PART, &|r| {
        let (x, y, gy) = (&x[r.clone()], &y[r.clone()], &gy[r.clone()]);
        // SAFETY: for_parts hands out disjoint ranges.
        kernel(act, x, y, gy, unsafe { out.range(r) })
    });
}

//! Element-wise activations, each described by its value `f` and derivative
//! `df`. The backward kernels accumulate: `gx += f'(x) · gy`.
pub mod reference;
mod simd;
#[cfg(test)]
mod tests;

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

/// f32 forward, SIMD (see `simd.rs`; the accuracy bounds are in `tests.rs`).
pub fn forward_f32(act: Activation, x: &[f32], y: &mut [f32]) {
    simd::forward(act, x, y);
}

/// f32 backward, `gx += f'(x)·gy`, given `y = f(x)`.
pub fn backward_f32(act: Activation, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    simd::backward(act, x, y, gy, gx);
}

/// f32 backward into a buffer that holds nothing yet: `gx = f'(x)·gy + 0`,
/// bit for bit [`backward_f32`] into zeros (the backward's first
/// contribution, written without zeroing and reading the buffer first).
pub fn backward_write_f32(act: Activation, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    simd::backward_write(act, x, y, gy, gx);
}

//! Theory to hold measurements against: Gaussian quadrature, the mean-field
//! theory of deep random networks (variance and correlation maps, the
//! gradient factor χ₁, depth scales, the edge of chaos), and the measured
//! input–output Jacobian spectrum of a random network built on the tape.
//!
//! `quadrature` (Gauss–Hermite/Legendre rules) ← `integrate` (1-D and 2-D
//! Gaussian expectations, split at kinks) ← `meanfield`; `network` (random
//! deep nets on the tape) ← `jacobian` (J, its SVD, summary statistics).
pub mod integrate;
pub mod jacobian;
pub mod meanfield;
#[cfg(test)]
mod meanfield_tests;
pub mod network;
pub mod quadrature;

pub use jacobian::{Jacobian, SpectrumStats, histogram};
pub use meanfield::{Analysis, MeanField, VarianceFixedPoint, critical_sigma_w, gradient_norm_ratio};
pub use network::{DeepNet, Recorded, WeightKind, gaussian_matrix, orthogonal_matrix};
pub use quadrature::{GaussHermite, GaussLegendre};

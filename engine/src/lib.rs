//! gradlab's engine: explicit-SIMD kernels, a tape-based reverse-mode
//! autodiff, and (built on them) the layers and diagnostics the experiments use.
//!
//! Data flow: `kernels` (slices in, slices out) ← `tape` (records ops, runs the
//! backward sweep) ← `ops` (one file per op family: forward, backward rule,
//! gradient check) ← everything that trains.
pub mod clip;
pub mod data;
pub mod diagnose;
pub mod error;
pub mod gradcheck;
pub mod init;
pub mod kernels;
pub mod layers;
pub mod model;
pub mod monitor;
pub mod ops;
pub mod optim;
pub mod params;
pub mod real;
pub mod shape;
pub mod tape;
pub mod theory;

pub use error::{Error, Result};
pub use kernels::{Activation, Gemm};
pub use real::Real;
pub use shape::{Axis, Shape};
pub use tape::{NodeId, Tape};

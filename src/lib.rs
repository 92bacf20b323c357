//! gradlab: a laboratory for vanishing and exploding gradients.
//!
//! This root crate re-exports [`engine`] so that the workspace's top-level
//! `tests/`, `benches/` and `examples/` are ordinary Cargo targets.
pub use engine::*;

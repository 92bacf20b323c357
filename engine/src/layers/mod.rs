//! Layers: model parts written on the tape, with Keras-like names. Each layer
//! owns the ids of its parameters (values live in the [`ParamStore`]) and
//! records its forward computation on the tape; the tape differentiates it.
//!
//! Tensors are 2-D (batch × features). A sequence of `T` steps of `F`
//! features is packed as one `batch × (T·F)` node, step-major within a row
//! (step t occupies columns `t·F .. (t+1)·F`); recurrent layers slice it.
use crate::error::Result;
use crate::params::ParamStore;
use crate::real::Real;
use crate::tape::{NodeId, Tape};
use rand_chacha::ChaCha8Rng;

/// Everything a layer's forward pass needs for one step.
pub struct Ctx<'a, T: Real> {
    pub tape: &'a mut Tape<T>,
    pub params: &'a mut ParamStore<T>,
    /// Training mode: batch statistics in batch norm, dropout active.
    pub training: bool,
    /// Seeded generator for dropout masks.
    pub rng: &'a mut ChaCha8Rng,
}

impl<T: Real> Ctx<'_, T> {
    /// The tape node of a parameter in this step.
    pub fn param(&mut self, id: crate::params::ParamId) -> Result<NodeId> {
        self.params.bind(self.tape, id)
    }
}

/// What the diagnostics read of a layer after a step: the nodes it recorded.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// Pre-activation (when the layer has one) and output nodes.
    pub pre_activation: Option<NodeId>,
    pub output: Option<NodeId>,
    /// Recurrent layers: the hidden state at each time step.
    pub hidden: Vec<NodeId>,
}

pub trait Layer<T: Real>: Send {
    /// Keras-like kind name, e.g. `dense`, `batch_normalization`, `lstm`.
    fn kind(&self) -> &'static str;
    /// Output width for an input width; an error names the layer and value.
    fn output_width(&self, input_width: usize) -> Result<usize>;
    /// Records the forward computation of `x` on the tape.
    fn forward(&mut self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId>;
    /// Ids of this layer's trainable parameters.
    fn params(&self) -> Vec<crate::params::ParamId>;
    /// The nodes recorded by the last forward pass.
    fn recorded(&self) -> &Recorded;
}

pub mod dense;
pub mod dropout;
pub mod norm;
pub mod recurrent;
pub mod residual;

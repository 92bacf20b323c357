//! Layers: model parts written on the tape, with Keras-like names. Each layer
//! owns the ids of its parameters (values live in the [`ParamStore`]) and
//! records its forward computation on the tape; the tape differentiates it.
//!
//! Tensors are 2-D (batch × features). A sequence of `T` steps of `F`
//! features is packed as one `batch × (T·F)` node, step-major within a row
//! (step t occupies columns `t·F .. (t+1)·F`); recurrent layers slice it.
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::params::ParamStore;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};
use rand_chacha::ChaCha8Rng;

/// Everything a layer's forward pass needs for one step.
pub struct Ctx<'a, T: Real> {
    /// The tape to record on, holding the parameters (see [`Tape::bind_param`]).
    pub tape: &'a mut Tape<T>,
    /// Training mode: batch statistics in batch norm, dropout active.
    pub training: bool,
    /// Seeded generator for dropout masks.
    pub rng: &'a mut ChaCha8Rng,
}

impl<T: Real> Ctx<'_, T> {
    /// The tape node of a parameter in this step.
    pub fn param(&mut self, id: crate::params::ParamId) -> Result<NodeId> {
        self.tape.bind_param(id)
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

    /// The element-wise activation applied at this layer's output, so the
    /// monitor can count saturated and dead units; `None` when the output is
    /// not squashed by one (a logits head, normalisation, a softmax).
    fn unit_activation(&self) -> Option<crate::kernels::Activation> {
        None
    }

    /// Layers nested inside this one (a residual block's stack), so the
    /// diagnostics can read their recorded nodes too.
    fn children(&self) -> &[Box<dyn Layer<T>>] {
        &[]
    }
    /// Non-trainable state (batch norm's moving statistics), saved in checkpoints.
    fn visit_buffers(&self, _f: &mut dyn FnMut(&Buffer<T>)) {}
    fn visit_buffers_mut(&mut self, _f: &mut dyn FnMut(&mut Buffer<T>)) {}
    /// The squashing function at the output, for losses applied from logits.
    fn output_act(&self) -> OutputAct {
        OutputAct::Other
    }
    /// Asks a sigmoid/softmax output layer to emit its logits (its
    /// pre-activation) as output; the model applies the squash itself.
    /// Returns whether the layer did so.
    fn emit_logits(&mut self, _on: bool) -> bool {
        false
    }
}

/// The output squash a loss can absorb: sigmoid into binary cross-entropy,
/// softmax into categorical cross-entropy, both computed stably from logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputAct {
    Sigmoid,
    Softmax,
    Other,
}

/// A named non-trainable tensor owned by a layer.
#[derive(Clone, Debug)]
pub struct Buffer<T> {
    /// Dotted name, e.g. `layers.2.batch_normalization.moving_mean`.
    pub name: String,
    pub shape: Shape,
    pub value: Vec<T>,
}

/// A layer's configuration (Keras-like arguments) before it knows its input
/// width. Building validates it, creates its parameters in the store under
/// `prefix` and returns the layer.
pub trait LayerConfig<T: Real>: Send {
    fn kind(&self) -> &'static str;
    fn build(&self, b: &mut Builder<'_, T>, input_width: usize) -> Result<Box<dyn Layer<T>>>;
}

/// A layer configuration from a closure, so any layer written against
/// [`Layer`] joins a `Sequential` stack: the closure gets the builder (store,
/// generator, name prefix) and the input width.
pub struct FnConfig<F> {
    kind: &'static str,
    build: F,
}

/// `Sequential::new(4).add(from_fn("lstm", |b, width| ...))`.
pub fn from_fn<T, F>(kind: &'static str, build: F) -> FnConfig<F>
where
    T: Real,
    F: Fn(&mut Builder<'_, T>, usize) -> Result<Box<dyn Layer<T>>> + Send,
{
    FnConfig { kind, build }
}

impl<T, F> LayerConfig<T> for FnConfig<F>
where
    T: Real,
    F: Fn(&mut Builder<'_, T>, usize) -> Result<Box<dyn Layer<T>>> + Send,
{
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn build(&self, b: &mut Builder<'_, T>, input_width: usize) -> Result<Box<dyn Layer<T>>> {
        (self.build)(b, input_width)
    }
}

/// What building a layer needs: the store to create parameters in, the
/// seeded generator initialisers draw from, and where the layer sits.
/// The most bytes a model's parameters (values and gradients) may take: 4 GiB, 7000 times the
/// largest model this lab trains (MNIST 784-128x4, 0.6 MB) and under a laptop's memory, so a typo in
/// a layer's width is an error rather than an allocation failure that aborts the process.
pub const PARAM_BUDGET_BYTES: u64 = 4 << 30;

pub struct Builder<'a, T: Real> {
    pub params: &'a mut ParamStore<T>,
    pub rng: &'a mut ChaCha8Rng,
    /// Name prefix of this layer's parameters, e.g. `layers.3`.
    pub prefix: String,
    /// Human-readable position for errors, e.g. `layer 3`.
    pub place: String,
}

impl<'a, T: Real> Builder<'a, T> {
    pub fn new(params: &'a mut ParamStore<T>, rng: &'a mut ChaCha8Rng, index: usize) -> Self {
        Builder { params, rng, prefix: format!("layers.{index}"), place: format!("layer {index}") }
    }

    /// A configuration error naming the layer (position and kind).
    pub fn error(&self, kind: &str, msg: impl Into<String>) -> Error {
        Error::Config { layer: format!("{} ({kind})", self.place), msg: msg.into() }
    }

    /// Refuses a parameter that would take the model's parameters (values and gradients) over
    /// [`PARAM_BUDGET_BYTES`], before anything is allocated for it: an error naming the layer and the
    /// bytes, where allocating would abort the process.
    fn check_budget(&self, kind: &str, name: &str, shape: Shape) -> Result<()> {
        let per_value = 2 * std::mem::size_of::<T>() as u128; // the value and its gradient
        let need = shape.rows as u128 * shape.cols as u128 * per_value;
        let held: u128 = self.params.iter().map(|(_, p)| p.value.len() as u128 * per_value).sum();
        if held + need > u128::from(PARAM_BUDGET_BYTES) {
            return Err(self.error(
                kind,
                format!(
                    "{name} of {} x {} would need {need} bytes for its values and gradients ({held} bytes \
                     already held), over the parameter budget of {PARAM_BUDGET_BYTES} bytes: use fewer units",
                    shape.rows, shape.cols
                ),
            ));
        }
        Ok(())
    }

    /// Creates `{prefix}.{kind}.{name}` of `shape`, drawn from `init`.
    pub fn param(
        &mut self,
        kind: &str,
        name: &str,
        shape: Shape,
        init: &Initializer,
    ) -> Result<crate::params::ParamId> {
        self.check_budget(kind, name, shape)?;
        let value = init.sample(shape, self.rng).map_err(|e| self.error(kind, format!("{name}: {e}")))?;
        self.params.add(format!("{}.{kind}.{name}", self.prefix), shape, value)
    }

    /// A builder for a layer nested under this one, e.g. the `j`-th layer of
    /// a residual block: prefix `layers.3.residual.layers.{j}`.
    pub fn nested(&mut self, kind: &str, j: usize) -> Builder<'_, T> {
        Builder {
            prefix: format!("{}.{kind}.layers.{j}", self.prefix),
            place: format!("{} ({kind}) > layer {j}", self.place),
            params: self.params,
            rng: self.rng,
        }
    }
}

/// Parses an initialiser name for a layer's argument, as a config error.
pub(crate) fn parse_init<T: Real>(
    b: &Builder<'_, T>,
    kind: &str,
    arg: &str,
    init: &InitArg,
) -> Result<Initializer> {
    let parsed = match init {
        InitArg::Name(n) => Initializer::from_name(n),
        InitArg::Value(i) => Ok(*i),
    };
    let init = parsed.map_err(|e| b.error(kind, format!("{arg}: {e}")))?;
    init.validate().map_err(|e| b.error(kind, format!("{arg}: {e}")))?;
    Ok(init)
}

/// An initialiser argument: a Keras name or a configured value.
#[derive(Clone, Debug, PartialEq)]
pub enum InitArg {
    Name(String),
    Value(Initializer),
}

impl From<&str> for InitArg {
    fn from(s: &str) -> Self {
        InitArg::Name(s.to_string())
    }
}

impl From<Initializer> for InitArg {
    fn from(i: Initializer) -> Self {
        InitArg::Value(i)
    }
}

pub mod activation;
pub mod dense;
pub mod dropout;
pub mod norm;
pub mod recurrent;
pub mod residual;

pub use activation::Activation;
pub use dense::Dense;
pub use dropout::Dropout;
pub use norm::{BatchNormalization, LayerNormalization};
pub use residual::Residual;

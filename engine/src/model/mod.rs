//! Models: a [`Sequential`] builder (input width, then layer configurations)
//! that builds a [`Model`] owning its layers, parameters and tape; training
//! ([`fit`], with optional per-epoch validation), evaluation and prediction, the summary table and safetensors
//! checkpoints live in the submodules.
//!
//! Output squashes and losses: a sigmoid or softmax output layer emits its
//! logits and the model applies the squash itself, so binary and categorical
//! cross-entropy are computed stably from logits and [`Model::predict`]
//! returns probabilities.
pub mod checkpoint;
pub mod fit;
pub mod spec;
pub mod summary;

pub use fit::{EpochLog, Evaluation, FitConfig, FnHook, History, NoHook, StepHook, StepView};
pub use spec::{LayerSpec, ModelSpec};
pub use summary::SummaryRow;

use crate::data::MatrixView;
use crate::error::{Error, Result};
use crate::kernels::Activation;
use crate::layers::{Builder, Ctx, Layer, LayerConfig, OutputAct};
use crate::params::ParamStore;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// Training losses by their Keras names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Mean squared error on the (squashed) output.
    #[serde(alias = "mean_squared_error")]
    Mse,
    /// From logits: the pre-sigmoid output, or the raw output of a non-sigmoid layer.
    BinaryCrossentropy,
    /// From logits against one-hot (or soft) target rows.
    CategoricalCrossentropy,
    /// From logits against integer class labels.
    SparseCategoricalCrossentropy,
}

impl Loss {
    pub const ALL_NAMES: [&'static str; 4] =
        ["mse", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"];

    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "mse" | "mean_squared_error" => Loss::Mse,
            "binary_crossentropy" => Loss::BinaryCrossentropy,
            "categorical_crossentropy" => Loss::CategoricalCrossentropy,
            "sparse_categorical_crossentropy" => Loss::SparseCategoricalCrossentropy,
            other => {
                return Err(Error::invalid(
                    "loss",
                    format!("unknown loss {other:?}; known: {}", Self::ALL_NAMES.join(", ")),
                ));
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::BinaryCrossentropy => "binary_crossentropy",
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
        }
    }
}

/// What each sample is trained towards.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, T> {
    /// One row of values per sample.
    Values(MatrixView<'a, T>),
    /// One class label per sample, each below `classes`.
    Labels { labels: &'a [usize], classes: usize },
}

/// A borrowed data set: one row of `x` per sample, and its targets.
#[derive(Clone, Copy, Debug)]
pub struct Data<'a, T> {
    pub x: MatrixView<'a, T>,
    pub targets: Targets<'a, T>,
}

impl<'a, T> Data<'a, T> {
    /// Inputs with value targets (regression, or one-hot/soft rows).
    pub fn values(x: MatrixView<'a, T>, y: MatrixView<'a, T>) -> Self {
        Data { x, targets: Targets::Values(y) }
    }

    /// Inputs with class labels below `classes`.
    pub fn labels(x: MatrixView<'a, T>, labels: &'a [usize], classes: usize) -> Self {
        Data { x, targets: Targets::Labels { labels, classes } }
    }

    pub fn rows(&self) -> usize {
        self.x.rows()
    }

    /// The first `n` rows (all of them when there are fewer).
    pub fn head(&self, n: usize) -> Self {
        let n = n.min(self.rows());
        let targets = match &self.targets {
            Targets::Values(y) => Targets::Values(y.head(n)),
            Targets::Labels { labels, classes } => {
                Targets::Labels { labels: &labels[..n.min(labels.len())], classes: *classes }
            }
        };
        Data { x: self.x.head(n), targets }
    }
}

impl<'a> From<&'a crate::data::Dataset> for Data<'a, f32> {
    fn from(d: &'a crate::data::Dataset) -> Self {
        let targets = match &d.targets {
            crate::data::Targets::Classes { labels, classes } => {
                Targets::Labels { labels, classes: *classes }
            }
            crate::data::Targets::Values { y, width } => Targets::Values(MatrixView::leading_rows(y, *width)),
        };
        Data { x: d.x_view(), targets }
    }
}

/// A stack of layer configurations, built in order from the input width.
pub struct Sequential<T: Real> {
    input_width: usize,
    layers: Vec<Box<dyn LayerConfig<T>>>,
    seed: u64,
}

impl<T: Real> Sequential<T> {
    pub fn new(input_width: usize) -> Self {
        Sequential { input_width, layers: Vec::new(), seed: 0 }
    }

    /// Appends a layer (Keras' `model.add`).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl LayerConfig<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends an already boxed layer configuration (what [`ModelSpec`] builds).
    pub fn add_boxed(mut self, layer: Box<dyn LayerConfig<T>>) -> Self {
        self.layers.push(layer);
        self
    }

    /// Seed of the initialisers' generator.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates every layer in order and creates its parameters; an error
    /// names the first bad layer (index and kind) and the value.
    pub fn build(self) -> Result<Model<T>> {
        if self.input_width == 0 {
            return Err(Error::Config {
                layer: "input".into(),
                msg: "input width must be positive, got 0".into(),
            });
        }
        if self.layers.is_empty() {
            return Err(Error::Config {
                layer: "model".into(),
                msg: "a model needs at least one layer".into(),
            });
        }
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut widths = Vec::with_capacity(self.layers.len());
        let mut width = self.input_width;
        for (i, cfg) in self.layers.iter().enumerate() {
            let layer = cfg.build(&mut Builder::new(&mut params, &mut rng, i), width)?;
            width = layer.output_width(width)?;
            widths.push(width);
            layers.push(layer);
        }
        let last = layers.last_mut().expect("at least one layer");
        let head = if last.emit_logits(true) { last.output_act() } else { OutputAct::Other };
        Ok(Model {
            input_width: self.input_width,
            output_width: width,
            layers,
            widths,
            tape: Tape::with_params(params),
            rng: ChaCha8Rng::seed_from_u64(self.seed),
            head,
            yb: Vec::new(),
            lb: Vec::new(),
            order: Vec::new(),
        })
    }
}

/// A built model: layers, their parameters, the tape it records on, and the
/// batch buffers training reuses from step to step.
pub struct Model<T: Real> {
    input_width: usize,
    output_width: usize,
    layers: Vec<Box<dyn Layer<T>>>,
    /// Output width of each layer.
    widths: Vec<usize>,
    /// The tape, holding the parameters.
    tape: Tape<T>,
    /// Dropout masks' generator (reseeded by each `fit`).
    rng: ChaCha8Rng,
    head: OutputAct,
    yb: Vec<T>,
    lb: Vec<usize>,
    order: Vec<usize>,
}

impl<T: Real> Model<T> {
    pub fn input_width(&self) -> usize {
        self.input_width
    }

    pub fn output_width(&self) -> usize {
        self.output_width
    }

    pub fn layers(&self) -> &[Box<dyn Layer<T>>] {
        &self.layers
    }

    /// The parameters (the tape's store: see [`Tape::params`]).
    pub fn params(&self) -> &ParamStore<T> {
        self.tape.params()
    }

    pub fn params_mut(&mut self) -> &mut ParamStore<T> {
        self.tape.params_mut()
    }

    pub fn tape(&self) -> &Tape<T> {
        &self.tape
    }

    /// The squash the model applies after the last layer's logits.
    pub fn head(&self) -> OutputAct {
        self.head
    }

    /// Clears the tape and records a forward pass of `x` (`rows × input_width`);
    /// returns the last layer's output (the logits when the model has a head).
    pub fn forward(&mut self, x: &[T], training: bool) -> Result<NodeId> {
        let shape = Shape::new(self.rows_of(x)?, self.input_width);
        record_forward(&mut self.tape, &mut self.layers, &mut self.rng, x, shape, training)
    }

    /// Probabilities for sigmoid/softmax outputs, raw outputs otherwise;
    /// inference mode, `rows × output_width` values.
    pub fn predict(&mut self, x: &[T]) -> Result<Vec<T>> {
        let out = self.forward(x, false)?;
        let y = self.apply_head(out)?;
        Ok(self.tape.value(y).to_vec())
    }

    fn apply_head(&mut self, out: NodeId) -> Result<NodeId> {
        match self.head {
            OutputAct::Sigmoid => self.tape.act(out, Activation::Sigmoid),
            OutputAct::Softmax => self.tape.softmax(out),
            OutputAct::Other => Ok(out),
        }
    }

    fn rows_of(&self, x: &[T]) -> Result<usize> {
        if !x.len().is_multiple_of(self.input_width) {
            return Err(Error::invalid(
                "model input",
                format!("{} values are not a whole number of rows of width {}", x.len(), self.input_width),
            ));
        }
        Ok(x.len() / self.input_width)
    }
}

/// Records input and layers on a cleared tape: the one forward path that
/// training, evaluation and prediction share.
fn record_forward<T: Real>(
    tape: &mut Tape<T>,
    layers: &mut [Box<dyn Layer<T>>],
    rng: &mut ChaCha8Rng,
    x: &[T],
    shape: Shape,
    training: bool,
) -> Result<NodeId> {
    tape.clear();
    if x.len() != shape.len() {
        return Err(Error::invalid(
            "leaf",
            format!("shape {shape} needs {} values, got {}", shape.len(), x.len()),
        ));
    }
    record_forward_with(tape, layers, rng, shape, training, |out| out.copy_from_slice(x))
}

/// [`record_forward`] with the input written by `fill` straight into the
/// input node (every element of it), so a batch gathered from a data set
/// is copied once, not into a batch buffer first.
fn record_forward_with<T: Real>(
    tape: &mut Tape<T>,
    layers: &mut [Box<dyn Layer<T>>],
    rng: &mut ChaCha8Rng,
    shape: Shape,
    training: bool,
    fill: impl FnOnce(&mut [T]),
) -> Result<NodeId> {
    tape.clear();
    let mut h = tape.input_with(shape, fill);
    let mut ctx = Ctx { tape, training, rng };
    for layer in layers.iter_mut() {
        h = layer.forward(&mut ctx, h)?;
    }
    Ok(h)
}

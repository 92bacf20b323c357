//! The model language: a sequential model as data (`inputs` and a list of
//! layers, each tagged by `type`), deserialised once from a scenario file or
//! any serde format and built into a [`Sequential`]. Names are Keras': layer
//! types `dense`, `activation`, `batch_normalization`, `layer_normalization`,
//! `dropout`, `residual`, `simple_rnn`, `lstm`, `gru`; initialisers as
//! [`Initializer::from_name`] parses them (`orthogonal(gain=0.5)`,
//! `constant(-1.5)`, `random_normal(stddev=0.01)`); activations as the dense
//! layer parses them (`relu`, `leaky_relu(0.1)`, `softmax`). Every layer takes
//! `repeat = N` for N copies in a row. Unknown keys and names are errors that
//! say what was expected; [`ModelSpec::validate`] checks the widths through
//! the stack and names the offending entry of `layers` before anything is built.
//!
//! ```toml
//! model = { inputs = 64, layers = [
//!   { type = "dense", units = 32, kernel_initializer = "he_normal" },
//!   { type = "batch_normalization" },
//!   { type = "activation", activation = "relu" },
//!   { type = "dense", units = 10, activation = "softmax" },
//! ] }
//! ```
use super::{Model, Sequential};
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::kernels::Activation as Act;
use crate::layers::dense::{DenseAct, parse_activation};
use crate::layers::recurrent::{Recurrent, RecurrentConfig, RecurrentKind};
use crate::layers::{
    Activation, BatchNormalization, Dense, Dropout, LayerConfig, LayerNormalization, Residual,
};
use crate::real::Real;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// A sequential model: `layers` applied in order to rows of `inputs` values
/// (a sequence of T steps of F features is `inputs = T·F`, step-major).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub inputs: usize,
    pub layers: Vec<LayerSpec>,
}

/// One entry of `layers`, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    Dense(DenseSpec),
    /// A standalone activation, e.g. after a batch normalisation.
    Activation(ActivationSpec),
    BatchNormalization(BatchNormSpec),
    LayerNormalization(LayerNormSpec),
    Dropout(DropoutSpec),
    /// `y = x + F(x)`: F as `layers` of this language, or the short form,
    /// two dense layers of `units` (the first with the activation, the
    /// second linear); a projection on the skip when the width changes.
    Residual(ResidualSpec),
    SimpleRnn(RecurrentSpec),
    Lstm(RecurrentSpec),
    Gru(RecurrentSpec),
}

/// An initialiser by its Keras name, with parameters in parentheses, parsed
/// by the engine's one parser when the model is read.
#[derive(Clone, Debug, PartialEq)]
pub struct InitSpec {
    /// As written, e.g. `random_normal(stddev=0.01)`.
    pub name: String,
    pub init: Initializer,
}

impl InitSpec {
    pub fn parse(name: &str) -> Result<Self> {
        let init = Initializer::from_name(name)?;
        init.validate()?;
        Ok(InitSpec { name: name.to_string(), init })
    }

    /// Whether parameters were written in parentheses.
    fn has_arguments(&self) -> bool {
        self.name.contains('(')
    }
}

impl<'de> Deserialize<'de> for InitSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        InitSpec::parse(&name).map_err(|e| D::Error::custom(e.to_string()))
    }
}

/// An activation by name: an element-wise one (`leaky_relu(0.1)`) or `softmax`.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationName {
    pub name: String,
    pub act: DenseAct,
}

impl ActivationName {
    pub fn parse(name: &str) -> std::result::Result<Self, String> {
        Ok(ActivationName { name: name.to_string(), act: parse_activation(name)? })
    }
}

impl<'de> Deserialize<'de> for ActivationName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ActivationName::parse(&name).map_err(D::Error::custom)
    }
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// `dense` (and the two layers of a `residual` block).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    pub units: usize,
    /// Default `linear`.
    #[serde(default)]
    pub activation: Option<ActivationName>,
    /// Slope (leaky_relu) or scale (elu) of the negative side.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Default `glorot_uniform`; `initializer` is accepted for it.
    #[serde(default, alias = "initializer")]
    pub kernel_initializer: Option<InitSpec>,
    /// The standard deviation of a plain `random_normal` kernel, the bound of a plain `random_uniform` one.
    #[serde(default)]
    pub scale: Option<f64>,
    /// Default `zeros`.
    #[serde(default)]
    pub bias_initializer: Option<InitSpec>,
    #[serde(default = "yes")]
    pub use_bias: bool,
    #[serde(default = "one")]
    pub repeat: usize,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationSpec {
    pub activation: ActivationName,
    #[serde(default)]
    pub alpha: Option<f64>,
    #[serde(default = "one")]
    pub repeat: usize,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNormSpec {
    /// Of the moving statistics (Keras default 0.99).
    #[serde(default)]
    pub momentum: Option<f64>,
    /// Keras default 1e-3.
    #[serde(default)]
    pub epsilon: Option<f64>,
    #[serde(default = "one")]
    pub repeat: usize,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerNormSpec {
    /// Keras default 1e-3.
    #[serde(default)]
    pub epsilon: Option<f64>,
    #[serde(default = "one")]
    pub repeat: usize,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropoutSpec {
    pub rate: f64,
    #[serde(default = "one")]
    pub repeat: usize,
}

/// `residual`: the branch F as nested `layers`, or as `units` (with the
/// dense keys) for dense(units, activation) → dense(units, linear).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidualSpec {
    /// The branch, any layers of this language (nested blocks included).
    #[serde(default)]
    pub layers: Option<Vec<LayerSpec>>,
    /// The short form's width.
    #[serde(default)]
    pub units: Option<usize>,
    #[serde(default)]
    pub activation: Option<ActivationName>,
    #[serde(default)]
    pub alpha: Option<f64>,
    #[serde(default, alias = "initializer")]
    pub kernel_initializer: Option<InitSpec>,
    #[serde(default)]
    pub scale: Option<f64>,
    #[serde(default)]
    pub bias_initializer: Option<InitSpec>,
    #[serde(default)]
    pub use_bias: Option<bool>,
    /// Of the skip's projection when F changes the width (default `glorot_uniform`).
    #[serde(default)]
    pub projection_initializer: Option<InitSpec>,
    /// `false`: no skip, y = F(x), a plain block that `repeat` can stack (default true).
    #[serde(default)]
    pub skip: Option<bool>,
    #[serde(default = "one")]
    pub repeat: usize,
}

impl ResidualSpec {
    /// The short form's dense layer (`None` for the `layers` form), or why the block is neither.
    fn short(&self) -> std::result::Result<Option<DenseSpec>, String> {
        let dense_keys = self.activation.is_some()
            || self.alpha.is_some()
            || self.kernel_initializer.is_some()
            || self.scale.is_some()
            || self.bias_initializer.is_some()
            || self.use_bias.is_some();
        match (&self.layers, self.units) {
            (Some(_), None) if dense_keys => {
                Err("with `layers`, the dense keys (activation, initializers, ...) belong to those layers"
                    .into())
            }
            (Some(l), None) if l.is_empty() => Err("`layers` is empty".into()),
            (Some(_), None) => Ok(None),
            (None, Some(units)) => Ok(Some(DenseSpec {
                units,
                activation: self.activation.clone(),
                alpha: self.alpha,
                kernel_initializer: self.kernel_initializer.clone(),
                scale: self.scale,
                bias_initializer: self.bias_initializer.clone(),
                use_bias: self.use_bias.unwrap_or(true),
                repeat: 1,
            })),
            _ => Err("needs either `units` (two dense layers) or `layers` (the branch), not both".into()),
        }
    }
}

/// `simple_rnn`, `lstm`, `gru` over an input of T steps of `features` values.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurrentSpec {
    pub units: usize,
    /// Values per step. Left out, it is the previous recurrent layer's
    /// `units` when that one returns sequences, else the whole input width
    /// (a single step).
    #[serde(default)]
    pub features: Option<usize>,
    /// Default `glorot_uniform`.
    #[serde(default)]
    pub kernel_initializer: Option<InitSpec>,
    /// Default `orthogonal`.
    #[serde(default)]
    pub recurrent_initializer: Option<InitSpec>,
    /// Default `zeros`.
    #[serde(default)]
    pub bias_initializer: Option<InitSpec>,
    /// LSTM only: the forget-gate bias at initialisation (default 1).
    #[serde(default)]
    pub forget_bias: Option<f64>,
    /// Output every step's state instead of the last.
    #[serde(default)]
    pub return_sequences: bool,
    #[serde(default = "one")]
    pub repeat: usize,
}

impl LayerSpec {
    /// The `type` as written.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Dense(_) => "dense",
            LayerSpec::Activation(_) => "activation",
            LayerSpec::BatchNormalization(_) => "batch_normalization",
            LayerSpec::LayerNormalization(_) => "layer_normalization",
            LayerSpec::Dropout(_) => "dropout",
            LayerSpec::Residual(_) => "residual",
            LayerSpec::SimpleRnn(_) => "simple_rnn",
            LayerSpec::Lstm(_) => "lstm",
            LayerSpec::Gru(_) => "gru",
        }
    }

    pub fn repeat(&self) -> usize {
        match self {
            LayerSpec::Dense(d) => d.repeat,
            LayerSpec::Residual(r) => r.repeat,
            LayerSpec::Activation(a) => a.repeat,
            LayerSpec::BatchNormalization(b) => b.repeat,
            LayerSpec::LayerNormalization(l) => l.repeat,
            LayerSpec::Dropout(d) => d.repeat,
            LayerSpec::SimpleRnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r) => r.repeat,
        }
    }

    pub fn is_recurrent(&self) -> bool {
        matches!(self, LayerSpec::SimpleRnn(_) | LayerSpec::Lstm(_) | LayerSpec::Gru(_))
    }

    /// The element-wise activation of a dense, residual or activation layer, `alpha` applied.
    pub fn activation(&self) -> Option<DenseAct> {
        match self {
            LayerSpec::Dense(d) => d.activation().ok(),
            LayerSpec::Residual(r) => r.short().ok().flatten().and_then(|d| d.activation().ok()),
            LayerSpec::Activation(a) => with_alpha(Some(&a.activation), a.alpha).ok(),
            _ => None,
        }
    }

    /// Checks this entry on an input of `width` values; returns its output width.
    fn output_width(&self, width: usize, prev_sequence: Option<usize>) -> std::result::Result<usize, String> {
        if self.repeat() == 0 {
            return Err("`repeat` must be at least 1".into());
        }
        let (mut w, mut sequence) = (width, prev_sequence);
        for _ in 0..self.repeat() {
            w = self.one_output_width(w, sequence)?;
            sequence = next_sequence(self, sequence);
        }
        Ok(w)
    }

    fn one_output_width(
        &self,
        width: usize,
        prev_sequence: Option<usize>,
    ) -> std::result::Result<usize, String> {
        match self {
            LayerSpec::Dense(d) => {
                d.check()?;
                Ok(d.units)
            }
            LayerSpec::Residual(r) => match (r.short()?, &r.layers) {
                (Some(d), _) => {
                    d.check()?;
                    Ok(d.units)
                }
                (None, Some(layers)) => stack_width(layers, width, prev_sequence)
                    .map_err(|(i, kind, msg)| format!("in its layers[{i}] ({kind}): {msg}")),
                (None, None) => unreachable!("short() checked the form"),
            },
            LayerSpec::Activation(a) => with_alpha(Some(&a.activation), a.alpha).map(|_| width),
            LayerSpec::BatchNormalization(b) => {
                if let Some(m) = b.momentum.filter(|m| !(0.0..1.0).contains(m)) {
                    return Err(format!("momentum must lie in [0, 1), got {m}"));
                }
                positive_epsilon(b.epsilon).map(|_| width)
            }
            LayerSpec::LayerNormalization(l) => positive_epsilon(l.epsilon).map(|_| width),
            LayerSpec::Dropout(d) if (0.0..1.0).contains(&d.rate) => Ok(width),
            LayerSpec::Dropout(d) => Err(format!("`rate` must lie in [0, 1), got {}", d.rate)),
            LayerSpec::SimpleRnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r) => {
                if r.units == 0 {
                    return Err("`units` must be at least 1, got 0".into());
                }
                if r.forget_bias.is_some() && !matches!(self, LayerSpec::Lstm(_)) {
                    return Err("`forget_bias` applies to lstm only".into());
                }
                if let Some(b) = r.forget_bias.filter(|b| !b.is_finite()) {
                    return Err(format!("`forget_bias` must be finite, got {b}"));
                }
                let f = r.features(prev_sequence).unwrap_or(width);
                if f == 0 || width == 0 || !width.is_multiple_of(f) {
                    return Err(format!(
                        "input of {width} values is not a positive number of steps of {f} features"
                    ));
                }
                Ok(if r.return_sequences { width / f * r.units } else { r.units })
            }
        }
    }

    /// The engine layer configurations of this entry, `repeat` expanded, on
    /// an input of `width` values; returns them with the output width.
    fn configs<T: Real>(
        &self,
        mut width: usize,
        prev_sequence: Option<usize>,
    ) -> (Vec<Box<dyn LayerConfig<T>>>, usize) {
        let mut out = Vec::with_capacity(self.repeat());
        let mut sequence = prev_sequence;
        for _ in 0..self.repeat() {
            out.push(self.config(width, sequence));
            width = self.one_output_width(width, sequence).expect("validated");
            sequence = next_sequence(self, sequence);
        }
        (out, width)
    }

    fn config<T: Real>(&self, width: usize, prev_sequence: Option<usize>) -> Box<dyn LayerConfig<T>> {
        match self {
            LayerSpec::Dense(d) => Box::new(d.dense(true)),
            // F(x) = dense(act) then dense(linear), y = x + F(x).
            LayerSpec::Residual(r) => {
                let mut block = Residual::new();
                match (r.short().expect("validated"), &r.layers) {
                    (Some(d), _) => block = block.add(d.dense(true)).add(d.dense(false)),
                    (None, Some(layers)) => {
                        let (mut w, mut seq) = (width, prev_sequence);
                        for l in layers {
                            let (configs, out) = l.configs::<T>(w, seq);
                            for cfg in configs {
                                block = block.add_boxed(cfg);
                            }
                            w = out;
                            seq = next_sequence(l, seq);
                        }
                    }
                    (None, None) => unreachable!("validated"),
                }
                if let Some(p) = &r.projection_initializer {
                    block = block.projection_initializer(p.init);
                }
                if let Some(skip) = r.skip {
                    block = block.skip(skip);
                }
                Box::new(block)
            }
            LayerSpec::Activation(a) => {
                let act = with_alpha(Some(&a.activation), a.alpha).expect("validated");
                Box::new(Activation::new(&dense_act_name(act)))
            }
            LayerSpec::BatchNormalization(b) => {
                let mut bn = BatchNormalization::new();
                if let Some(m) = b.momentum {
                    bn = bn.momentum(m);
                }
                if let Some(e) = b.epsilon {
                    bn = bn.epsilon(e);
                }
                Box::new(bn)
            }
            LayerSpec::LayerNormalization(l) => {
                let ln = LayerNormalization::new();
                Box::new(match l.epsilon {
                    Some(e) => ln.epsilon(e),
                    None => ln,
                })
            }
            LayerSpec::Dropout(d) => Box::new(Dropout::new(d.rate)),
            LayerSpec::SimpleRnn(r) => Box::new(r.recurrent(RecurrentKind::SimpleRnn, prev_sequence, width)),
            LayerSpec::Lstm(r) => Box::new(r.recurrent(RecurrentKind::Lstm, prev_sequence, width)),
            LayerSpec::Gru(r) => Box::new(r.recurrent(RecurrentKind::Gru, prev_sequence, width)),
        }
    }

    /// Values per step of this entry's output when it is a sequence.
    fn sequence_out(&self) -> Option<usize> {
        match self {
            LayerSpec::SimpleRnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r) if r.return_sequences => {
                Some(r.units)
            }
            _ => None,
        }
    }
}

fn positive_epsilon(e: Option<f64>) -> std::result::Result<(), String> {
    match e {
        Some(e) if !(e > 0.0 && e.is_finite()) => Err(format!("epsilon must be positive, got {e}")),
        _ => Ok(()),
    }
}

/// The activation with `alpha` applied (leaky_relu and elu only, given once).
fn with_alpha(act: Option<&ActivationName>, alpha: Option<f64>) -> std::result::Result<DenseAct, String> {
    let Some(a) = act else {
        return match alpha {
            None => Ok(DenseAct::Elementwise(Act::Linear)),
            Some(_) => Err("`alpha` applies to leaky_relu and elu only, not to linear".into()),
        };
    };
    let Some(alpha) = alpha else { return Ok(a.act) };
    if !alpha.is_finite() {
        return Err(format!("`alpha` must be finite, got {alpha}"));
    }
    if a.name.contains('(') {
        return Err(format!("`alpha` given twice: in {:?} and as alpha = {alpha}", a.name));
    }
    match a.act {
        DenseAct::Elementwise(Act::LeakyRelu { .. }) => Ok(DenseAct::Elementwise(Act::LeakyRelu { alpha })),
        DenseAct::Elementwise(Act::Elu { .. }) => Ok(DenseAct::Elementwise(Act::Elu { alpha })),
        _ => Err(format!("`alpha` applies to leaky_relu and elu only, not to {}", a.name)),
    }
}

/// The name the dense and activation layers parse back into `act`.
fn dense_act_name(act: DenseAct) -> String {
    match act {
        DenseAct::Softmax => "softmax".into(),
        DenseAct::Elementwise(a) => a.to_string(),
    }
}

impl DenseSpec {
    /// `units` linear units with Keras' defaults (glorot_uniform kernel, zero bias).
    pub fn new(units: usize) -> Self {
        DenseSpec {
            units,
            activation: None,
            alpha: None,
            kernel_initializer: None,
            scale: None,
            bias_initializer: None,
            use_bias: true,
            repeat: 1,
        }
    }

    pub fn activation(&self) -> std::result::Result<DenseAct, String> {
        with_alpha(self.activation.as_ref(), self.alpha)
    }

    /// The kernel initialiser, `scale` applied (default `glorot_uniform`).
    pub fn kernel(&self) -> std::result::Result<Initializer, String> {
        let init = self.kernel_initializer.as_ref();
        let Some(scale) = self.scale else {
            return Ok(init.map_or(Initializer::GlorotUniform, |i| i.init));
        };
        if !(scale.is_finite() && scale >= 0.0) {
            return Err(format!("`scale` must be finite and at least 0, got {scale}"));
        }
        match init {
            Some(i) if i.has_arguments() => {
                Err(format!("`scale` given twice: in {:?} and as scale = {scale}", i.name))
            }
            Some(InitSpec { init: Initializer::RandomNormal { mean, .. }, .. }) => {
                Ok(Initializer::RandomNormal { mean: *mean, stddev: scale })
            }
            Some(InitSpec { init: Initializer::RandomUniform { .. }, .. }) => {
                Ok(Initializer::RandomUniform { min: -scale, max: scale })
            }
            _ => Err("`scale` applies to random_normal and random_uniform kernels only".into()),
        }
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.units == 0 {
            return Err("`units` must be at least 1, got 0".into());
        }
        self.activation()?;
        self.kernel()?;
        Ok(())
    }

    fn dense(&self, with_act: bool) -> Dense {
        let mut d = Dense::new(self.units)
            .kernel_initializer(self.kernel().expect("validated"))
            .use_bias(self.use_bias);
        if let Some(b) = &self.bias_initializer {
            d = d.bias_initializer(b.init);
        }
        match self.activation().expect("validated") {
            act if with_act => d.activation(&dense_act_name(act)),
            _ => d,
        }
    }
}

impl RecurrentSpec {
    fn features(&self, prev_sequence: Option<usize>) -> Option<usize> {
        self.features.or(prev_sequence)
    }

    fn recurrent(&self, kind: RecurrentKind, prev_sequence: Option<usize>, width: usize) -> Recurrent {
        let f = self.features(prev_sequence).unwrap_or(width);
        let mut cfg = RecurrentConfig::new(self.units, f).return_sequences(self.return_sequences);
        if let Some(i) = &self.kernel_initializer {
            cfg = cfg.kernel_initializer(i.init);
        }
        if let Some(i) = &self.recurrent_initializer {
            cfg = cfg.recurrent_initializer(i.init);
        }
        if let Some(i) = &self.bias_initializer {
            cfg = cfg.bias_initializer(i.init);
        }
        if let Some(b) = self.forget_bias {
            cfg = cfg.forget_bias(Some(b));
        }
        Recurrent { kind, config: cfg }
    }
}

impl ModelSpec {
    /// Checks every entry and the widths through the stack; returns the
    /// output width. An error names the entry (`layers[2] (dense)`) and the value.
    pub fn validate(&self) -> Result<usize> {
        if self.inputs == 0 {
            return Err(Error::Config {
                layer: "model".into(),
                msg: "`inputs` must be at least 1, got 0".into(),
            });
        }
        if self.layers.is_empty() {
            return Err(Error::Config { layer: "model".into(), msg: "`layers` is empty".into() });
        }
        stack_width(&self.layers, self.inputs, None)
            .map_err(|(i, kind, msg)| Error::Config { layer: format!("layers[{i}] ({kind})"), msg })
    }

    /// The layer stack as a [`Sequential`], validated first.
    pub fn sequential<T: Real>(&self) -> Result<Sequential<T>> {
        self.validate()?;
        let mut seq = Sequential::new(self.inputs);
        let (mut width, mut sequence) = (self.inputs, None);
        for l in &self.layers {
            let (configs, out) = l.configs::<T>(width, sequence);
            for cfg in configs {
                seq = seq.add_boxed(cfg);
            }
            width = out;
            sequence = next_sequence(l, sequence);
        }
        Ok(seq)
    }

    /// Builds the model with its initialisers drawn from `seed`.
    pub fn build<T: Real>(&self, seed: u64) -> Result<Model<T>> {
        self.sequential()?.seed(seed).build()
    }

    /// Every layer's entry, `repeat` expanded, in the order the model holds them.
    pub fn expanded(&self) -> impl Iterator<Item = &LayerSpec> {
        self.layers.iter().flat_map(|l| std::iter::repeat_n(l, l.repeat()))
    }
}

/// Values per step after `l` when its input was a sequence of `sequence`
/// values per step: a recurrent layer's own output, kept by normalisation,
/// dropout and activations, lost in a dense layer (which mixes all steps).
fn next_sequence(l: &LayerSpec, sequence: Option<usize>) -> Option<usize> {
    match l {
        LayerSpec::SimpleRnn(_) | LayerSpec::Lstm(_) | LayerSpec::Gru(_) => l.sequence_out(),
        LayerSpec::Dense(_) | LayerSpec::Residual(_) => None,
        _ => sequence,
    }
}

/// The output width of `layers` on an input of `width`; an error gives the
/// entry's index and type and what is wrong.
fn stack_width(
    layers: &[LayerSpec],
    mut width: usize,
    mut sequence: Option<usize>,
) -> std::result::Result<usize, (usize, &'static str, String)> {
    for (i, l) in layers.iter().enumerate() {
        width = l.output_width(width, sequence).map_err(|msg| (i, l.kind(), msg))?;
        sequence = next_sequence(l, sequence);
    }
    Ok(width)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;

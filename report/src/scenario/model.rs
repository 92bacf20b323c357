//! The variant part of a scenario: what differs between the runs compared in one section. Besides the
//! scalar knobs of the toy experiments (`activation`, `factor`), a variant can describe a sequential model
//! (layers, initialisers), its training (optimiser, loss, clipping, epochs, batch size).
use super::ActivationName;
use engine::Activation;
use serde::Deserialize;
use std::cmp::Ordering::Greater;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Unique within the scenario; names the series in charts and the `variant` column of the data.
    pub name: String,
    /// Longer legend text; defaults to `name`.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub activation: Option<ActivationName>,
    /// Slope (leaky_relu) or scale (elu) of the negative side.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// A per-layer factor (the repeated-multiplication toy).
    #[serde(default)]
    pub factor: Option<f64>,
    #[serde(default)]
    pub model: Option<ModelSpec>,
    #[serde(default)]
    pub optimizer: Option<OptimizerSpec>,
    #[serde(default)]
    pub loss: Option<LossKind>,
    #[serde(default)]
    pub clipping: Option<ClipSpec>,
    #[serde(default)]
    pub epochs: Option<usize>,
    #[serde(default)]
    pub batch_size: Option<usize>,
}

impl Variant {
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }

    /// The variant's activation with `alpha` applied, if it names one.
    pub fn activation(&self) -> Option<Activation> {
        self.activation.as_ref().map(|a| with_alpha(a.act, self.alpha))
    }

    pub(super) fn check(&self) -> Result<(), String> {
        if self.name.is_empty() {
            return Err("variant `name` is empty".into());
        }
        check_alpha(self.activation.as_ref(), self.alpha)?;
        if let Some(f) = self.factor
            && !f.is_finite()
        {
            return Err(format!("variant `{}`: factor must be finite, got {f}", self.name));
        }
        if let Some(m) = &self.model {
            m.check()?;
        }
        if let Some(o) = &self.optimizer
            && !(o.learning_rate > 0.0 && o.learning_rate.is_finite())
        {
            return Err(format!("optimizer learning_rate must be positive, got {}", o.learning_rate));
        }
        if let Some(c) = &self.clipping
            && c.threshold.partial_cmp(&0.0) != Some(Greater)
        {
            return Err(format!("clipping threshold must be positive, got {}", c.threshold));
        }
        if self.epochs == Some(0) || self.batch_size == Some(0) {
            return Err("epochs and batch_size must be at least 1".into());
        }
        Ok(())
    }
}

fn with_alpha(act: Activation, alpha: Option<f64>) -> Activation {
    match (act, alpha) {
        (Activation::LeakyRelu { .. }, Some(alpha)) => Activation::LeakyRelu { alpha },
        (Activation::Elu { .. }, Some(alpha)) => Activation::Elu { alpha },
        (act, _) => act,
    }
}

fn check_alpha(act: Option<&ActivationName>, alpha: Option<f64>) -> Result<(), String> {
    match (act.map(|a| a.act), alpha) {
        (_, None) => Ok(()),
        (Some(Activation::LeakyRelu { .. } | Activation::Elu { .. }), Some(a)) if a.is_finite() => Ok(()),
        (Some(Activation::LeakyRelu { .. } | Activation::Elu { .. }), Some(a)) => {
            Err(format!("alpha must be finite, got {a}"))
        }
        (other, Some(_)) => Err(format!(
            "`alpha` applies to leaky_relu and elu only, not to {}",
            other.map_or("a variant without activation", |a| a.name())
        )),
    }
}

/// A sequential model: layers applied in order to an input of `inputs` features.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub inputs: usize,
    pub layers: Vec<Spanned<LayerSpec>>,
}

impl ModelSpec {
    fn check(&self) -> Result<(), String> {
        if self.inputs == 0 {
            return Err("model inputs must be at least 1".into());
        }
        if self.layers.is_empty() {
            return Err("model has no layers".into());
        }
        for (i, l) in self.layers.iter().enumerate() {
            l.get_ref().check().map_err(|m| format!("model layer {i}: {m}"))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    Dense,
    BatchNormalization,
    LayerNormalization,
    Dropout,
    /// Two dense layers of `units` with a skip connection around them.
    Residual,
    SimpleRnn,
    Lstm,
    Gru,
}

/// One layer (or `repeat` identical layers), Keras-style.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    #[serde(rename = "type")]
    pub kind: LayerKind,
    #[serde(default)]
    pub units: Option<usize>,
    #[serde(default)]
    pub activation: Option<ActivationName>,
    #[serde(default)]
    pub alpha: Option<f64>,
    #[serde(default)]
    pub initializer: Option<Initializer>,
    /// Standard deviation of `random_normal`, bound of `random_uniform`.
    #[serde(default)]
    pub scale: Option<f64>,
    /// Dropout rate.
    #[serde(default)]
    pub rate: Option<f64>,
    /// LSTM forget-gate bias at initialisation.
    #[serde(default)]
    pub forget_bias: Option<f64>,
    /// How many copies of this layer, one after the other.
    #[serde(default)]
    pub repeat: Option<usize>,
}

impl LayerSpec {
    pub fn activation(&self) -> Option<Activation> {
        self.activation.as_ref().map(|a| with_alpha(a.act, self.alpha))
    }

    fn check(&self) -> Result<(), String> {
        use LayerKind::*;
        let needs_units = matches!(self.kind, Dense | Residual | SimpleRnn | Lstm | Gru);
        match (needs_units, self.units) {
            (true, None | Some(0)) => return Err(format!("{:?} needs `units` of at least 1", self.kind)),
            (false, Some(_)) => return Err(format!("{:?} takes no `units`", self.kind)),
            _ => {}
        }
        match (self.kind, self.rate) {
            (Dropout, Some(r)) if (0.0..1.0).contains(&r) => {}
            (Dropout, r) => return Err(format!("dropout needs a `rate` in [0, 1), got {r:?}")),
            (_, Some(_)) => return Err("`rate` applies to dropout only".into()),
            _ => {}
        }
        if self.forget_bias.is_some() && self.kind != Lstm {
            return Err("`forget_bias` applies to lstm only".into());
        }
        if self.scale.is_some()
            && !matches!(self.initializer, Some(Initializer::RandomNormal | Initializer::RandomUniform))
        {
            return Err("`scale` applies to random_normal and random_uniform initializers only".into());
        }
        if self.repeat == Some(0) {
            return Err("`repeat` must be at least 1".into());
        }
        check_alpha(self.activation.as_ref(), self.alpha)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initializer {
    Zeros,
    RandomNormal,
    RandomUniform,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    Orthogonal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Sgd,
    Momentum,
    Rmsprop,
    Adam,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    #[serde(rename = "type")]
    pub kind: OptimizerKind,
    pub learning_rate: f64,
    #[serde(default)]
    pub momentum: Option<f64>,
    #[serde(default)]
    pub beta1: Option<f64>,
    #[serde(default)]
    pub beta2: Option<f64>,
    #[serde(default)]
    pub epsilon: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    Mse,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipKind {
    /// Scale all gradients together so their global L2 norm is at most the threshold.
    GlobalNorm,
    /// Keras `clipnorm`: each tensor separately.
    PerTensorNorm,
    /// Keras `clipvalue`: each element to [-threshold, threshold].
    Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipSpec {
    #[serde(rename = "type")]
    pub kind: ClipKind,
    pub threshold: f64,
}

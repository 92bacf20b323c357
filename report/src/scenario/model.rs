//! The variant part of a scenario: what differs between the runs compared in one section. Besides the
//! scalar knobs of the toy experiments (`activation`, `factor`), a variant can describe a sequential model
//! and its training (optimiser, loss, clipping, epochs, batch size) in the engine's own language:
//! `engine::model::ModelSpec`, `engine::optim::OptimizerSpec`, `engine::model::Loss`,
//! `engine::clip::ClipSpec`, each parsed once by its own deserialiser.
use super::ActivationName;
use engine::Activation;
use engine::clip::ClipSpec;
use engine::model::{Loss, ModelSpec};
use engine::optim::OptimizerSpec;
use serde::Deserialize;
use std::ops::Range;
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
    /// The model as written: each layer keeps its place in the file for errors.
    #[serde(default, rename = "model")]
    pub model_table: Option<Spanned<ModelTable>>,
    /// The model in the engine's language, read from `model_table` when the scenario is parsed.
    #[serde(skip)]
    pub model: Option<ModelSpec>,
    #[serde(default)]
    pub optimizer: Option<OptimizerSpec>,
    #[serde(default)]
    pub loss: Option<Loss>,
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
        if let Some(o) = &self.optimizer {
            o.build::<f32>().map_err(|e| e.to_string())?;
        }
        if let Some(c) = &self.clipping {
            c.validate().map_err(|e| format!("clipping: {e}"))?;
        }
        if self.batch_size == Some(0) {
            return Err("batch_size must be at least 1".into());
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

/// A variant's `model` table before its layers are read: every layer with its span, so an error in one
/// (an unknown key, a bad value, a width that does not fit) points at that layer's line and column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelTable {
    pub inputs: usize,
    pub layers: Vec<Spanned<toml::Value>>,
}

impl ModelTable {
    /// The engine's model, validated; an error comes with the span of the layer it is about (the whole
    /// table's for model-wide errors).
    pub fn resolve(&self, table: Range<usize>) -> Result<ModelSpec, (Range<usize>, String)> {
        let mut layers = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            let spec = l.get_ref().clone().try_into().map_err(|e: toml::de::Error| {
                (l.span(), format!("model layers[{i}]: {}", e.message().trim()))
            })?;
            layers.push(spec);
        }
        let spec = ModelSpec { inputs: self.inputs, layers };
        let Err(e) = spec.validate() else { return Ok(spec) };
        // The first prefix of the stack that fails holds the offending layer.
        let bad = (1..=spec.layers.len()).find(|&n| {
            ModelSpec { inputs: spec.inputs, layers: spec.layers[..n].to_vec() }.validate().is_err()
        });
        let span = bad.map_or(table, |n| self.layers[n - 1].span());
        Err((span, format!("model: {e}")))
    }
}

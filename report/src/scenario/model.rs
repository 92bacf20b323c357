//! The variant part of a scenario: what differs between the runs compared in one section. Besides the
//! scalar knobs of the toy experiments (`activation`, `factor`), a variant can describe a sequential model
//! and its training (optimiser, loss, clipping, epochs, batch size) in the engine's own language:
//! `engine::model::ModelSpec`, `engine::optim::OptimizerSpec`, `engine::model::Loss`,
//! `engine::clip::ClipSpec`, each parsed once by its own deserialiser.
use super::ActivationName;
use engine::Activation;
use engine::clip::ClipSpec;
use engine::model::{LayerSpec, Loss, ModelSpec};
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
    pub label: Option<String>,
    pub activation: Option<ActivationName>,
    /// Slope (leaky_relu) or scale (elu) of the negative side.
    pub alpha: Option<f64>,
    /// A per-layer factor (the repeated-multiplication toy).
    pub factor: Option<f64>,
    /// The model as written: each layer keeps its place in the file for errors.
    #[serde(default, rename = "model")]
    pub model_table: Option<Spanned<ModelTable>>,
    /// The model in the engine's language, read from `model_table` when the scenario is parsed.
    #[serde(skip)]
    pub model: Option<ModelSpec>,
    pub optimizer: Option<OptimizerSpec>,
    pub loss: Option<Loss>,
    pub clipping: Option<ClipSpec>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    /// The labelled zoo: the failure verdicts the diagnosis must give this network, by their
    /// snake-case kind names (`["vanishing"]`); `[]` for a network that must get none. Absent for
    /// networks that are not labelled.
    pub expect: Option<Vec<String>>,
    /// Why `expect` holds: the theory or mechanism that predicts it (required with `expect`).
    pub expect_reason: Option<String>,
    /// `train`: the variant's own `[params]` keys, laid over the scenario's (tables merge key by key, as
    /// `[params.quick]` does), e.g. `params = { data = { name = "adding" } }`. Read by the runner with
    /// `Scenario::variant_params`, so its errors point at these values.
    pub params: Option<toml::Table>,
    /// `train`: run the variant once per value of a `[params]` key, each run's records at that value of
    /// a coordinate of the `point` column.
    pub sweep: Option<Sweep>,
}

/// `sweep = { coordinate = "T", param = "data.steps", values = [10, 25, 50, 100] }`: one run per value,
/// with `[params] data.steps` set to it and `T=value` on every record of the run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The coordinate's name in the `point` column.
    pub coordinate: String,
    /// The `[params]` key the value sets, as a dotted path.
    pub param: String,
    pub values: Vec<f64>,
}

/// Coordinates of the `point` column that rows already carry: time steps, histogram bins, `predict`
/// rows, weight layers.
const RESERVED: [&str; 4] = ["t", "bin", "row", "weight_layer"];

impl Sweep {
    /// The `[params]` key path the sweep sets.
    pub fn path(&self) -> Vec<&str> {
        self.param.split('.').collect()
    }

    fn check(&self) -> Result<(), String> {
        let c = &self.coordinate;
        if c.is_empty() || c.contains(['=', ';', ' ']) {
            return Err(format!("sweep coordinate `{c}`: a name without `=`, `;` or spaces"));
        }
        // The coordinates the records already use: a run's own coordinate stands beside them.
        if RESERVED.contains(&c.as_str()) {
            return Err(format!("sweep coordinate `{c}`: a name other than {}", RESERVED.join(", ")));
        }
        if self.param.is_empty()
            || self.path().iter().any(|k| k.is_empty())
            || self.param.starts_with("quick")
        {
            return Err(format!(
                "sweep param `{}`: a dotted `[params]` key such as `data.steps`",
                self.param
            ));
        }
        if self.values.is_empty() || self.values.iter().any(|v| !v.is_finite()) {
            return Err("sweep values: at least one finite number".into());
        }
        if (1..self.values.len()).any(|i| self.values[..i].contains(&self.values[i])) {
            return Err("sweep values: each value once".into());
        }
        Ok(())
    }
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
        if let Some(kinds) = &self.expect {
            for k in kinds {
                match engine::diagnose::Kind::from_name(k) {
                    Some(kind) if kind.is_failure() => {}
                    _ => {
                        let failures = engine::diagnose::Kind::ALL.iter().filter(|k| k.is_failure());
                        let names: Vec<&str> = failures.map(|k| k.name()).collect();
                        return Err(format!(
                            "variant `{}`: expect names `{k}`, expected failure kinds among: {}",
                            self.name,
                            names.join(", ")
                        ));
                    }
                }
            }
            if self.expect_reason.as_deref().is_none_or(str::is_empty) {
                return Err(format!("variant `{}`: `expect` needs an `expect_reason` (why)", self.name));
            }
        }
        if let Some(sw) = &self.sweep {
            sw.check().map_err(|m| format!("variant `{}`: {m}", self.name))?;
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
    /// Values per sample; absent, the `train` runner takes the data's features (a sweep over a sequence
    /// length changes them run by run).
    pub inputs: Option<usize>,
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
        // Without `inputs`, the layers are checked on one step of the first recurrent layer (or one value);
        // the runner sets the data's width before it builds.
        let stand_in = match layers.first() {
            Some(LayerSpec::SimpleRnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r)) => r.features.unwrap_or(1),
            _ => 1,
        };
        let spec = ModelSpec { inputs: self.inputs.unwrap_or(stand_in), layers };
        let Err(e) = spec.validate() else { return Ok(spec) };
        // The first prefix of the stack that fails holds the offending layer.
        let bad = (1..=spec.layers.len()).find(|&n| {
            ModelSpec { inputs: spec.inputs, layers: spec.layers[..n].to_vec() }.validate().is_err()
        });
        let span = bad.map_or(table, |n| self.layers[n - 1].span());
        Err((span, format!("model: {e}")))
    }
}

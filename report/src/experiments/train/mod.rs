//! `train`: the generic training runner. For each variant × seed it builds the variant's model with the
//! engine, loads the `[params.data]`, trains with `fit` and the engine's `MonitorHook` (per-layer
//! gradients, signals, activations and update ratios at every `monitor.every`-th step, optional
//! histograms), clips as the variant's `clipping` says, evaluates on the held-out part and turns the
//! engine's records into the report's. A run that meets a NaN or infinity stops cleanly: its records up
//! to the stop are kept and the stop is a result, not an error. Key figures aggregate over seeds
//! (median, min, max); the verdicts come from `crate::diagnosis`.
mod build;
mod data;
mod figures;
mod session;
mod weight_layers;

use super::variant_error;
use crate::error::{ReportError, Result};
use crate::experiments::{RunOptions, Runner};
use crate::record::Output;
use crate::scenario::Scenario;
use data::DataSpec;
use rayon::prelude::*;
use serde::Deserialize;

pub const RUNNER: Runner = Runner {
    kind: "train",
    about: "trains each variant's model on real or synthetic data with the gradient monitor and diagnosis",
    check,
    run,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonitorSpec {
    /// Record at steps 0, N, 2N, ...
    #[serde(default = "one")]
    pub every: u64,
    /// Also record log10 |g| histograms of each layer's weight gradient.
    #[serde(default)]
    pub histograms: bool,
}

impl Default for MonitorSpec {
    fn default() -> Self {
        MonitorSpec { every: 1, histograms: false }
    }
}

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    pub data: DataSpec,
    #[serde(default)]
    pub monitor: MonitorSpec,
    /// Epochs of a `--quick` run (each variant runs at most this many).
    #[serde(default = "quick_epochs")]
    pub quick_epochs: usize,
    /// Record the epoch's loss and accuracy at every N-th epoch (and the last).
    #[serde(default = "one_usize")]
    pub epoch_every: usize,
    /// Also evaluate the test part at the end of each recorded epoch (`test_loss`, `test_accuracy`).
    #[serde(default)]
    pub test_each_epoch: bool,
    /// Inputs to predict after training, one row each (e.g. the four XOR points).
    #[serde(default)]
    pub predict: Vec<Vec<f64>>,
    /// Reshuffle the samples every epoch (Keras' default).
    #[serde(default = "yes")]
    pub shuffle: bool,
}

// Serde needs a `Default` to call `Scenario::params`; a `train` scenario without `[params]` fails
// `check` (no data), so this default is never used to train.
impl Default for Params {
    fn default() -> Self {
        Params {
            data: DataSpec {
                name: data::Source::Xor,
                test_fraction: 0.0,
                samples: None,
                features: None,
                classes: None,
                separation: None,
                noise_std: None,
                repeats: None,
                signal: true,
                target_mean: None,
                scale: data::Scaling::None,
            },
            monitor: MonitorSpec::default(),
            quick_epochs: quick_epochs(),
            epoch_every: 1,
            test_each_epoch: false,
            predict: Vec::new(),
            shuffle: true,
        }
    }
}

fn quick_epochs() -> usize {
    2
}

fn one_usize() -> usize {
    1
}

fn yes() -> bool {
    true
}

fn check(s: &Scenario) -> Result<()> {
    if s.spec.params.as_ref().is_none_or(|p| !p.contains_key("data")) {
        return Err(s.error(
            "the train runner needs a [params.data] table, e.g. name = \"digits\", test_fraction = 0.2",
        ));
    }
    let p: Params = s.params()?;
    p.data.check().map_err(|m| s.error(format!("[params.data]: {m}")))?;
    if p.monitor.every == 0 || p.quick_epochs == 0 || p.epoch_every == 0 {
        return Err(s.error("[params]: monitor.every, quick_epochs and epoch_every must be at least 1"));
    }
    let features = p.data.features();
    if let Some(row) = p.predict.iter().find(|r| r.len() != features) {
        return Err(s.error(format!(
            "[params] predict: each row needs {features} values (the data's features), got {row:?}"
        )));
    }
    crate::diagnosis::config(s)?;
    if s.spec.variants.is_empty() {
        return Err(s.error("the train runner needs at least one variant"));
    }
    for (i, v) in s.variants().enumerate() {
        let err = |msg: String| variant_error(s, i, format!("variant `{}`: {msg}", v.name));
        let Some(m) = &v.model else { return Err(err("needs a `model` (inputs and layers)".into())) };
        if v.optimizer.is_none() || v.loss.is_none() || v.epochs.is_none() {
            return Err(err("needs `optimizer`, `loss` and `epochs`".into()));
        }
        for l in &m.layers {
            build::check_layer(l.get_ref())
                .map_err(|msg| s.error_at(l.span(), format!("variant `{}`, layer: {msg}", v.name)))?;
        }
        if m.inputs != features {
            return Err(err(format!(
                "model inputs = {} but the data ({:?}) has {features} features",
                m.inputs, p.data.name
            )));
        }
        // Building validates every layer in the engine (widths, initialisers, activations).
        let model = build::model(m, 0).map_err(|e| err(format!("the model does not build: {e}")))?;
        if !p.data.fits_outputs(model.output_width()) {
            return Err(err(format!(
                "the model has {} outputs, which do not fit the data ({:?}): one per class, or 1 for \
                 two classes and for real-valued targets",
                model.output_width(),
                p.data.name
            )));
        }
        if let Some(o) = &v.optimizer {
            build::optimizer(o).map_err(|e| err(format!("optimizer: {e}")))?;
        }
    }
    Ok(())
}

fn run(s: &Scenario, opts: &RunOptions) -> Result<Output> {
    let p: Params = s.params()?;
    let diag = crate::diagnosis::config(s)?;
    let shipped =
        p.data.load_shipped().map_err(|e| ReportError::Engine { scenario: s.name.clone(), source: e })?;
    let seeds = opts.seeds(s);
    let jobs: Vec<(usize, u64)> =
        (0..s.spec.variants.len()).flat_map(|v| seeds.iter().map(move |&seed| (v, seed))).collect();
    // Each run is deterministic by itself and results come back in job order, so the thread count
    // changes nothing in the output.
    let runs: Vec<session::RunOutcome> = jobs
        .par_iter()
        .map(|&(vi, seed)| session::train(s, &p, shipped.as_ref(), vi, seed, opts.quick))
        .collect::<Result<_>>()?;
    // Steps per second go to the timings section only: wall time never enters the data files.
    let steps = runs.iter().map(|r| r.steps).sum();
    let key_figures = figures::key_figures(s, &p, &diag, &runs);
    let records = runs.into_iter().map(|r| r.records).collect();
    Ok(Output { records, key_figures, steps })
}

#[cfg(test)]
mod tests;

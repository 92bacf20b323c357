//! `train`: the generic training runner. For each variant × seed it builds the variant's model with the
//! engine, loads the `[params.data]`, trains with `fit` and the engine's `MonitorHook` (per-layer
//! gradients, signals, activations and update ratios at every `monitor.every`-th step, optional
//! histograms), clips as the variant's `clipping` says, evaluates on the held-out part and turns the
//! engine's records into the report's. A run that meets a NaN or infinity stops cleanly: its records up
//! to the stop are kept and the stop is a result, not an error. Key figures aggregate over seeds
//! (median, min, max); the verdicts come from `crate::diagnosis`.
mod data;
mod figures;
mod session;
mod weight_layers;

use crate::error::{ReportError, Result};
use crate::experiments::runner::{Experiment, RunOptions, Runner};
use crate::record::Output;
use crate::scenario::{Scenario, Variant};
use data::DataSpec;
use engine::diagnose::DiagnoseConfig;
use engine::model::{LayerSpec, Loss, ModelSpec};
use engine::optim::OptimizerSpec;
use rayon::prelude::*;
use serde::Deserialize;

pub const RUNNER: Runner = Runner {
    kind: "train",
    about: "trains each variant's model on real or synthetic data with the gradient monitor and diagnosis",
    prepare,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonitorSpec {
    /// Record at steps 0, N, 2N, ... (every step when absent).
    #[serde(default = "one")]
    pub every: u64,
    /// Also record log10 |g| histograms of each layer's weight gradient (off when absent).
    #[serde(default)]
    pub histograms: bool,
}

impl Default for MonitorSpec {
    fn default() -> Self {
        MonitorSpec { every: one(), histograms: false }
    }
}

fn one() -> u64 {
    1
}

/// `[params]` of a `train` scenario. Only `data` is required; the rest are optional knobs whose
/// defaults are stated once, here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    pub data: DataSpec,
    /// How often the monitor records (every step, no histograms, when absent).
    #[serde(default)]
    pub monitor: MonitorSpec,
    /// At most this many epochs for every variant (each runs its own `epochs` when absent); a quick run
    /// sets it in `[params.quick]`.
    #[serde(default)]
    pub max_epochs: Option<usize>,
    /// Record the epoch's loss and accuracy at every N-th epoch and the last (every epoch when absent).
    #[serde(default = "one_usize")]
    pub epoch_every: usize,
    /// Also evaluate the test part at the end of each recorded epoch (`test_loss`, `test_accuracy`); off
    /// when absent.
    #[serde(default)]
    pub test_each_epoch: bool,
    /// Inputs to predict after training, one row each (e.g. the four XOR points); none when absent.
    #[serde(default)]
    pub predict: Vec<Vec<f64>>,
    /// Reshuffle the samples every epoch (Keras' default, and on when absent).
    #[serde(default = "yes")]
    pub shuffle: bool,
}

fn one_usize() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// One variant as it trains, every field it needs checked.
pub(crate) struct Trainee<'s> {
    pub index: usize,
    pub variant: &'s Variant,
    pub model: &'s ModelSpec,
    /// Absent only at initialisation (`epochs = 0`), where nothing is updated.
    pub optimizer: Option<&'s OptimizerSpec>,
    pub loss: Loss,
    /// The variant's `epochs`, capped by `max_epochs`; 0 measures at initialisation (one monitored
    /// forward and backward pass over the first batch, no update).
    pub epochs: usize,
}

struct Plan<'s> {
    s: &'s Scenario,
    p: Params,
    diag: DiagnoseConfig,
    seeds: Vec<u64>,
    trainees: Vec<Trainee<'s>>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    p.data.check().map_err(|(key, m)| at.error(&["data", key], m))?;
    at.ensure(p.monitor.every >= 1, &["monitor", "every"], "at least 1")?;
    at.ensure(p.max_epochs.is_none_or(|e| e >= 1), &["max_epochs"], "at least 1")?;
    at.ensure(p.epoch_every >= 1, &["epoch_every"], "at least 1")?;
    let features = p.data.features();
    if let Some(k) = p.predict.iter().position(|r| r.len() != features) {
        let k = k.to_string();
        return Err(at.error(&["predict", &k], format!("a row of {features} values (the data's features)")));
    }
    let diag = crate::diagnosis::config(s)?;
    if s.spec.variants.is_empty() {
        return Err(s.error("the train runner needs at least one variant"));
    }
    let trainees = s.variants().enumerate().map(|(i, v)| trainee(s, &p, i, v)).collect::<Result<_>>()?;
    let plan = Plan { s, p, diag, seeds: opts.seeds(s), trainees };
    Ok(Box::new(move || run(&plan)))
}

/// Checks a variant: a model that builds and fits the data, a loss, a number of epochs and (unless it
/// measures at initialisation) an optimiser.
fn trainee<'s>(s: &Scenario, p: &Params, i: usize, v: &'s Variant) -> Result<Trainee<'s>> {
    let err = |key: &[&str], msg: String| s.variant_error(i, key, msg);
    let Some(m) = &v.model else { return Err(err(&[], "needs a `model` (inputs and layers)".into())) };
    let (Some(loss), Some(epochs)) = (v.loss, v.epochs) else {
        return Err(err(&[], "needs `loss` and `epochs`".into()));
    };
    let optimizer = v.optimizer.as_ref();
    if optimizer.is_none() && epochs > 0 {
        return Err(err(
            &[],
            "needs an `optimizer` (only epochs = 0, at initialisation, trains without)".into(),
        ));
    }
    if let (Some(w), Some(k)) = (p.data.step_width(), m.layers.iter().position(LayerSpec::is_recurrent)) {
        let l = &m.layers[k];
        if let LayerSpec::SimpleRnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r) = l
            && r.features != Some(w)
        {
            return Err(err(
                &["model", "layers", &k.to_string()],
                format!(
                    "the {:?} data has steps of {w} values: give its first recurrent layer ({}) features = {w}",
                    p.data.name,
                    l.kind()
                ),
            ));
        }
    }
    let features = p.data.features();
    if m.inputs != features {
        return Err(err(
            &["model", "inputs"],
            format!("model inputs = {} but the data ({:?}) has {features} features", m.inputs, p.data.name),
        ));
    }
    // Building validates every layer in the engine (widths, initialisers, activations).
    let model = m.build::<f32>(0).map_err(|e| err(&["model"], format!("the model does not build: {e}")))?;
    if !p.data.fits_outputs(model.output_width()) {
        return Err(err(
            &["model", "layers"],
            format!(
                "the model has {} outputs, which do not fit the data ({:?}): one per class, or 1 for \
                 two classes and for real-valued targets",
                model.output_width(),
                p.data.name
            ),
        ));
    }
    let epochs = p.max_epochs.map_or(epochs, |cap| epochs.min(cap));
    Ok(Trainee { index: i, variant: v, model: m, optimizer, loss, epochs })
}

fn run(plan: &Plan<'_>) -> Result<Output> {
    let Plan { s, p, diag, seeds, trainees } = plan;
    let shipped =
        p.data.load_shipped().map_err(|e| ReportError::Engine { scenario: s.name.clone(), source: e })?;
    let jobs: Vec<(usize, u64)> =
        (0..trainees.len()).flat_map(|v| seeds.iter().map(move |&seed| (v, seed))).collect();
    // Each run is deterministic by itself and results come back in job order, so the thread count
    // changes nothing in the output.
    let runs: Vec<session::RunOutcome> = jobs
        .par_iter()
        .map(|&(vi, seed)| session::train(s, p, shipped.as_ref(), &trainees[vi], seed))
        .collect::<Result<_>>()?;
    // Steps per second go to the timings section only: wall time never enters the data files.
    let steps = runs.iter().map(|r| r.steps).sum();
    let key_figures = figures::key_figures(s, p, diag, &runs);
    let records = runs.into_iter().map(|r| r.records).collect();
    Ok(Output { records, key_figures, steps })
}

#[cfg(test)]
mod tests;

//! `train`: the generic training runner. For each variant × seed it builds the variant's model with the
//! engine, loads the `[params.data]`, trains with `fit` and the engine's `MonitorHook` (per-layer
//! gradients, signals, activations and update ratios at every `monitor.every`-th step, optional
//! histograms), clips as the variant's `clipping` says, evaluates on the held-out part and turns the
//! engine's records into the report's. A run that meets a NaN or infinity stops cleanly: its records up
//! to the stop are kept and the stop is a result, not an error. Key figures aggregate over seeds
//! (median, min, max); the verdicts come from `crate::diagnosis`.
mod data;
mod figures;
mod profile;
mod session;
mod weight_layers;

use crate::error::Result;
use crate::experiments::runner::{Experiment, Part, RunOptions, Runner, Unit, engine_err};
use crate::record::Output;
use crate::scenario::{Scenario, Variant};
use data::DataSpec;
use engine::diagnose::DiagnoseConfig;
use engine::model::{LayerSpec, Loss, ModelSpec};
use engine::optim::OptimizerSpec;
use serde::Deserialize;

pub const RUNNER: Runner = Runner {
    kind: "train",
    about: "trains each variant's model on real or synthetic data with the gradient monitor and diagnosis",
    prepare,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonitorSpec {
    /// Record at steps 0, N, 2N, ... (every step when absent); 0 turns the per-step rows off (a scenario
    /// that reads only its profile and losses).
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
    /// The runner's own key figures (losses, accuracies, step-0 gradients, explosions, steps); on when
    /// absent, off where a scenario declares all it shows in `[[figures]]`.
    #[serde(default = "yes")]
    pub built_in_figures: bool,
    /// At initialisation, in a pass of its own before training: the model's leading repeated entry per
    /// layer (see `profile.rs`); off when absent.
    #[serde(default)]
    pub profile: bool,
    /// With the profile: mean-field theory beside it (a square dense stack); off when absent.
    #[serde(default)]
    pub mean_field: bool,
    /// The profile's precision (f32 when absent); training is float32.
    #[serde(default)]
    pub precision: profile::Precision,
    /// Samples of the profile's pass (each variant's batch size when absent).
    #[serde(default)]
    pub profile_batch: Option<usize>,
    /// Record every step's batch loss as `batch_loss` (the monitor's `loss` is at its steps only).
    #[serde(default)]
    pub batch_loss: bool,
    /// At initialisation, in the first seed's runs: the stack's kernel initialiser drawn on a matrix and
    /// binned; none when absent.
    #[serde(default)]
    pub kernel_draws: Option<profile::KernelDraws>,
    /// Every variant's `loss`, `epochs`, `batch_size` and `optimizer` where it gives none.
    #[serde(default)]
    pub loss: Option<Loss>,
    #[serde(default)]
    pub optimizer: Option<OptimizerSpec>,
    #[serde(default)]
    pub epochs: Option<usize>,
    #[serde(default)]
    pub batch_size: Option<usize>,
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
    pub optimizer: Option<OptimizerSpec>,
    pub loss: Loss,
    /// The variant's `epochs`, capped by `max_epochs`; 0 measures at initialisation (one monitored
    /// forward and backward pass over the first batch, no update).
    pub epochs: usize,
    /// Trainable scalars of the built model (for a unit's estimated cost).
    pub params: usize,
    pub batch: usize,
    /// The leading dense stack, where the scenario profiles it at initialisation.
    pub stack: Option<profile::Stack>,
}

struct Plan<'s> {
    s: &'s Scenario,
    p: Params,
    diag: DiagnoseConfig,
    trainees: Vec<Trainee<'s>>,
    /// The units: every (variant index, seed), variant-major.
    jobs: Vec<(usize, u64)>,
    /// The shipped data set (digits, mnist), loaded by the first unit that needs it.
    shipped: std::sync::OnceLock<Option<engine::data::Dataset>>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    p.data.check().map_err(|(key, m)| at.error(&["data", key], m))?;
    at.ensure(p.max_epochs.is_none_or(|e| e >= 1), &["max_epochs"], "at least 1")?;
    at.ensure(p.epoch_every >= 1, &["epoch_every"], "at least 1")?;
    at.ensure(p.batch_size != Some(0), &["batch_size"], "at least 1")?;
    at.ensure(p.profile_batch != Some(0), &["profile_batch"], "at least 1")?;
    if let Some(kd) = &p.kernel_draws {
        at.ensure(!kd.shape.contains(&0), &["kernel_draws", "shape"], "a non-empty shape [fan_in, fan_out]")?;
        at.ensure(kd.bins >= 2, &["kernel_draws", "bins"], "at least 2")?;
    }
    let features = p.data.features();
    if let Some(k) = p.predict.iter().position(|r| r.len() != features) {
        let k = k.to_string();
        return Err(at.error(&["predict", &k], format!("a row of {features} values (the data's features)")));
    }
    let diag = crate::diagnosis::config(s)?;
    if s.spec.variants.is_empty() {
        return Err(s.error("the train runner needs at least one variant"));
    }
    let trainees: Vec<Trainee<'s>> =
        s.variants().enumerate().map(|(i, v)| trainee(s, &p, i, v)).collect::<Result<_>>()?;
    let seeds = opts.seeds(s);
    let jobs = (0..trainees.len()).flat_map(|v| seeds.iter().map(move |&seed| (v, seed))).collect();
    Ok(Box::new(Plan { s, p, diag, trainees, jobs, shipped: std::sync::OnceLock::new() }))
}

/// Checks a variant: a model that builds and fits the data, a loss, a number of epochs and (unless it
/// measures at initialisation) an optimiser.
fn trainee<'s>(s: &Scenario, p: &Params, i: usize, v: &'s Variant) -> Result<Trainee<'s>> {
    let err = |key: &[&str], msg: String| s.variant_error(i, key, msg);
    let Some(m) = &v.model else { return Err(err(&[], "needs a `model` (inputs and layers)".into())) };
    let (Some(loss), Some(epochs)) = (v.loss.or(p.loss), v.epochs.or(p.epochs)) else {
        return Err(err(&[], "needs `loss` and `epochs` (or both in `[params]` for every variant)".into()));
    };
    let stack = if p.profile || p.mean_field || p.kernel_draws.is_some() {
        let st = profile::Stack::of(m).map_err(|msg| err(&["model", "layers", "0"], msg))?;
        if p.mean_field || p.kernel_draws.is_some() {
            st.check_theory(!p.mean_field).map_err(|msg| err(&["model", "layers", "0"], msg))?;
        }
        Some(st)
    } else {
        None
    };
    let optimizer = v.optimizer.clone().or_else(|| p.optimizer.clone());
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
    let params = model.params().count();
    let batch = v.batch_size.or(p.batch_size).unwrap_or(32);
    Ok(Trainee { index: i, variant: v, model: m, optimizer, loss, epochs, params, batch, stack })
}

/// A train scenario's units are its (variant, seed) runs: each is deterministic given its seed alone, so
/// a unit's records are the same wherever and beside whichever others it runs.
impl Experiment for Plan<'_> {
    fn units(&self) -> Vec<Unit> {
        let samples = self.p.data.samples.unwrap_or(1000) as f64;
        self.jobs
            .iter()
            .map(|&(vi, seed)| {
                let t = &self.trainees[vi];
                // About three multiply-adds per parameter per sample (forward, backward, update).
                let cost = 3.0 * t.params as f64 * samples * t.epochs.max(1) as f64;
                Unit { coords: format!("variant={} seed={seed}", t.variant.name), cost }
            })
            .collect()
    }

    fn run_unit(&self, i: usize) -> Result<Part> {
        let (vi, seed) = self.jobs[i];
        let shipped = match self.shipped.get() {
            Some(d) => d,
            None => {
                let d = self.p.data.load_shipped().map_err(engine_err(self.s))?;
                self.shipped.get_or_init(|| d)
            }
        };
        // Kernel draws come from the first seed only: one matrix per variant, as slide 7 draws one.
        let draws = self.p.kernel_draws.as_ref().filter(|_| seed == self.jobs[0].1);
        let r = session::train(self.s, &self.p, shipped.as_ref(), &self.trainees[vi], (seed, draws))?;
        Ok(session::to_part(r))
    }

    fn finish(&self, parts: Vec<Part>) -> Result<Output> {
        let runs: Vec<session::RunOutcome> = parts
            .into_iter()
            .zip(&self.jobs)
            .map(|(part, &(vi, _))| session::from_part(self.s, vi, part))
            .collect::<Result<_>>()?;
        // Steps per second go to the timings section only: wall time never enters the data files.
        let steps = runs.iter().map(|r| r.steps).sum();
        let mut key_figures = figures::key_figures(self.s, &self.p, &self.diag, &runs);
        let records: Vec<_> = runs.into_iter().map(|r| r.records).collect();
        // A labelled zoo scores the diagnosis against each network's `expect`.
        if self.s.variants().any(|v| v.expect.is_some()) {
            let mut seeds: Vec<u64> = Vec::new();
            for &(_, seed) in &self.jobs {
                if !seeds.contains(&seed) {
                    seeds.push(seed);
                }
            }
            let diagnoses = crate::diagnosis::diagnose_records(self.s, &records)?;
            key_figures.extend(crate::zoo::key_figures(self.s, &diagnoses, &seeds));
        }
        Ok(Output { records, key_figures, steps })
    }
}

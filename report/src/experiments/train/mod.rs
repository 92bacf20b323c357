//! `train`: the generic training runner. For each variant × seed it builds the variant's model with the
//! engine, loads the `[params.data]`, trains with `fit` and the engine's `MonitorHook` (per-layer
//! gradients, signals, activations and update ratios at every `monitor.every`-th step, optional
//! histograms), clips as the variant's `clipping` says, evaluates on the held-out part and turns the
//! engine's records into the report's. A run that meets a NaN or infinity stops cleanly: its records up
//! to the stop are kept and the stop is a result, not an error. Key figures aggregate over seeds
//! (median, min, max); the verdicts come from `crate::diagnosis`. A variant may lay its own `params` over
//! the scenario's and sweep one `[params]` key (`sweep`): each value is a run setting of its own (a
//! `Trainee`), its coordinate written on every record of the run.
mod data;
mod figures;
mod profile;
mod session;
mod weight_layers;

use crate::error::Result;
use crate::experiments::runner::{Experiment, Part, RunOptions, Runner, Unit, engine_err};
use crate::record::Output;
use crate::scenario::{ParamsCheck, Scenario, Variant, VariantRun};
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
    #[serde(default = "crate::scenario::one")]
    pub every: u64,
    /// Also record log10 |g| histograms of each layer's weight gradient (off when absent).
    #[serde(default)]
    pub histograms: bool,
}

impl Default for MonitorSpec {
    fn default() -> Self {
        MonitorSpec { every: 1, histograms: false }
    }
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
    pub max_epochs: Option<usize>,
    /// Record the epoch's loss and accuracy at every N-th epoch and the last (every epoch when absent).
    #[serde(default = "crate::scenario::one")]
    pub epoch_every: usize,
    /// Also evaluate the test part at the end of each recorded epoch (`test_loss`, `test_accuracy`); off
    /// when absent.
    #[serde(default)]
    pub test_each_epoch: bool,
    /// Inputs to predict after training, one row each (e.g. the four XOR points); none when absent.
    #[serde(default)]
    pub predict: Vec<Vec<f64>>,
    /// Reshuffle the samples every epoch (Keras' default, and on when absent).
    #[serde(default = "crate::scenario::yes")]
    pub shuffle: bool,
    /// The runner's own key figures (losses, accuracies, step-0 gradients, explosions, steps); on when
    /// absent, off where a scenario declares all it shows in `[[figures]]`.
    #[serde(default = "crate::scenario::yes")]
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
    pub profile_batch: Option<usize>,
    /// Which part of the data the profiles read (the training part when absent).
    #[serde(default)]
    pub profile_on: profile::Part,
    /// With the profile: the same pass again after training, on the trained float32 weights, its rows
    /// named `final_METRIC` at the run's last step; off when absent.
    #[serde(default)]
    pub profile_after: bool,
    /// Real-valued targets: `final_test_within`, the share of test predictions within this distance of
    /// their target (none when absent).
    pub tolerance: Option<f64>,
    /// Record every step's batch loss as `batch_loss` (the monitor's `loss` is at its steps only).
    #[serde(default)]
    pub batch_loss: bool,
    /// At initialisation, in the first seed's runs: the stack's kernel initialiser drawn on a matrix and
    /// binned; none when absent.
    pub kernel_draws: Option<profile::KernelDraws>,
    /// Every variant's `loss`, `epochs`, `batch_size` and `optimizer` where it gives none.
    pub loss: Option<Loss>,
    pub optimizer: Option<OptimizerSpec>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
}

/// One run setting as it trains, every field it needs checked: a variant, at one value of its sweep.
pub(crate) struct Trainee<'s> {
    pub index: usize,
    pub variant: &'s Variant,
    /// `[params]` as this variant (at this sweep value) reads it.
    pub p: Params,
    /// The sweep's coordinate and value, put on every record of the run (empty without a sweep).
    pub point: Vec<(String, f64)>,
    /// The variant's model, with the data's width as `inputs` where the scenario leaves it out.
    pub model: ModelSpec,
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
    /// The units: every (trainee index, seed), variant-major.
    jobs: Vec<(usize, u64)>,
    /// The shipped data sets (digits, mnist), each loaded by the first unit that needs it.
    shipped: std::sync::Mutex<Vec<(data::Source, std::sync::Arc<Option<engine::data::Dataset>>)>>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    check_params(&p, &s.params_check(opts.quick))?;
    let diag = crate::diagnosis::config(s)?;
    if s.spec.variants.is_empty() {
        return Err(s.error("the train runner needs at least one variant"));
    }
    let mut trainees = Vec::new();
    for (i, v) in s.variants().enumerate() {
        let values = v.sweep.as_ref().map_or(0, |sw| sw.values.len());
        let runs: Vec<Option<usize>> = if values == 0 { vec![None] } else { (0..values).map(Some).collect() };
        for sweep in runs {
            let run = VariantRun { index: i, sweep };
            let own: Params = s.variant_params(opts.quick, run)?;
            check_params(&own, &s.variant_params_check(opts.quick, run))?;
            let point = match (&v.sweep, sweep) {
                (Some(sw), Some(k)) => vec![(sw.coordinate.clone(), sw.values[k])],
                _ => Vec::new(),
            };
            trainees.push(trainee(s, own, (i, v), point, opts.quick)?);
        }
    }
    let seeds = opts.seeds(s);
    let jobs = (0..trainees.len()).flat_map(|t| seeds.iter().map(move |&seed| (t, seed))).collect();
    Ok(Box::new(Plan { s, p, diag, trainees, jobs, shipped: Default::default() }))
}

/// The checks on `[params]` values that serde cannot make, at the value that was read.
fn check_params(p: &Params, at: &ParamsCheck<'_>) -> Result<()> {
    p.data.check().map_err(|(key, m)| at.error(&["data", key], m))?;
    at.ensure(p.max_epochs.is_none_or(|e| e >= 1), &["max_epochs"], "at least 1")?;
    at.ensure(p.epoch_every >= 1, &["epoch_every"], "at least 1")?;
    at.ensure(p.batch_size != Some(0), &["batch_size"], "at least 1")?;
    at.ensure(p.profile_batch != Some(0), &["profile_batch"], "at least 1")?;
    let positive = p.tolerance.is_none_or(|t| t > 0.0 && t.is_finite());
    at.ensure(positive, &["tolerance"], "a positive distance")?;
    let test = p.profile_on != profile::Part::Test || p.data.test_fraction > 0.0;
    at.ensure(test, &["profile_on"], "\"train\", or a test part (`data.test_fraction` above 0)")?;
    if let Some(kd) = &p.kernel_draws {
        at.ensure(!kd.shape.contains(&0), &["kernel_draws", "shape"], "a non-empty shape [fan_in, fan_out]")?;
        at.ensure(kd.bins >= 2, &["kernel_draws", "bins"], "at least 2")?;
    }
    let features = p.data.features();
    if let Some(k) = p.predict.iter().position(|r| r.len() != features) {
        let k = k.to_string();
        return Err(at.error(&["predict", &k], format!("a row of {features} values (the data's features)")));
    }
    Ok(())
}

/// Checks a variant at one sweep value: a model that builds and fits the data, a loss, a number of
/// epochs and (unless it measures at initialisation) an optimiser.
fn trainee<'s>(
    s: &Scenario,
    p: Params,
    (i, v): (usize, &'s Variant),
    point: Vec<(String, f64)>,
    quick: bool,
) -> Result<Trainee<'s>> {
    let at = match point.first() {
        Some((c, x)) => format!(" at {c} = {x}"),
        None => String::new(),
    };
    let err = |key: &[&str], msg: String| s.variant_error(i, key, format!("{msg}{at}"));
    let Some(m) = &v.model else { return Err(err(&[], "needs a `model` (inputs and layers)".into())) };
    let (Some(loss), Some(epochs)) = (v.loss.or(p.loss), v.epochs.or(p.epochs)) else {
        return Err(err(&[], "needs `loss` and `epochs` (or both in `[params]` for every variant)".into()));
    };
    let features = p.data.features();
    let mut m = m.clone();
    if v.model_table.as_ref().is_some_and(|t| t.get_ref().inputs.is_none()) {
        m.inputs = features;
    }
    let stack = if p.profile || p.mean_field || p.kernel_draws.is_some() {
        let st = profile::Stack::of(&m).map_err(|msg| err(&["model", "layers", "0"], msg))?;
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
    if p.tolerance.is_some() && !p.data.real_valued() {
        let check = s.variant_params_check(quick, VariantRun { index: i, sweep: None });
        return Err(check.error(&["tolerance"], "real-valued targets (a regression or the adding problem)"));
    }
    let epochs = p.max_epochs.map_or(epochs, |cap| epochs.min(cap));
    let params = model.params().count();
    let batch = v.batch_size.or(p.batch_size).unwrap_or(32);
    Ok(Trainee { index: i, variant: v, p, point, model: m, optimizer, loss, epochs, params, batch, stack })
}

/// A train scenario's units are its (variant, seed) runs: each is deterministic given its seed alone, so
/// a unit's records are the same wherever and beside whichever others it runs.
impl Experiment for Plan<'_> {
    fn units(&self) -> Vec<Unit> {
        self.jobs
            .iter()
            .map(|&(ti, seed)| {
                let t = &self.trainees[ti];
                let samples = t.p.data.samples.unwrap_or(1000) as f64;
                // About three multiply-adds per parameter per sample (forward, backward, update), and per
                // time step where the model starts with a recurrent layer.
                let steps = match t.model.layers.first() {
                    Some(LayerSpec::SimpleRnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r)) => r.features,
                    _ => None,
                };
                let steps = steps.map_or(1, |f| t.model.inputs / f.max(1));
                let cost = 3.0 * t.params as f64 * samples * (t.epochs.max(1) * steps) as f64;
                let at: String = t.point.iter().map(|(c, x)| format!(" {c}={x}")).collect();
                Unit { coords: format!("variant={}{at} seed={seed}", t.variant.name), cost }
            })
            .collect()
    }

    fn run_unit(&self, i: usize) -> Result<Part> {
        let (ti, seed) = self.jobs[i];
        let t = &self.trainees[ti];
        let shipped = self.shipped(&t.p.data)?;
        // Kernel draws come from the first seed only: one matrix per variant, as slide 7 draws one.
        let draws = t.p.kernel_draws.as_ref().filter(|_| seed == self.jobs[0].1);
        let r = session::train(self.s, shipped.as_ref().as_ref(), t, (seed, draws))?;
        Ok(session::to_part(r))
    }

    fn finish(&self, parts: Vec<Part>) -> Result<Output> {
        let runs: Vec<session::RunOutcome> = parts
            .into_iter()
            .zip(&self.jobs)
            .map(|(part, &(ti, _))| session::from_part(self.s, self.trainees[ti].index, part))
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

impl Plan<'_> {
    /// The shipped data set a run's `[params.data]` names (`None` for generators), loaded once.
    fn shipped(&self, d: &DataSpec) -> Result<std::sync::Arc<Option<engine::data::Dataset>>> {
        let mut cache = self.shipped.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, set)) = cache.iter().find(|(name, _)| *name == d.name) {
            return Ok(set.clone());
        }
        let set = std::sync::Arc::new(d.load_shipped().map_err(engine_err(self.s))?);
        cache.push((d.name, set.clone()));
        Ok(set)
    }
}

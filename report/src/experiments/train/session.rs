//! One training run (one variant, one seed): data, model, optimiser and clipping built from the
//! scenario, `fit` with the engine's `MonitorHook`, evaluation, and the run's records: the monitor's
//! table with the runner's own rows added to it (epoch losses, test accuracy, per-layer snapshots). A NaN
//! or infinity stops the run with its records kept.
use super::Trainee;
use super::profile::{self, Precision};
use crate::error::{ReportError, Result};
use crate::scenario::Scenario;
use engine::clip::ClipReport;
use engine::data::{Dataset, Targets};
use engine::model::{Data, EpochLog, FitConfig, StepHook, StepView};
use engine::monitor::{GLOBAL, MonitorConfig, MonitorHook, Records, metric as m, point};
use engine::params::ParamStore;

/// What one run leaves behind: its rows (the key figures are read from them), where it stopped, its steps.
pub struct RunOutcome {
    pub variant: usize,
    /// The run's table: the monitor's rows and the runner's.
    pub records: Records,
    /// Where training stopped on a non-finite value: (step, the engine's message).
    pub stopped: Option<(u64, String)>,
    pub steps: u64,
}

/// A run as a unit's part: its table, and where it stopped in `data` (the key figures are read from the
/// records when the scenario finishes).
pub fn to_part(r: RunOutcome) -> crate::experiments::runner::Part {
    let data = serde_json::json!({ "stopped": r.stopped.map(|(step, msg)| serde_json::json!([step, msg])) });
    crate::experiments::runner::Part {
        records: vec![r.records],
        key_figures: Vec::new(),
        steps: r.steps,
        data,
    }
}

/// The run back from its part ([`to_part`]); a part that does not hold one run names what is missing.
pub fn from_part(s: &Scenario, variant: usize, part: crate::experiments::runner::Part) -> Result<RunOutcome> {
    let bad = |what: &str| ReportError::run(&s.name, format!("a unit's output lacks {what}"));
    let mut records = part.records.into_iter();
    let (Some(records), None) = (records.next(), records.next()) else { return Err(bad("its one run")) };
    let stopped = match &part.data["stopped"] {
        serde_json::Value::Null => None,
        v => match (v[0].as_u64(), v[1].as_str()) {
            (Some(step), Some(msg)) => Some((step, msg.to_string())),
            _ => return Err(bad("where it stopped ([step, message])")),
        },
    };
    Ok(RunOutcome { variant, records, stopped, steps: part.steps })
}

/// Splitmix-style stream separation, so data, initialisation and shuffling never share a stream.
fn stream(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The monitor plus the epoch logs `fit` reports, which a run that stops early never returns, and
/// every step's batch loss when the scenario asks for it.
struct Hook {
    monitor: MonitorHook,
    epochs: Vec<EpochLog>,
    steps: u64,
    losses: Option<Vec<(u64, f64)>>,
    /// `monitor.every = 0`: no per-step rows (a non-finite value still stops the fit, by its own check).
    off: bool,
}

impl StepHook<f32> for Hook {
    fn on_step(&mut self, view: &StepView<'_, f32>) -> engine::Result<()> {
        self.steps = view.step as u64 + 1;
        if let Some(l) = &mut self.losses {
            l.push((view.step as u64, view.loss));
        }
        if self.off {
            return Ok(());
        }
        self.monitor.on_step(view)
    }

    fn on_non_finite(&mut self, view: &StepView<'_, f32>) -> engine::Result<()> {
        self.steps = view.step as u64;
        self.monitor.on_non_finite(view)
    }

    fn on_epoch_end(&mut self, log: &EpochLog) -> engine::Result<()> {
        self.epochs.push(log.clone());
        self.monitor.on_epoch_end(log)
    }

    fn on_clip(&mut self, step: usize, report: &ClipReport) -> engine::Result<()> {
        self.monitor.on_clip(step, report)
    }

    fn on_fit_end(&mut self, params: &ParamStore<f32>) -> engine::Result<()> {
        self.monitor.on_fit_end(params)
    }
}

pub fn train(
    s: &Scenario,
    shipped: Option<&Dataset>,
    trainee: &Trainee<'_>,
    (seed, draws): (u64, Option<&super::profile::KernelDraws>),
) -> Result<RunOutcome> {
    let (v, vi, p) = (trainee.variant, trainee.index, &trainee.p);
    let at: String = trainee.point.iter().map(|(c, x)| format!(", {c} = {x}")).collect();
    let fail =
        |e: engine::Error| ReportError::run(&s.name, format!("variant `{}`{at}, seed {seed}: {e}", v.name));
    let incomplete = || ReportError::run(&s.name, format!("variant `{}` has no optimizer", v.name));
    let (spec, loss, epochs) = (&trainee.model, trainee.loss, trainee.epochs);
    let (train, test) = p.data.make(shipped, stream(seed, 1)).map_err(fail)?;
    let mut model = spec.build::<f32>(stream(seed, 2)).map_err(fail)?;
    let batch = trainee.batch;
    let config = MonitorConfig { every: p.monitor.every.max(1), histograms: p.monitor.histograms };
    let mut hook = Hook {
        monitor: MonitorHook::new(&model, config, Records::new(&s.name, &v.name, seed)),
        epochs: Vec::with_capacity(epochs),
        steps: 0,
        losses: p.batch_loss.then(Vec::new),
        off: p.monitor.every == 0,
    };
    let steps_per_epoch = train.len().div_ceil(batch);
    let train_data = Data::from(&train);
    let test_data = test.as_ref().map(Data::from);
    let fitted = if epochs == 0 && hook.off {
        // At initialisation with the monitor off, the profile is the whole measurement.
        Ok(())
    } else if epochs == 0 {
        // At initialisation: one forward and backward pass over the first batch, monitored, no update.
        let probed = model.probe(&train_data.head(batch), loss, &mut hook).map(|_| ());
        hook.steps = 0;
        probed
    } else {
        let opt = trainee.optimizer.as_ref().ok_or_else(incomplete)?.build::<f32>().map_err(fail)?;
        let mut cfg = FitConfig::new(loss)
            .optimizer(opt)
            .epochs(epochs)
            .batch_size(batch)
            .shuffle(p.shuffle)
            .seed(stream(seed, 3))
            .hook(&mut hook);
        if let (true, Some(t)) = (p.test_each_epoch, test_data) {
            cfg = cfg.validation(t);
        }
        if let Some(c) = &v.clipping {
            cfg = cfg.clip(*c);
        }
        model.fit(&train_data, &mut cfg).map(|_| ())
    };
    let stopped = match fitted {
        Ok(_) => None,
        Err(engine::Error::NonFinite { pass, place }) => {
            let step = hook.monitor.first_non_finite().map_or(hook.steps, |n| n.step);
            Some((step, format!("non-finite value in the {pass} pass: {place}")))
        }
        Err(e) => return Err(fail(e)),
    };
    let Hook { monitor, epochs: logs, steps, losses, .. } = hook;
    let batch_losses = losses.unwrap_or_default();
    let mut records = monitor.into_records();
    // The profiles read the first `profile_batch` samples of the part `profile_on` names.
    let profiled = match (p.profile_on, &test) {
        (profile::Part::Test, Some(t)) => t,
        _ => &train,
    };
    let rows = p.profile_batch.unwrap_or(batch);
    if let Some(st) = &trainee.stack {
        // A model of its own, built from the training model's seed: the weights before any update.
        if p.profile || p.mean_field {
            let (mf, r) = (p.mean_field, &mut records);
            let pass = profile::Pass { data: profiled, rows, loss, step: 0, prefix: "" };
            match p.precision {
                Precision::F32 => {
                    profile::measure(&mut spec.build::<f32>(stream(seed, 2)).map_err(fail)?, st, mf, pass, r)
                }
                Precision::F64 => {
                    profile::measure(&mut spec.build::<f64>(stream(seed, 2)).map_err(fail)?, st, mf, pass, r)
                }
            }
            .map_err(fail)?;
        }
        if let Some(kd) = draws {
            profile::record_draws(st, kd, seed, &mut records).map_err(fail)?;
        }
    }
    if let (true, Some(st), None) = (p.profile_after && epochs > 0, &trainee.stack, &stopped) {
        // The trained weights themselves, in the precision they trained in.
        let pass = profile::Pass { data: profiled, rows, loss, step: steps, prefix: "final_" };
        profile::measure(&mut model, st, false, pass, &mut records).map_err(fail)?;
    }
    for (step, loss) in batch_losses {
        records.push_named(step, GLOBAL, "batch_loss", loss);
    }
    snapshots(&mut records);
    super::weight_layers::add_weight_layer_snapshots(&mut records);
    let mut extra = |step: u64, at: &str, metric: &str, value: f64| {
        records.push_named_at(step, GLOBAL, at, metric, value)
    };
    for (k, log) in logs.iter().enumerate() {
        if (k + 1) % p.epoch_every != 0 && k + 1 != logs.len() {
            continue;
        }
        // Epoch rows sit at the step count after the epoch, on the same axis as the monitor's steps.
        let at = ((k + 1) * steps_per_epoch) as u64;
        extra(at, "", "epoch_loss", log.loss);
        extra(at, "", "epoch_accuracy", log.accuracy);
        if let Some(e) = log.validation {
            extra(at, "", "test_loss", e.loss);
            extra(at, "", "test_accuracy", e.accuracy);
        }
    }
    if let Some((step, _)) = &stopped {
        extra(*step, "", "stopped_non_finite", 1.0);
    } else {
        if let Some(t) = &test {
            let e = model.evaluate(&Data::from(t), loss, batch).map_err(fail)?;
            extra(steps, "", "final_test_loss", e.loss);
            extra(steps, "", "final_test_accuracy", e.accuracy);
            if let (Some(tol), Targets::Values { y, .. }) = (p.tolerance, &t.targets) {
                let pred = model.predict(&t.x).map_err(fail)?;
                let hits = pred.iter().zip(y).filter(|(a, b)| (f64::from(**a) - f64::from(**b)).abs() <= tol);
                extra(steps, "", "final_test_within", hits.count() as f64 / y.len().max(1) as f64);
            }
        }
        if !p.predict.is_empty() {
            let x: Vec<f32> = p.predict.iter().flatten().map(|&v| v as f32).collect();
            let y = model.predict(&x).map_err(fail)?;
            let w = model.output_width();
            for (i, row) in y.chunks(w).enumerate() {
                // Which `[params] predict` row (from 0, as the `prediction{i}` key figures count).
                extra(steps, &point(&[("row", i as f64)]), "prediction", f64::from(row[0]));
            }
        }
    }
    stamp(&mut records, &trainee.point);
    Ok(RunOutcome { variant: vi, records, stopped, steps })
}

/// Puts a run's own coordinates (a sweep's value) on every one of its rows, beside the row's own.
fn stamp(r: &mut Records, coords: &[(String, f64)]) {
    if coords.is_empty() {
        return;
    }
    let old: Vec<String> = std::iter::once(String::new()).chain(r.points.iter().cloned()).collect();
    let new: Vec<u32> = old
        .iter()
        .map(|text| {
            let own =
                engine::monitor::record::coordinates(text).map(|(k, v)| (k, v.parse().unwrap_or(f64::NAN)));
            let all: Vec<(&str, f64)> = coords.iter().map(|(k, v)| (k.as_str(), *v)).chain(own).collect();
            r.point_id(&point(&all))
        })
        .collect();
    for row in &mut r.rows {
        row.point = new[row.point as usize];
    }
}

/// Per-layer metrics copied at the first and the last recorded step as `init_METRIC` and
/// `final_METRIC`, so a chart over the layer index can show one moment of training.
const SNAPSHOT: [&str; 6] =
    [m::GRAD_NORM, m::GRAD_RMS, m::GRAD_MEAN_ABS, m::SIGNAL_NORM, m::ACT_STD, m::UPDATE_RATIO];

fn snapshots(r: &mut Records) {
    for metric in SNAPSHOT {
        let Some(m) = r.metrics.iter().position(|x| x == metric) else { continue };
        let global = r.layers.iter().position(|x| x == GLOBAL);
        // Per-layer rows without coordinates: the step axis of the metric as the monitor wrote it.
        let per_layer = |row: &&engine::monitor::Row| {
            row.metric as usize == m && row.point == 0 && Some(row.layer as usize) != global
        };
        let steps = r.rows.iter().filter(per_layer).map(|row| row.step);
        let (Some(first), Some(last)) = (steps.clone().min(), steps.max()) else { continue };
        let (init, fin) = (r.metric_id(&format!("init_{metric}")), r.metric_id(&format!("final_{metric}")));
        let mut copies = Vec::new();
        for row in r.rows.iter().filter(per_layer) {
            if row.step == first {
                copies.push(engine::monitor::Row { metric: init, ..*row });
            }
            if row.step == last {
                copies.push(engine::monitor::Row { metric: fin, ..*row });
            }
        }
        r.rows.extend(copies);
    }
}

//! Running scenarios: a registry from a scenario's `kind` to its runner, the tidy records and key figures
//! a runner returns, the verdicts on the source's claims, and the parallel loop over scenarios.
use crate::error::Result;
use crate::experiments;
use crate::scenario::{Claim, Scenario};
use rayon::prelude::*;
use serde::Serialize;
use std::time::{Duration, Instant};
use toml::Spanned;

/// One measured number, tidy: one row per (scenario, variant, seed, step, layer, metric).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub scenario: String,
    pub variant: String,
    pub seed: u64,
    pub step: u64,
    pub layer: Option<u32>,
    pub metric: String,
    pub value: f64,
    /// The engine's name of the layer (`3:dense(sigmoid)`, `*` for the whole network) when the record
    /// comes from the monitor; the diagnosis regroups such records into the engine's per-run table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_name: Option<String>,
}

/// A number the section leads with, computed by the runner from its measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyFigure {
    pub key: String,
    pub label: String,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The measurement meets the claim's criterion.
    Agrees,
    /// It does not.
    Contradicted,
    /// The claim states no number to compare with.
    NotTestable,
}

/// A source claim next to the measured figure it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimResult {
    pub key: String,
    pub label: String,
    pub source_says: String,
    pub measured: f64,
    pub expected: Option<f64>,
    pub range: Option<[f64; 2]>,
    pub criterion: Option<String>,
    pub verdict: Verdict,
}

/// What one scenario produced; everything on the page and in the data files comes from here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioResult {
    pub scenario: String,
    pub kind: String,
    pub seeds: Vec<u64>,
    pub quick: bool,
    pub key_figures: Vec<KeyFigure>,
    pub claims: Vec<ClaimResult>,
    /// Each variant's verdicts from `engine::diagnose`, for runners whose records carry layer names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<crate::diagnosis::VariantDiagnosis>,
    #[serde(skip)]
    pub records: Vec<Record>,
    /// Training steps the runner reported with `timings::count_steps` (timings only, not in the data).
    #[serde(skip)]
    pub steps: u64,
}

/// What a runner returns; the claims are judged afterwards, the same way for every kind.
#[derive(Debug, Default)]
pub struct Output {
    pub records: Vec<Record>,
    pub key_figures: Vec<KeyFigure>,
}

/// Options every runner receives.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Smaller sizes for a fast look: each scenario's `[params.quick]` laid over its `[params]` (what is
    /// measured stays the same, only how much).
    pub quick: bool,
    /// Replaces every scenario's seed list with this one seed.
    pub seed: Option<u64>,
}

impl RunOptions {
    pub fn seeds(&self, s: &Scenario) -> Vec<u64> {
        self.seed.map_or_else(|| s.spec.seeds.clone(), |seed| vec![seed])
    }
}

pub struct Runner {
    pub kind: &'static str,
    pub about: &'static str,
    /// Reads the kind-specific parts of a scenario (`[params]` once, with `[params.quick]` laid over it in
    /// a quick run, and the variants' fields), checks every value, and returns the typed plan that runs.
    /// Nothing is measured here, so every scenario is prepared before any runs.
    pub prepare: for<'s> fn(&'s Scenario, &RunOptions) -> Result<Box<dyn Experiment + 's>>,
}

/// A scenario's validated plan: running it needs no further parsing or checking of the scenario file.
pub trait Experiment: Send + Sync {
    fn run(&self) -> Result<Output>;
}

/// A runner's plan is usually its typed values moved into a closure: `Box::new(move || run(&plan))`.
impl<F: Fn() -> Result<Output> + Send + Sync> Experiment for F {
    fn run(&self) -> Result<Output> {
        self()
    }
}

pub const REGISTRY: &[Runner] = &[
    experiments::activations::RUNNER,
    experiments::repeated_multiplication::RUNNER,
    experiments::recurrent::RUNNER,
    experiments::residual::RUNNER,
    experiments::train::RUNNER,
    experiments::phase_diagram::RUNNER,
    experiments::jacobian_spectra::RUNNER,
    experiments::gradient_factor_table::RUNNER,
    experiments::init_distributions::RUNNER,
];

/// The runner for a scenario's `kind`; an unknown kind points at the `kind` key and lists the known ones.
pub fn runner_for(s: &Scenario) -> Result<&'static Runner> {
    let kind = s.spec.kind.get_ref();
    REGISTRY.iter().find(|r| r.kind == kind).ok_or_else(|| {
        let known: Vec<&str> = REGISTRY.iter().map(|r| r.kind).collect();
        s.error_at(
            s.spec.kind.span(),
            format!("unknown kind `{kind}`, expected one of: {}", known.join(", ")),
        )
    })
}

/// Appends records for one scenario without repeating its name at every call site.
pub struct Recorder {
    scenario: String,
    pub records: Vec<Record>,
}

impl Recorder {
    pub fn new(s: &Scenario) -> Self {
        Recorder { scenario: s.name.clone(), records: Vec::new() }
    }

    pub fn push(
        &mut self,
        variant: &str,
        seed: u64,
        step: u64,
        layer: Option<u32>,
        metric: &str,
        value: f64,
    ) {
        self.records.push(Record {
            scenario: self.scenario.clone(),
            variant: variant.to_string(),
            seed,
            step,
            layer,
            metric: metric.to_string(),
            value,
            layer_name: None,
        });
    }
}

/// The scenario's plan from its runner (see [`Runner::prepare`]).
pub fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    (runner_for(s)?.prepare)(s, opts)
}

/// Prepares and runs one scenario, and judges its claims.
pub fn run_one(s: &Scenario, opts: &RunOptions) -> Result<ScenarioResult> {
    run_prepared(s, prepare(s, opts)?.as_ref(), opts)
}

/// Runs a scenario's plan and judges its claims.
fn run_prepared(s: &Scenario, plan: &dyn Experiment, opts: &RunOptions) -> Result<ScenarioResult> {
    let runner = runner_for(s)?;
    let (out, steps) = crate::timings::counting_steps(s, || plan.run());
    let out = out?;
    let claims = s.spec.claims.iter().map(|c| judge(s, c, &out.key_figures)).collect::<Result<_>>()?;
    let diagnoses = crate::diagnosis::diagnose_records(s, &out.records)?;
    Ok(ScenarioResult {
        scenario: s.name.clone(),
        kind: runner.kind.to_string(),
        seeds: opts.seeds(s),
        quick: opts.quick,
        key_figures: out.key_figures,
        claims,
        diagnoses,
        records: out.records,
        steps,
    })
}

fn judge(s: &Scenario, spanned: &Spanned<Claim>, figures: &[KeyFigure]) -> Result<ClaimResult> {
    let c = spanned.get_ref();
    let fig = figures.iter().find(|f| f.key == c.key).ok_or_else(|| {
        let keys: Vec<&str> = figures.iter().map(|f| f.key.as_str()).collect();
        s.error_at(
            spanned.span(),
            format!(
                "claim about `{}`, but the runner measured no such figure; it has: {}",
                c.key,
                keys.join(", ")
            ),
        )
    })?;
    let m = fig.value;
    let verdict = match (c.expected, c.range) {
        (Some(e), _) => {
            let tol = c.rel_tol.unwrap_or(1e-3) * e.abs().max(f64::MIN_POSITIVE);
            if (m - e).abs() <= tol { Verdict::Agrees } else { Verdict::Contradicted }
        }
        (None, Some([lo, hi])) => {
            if (lo..=hi).contains(&m) {
                Verdict::Agrees
            } else {
                Verdict::Contradicted
            }
        }
        (None, None) => Verdict::NotTestable,
    };
    Ok(ClaimResult {
        key: c.key.clone(),
        label: fig.label.clone(),
        source_says: c.source_says.clone(),
        measured: m,
        expected: c.expected,
        range: c.range,
        criterion: c.criterion.clone(),
        verdict,
    })
}

/// Prepares every scenario before running any, so a mistake in the last file fails fast.
pub fn prepare_all<'s>(
    scenarios: &'s [Scenario],
    opts: &RunOptions,
) -> Result<Vec<Box<dyn Experiment + 's>>> {
    scenarios.iter().map(|s| prepare(s, opts)).collect()
}

/// Prepares every scenario (see [`prepare_all`]), then runs them in parallel (one task per scenario) on
/// the current rayon pool and returns results in input order with each one's wall time. Each runner is
/// deterministic by itself, so the results do not depend on the number of threads. `done` is called as
/// each scenario finishes.
pub fn run_all(
    scenarios: &[Scenario],
    opts: &RunOptions,
    done: &(dyn Fn(&Scenario, Duration) + Sync),
) -> Result<Vec<(ScenarioResult, Duration)>> {
    let plans = prepare_all(scenarios, opts)?;
    scenarios
        .par_iter()
        .zip(&plans)
        .map(|(s, plan)| {
            let t = Instant::now();
            let r = run_prepared(s, plan.as_ref(), opts)?;
            let dt = t.elapsed();
            done(s, dt);
            Ok((r, dt))
        })
        .collect()
}

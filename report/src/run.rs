//! Orchestration: prepares every scenario with its registered runner, runs the plans (in parallel over
//! scenarios), judges the claims and diagnoses the records. The types it combines live in `record`,
//! `claims` and `diagnosis`; the runners and their registry in `experiments`.
use crate::claims::{ClaimResult, judge};
use crate::diagnosis::VariantDiagnosis;
use crate::error::Result;
use crate::experiments::{Experiment, RunOptions, run_plan, runner_for};
use crate::record::Output;
use crate::record::{KeyFigure, Records};
use crate::scenario::Scenario;
use rayon::prelude::*;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What one scenario produced; everything on the page and in the data files comes from here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioResult {
    pub scenario: String,
    pub kind: String,
    pub seeds: Vec<u64>,
    pub quick: bool,
    pub key_figures: Vec<KeyFigure>,
    pub claims: Vec<ClaimResult>,
    /// Each variant's verdicts from `engine::diagnose`, for runs that recorded gradient norms.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<VariantDiagnosis>,
    /// What the remedies did for each failing variant (a scenario with `[remedy] enabled = true`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// (`remedy::Cure` as JSON: the remedy module builds on this one, not the other way round.)
    pub remedies: Vec<serde_json::Value>,
    #[serde(skip)]
    pub records: Vec<Records>,
    /// Training steps the runner ran (timings only, not in the data).
    #[serde(skip)]
    pub steps: u64,
}

/// The scenario's plan from its runner (see [`crate::experiments::Runner::prepare`]).
pub fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    (runner_for(s)?.prepare)(s, opts)
}

/// Prepares every scenario before running any, so a mistake in the last file fails fast.
pub fn prepare_all<'s>(
    scenarios: &'s [Scenario],
    opts: &RunOptions,
) -> Result<Vec<Box<dyn Experiment + 's>>> {
    scenarios.iter().map(|s| prepare(s, opts)).collect()
}

/// Prepares and runs one scenario, and judges its claims.
pub fn run_one(s: &Scenario, opts: &RunOptions) -> Result<ScenarioResult> {
    run_prepared(s, prepare(s, opts)?.as_ref(), opts)
}

/// Runs a scenario's plan (every unit, see [`run_plan`]), judges its claims and diagnoses its records.
fn run_prepared(s: &Scenario, plan: &dyn Experiment, opts: &RunOptions) -> Result<ScenarioResult> {
    conclude(s, run_plan(plan)?, opts)
}

/// Judges a finished plan's claims and diagnoses its records: the same for a single run and a merge of
/// shards.
pub fn conclude(s: &Scenario, out: Output, opts: &RunOptions) -> Result<ScenarioResult> {
    let runner = runner_for(s)?;
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
        remedies: Vec::new(),
        records: out.records,
        steps: out.steps,
    })
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

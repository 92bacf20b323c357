//! The experiment runners, one file per `kind`, and the registry from a scenario's `kind` to its runner.
//! Each runner measures with the engine (kernels and tape), never with formulas of its own, and returns
//! tidy records plus the key figures its section leads with ([`crate::record::Output`]). Runners import
//! the shared parts (`record`, `stats`, `common`), never each other.
pub mod activations;
pub mod common;
pub mod gradient_factor_table;
pub mod init_distributions;
pub mod jacobian_spectra;
pub mod phase_diagram;
pub mod recurrent;
pub mod repeated_multiplication;
pub mod residual;
pub mod train;

use crate::error::{ReportError, Result};
use crate::record::Output;
use crate::scenario::Scenario;

/// A scenario `kind`: how its scenario becomes a plan that runs.
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
    activations::RUNNER,
    repeated_multiplication::RUNNER,
    recurrent::RUNNER,
    residual::RUNNER,
    train::RUNNER,
    phase_diagram::RUNNER,
    jacobian_spectra::RUNNER,
    gradient_factor_table::RUNNER,
    init_distributions::RUNNER,
];

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

/// Wraps an engine error with the scenario it happened in.
pub(crate) fn engine_err(s: &Scenario) -> impl Fn(engine::Error) -> ReportError + '_ {
    move |source| ReportError::Engine { scenario: s.name.clone(), source }
}

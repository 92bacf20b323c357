//! What a runner is: a `kind`, and how a scenario of that kind becomes a plan that runs. A leaf of the
//! experiments: every runner imports it, it imports no runner (the registry in `mod.rs` lists them).
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

/// Wraps an engine error with the scenario it happened in.
pub(crate) fn engine_err(s: &Scenario) -> impl Fn(engine::Error) -> ReportError + '_ {
    move |source| ReportError::Engine { scenario: s.name.clone(), source }
}

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

/// A scenario `kind`: how its params are checked and how it runs.
pub struct Runner {
    pub kind: &'static str,
    pub about: &'static str,
    /// Checks the kind-specific parts of a scenario (params, variant fields) before anything runs.
    pub check: fn(&Scenario) -> Result<()>,
    pub run: fn(&Scenario, &RunOptions) -> Result<Output>,
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
    /// Smaller sizes for a fast look (never changes what is measured, only how much).
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

/// Checks every scenario before running any, so a typo in the last file fails fast.
pub fn check_all(scenarios: &[Scenario]) -> Result<()> {
    for s in scenarios {
        (runner_for(s)?.check)(s)?;
    }
    Ok(())
}

/// Wraps an engine error with the scenario it happened in.
pub(crate) fn engine_err(s: &Scenario) -> impl Fn(engine::Error) -> ReportError + '_ {
    move |source| ReportError::Engine { scenario: s.name.clone(), source }
}

/// The variant's span-carrying error for a missing or misplaced field.
pub(crate) fn variant_error(s: &Scenario, index: usize, msg: impl Into<String>) -> ReportError {
    s.error_at(s.spec.variants[index].span(), msg)
}

//! The experiment runners, one file per `kind`, and the registry from a scenario's `kind` to its runner
//! (the runner type itself, what every runner implements, is in `runner.rs`, which imports no runner).
//! Each runner measures with the engine (kernels and tape), never with formulas of its own, and returns
//! tidy records plus the key figures its section leads with ([`crate::record::Output`]). Runners import
//! the shared parts (`record`, `stats`, `common`), never each other.
pub mod activations;
pub mod common;
pub mod jacobian_spectra;
pub mod phase_diagram;
pub mod repeated_multiplication;
pub mod runner;
pub mod train;

use crate::error::Result;
use crate::scenario::Scenario;
pub use runner::{Experiment, Part, RunOptions, Runner, Unit, run_plan};

pub const REGISTRY: &[Runner] = &[
    activations::RUNNER,
    repeated_multiplication::RUNNER,
    train::RUNNER,
    phase_diagram::RUNNER,
    jacobian_spectra::RUNNER,
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

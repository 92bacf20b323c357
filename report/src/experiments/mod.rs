//! The experiment runners, one file per `kind`. Each measures with the engine (kernels and tape), never
//! with formulas of its own, and returns tidy records plus the key figures its section leads with.
pub mod activations;
pub mod gradient_factor_table;
pub mod init_distributions;
pub mod jacobian_spectra;
pub mod phase_diagram;
pub mod recurrent;
pub mod repeated_multiplication;
pub mod residual;
pub mod train;

use crate::error::ReportError;
use crate::scenario::Scenario;

/// Wraps an engine error with the scenario it happened in.
pub(crate) fn engine_err(s: &Scenario) -> impl Fn(engine::Error) -> ReportError + '_ {
    move |source| ReportError::Engine { scenario: s.name.clone(), source }
}

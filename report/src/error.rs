//! The report's error type: every variant names the place (file, scenario, chart) and what went wrong.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A scenario file that does not parse or does not make sense; `line`/`column` are 1-based.
    #[error("{}:{line}:{column}: {msg}", path.display())]
    Scenario { path: PathBuf, line: usize, column: usize, msg: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("scenario `{scenario}`: {source}")]
    Engine {
        scenario: String,
        #[source]
        source: engine::Error,
    },

    #[error("scenario `{scenario}`: {msg}")]
    Run { scenario: String, msg: String },

    #[error("scenario `{scenario}`, chart `{chart}`: {msg}")]
    Chart { scenario: String, chart: String, msg: String },

    #[error("page template: {0}")]
    Template(#[from] minijinja::Error),

    #[error("{0}")]
    Usage(String),
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;

impl ReportError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io { path: path.into(), source }
    }

    pub fn run(scenario: &str, msg: impl Into<String>) -> Self {
        ReportError::Run { scenario: scenario.to_string(), msg: msg.into() }
    }
}

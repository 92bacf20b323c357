//! Errors the engine returns for bad input. Panics are kept for our own
//! invariants; anything a user can cause comes back as an [`Error`].
use crate::shape::Shape;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op}: shape mismatch: {lhs} vs {rhs}")]
    ShapeMismatch { op: &'static str, lhs: Shape, rhs: Shape },

    #[error("{op}: {msg}")]
    InvalidArgument { op: &'static str, msg: String },

    #[error("{layer}: invalid configuration: {msg}")]
    Config { layer: String, msg: String },

    #[error("{file}:{line}: {msg}")]
    Data { file: String, line: usize, msg: String },

    #[error("non-finite value in {pass} pass at {place}")]
    NonFinite { pass: &'static str, place: String },

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::InvalidArgument { op, msg: msg.into() }
    }
}

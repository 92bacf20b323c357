//! Parts several runners build from: networks measured at initialisation.
pub mod nets;

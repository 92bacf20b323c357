//! Optimisers: they update every parameter in the [`ParamStore`] from the
//! gradient gathered there after backward (and after clipping).
use crate::error::Result;
use crate::params::ParamStore;
use crate::real::Real;

pub trait Optimizer<T: Real>: Send {
    /// One update of every parameter from its gathered gradient.
    fn step(&mut self, params: &mut ParamStore<T>) -> Result<()>;
    fn learning_rate(&self) -> f64;
    fn set_learning_rate(&mut self, lr: f64);
}

//! Optimisers: they update every parameter in the [`ParamStore`] from the
//! gradient gathered there after backward (and after clipping).
//!
//! - [`Sgd`]: plain, momentum or Nesterov momentum ([`sgd`]).
//! - [`RmsProp`]: Keras' form and defaults ([`rmsprop`]).
//! - [`Adam`] and AdamW (decoupled weight decay) ([`adam`]).
//! - Learning-rate schedules and reduce-on-plateau ([`schedule`]).
//!
//! Each optimiser allocates its state buffers on its first step, one set per
//! parameter, and reuses them after: a training step allocates nothing. A
//! store that changed shape since then is an error, not a silent reset.
use crate::error::{Error, Result};
use crate::params::ParamStore;
use crate::real::Real;

pub mod adam;
pub mod rmsprop;
pub mod schedule;
pub mod sgd;
pub mod spec;

pub use adam::{Adam, AdamConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::{LrSchedule, ReduceOnPlateau, Scheduled};
pub use sgd::{Sgd, SgdConfig};
pub use spec::{OptimizerKind, OptimizerSpec, ScheduleSpec};

pub trait Optimizer<T: Real>: Send {
    /// One update of every parameter from its gathered gradient.
    fn step(&mut self, params: &mut ParamStore<T>) -> Result<()>;
    fn learning_rate(&self) -> f64;
    fn set_learning_rate(&mut self, lr: f64);
}

/// A borrowed optimiser trains like an owned one (its state stays with the owner).
impl<T: Real, O: Optimizer<T> + ?Sized> Optimizer<T> for &mut O {
    fn step(&mut self, params: &mut ParamStore<T>) -> Result<()> {
        (**self).step(params)
    }
    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) {
        (**self).set_learning_rate(lr)
    }
}

impl<T: Real, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn step(&mut self, params: &mut ParamStore<T>) -> Result<()> {
        (**self).step(params)
    }
    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) {
        (**self).set_learning_rate(lr)
    }
}

/// Penalties on the weights, available in every optimiser; both default to 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Regularization {
    /// L2 regularisation λ: `λ·w` is added to the gradient before the update
    /// (the gradient of `λ/2·‖w‖²`; PyTorch's `weight_decay` in `SGD`/`Adam`).
    /// It passes through momentum and, in adaptive optimisers, through the
    /// per-coordinate scaling, which weakens it where gradients are large.
    pub l2: f64,
    /// Decoupled weight decay (Loshchilov & Hutter 2019, AdamW): each step
    /// also does `w ← w − lr·wd·w`, outside the gradient and its scaling.
    pub weight_decay: f64,
}

impl Regularization {
    fn validate(&self, op: &'static str) -> Result<()> {
        non_negative(op, "l2", self.l2)?;
        non_negative(op, "weight_decay", self.weight_decay)
    }
}

/// Values below which a parameter's update stays whole on the calling thread.
const PAR_MIN_PART: usize = 4096;

/// Runs `update` over the ranges that cut a parameter of `len` values into the hot run's
/// consecutive parts (`kernels::hot_pool`), the parts the products that computed its gradient cut
/// it into. Each value's update reads and writes only that value, so the cut changes no bit.
fn by_parts(len: usize, update: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
    crate::kernels::hot_pool::for_parts(len, 16, PAR_MIN_PART, update)
}

/// The gradient the update uses: the gathered one plus the L2 term.
#[inline]
fn regularized<T: Real>(g: T, w: T, l2: T) -> T {
    l2.mul_add(w, g)
}

fn non_negative(op: &'static str, what: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("{what} must be finite and ≥ 0, got {v}")))
    }
}

fn in_unit(op: &'static str, what: &str, v: f64) -> Result<()> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("{what} must be in [0, 1), got {v}")))
    }
}

/// `per_param` state buffers for every parameter, allocated on the first
/// step (zero-filled) and checked against the store on every later one.
#[derive(Clone, Debug, Default)]
struct Slots<T> {
    bufs: Vec<Vec<T>>,
}

impl<T: Real> Slots<T> {
    fn prepare(&mut self, op: &'static str, params: &ParamStore<T>, per_param: usize) -> Result<()> {
        if self.bufs.is_empty() {
            self.bufs = params
                .iter()
                .flat_map(|(_, p)| (0..per_param).map(move |_| vec![T::zero(); p.value.len()]))
                .collect();
            return Ok(());
        }
        let matches = self.bufs.len() == per_param * params.len()
            && params
                .iter()
                .zip(self.bufs.chunks_exact(per_param))
                .all(|((_, p), b)| b[0].len() == p.value.len());
        if matches {
            Ok(())
        } else {
            Err(Error::invalid(
                op,
                format!(
                    "the parameter store changed since the first step ({} parameters now, state for {})",
                    params.len(),
                    self.bufs.len() / per_param
                ),
            ))
        }
    }
}

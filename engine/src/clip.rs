//! Gradient clipping of the gradients gathered in the [`ParamStore`], in the
//! three senses the frameworks use, which are not interchangeable:
//!
//! - [`clip_by_value`]: each element to `[-v, v]` (Keras `clipvalue`). Changes
//!   the gradient's direction.
//! - [`clip_by_norm_per_tensor`]: each parameter tensor whose L2 norm exceeds
//!   `c` is rescaled to norm `c`, separately (Keras `clipnorm`, TF
//!   `clip_by_norm`). Every tensor ends at norm ≤ `c`, so the global norm after
//!   can still be up to `√n·c` for `n` tensors, and the direction changes.
//! - [`clip_by_global_norm`]: when the L2 norm over every parameter together
//!   exceeds `c`, all gradients are scaled by the same `c/norm` (PyTorch
//!   `clip_grad_norm_`, Keras `global_clipnorm`, TF `clip_by_global_norm`).
//!   The global norm after is at most `c` and the direction is kept.
//!
//! Norms are accumulated in f64. A non-finite gradient is an error naming the
//! parameter: scaling it would only spread the NaN to every other tensor.
use crate::error::{Error, Result};
use crate::params::ParamStore;
use crate::real::Real;
use serde::Deserialize;

/// Which of the three clippings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClipKind {
    /// [`clip_by_global_norm`].
    GlobalNorm,
    /// [`clip_by_norm_per_tensor`] (Keras `clipnorm`).
    PerTensorNorm,
    /// [`clip_by_value`] (Keras `clipvalue`).
    Value,
}

/// A clipping as data: `{ type = "global_norm", threshold = 1.0 }`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipSpec {
    #[serde(rename = "type")]
    pub kind: ClipKind,
    pub threshold: f64,
}

impl ClipSpec {
    pub fn new(kind: ClipKind, threshold: f64) -> Self {
        ClipSpec { kind, threshold }
    }

    /// Clips the gathered gradients; `norms` is the per-tensor clipping's
    /// buffer (its capacity is reused from step to step).
    pub fn apply<T: Real>(&self, params: &mut ParamStore<T>, norms: &mut Vec<f64>) -> Result<ClipReport> {
        match self.kind {
            ClipKind::Value => clip_by_value(params, self.threshold),
            ClipKind::PerTensorNorm => clip_by_norm_per_tensor(params, self.threshold, norms),
            ClipKind::GlobalNorm => clip_by_global_norm(params, self.threshold),
        }
    }

    /// Checks the threshold (positive and finite) before any step runs.
    pub fn validate(&self) -> Result<()> {
        check_threshold("clip", self.threshold)
    }
}

/// What a clipping call saw and did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipReport {
    /// Global L2 norm of all gradients before clipping.
    pub norm_before: f64,
    /// Global L2 norm after clipping.
    pub norm_after: f64,
    /// Whether any gradient was changed.
    pub clipped: bool,
}

/// Clips every gradient element to `[-max_value, max_value]`.
pub fn clip_by_value<T: Real>(params: &mut ParamStore<T>, max_value: f64) -> Result<ClipReport> {
    check_threshold("clip_by_value", max_value)?;
    let norm_before = global_norm(params)?;
    let (hi, lo) = (T::c(max_value), T::c(-max_value));
    let mut clipped = false;
    for (_, p) in params.iter_mut() {
        for g in &mut p.grad {
            if *g > hi || *g < lo {
                *g = g.max(lo).min(hi);
                clipped = true;
            }
        }
    }
    let norm_after = if clipped { global_norm(params)? } else { norm_before };
    Ok(ClipReport { norm_before, norm_after, clipped })
}

/// Rescales each tensor whose norm exceeds `max_norm` to norm `max_norm`,
/// independently. `norms` receives each tensor's norm before clipping, in
/// store order (cleared first; its capacity is reused across steps).
pub fn clip_by_norm_per_tensor<T: Real>(
    params: &mut ParamStore<T>,
    max_norm: f64,
    norms: &mut Vec<f64>,
) -> Result<ClipReport> {
    check_threshold("clip_by_norm_per_tensor", max_norm)?;
    let norm_before = global_norm(params)?;
    norms.clear();
    let mut clipped = false;
    for (_, p) in params.iter_mut() {
        let norm = sum_sq(&p.name, &p.grad)?.sqrt();
        norms.push(norm);
        if norm > max_norm {
            scale(&mut p.grad, max_norm / norm);
            clipped = true;
        }
    }
    let norm_after = if clipped { global_norm(params)? } else { norm_before };
    Ok(ClipReport { norm_before, norm_after, clipped })
}

/// Scales all gradients by `max_norm / global_norm` when the global norm
/// exceeds `max_norm`.
pub fn clip_by_global_norm<T: Real>(params: &mut ParamStore<T>, max_norm: f64) -> Result<ClipReport> {
    check_threshold("clip_by_global_norm", max_norm)?;
    let norm_before = global_norm(params)?;
    if norm_before <= max_norm {
        return Ok(ClipReport { norm_before, norm_after: norm_before, clipped: false });
    }
    let factor = max_norm / norm_before;
    for (_, p) in params.iter_mut() {
        scale(&mut p.grad, factor);
    }
    Ok(ClipReport { norm_before, norm_after: global_norm(params)?, clipped: true })
}

/// L2 norm of every gradient in the store together; an error names the first
/// parameter holding a non-finite gradient.
pub fn global_norm<T: Real>(params: &ParamStore<T>) -> Result<f64> {
    let mut total = 0.0f64;
    for (_, p) in params.iter() {
        total += sum_sq(&p.name, &p.grad)?;
    }
    Ok(total.sqrt())
}

/// Σg² in f64, or an error naming the parameter when an element is not finite.
fn sum_sq<T: Real>(name: &str, grad: &[T]) -> Result<f64> {
    let fast = T::sum_sq_slice(grad).as_f64();
    if fast.is_finite() {
        return Ok(fast);
    }
    if grad.iter().any(|g| !g.is_finite()) {
        return Err(Error::NonFinite { pass: "backward", place: format!("gradient of {name}") });
    }
    // Finite elements whose squares overflow f32: redo the sum in f64.
    Ok(grad.iter().map(|g| g.as_f64() * g.as_f64()).sum())
}

fn scale<T: Real>(grad: &mut [T], factor: f64) {
    let f = T::c(factor);
    grad.iter_mut().for_each(|g| *g = *g * f);
}

fn check_threshold(op: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("threshold must be positive and finite, got {v}")))
    }
}

//! Adam (Kingma & Ba 2015, Algorithm 1, as PyTorch implements it) and AdamW:
//! `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`,
//! `w ← w − lr·m̂/(√v̂ + ε)` with `m̂ = m/(1 − β₁ᵗ)`, `v̂ = v/(1 − β₂ᵗ)`.
//! Defaults β₁ 0.9, β₂ 0.999, lr 0.001 and ε 1e-8 (paper, PyTorch). Keras
//! uses ε 1e-7 and adds it to `√v` before the bias correction ("ε-hat"),
//! which is the same update with an effective `ε·√(1 − β₂ᵗ)`; set `epsilon`
//! to 1e-7 to come within that difference of Keras.
//!
//! AdamW is Adam with decoupled weight decay (`w ← w − lr·wd·w` beside the
//! update, as PyTorch's and Keras' `AdamW`); L2 regularisation instead adds
//! `λ·w` to `g`, where the adaptive scaling then divides it away.
use super::{Optimizer, Regularization, Slots, by_parts, in_unit, non_negative, regularized};
use crate::error::{Error, Result};
use crate::kernels::hot_pool::Parts;
use crate::params::ParamStore;
use crate::real::Real;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    pub regularization: Regularization,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            learning_rate: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            regularization: Regularization::default(),
        }
    }
}

impl AdamConfig {
    /// AdamW: Adam's defaults with decoupled weight decay `weight_decay`
    /// (PyTorch's default is 0.01, Keras' 0.004).
    pub fn adamw(weight_decay: f64) -> Self {
        AdamConfig { regularization: Regularization { l2: 0.0, weight_decay }, ..Self::default() }
    }
}

#[derive(Clone, Debug)]
pub struct Adam<T> {
    cfg: AdamConfig,
    /// Interleaved per parameter: first moment, then second moment.
    moments: Slots<T>,
    /// Steps taken, `t` in the bias corrections.
    steps: u64,
}

impl<T: Real> Adam<T> {
    pub fn new(cfg: AdamConfig) -> Result<Self> {
        non_negative("adam", "learning_rate", cfg.learning_rate)?;
        in_unit("adam", "beta1", cfg.beta1)?;
        in_unit("adam", "beta2", cfg.beta2)?;
        if !(cfg.epsilon.is_finite() && cfg.epsilon > 0.0) {
            return Err(Error::invalid(
                "adam",
                format!("epsilon must be finite and > 0, got {}", cfg.epsilon),
            ));
        }
        cfg.regularization.validate("adam")?;
        Ok(Adam { cfg, moments: Slots::default(), steps: 0 })
    }

    pub fn config(&self) -> &AdamConfig {
        &self.cfg
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }
}

impl<T: Real> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut ParamStore<T>) -> Result<()> {
        self.moments.prepare("adam", params, 2)?;
        self.steps += 1;
        let c = &self.cfg;
        let t = self.steps as f64;
        // Bias corrections folded into two scalars, computed in f64.
        let (corr1, corr2) = (1.0 - c.beta1.powf(t), 1.0 - c.beta2.powf(t));
        let step_size = T::c(c.learning_rate / corr1);
        let inv_sqrt_corr2 = T::c(1.0 / corr2.sqrt());
        let (b1, b2, eps) = (T::c(c.beta1), T::c(c.beta2), T::c(c.epsilon));
        let (one_b1, one_b2) = (T::one() - b1, T::one() - b2);
        let l2 = T::c(c.regularization.l2);
        let keep = T::one() - T::c(c.learning_rate * c.regularization.weight_decay);
        for ((_, p), mv) in params.iter_mut().zip(self.moments.bufs.chunks_exact_mut(2)) {
            let [m, v] = mv else { unreachable!("chunks of two") };
            let (w, g, m, v) = (Parts::new(&mut p.value), &p.grad[..], Parts::new(m), Parts::new(v));
            by_parts(g.len(), &|r| {
                // SAFETY: by_parts hands out disjoint ranges.
                let (w, m, v) = unsafe { (w.range(r.clone()), m.range(r.clone()), v.range(r.clone())) };
                for (((w, &g), m), v) in w.iter_mut().zip(&g[r]).zip(m).zip(v) {
                    let g = regularized(g, *w, l2);
                    *m = b1.mul_add(*m, one_b1 * g);
                    *v = b2.mul_add(*v, one_b2 * g * g);
                    let denom = v.sqrt() * inv_sqrt_corr2 + eps;
                    *w = keep * *w - step_size * *m / denom;
                }
            });
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.cfg.learning_rate
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.cfg.learning_rate = lr;
    }
}

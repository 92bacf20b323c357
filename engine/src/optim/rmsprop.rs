//! RMSprop (Hinton's lecture 6e) in Keras' form and with Keras' defaults:
//! `a ← ρ·a + (1 − ρ)·g²`, `w ← w − lr·g/√(a + ε)`, with lr 0.001, ρ 0.9,
//! ε 1e-7. (PyTorch puts ε outside the root, `g/(√a + ε)`, with ε 1e-8 and
//! lr 0.01, α = ρ 0.99; the two differ only where `a` is tiny.)
use super::{Optimizer, Regularization, Slots, by_parts, in_unit, non_negative, regularized};
use crate::error::{Error, Result};
use crate::kernels::hot_pool::Parts;
use crate::params::ParamStore;
use crate::real::Real;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    pub learning_rate: f64,
    pub rho: f64,
    pub epsilon: f64,
    pub regularization: Regularization,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            learning_rate: 0.001,
            rho: 0.9,
            epsilon: 1e-7,
            regularization: Regularization::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RmsProp<T> {
    cfg: RmsPropConfig,
    mean_square: Slots<T>,
}

impl<T: Real> RmsProp<T> {
    pub fn new(cfg: RmsPropConfig) -> Result<Self> {
        non_negative("rmsprop", "learning_rate", cfg.learning_rate)?;
        in_unit("rmsprop", "rho", cfg.rho)?;
        if !(cfg.epsilon.is_finite() && cfg.epsilon > 0.0) {
            return Err(Error::invalid(
                "rmsprop",
                format!("epsilon must be finite and > 0, got {}", cfg.epsilon),
            ));
        }
        cfg.regularization.validate("rmsprop")?;
        Ok(RmsProp { cfg, mean_square: Slots::default() })
    }

    pub fn config(&self) -> &RmsPropConfig {
        &self.cfg
    }
}

impl<T: Real> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &mut ParamStore<T>) -> Result<()> {
        self.mean_square.prepare("rmsprop", params, 1)?;
        let lr = T::c(self.cfg.learning_rate);
        let (rho, eps) = (T::c(self.cfg.rho), T::c(self.cfg.epsilon));
        let one_minus_rho = T::one() - rho;
        let l2 = T::c(self.cfg.regularization.l2);
        let keep = T::one() - lr * T::c(self.cfg.regularization.weight_decay);
        for ((_, p), a) in params.iter_mut().zip(&mut self.mean_square.bufs) {
            let (w, g, a) = (Parts::new(&mut p.value), &p.grad[..], Parts::new(a));
            by_parts(g.len(), &|r| {
                // SAFETY: by_parts hands out disjoint ranges.
                let (w, a) = unsafe { (w.range(r.clone()), a.range(r.clone())) };
                for ((w, &g), a) in w.iter_mut().zip(&g[r]).zip(a) {
                    let g = regularized(g, *w, l2);
                    *a = rho.mul_add(*a, one_minus_rho * g * g);
                    *w = keep * *w - lr * g / (*a + eps).sqrt();
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

//! Stochastic gradient descent with optional (Nesterov) momentum, in
//! PyTorch's form: `v ← μ·v + g`, then `w ← w − lr·v` (heavy ball) or
//! `w ← w − lr·(g + μ·v)` (Nesterov). Keras writes `v ← μ·v − lr·g`,
//! `w ← w + v` (Nesterov: `w ← w + μ·v − lr·g`); with a constant learning rate
//! its `v` is `−lr` times ours and the steps are identical.
use super::{Optimizer, Regularization, Slots, by_parts, in_unit, non_negative, regularized};
use crate::error::Result;
use crate::kernels::hot_pool::Parts;
use crate::params::ParamStore;
use crate::real::Real;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Keras' default 0.01.
    pub learning_rate: f64,
    /// μ in [0, 1); 0 is plain SGD (no state kept).
    pub momentum: f64,
    pub nesterov: bool,
    pub regularization: Regularization,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            learning_rate: 0.01,
            momentum: 0.0,
            nesterov: false,
            regularization: Regularization::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Sgd<T> {
    cfg: SgdConfig,
    velocity: Slots<T>,
}

impl<T: Real> Sgd<T> {
    pub fn new(cfg: SgdConfig) -> Result<Self> {
        non_negative("sgd", "learning_rate", cfg.learning_rate)?;
        in_unit("sgd", "momentum", cfg.momentum)?;
        if cfg.nesterov && cfg.momentum == 0.0 {
            return Err(crate::error::Error::invalid("sgd", "nesterov needs a momentum above 0"));
        }
        cfg.regularization.validate("sgd")?;
        Ok(Sgd { cfg, velocity: Slots::default() })
    }

    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }
}

impl<T: Real> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut ParamStore<T>) -> Result<()> {
        let lr = T::c(self.cfg.learning_rate);
        let mu = T::c(self.cfg.momentum);
        let l2 = T::c(self.cfg.regularization.l2);
        let keep = T::one() - lr * T::c(self.cfg.regularization.weight_decay);
        if self.cfg.momentum == 0.0 {
            for (_, p) in params.iter_mut() {
                let (w, g) = (Parts::new(&mut p.value), &p.grad[..]);
                by_parts(g.len(), &|r| {
                    // SAFETY: by_parts hands out disjoint ranges.
                    let w = unsafe { w.range(r.clone()) };
                    for (w, &g) in w.iter_mut().zip(&g[r]) {
                        let g = regularized(g, *w, l2);
                        *w = keep * *w - lr * g;
                    }
                });
            }
            return Ok(());
        }
        self.velocity.prepare("sgd", params, 1)?;
        let nesterov = self.cfg.nesterov;
        for ((_, p), v) in params.iter_mut().zip(&mut self.velocity.bufs) {
            let (w, g, v) = (Parts::new(&mut p.value), &p.grad[..], Parts::new(v));
            by_parts(g.len(), &|r| {
                // SAFETY: by_parts hands out disjoint ranges.
                let (w, v) = unsafe { (w.range(r.clone()), v.range(r.clone())) };
                for ((w, &g), v) in w.iter_mut().zip(&g[r]).zip(v) {
                    let g = regularized(g, *w, l2);
                    *v = mu.mul_add(*v, g);
                    let d = if nesterov { mu.mul_add(*v, g) } else { *v };
                    *w = keep * *w - lr * d;
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

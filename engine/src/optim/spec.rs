//! Optimisers as data: `{ type = "adam", learning_rate = 0.001 }`, read from
//! a scenario file (or any serde format) and built into an [`Optimizer`] over
//! the engine's (PyTorch/Keras) defaults for every value left out. An `l2`
//! penalty and a learning-rate `schedule` apply to every kind:
//! `{ type = "sgd", learning_rate = 0.1, l2 = 1e-4, schedule = { type = "step", every = 100, factor = 0.5 } }`.
use super::{
    Adam, AdamConfig, LrSchedule, Optimizer, Regularization, RmsProp, RmsPropConfig, Scheduled, Sgd,
    SgdConfig,
};
use crate::error::{Error, Result};
use crate::real::Real;
use serde::Deserialize;

/// Keras' default momentum for `type = "momentum"` without a `momentum` value.
pub const DEFAULT_MOMENTUM: f64 = 0.9;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Sgd,
    /// SGD with momentum (0.9 unless given).
    Momentum,
    Rmsprop,
    Adam,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    #[serde(rename = "type")]
    pub kind: OptimizerKind,
    pub learning_rate: f64,
    #[serde(default)]
    pub momentum: Option<f64>,
    #[serde(default)]
    pub beta1: Option<f64>,
    /// Adam's β₂; RMSprop's ρ.
    #[serde(default)]
    pub beta2: Option<f64>,
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// L2 regularisation λ (`λ·w` added to the gradient; see [`Regularization`]).
    #[serde(default)]
    pub l2: Option<f64>,
    /// The learning rate per step, from `learning_rate` (default: constant).
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
}

/// A learning-rate schedule as data, over training steps (see [`LrSchedule`]).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleSpec {
    /// `lr₀·factor^⌊t/every⌋`.
    Step { every: usize, factor: f64 },
    /// `lr₀·rate^(t/decay_steps)` (floored exponent when `staircase`).
    Exponential {
        decay_steps: usize,
        rate: f64,
        #[serde(default)]
        staircase: bool,
    },
    /// From `lr₀` to `alpha·lr₀` at `decay_steps` along a half cosine.
    Cosine {
        decay_steps: usize,
        #[serde(default)]
        alpha: f64,
    },
}

impl ScheduleSpec {
    pub fn build(&self, initial: f64) -> Result<LrSchedule> {
        match *self {
            ScheduleSpec::Step { every, factor } => LrSchedule::step_decay(initial, every, factor),
            ScheduleSpec::Exponential { decay_steps, rate, staircase } => {
                LrSchedule::exponential(initial, decay_steps, rate, staircase)
            }
            ScheduleSpec::Cosine { decay_steps, alpha } => LrSchedule::cosine(initial, decay_steps, alpha),
        }
    }
}

impl OptimizerSpec {
    pub fn new(kind: OptimizerKind, learning_rate: f64) -> Self {
        OptimizerSpec {
            kind,
            learning_rate,
            momentum: None,
            beta1: None,
            beta2: None,
            epsilon: None,
            l2: None,
            schedule: None,
        }
    }

    /// The optimiser, its settings checked by its constructor.
    pub fn build<T: Real>(&self) -> Result<Box<dyn Optimizer<T>>> {
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::invalid(
                "optimizer",
                format!("learning_rate must be positive, got {}", self.learning_rate),
            ));
        }
        let unused = |what: &str, set: bool| {
            if set {
                Err(Error::invalid("optimizer", format!("`{what}` does not apply to {:?}", self.kind)))
            } else {
                Ok(())
            }
        };
        let regularization = Regularization { l2: self.l2.unwrap_or(0.0), weight_decay: 0.0 };
        let opt: Box<dyn Optimizer<T>> = match self.kind {
            OptimizerKind::Sgd | OptimizerKind::Momentum => {
                unused("beta1", self.beta1.is_some())?;
                unused("beta2", self.beta2.is_some())?;
                unused("epsilon", self.epsilon.is_some())?;
                let default = if self.kind == OptimizerKind::Momentum { DEFAULT_MOMENTUM } else { 0.0 };
                let cfg = SgdConfig {
                    learning_rate: self.learning_rate,
                    momentum: self.momentum.unwrap_or(default),
                    regularization,
                    ..SgdConfig::default()
                };
                Box::new(Sgd::new(cfg)?)
            }
            OptimizerKind::Rmsprop => {
                unused("momentum", self.momentum.is_some())?;
                unused("beta1", self.beta1.is_some())?;
                let d = RmsPropConfig::default();
                let cfg = RmsPropConfig {
                    learning_rate: self.learning_rate,
                    rho: self.beta2.unwrap_or(d.rho),
                    epsilon: self.epsilon.unwrap_or(d.epsilon),
                    regularization,
                };
                Box::new(RmsProp::new(cfg)?)
            }
            OptimizerKind::Adam => {
                unused("momentum", self.momentum.is_some())?;
                let d = AdamConfig::default();
                let cfg = AdamConfig {
                    learning_rate: self.learning_rate,
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                    epsilon: self.epsilon.unwrap_or(d.epsilon),
                    regularization,
                };
                Box::new(Adam::new(cfg)?)
            }
        };
        Ok(match &self.schedule {
            Some(s) => Box::new(Scheduled::new(opt, s.build(self.learning_rate)?)),
            None => opt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_build_the_named_optimiser_with_defaults() {
        let spec: OptimizerSpec =
            serde_json::from_str(r#"{"type": "momentum", "learning_rate": 0.1}"#).unwrap();
        assert_eq!(spec.build::<f32>().unwrap().learning_rate(), 0.1);
        let bad: OptimizerSpec = serde_json::from_str(r#"{"type": "sgd", "learning_rate": -1}"#).unwrap();
        assert!(bad.build::<f32>().err().unwrap().to_string().contains("learning_rate"));
        let mixed: OptimizerSpec =
            serde_json::from_str(r#"{"type": "adam", "learning_rate": 0.1, "momentum": 0.5}"#).unwrap();
        assert!(mixed.build::<f32>().err().unwrap().to_string().contains("momentum"));
        let err =
            serde_json::from_str::<OptimizerSpec>(r#"{"type": "adamw", "learning_rate": 0.1}"#).unwrap_err();
        assert!(err.to_string().contains("adamw") && err.to_string().contains("rmsprop"), "{err}");
    }

    /// A scenario's optimiser spec carries `l2` and a `schedule` to every kind: with a zero gradient,
    /// plain SGD moves a weight only by `lr·λ·w`, and the rate follows the schedule step by step.
    #[test]
    fn spec_l2_and_schedule_reach_the_optimiser() {
        use crate::Shape;
        use crate::params::ParamStore;
        let spec: OptimizerSpec = serde_json::from_str(
            r#"{"type": "sgd", "learning_rate": 0.1, "l2": 0.5,
                "schedule": {"type": "step", "every": 2, "factor": 0.5}}"#,
        )
        .unwrap();
        let mut opt = spec.build::<f64>().unwrap();
        let mut store = ParamStore::new();
        let id = store.add("w", Shape::new(1, 1), vec![1.0]).unwrap();
        let mut w: f64 = 1.0;
        for (t, lr) in [0.1, 0.1, 0.05, 0.05, 0.025].into_iter().enumerate() {
            opt.step(&mut store).unwrap();
            assert_eq!(opt.learning_rate(), lr, "rate at step {t}");
            w -= lr * 0.5 * w;
            assert!((store.get(id).value[0] - w).abs() < 1e-15, "weight at step {t}");
        }
        let plain: OptimizerSpec =
            serde_json::from_str(r#"{"type": "rmsprop", "learning_rate": 0.1}"#).unwrap();
        let mut opt = plain.build::<f64>().unwrap();
        opt.step(&mut store).unwrap();
        assert_eq!(opt.learning_rate(), 0.1, "no schedule: a constant rate");
        let bad = serde_json::from_str::<OptimizerSpec>(
            r#"{"type": "sgd", "learning_rate": 0.1, "schedule": {"type": "step", "every": 0, "factor": 0.5}}"#,
        )
        .unwrap();
        assert!(bad.build::<f64>().err().unwrap().to_string().contains("every"));
    }
}

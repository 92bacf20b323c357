//! Optimisers as data: `{ type = "adam", learning_rate = 0.001 }`, read from
//! a scenario file (or any serde format) and built into an [`Optimizer`] over
//! the engine's (PyTorch/Keras) defaults for every value left out.
use super::{Adam, AdamConfig, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig};
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
}

impl OptimizerSpec {
    pub fn new(kind: OptimizerKind, learning_rate: f64) -> Self {
        OptimizerSpec { kind, learning_rate, momentum: None, beta1: None, beta2: None, epsilon: None }
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
        Ok(match self.kind {
            OptimizerKind::Sgd | OptimizerKind::Momentum => {
                unused("beta1", self.beta1.is_some())?;
                unused("beta2", self.beta2.is_some())?;
                unused("epsilon", self.epsilon.is_some())?;
                let default = if self.kind == OptimizerKind::Momentum { DEFAULT_MOMENTUM } else { 0.0 };
                let cfg = SgdConfig {
                    learning_rate: self.learning_rate,
                    momentum: self.momentum.unwrap_or(default),
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
                    ..d
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
                    ..d
                };
                Box::new(Adam::new(cfg)?)
            }
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
}

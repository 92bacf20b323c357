//! From a variant's typed description to engine objects: the layer stack (`ModelSpec` → `Sequential`,
//! Keras initialiser names), the optimiser, the loss and the clipping function.
use crate::scenario::{ClipKind, ClipSpec, Initializer, LayerKind, LayerSpec, LossKind, ModelSpec};
use crate::scenario::{OptimizerKind, OptimizerSpec};
use engine::init::Initializer as Init;
use engine::layers::{BatchNormalization, Dense, Dropout, LayerNormalization, Residual};
use engine::model::{Loss, Model, Sequential};
use engine::optim::{Adam, AdamConfig, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig};

/// Keras' default momentum for `type = "momentum"` without a `momentum` value.
const DEFAULT_MOMENTUM: f64 = 0.9;

/// Why a layer description cannot be built by this runner (checked before anything runs).
pub fn check_layer(l: &LayerSpec) -> Result<(), String> {
    use LayerKind::*;
    match l.kind {
        SimpleRnn | Lstm | Gru => {
            return Err(format!(
                "{:?} layers need sequence data; the `train` runner builds feed-forward stacks \
                 (use kind = \"recurrent\" for recurrent networks)",
                l.kind
            ));
        }
        BatchNormalization | LayerNormalization | Dropout => {
            if l.activation.is_some() || l.initializer.is_some() {
                return Err(format!("{:?} takes no `activation` or `initializer`", l.kind));
            }
        }
        Dense | Residual => {}
    }
    Ok(())
}

/// The engine initialiser for a layer's kernel: Keras' default `glorot_uniform` when none is named;
/// `scale` is the standard deviation of `random_normal` and the bound of `random_uniform`.
pub fn initializer(l: &LayerSpec) -> Init {
    let s = l.scale;
    match l.initializer {
        None | Some(Initializer::GlorotUniform) => Init::GlorotUniform,
        Some(Initializer::Zeros) => Init::Zeros,
        Some(Initializer::RandomNormal) => Init::RandomNormal { mean: 0.0, stddev: s.unwrap_or(0.05) },
        Some(Initializer::RandomUniform) => {
            let b = s.unwrap_or(0.05);
            Init::RandomUniform { min: -b, max: b }
        }
        Some(Initializer::GlorotNormal) => Init::GlorotNormal,
        Some(Initializer::HeNormal) => Init::HeNormal,
        Some(Initializer::HeUniform) => Init::HeUniform,
        Some(Initializer::LecunNormal) => Init::LecunNormal,
        Some(Initializer::Orthogonal) => Init::Orthogonal { gain: 1.0 },
    }
}

fn dense(l: &LayerSpec, units: usize, with_act: bool) -> Dense {
    let d = Dense::new(units).kernel_initializer(initializer(l));
    match l.activation() {
        Some(a) if with_act => d.act(a),
        _ => d,
    }
}

/// The layer stack, `repeat` expanded, with initialisers drawn from `seed`.
pub fn model(spec: &ModelSpec, seed: u64) -> engine::Result<Model<f32>> {
    let mut seq = Sequential::<f32>::new(spec.inputs).seed(seed);
    for l in spec.layers.iter().map(|l| l.get_ref()) {
        for _ in 0..l.repeat.unwrap_or(1) {
            let units = l.units.unwrap_or(0);
            seq = match l.kind {
                LayerKind::Dense => seq.add(dense(l, units, true)),
                // F(x) = dense(act) then dense(linear), y = x + F(x): the block of seed 001 slide 11.
                LayerKind::Residual => {
                    seq.add(Residual::new().add(dense(l, units, true)).add(dense(l, units, false)))
                }
                LayerKind::BatchNormalization => seq.add(BatchNormalization::new()),
                LayerKind::LayerNormalization => seq.add(LayerNormalization::new()),
                LayerKind::Dropout => seq.add(Dropout::new(l.rate.unwrap_or(0.0))),
                LayerKind::SimpleRnn | LayerKind::Lstm | LayerKind::Gru => {
                    return Err(engine::Error::Config {
                        layer: format!("{:?}", l.kind),
                        msg: "recurrent layers are not built by the train runner".into(),
                    });
                }
            };
        }
    }
    seq.build()
}

pub fn loss(k: LossKind) -> Loss {
    match k {
        LossKind::Mse => Loss::Mse,
        LossKind::BinaryCrossentropy => Loss::BinaryCrossentropy,
        LossKind::CategoricalCrossentropy => Loss::CategoricalCrossentropy,
        LossKind::SparseCategoricalCrossentropy => Loss::SparseCategoricalCrossentropy,
    }
}

/// The optimiser with the variant's settings over the engine's (PyTorch/Keras) defaults.
pub fn optimizer(o: &OptimizerSpec) -> engine::Result<Box<dyn Optimizer<f32>>> {
    Ok(match o.kind {
        OptimizerKind::Sgd | OptimizerKind::Momentum => {
            let default = if o.kind == OptimizerKind::Momentum { DEFAULT_MOMENTUM } else { 0.0 };
            let cfg = SgdConfig {
                learning_rate: o.learning_rate,
                momentum: o.momentum.unwrap_or(default),
                ..SgdConfig::default()
            };
            Box::new(Sgd::new(cfg)?)
        }
        OptimizerKind::Rmsprop => {
            let d = RmsPropConfig::default();
            let cfg = RmsPropConfig {
                learning_rate: o.learning_rate,
                rho: o.beta2.unwrap_or(d.rho),
                epsilon: o.epsilon.unwrap_or(d.epsilon),
                ..d
            };
            Box::new(RmsProp::new(cfg)?)
        }
        OptimizerKind::Adam => {
            let d = AdamConfig::default();
            let cfg = AdamConfig {
                learning_rate: o.learning_rate,
                beta1: o.beta1.unwrap_or(d.beta1),
                beta2: o.beta2.unwrap_or(d.beta2),
                epsilon: o.epsilon.unwrap_or(d.epsilon),
                ..d
            };
            Box::new(Adam::new(cfg)?)
        }
    })
}

/// The engine's clipping spec.
pub fn clip(c: &ClipSpec) -> engine::clip::ClipSpec {
    let kind = match c.kind {
        ClipKind::Value => engine::clip::ClipKind::Value,
        ClipKind::PerTensorNorm => engine::clip::ClipKind::PerTensorNorm,
        ClipKind::GlobalNorm => engine::clip::ClipKind::GlobalNorm,
    };
    engine::clip::ClipSpec::new(kind, c.threshold)
}

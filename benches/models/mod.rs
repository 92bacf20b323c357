//! The eight training-step models of the peer comparison, one definition shared by
//! `benches/train.rs` (timing) and `tests/alloc.rs` (a warm step allocates nothing).
//!
//! Each matches the model of the same name in `benches/peers/train_jax.py` and
//! `train_torch.py`: sizes, batch, loss and optimiser (learning rates included).
//! Inputs are seeded random data of the right shape, and weights are drawn by the
//! layers' default initialisers except where the model names one (he_normal, the
//! residual blocks' N(0, 0.01²)); only values differ from the peers', and no
//! step's cost depends on them.
//!
//! - `deep_sigmoid`: 10 -> 9 x Dense(64, sigmoid) -> Dense(1, sigmoid), MSE, SGD 0.1, batch 32.
//! - `problematic`: 784 -> 4 x Dense(128, sigmoid) -> Dense(10) softmax, sparse CE, Adam, batch 128.
//! - `improved`: 784 -> 3 x [Dense(128, relu, he_normal), batch norm, dropout 0.2] -> Dense(10),
//!   sparse CE, Adam, global-norm clipping at 1.0, batch 128.
//! - `xor`: 2 -> Dense(8, sigmoid) -> Dense(8, sigmoid) -> Dense(1, sigmoid), BCE, Adam 0.01, batch 4.
//! - `lstm` / `rnn` / `gru`: 10 features x 100 steps -> 20 units (last state) -> Dense(1), MSE,
//!   Adam, batch 32.
//! - `resmlp50`: 100 -> 50 x [h + relu(h·W + b)] (W ~ N(0, 0.01²)) -> Dense(1), MSE, SGD 1e-4,
//!   batch 64. At the learning rate 0.01 first used for it, this net (here and in JAX) diverges
//!   to NaN by the third step, which would stop `fit`; the peer scripts use 1e-4 too.
#![allow(dead_code)]
use gradlab::clip::{ClipKind, ClipSpec};
use gradlab::data::MatrixView;
use gradlab::data::random::{below, normal, uniform01};
use gradlab::init::Initializer;
use gradlab::layers::recurrent::Recurrent;
use gradlab::layers::{BatchNormalization, Dense, Dropout, Residual};
use gradlab::model::{Data, FitConfig, History, Loss, Model, Sequential, StepHook};
use gradlab::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// The model names, in the order of the peer table.
pub const NAMES: [&str; 8] =
    ["deep_sigmoid", "problematic", "improved", "xor", "lstm", "rnn", "gru", "resmlp50"];

/// A model, its one-batch data set, its loss, its optimiser and its clipping.
pub struct Bench {
    pub model: Model<f32>,
    x: Vec<f32>,
    features: usize,
    /// Value targets, or nothing when `classes > 0`.
    y: Vec<f32>,
    labels: Vec<usize>,
    classes: usize,
    loss: Loss,
    opt: Box<dyn Optimizer<f32>>,
    /// Global-norm clipping threshold, when the model clips.
    clip: Option<f64>,
}

impl Bench {
    /// Rows of the one batch.
    pub fn rows(&self) -> usize {
        self.x.len() / self.features
    }

    /// `steps` training steps: one `fit` of `steps` one-batch epochs, unshuffled, so every epoch
    /// is exactly one step and the only per-call work outside the steps is the history's one
    /// allocation.
    pub fn fit(&mut self, steps: usize, hook: &mut dyn StepHook<f32>) -> History {
        let x = MatrixView::new(&self.x, self.features).expect("whole rows");
        let data = if self.classes > 0 {
            Data::labels(x, &self.labels, self.classes)
        } else {
            let width = self.model.output_width();
            Data::values(x, MatrixView::new(&self.y, width).expect("whole rows"))
        };
        let mut cfg = FitConfig::new(self.loss)
            .epochs(steps)
            .batch_size(self.rows())
            .shuffle(false)
            .optimizer(self.opt.as_mut())
            .hook(hook);
        if let Some(max_norm) = self.clip {
            cfg = cfg.clip(ClipSpec::new(ClipKind::GlobalNorm, max_norm));
        }
        let history = self.model.fit(&data, &mut cfg).expect("a finite step");
        assert_eq!(history.epochs.len(), steps);
        history
    }
}

/// Builds the model called `name` (one of [`NAMES`]).
pub fn build(name: &str) -> Bench {
    match name {
        "deep_sigmoid" => deep_sigmoid(),
        "problematic" => problematic(),
        "improved" => improved(),
        "xor" => xor(),
        "lstm" => recurrent(Recurrent::lstm(20, 10), 5),
        "rnn" => recurrent(Recurrent::simple_rnn(20, 10), 6),
        "gru" => recurrent(Recurrent::gru(20, 10), 7),
        "resmlp50" => resmlp50(),
        other => panic!("no bench model {other:?}; known: {NAMES:?}"),
    }
}

fn normals(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| normal(rng) as f32).collect()
}

fn uniforms(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| uniform01(rng) as f32).collect()
}

fn sgd(lr: f64) -> Box<dyn Optimizer<f32>> {
    Box::new(Sgd::new(SgdConfig { learning_rate: lr, ..SgdConfig::default() }).unwrap())
}

fn adam(lr: f64) -> Box<dyn Optimizer<f32>> {
    Box::new(Adam::new(AdamConfig { learning_rate: lr, ..AdamConfig::default() }).unwrap())
}

fn values(
    model: Model<f32>,
    x: Vec<f32>,
    features: usize,
    y: Vec<f32>,
    loss: Loss,
    opt: Box<dyn Optimizer<f32>>,
) -> Bench {
    Bench { model, x, features, y, labels: Vec::new(), classes: 0, loss, opt, clip: None }
}

fn labelled(model: Model<f32>, x: Vec<f32>, labels: Vec<usize>, opt: Box<dyn Optimizer<f32>>) -> Bench {
    let features = model.input_width();
    Bench {
        model,
        x,
        features,
        y: Vec::new(),
        labels,
        classes: 10,
        loss: Loss::SparseCategoricalCrossentropy,
        opt,
        clip: None,
    }
}

fn deep_sigmoid() -> Bench {
    let mut net = Sequential::new(10);
    for _ in 0..9 {
        net = net.add(Dense::new(64).activation("sigmoid"));
    }
    let model = net.add(Dense::new(1).activation("sigmoid")).seed(3).build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x = normals(32 * 10, &mut rng);
    let y = uniforms(32, &mut rng);
    values(model, x, 10, y, Loss::Mse, sgd(0.1))
}

fn problematic() -> Bench {
    let mut net = Sequential::new(784);
    for _ in 0..4 {
        net = net.add(Dense::new(128).activation("sigmoid"));
    }
    let model = net.add(Dense::new(10).activation("softmax")).seed(4).build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = normals(128 * 784, &mut rng);
    let labels = (0..128).map(|_| below(&mut rng, 10)).collect();
    labelled(model, x, labels, adam(1e-3))
}

fn improved() -> Bench {
    let mut net = Sequential::new(784);
    for _ in 0..3 {
        net = net
            .add(Dense::new(128).activation("relu").kernel_initializer("he_normal"))
            .add(BatchNormalization::new())
            .add(Dropout::new(0.2));
    }
    let model = net.add(Dense::new(10).activation("softmax")).seed(8).build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x = normals(128 * 784, &mut rng);
    let labels = (0..128).map(|_| below(&mut rng, 10)).collect();
    Bench { clip: Some(1.0), ..labelled(model, x, labels, adam(1e-3)) }
}

fn xor() -> Bench {
    let model = Sequential::new(2)
        .add(Dense::new(8).activation("sigmoid"))
        .add(Dense::new(8).activation("sigmoid"))
        .add(Dense::new(1).activation("sigmoid"))
        .seed(2)
        .build()
        .unwrap();
    let x = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let y = vec![0.0, 1.0, 1.0, 0.0];
    values(model, x, 2, y, Loss::BinaryCrossentropy, adam(1e-2))
}

/// 32 sequences of 100 steps of 10 N(0, 1) features, targets N(0, 1).
fn recurrent(layer: Recurrent, seed: u64) -> Bench {
    let (steps, features) = (100, 10);
    let model = Sequential::new(steps * features).add(layer).add(Dense::new(1)).seed(seed).build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = normals(32 * steps * features, &mut rng);
    let y = normals(32, &mut rng);
    values(model, x, steps * features, y, Loss::Mse, adam(1e-3))
}

fn resmlp50() -> Bench {
    let small = Initializer::RandomNormal { mean: 0.0, stddev: 0.01 };
    let mut net = Sequential::new(100);
    for _ in 0..50 {
        net = net.add(Residual::new().add(Dense::new(100).activation("relu").kernel_initializer(small)));
    }
    // JAX's read-out: N(0, 1/100), as its `dense_init` draws every layer.
    let read_out = Initializer::RandomNormal { mean: 0.0, stddev: 0.1 };
    let model = net.add(Dense::new(1).kernel_initializer(read_out)).seed(9).build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let x = normals(64 * 100, &mut rng);
    let y = normals(64, &mut rng);
    values(model, x, 100, y, Loss::Mse, sgd(1e-4))
}

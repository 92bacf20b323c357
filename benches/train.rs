//! Whole training steps (forward, backward, optimiser update) through the
//! public `Model::fit` API, in steps per second: criterion's throughput is one
//! element per iteration and one iteration is one step.
//!
//! - `train_step/sigmoid10_sgd_b32`: seed 003's deep sigmoid network (input 10,
//!   nine `Dense(64, sigmoid)` and a `Dense(1, sigmoid)` output, ten layers as
//!   `create_deep_sigmoid_network(10)` builds it), MSE, SGD, batches of 32.
//! - `train_step/mlp784_adam_b128`: 784-128-128-128-128-10, sigmoid hidden
//!   layers, softmax output, sparse categorical cross-entropy, Adam, batches of 128.
//! - `train_step/lstm_h20_t100_b32`: LSTM (10 features per step, 20 units,
//!   last state) over 100 steps and a linear read-out, MSE, Adam, batches of 32.
//! - `monitor_overhead`: the sigmoid10 step without a monitor and with
//!   `MonitorHook` (every step, no histograms), in the same run; under
//!   `cargo bench` also a paired measurement (alternating chunks, median
//!   ratio) that a change of machine load between the two cannot bias.
//!
//! Each timed sample is one `fit` call of `iters` epochs over a data set of
//! exactly one batch (no shuffling), so every epoch is one step and the only
//! per-call work outside the steps is the history's one allocation; steps
//! themselves allocate nothing once warm (tests/convergence.rs proves it).
//! Inputs are seeded random data of the right shape.
//!
//! `cargo bench --bench train -- --warm-up-time 1 --measurement-time 3`
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gradlab::data::MatrixView;
use gradlab::data::random::{below, normal, uniform01};
use gradlab::layers::Dense;
use gradlab::layers::recurrent::Recurrent;
use gradlab::model::{Data, FitConfig, Loss, Model, NoHook, Sequential, StepHook};
use gradlab::monitor::{MonitorConfig, MonitorHook, Records};
use gradlab::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::time::{Duration, Instant};

/// One batch of inputs and targets.
struct Batch {
    x: Vec<f32>,
    features: usize,
    /// Value targets, or class labels when `classes > 0`.
    y: Vec<f32>,
    labels: Vec<usize>,
    classes: usize,
}

impl Batch {
    fn data(&self, width: usize) -> Data<'_, f32> {
        let x = MatrixView::new(&self.x, self.features).expect("whole rows");
        if self.classes > 0 {
            Data::labels(x, &self.labels, self.classes)
        } else {
            Data::values(x, MatrixView::new(&self.y, width).expect("whole rows"))
        }
    }
}

/// A model, its one-batch data set, its loss and its optimiser.
struct Bench {
    model: Model<f32>,
    batch: Batch,
    loss: Loss,
    opt: Box<dyn Optimizer<f32>>,
}

impl Bench {
    /// Times `steps` training steps: one fit of `steps` one-batch epochs.
    fn run(&mut self, steps: u64, hook: &mut dyn StepHook<f32>) -> Duration {
        let rows = self.batch.x.len() / self.batch.features;
        let mut cfg = FitConfig::new(self.loss)
            .epochs(steps as usize)
            .batch_size(rows)
            .shuffle(false)
            .optimizer(self.opt.as_mut())
            .hook(hook);
        let data = self.batch.data(self.model.output_width());
        let start = Instant::now();
        let history = self.model.fit(&data, &mut cfg).expect("a finite step");
        let elapsed = start.elapsed();
        assert_eq!(history.epochs.len(), steps as usize);
        elapsed
    }
}

fn normals(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| normal(rng) as f32).collect()
}

fn sgd(lr: f64) -> Box<dyn Optimizer<f32>> {
    Box::new(Sgd::new(SgdConfig { learning_rate: lr, ..SgdConfig::default() }).unwrap())
}

fn adam() -> Box<dyn Optimizer<f32>> {
    Box::new(Adam::new(AdamConfig::default()).unwrap())
}

/// Seed 003: x ~ N(0, 1) of shape (32, 10), trained towards 1 with MSE.
fn sigmoid10() -> Bench {
    let mut net = Sequential::new(10);
    for _ in 0..9 {
        net = net.add(Dense::new(64).activation("sigmoid"));
    }
    let model = net.add(Dense::new(1).activation("sigmoid")).seed(3).build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    Bench {
        model,
        batch: Batch {
            x: normals(32 * 10, &mut rng),
            features: 10,
            y: vec![1.0; 32],
            labels: Vec::new(),
            classes: 0,
        },
        loss: Loss::Mse,
        opt: sgd(0.01),
    }
}

/// MNIST-shaped: pixels uniform in [0, 1), labels uniform over 10 classes.
fn mlp784() -> Bench {
    let mut net = Sequential::new(784);
    for _ in 0..4 {
        net = net.add(Dense::new(128).activation("sigmoid"));
    }
    let model = net.add(Dense::new(10).activation("softmax")).seed(4).build().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = (0..128 * 784).map(|_| uniform01(&mut rng) as f32).collect();
    let labels = (0..128).map(|_| below(&mut rng, 10)).collect();
    Bench {
        model,
        batch: Batch { x, features: 784, y: Vec::new(), labels, classes: 10 },
        loss: Loss::SparseCategoricalCrossentropy,
        opt: adam(),
    }
}

/// 32 sequences of 100 steps of 10 N(0, 1) features, targets N(0, 1).
fn lstm() -> Bench {
    let (steps, features, units) = (100, 10, 20);
    let model = Sequential::new(steps * features)
        .add(Recurrent::lstm(units, features))
        .add(Dense::new(1))
        .seed(5)
        .build()
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    Bench {
        model,
        batch: Batch {
            x: normals(32 * steps * features, &mut rng),
            features: steps * features,
            y: normals(32, &mut rng),
            labels: Vec::new(),
            classes: 0,
        },
        loss: Loss::Mse,
        opt: adam(),
    }
}

fn train_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("train_step");
    g.throughput(Throughput::Elements(1));
    for (name, make) in [
        ("sigmoid10_sgd_b32", sigmoid10 as fn() -> Bench),
        ("mlp784_adam_b128", mlp784),
        ("lstm_h20_t100_b32", lstm),
    ] {
        let mut bench = make();
        g.bench_function(name, |b| b.iter_custom(|iters| bench.run(iters, &mut NoHook)));
    }
    g.finish();
}

/// The sigmoid10 step bare and with a fresh `MonitorHook` per timed sample
/// (every step, no histograms): the ratio of the two is the monitor's cost.
/// Building the hook and dropping its records stay outside the timing.
fn monitor_overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("monitor_overhead");
    g.throughput(Throughput::Elements(1));
    let mut bare = sigmoid10();
    g.bench_function("sigmoid10_no_monitor", |b| b.iter_custom(|iters| bare.run(iters, &mut NoHook)));
    let mut watched = sigmoid10();
    let config = MonitorConfig { every: 1, histograms: false };
    g.bench_function("sigmoid10_monitor_every_step", |b| {
        b.iter_custom(|iters| {
            let records = Records::new("bench", "sigmoid10", 3);
            let mut hook = MonitorHook::new(&watched.model, config, records);
            let elapsed = watched.run(iters, &mut hook);
            assert!(!hook.into_records().rows.is_empty(), "the monitor recorded nothing");
            elapsed
        })
    });
    g.finish();
    // Under `cargo bench` only: the two criterion runs above are timed one
    // after the other, so a change in machine load between them shows up as
    // overhead. Alternating short chunks of the two and taking the median of
    // the chunk ratios cancels slow load drift.
    if std::env::args().any(|a| a == "--bench") {
        paired_monitor_ratio(&mut bare, &mut watched, config);
    }
}

fn paired_monitor_ratio(bare: &mut Bench, watched: &mut Bench, config: MonitorConfig) {
    const ROUNDS: usize = 60;
    const STEPS: u64 = 20;
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut t_bare, mut t_watched) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let a = bare.run(STEPS, &mut NoHook);
        let mut hook = MonitorHook::new(&watched.model, config, Records::new("bench", "sigmoid10", 3));
        let b = watched.run(STEPS, &mut hook);
        ratios.push(b.as_secs_f64() / a.as_secs_f64());
        t_bare += a;
        t_watched += b;
    }
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ROUNDS - 1) as f64 * p).round() as usize];
    let per_step = |t: Duration| t.as_secs_f64() * 1e6 / (ROUNDS as f64 * STEPS as f64);
    println!(
        "monitor_overhead/paired: {ROUNDS} alternating chunks of {STEPS} steps: monitored/bare step time \
         median {:.3} (quartiles {:.3}, {:.3}); mean step {:.1} µs bare, {:.1} µs monitored",
        q(0.5),
        q(0.25),
        q(0.75),
        per_step(t_bare),
        per_step(t_watched)
    );
}

criterion_group!(benches, train_step, monitor_overhead);
criterion_main!(benches);

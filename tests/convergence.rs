//! Convergence with fixed seeds (run in release mode), all with the engine's
//! own optimisers: XOR on a 2-8-8-1 ReLU network with Adam, a digits
//! perceptron with Adam on a held-out stratified split, three Gaussian blobs
//! through batch norm, a residual block and dropout under both categorical
//! losses, bit-identical reruns, and a counting allocator showing that
//! steady-state training steps allocate nothing.
use gradlab::data::{self, Dataset, MatrixView};
use gradlab::layers::{BatchNormalization, Dense, Dropout, LayerNormalization, Residual};
use gradlab::model::{Data, FitConfig, FnHook, Loss, Model, Sequential, StepView};
use gradlab::optim::{Adam, AdamConfig, Sgd, SgdConfig};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

// ---------- a counting allocator (per thread, so parallel tests do not interfere) ----------

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(|c| c.get())
}

// ---------- the engine's optimisers ----------

/// SGD with momentum 0.9 (`v ← 0.9·v + g`, `w ← w − lr·v`).
fn momentum(lr: f64) -> Sgd<f32> {
    Sgd::new(SgdConfig { learning_rate: lr, momentum: 0.9, ..SgdConfig::default() }).unwrap()
}

fn adam(lr: f64) -> Adam<f32> {
    Adam::new(AdamConfig { learning_rate: lr, ..AdamConfig::default() }).unwrap()
}

// ---------- data ----------

const XOR_X: [f32; 8] = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
const XOR_Y: [f32; 4] = [0.0, 1.0, 1.0, 0.0];

fn xor_model(seed: u64) -> Model<f32> {
    Sequential::new(2)
        .add(Dense::new(8).activation("relu"))
        .add(Dense::new(8).activation("relu"))
        .add(Dense::new(1).activation("sigmoid"))
        .seed(seed)
        .build()
        .unwrap()
}

/// Three overlapping Gaussian blobs in the plane (stddev 0.8 around points 2 from the origin), `n` per class.
fn blobs(n: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let centres = [(0.0, 2.0), (-1.7, -1.0), (1.7, -1.0)];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut u = || ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).max(1e-300);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..3 * n {
        let class = i % 3;
        let (r, t) = ((-2.0 * u().ln()).sqrt(), std::f64::consts::TAU * u());
        x.push((centres[class].0 + 0.8 * r * t.cos()) as f32);
        x.push((centres[class].1 + 0.8 * r * t.sin()) as f32);
        y.push(class);
    }
    (x, y)
}

fn blob_model(seed: u64) -> Model<f32> {
    Sequential::new(2)
        .add(Dense::new(16).activation("relu").kernel_initializer("he_normal"))
        .add(BatchNormalization::new())
        .add(Residual::new().add(Dense::new(16).activation("relu")).add(LayerNormalization::new()))
        .add(Dropout::new(0.1))
        .add(Dense::new(3).activation("softmax"))
        .seed(seed)
        .build()
        .unwrap()
}

// ---------- tests ----------

#[test]
fn xor_reaches_full_accuracy_with_relu_and_adam() {
    let mut model = xor_model(7);
    let data = Data::values(view(&XOR_X, 2), view(&XOR_Y, 1));
    let cfg = || FitConfig::new(Loss::BinaryCrossentropy).epochs(500).batch_size(4).seed(7);
    let before = model.evaluate(&data, Loss::BinaryCrossentropy, 4).unwrap();
    let history = model.fit(&data, &mut cfg().optimizer(adam(0.01))).unwrap();
    let after = model.evaluate(&data, Loss::BinaryCrossentropy, 4).unwrap();
    println!(
        "xor: loss {:.4} -> {:.4}, accuracy {} -> {}",
        before.loss, after.loss, before.accuracy, after.accuracy
    );
    assert_eq!(after.accuracy, 1.0, "final epoch {:?}", history.epochs.last());
    assert!(after.loss < 0.05, "loss {}", after.loss);
    let p = model.predict(&XOR_X).unwrap();
    for (pi, yi) in p.iter().zip(XOR_Y) {
        assert!((pi - yi).abs() < 0.2, "prediction {pi} for target {yi}");
    }
}

/// The shipped UCI digits (8×8 pixels in [0, 1]), split 75/25 stratified by class from `seed`.
fn digits_split(seed: u64) -> (Dataset, Dataset) {
    let all = data::digits(data::data_dir()).expect("data/digits.csv.gz ships with the repository");
    all.train_test(0.25, seed).unwrap()
}

#[test]
fn digits_perceptron_reaches_95_percent_on_held_out_digits() {
    let (train, test) = digits_split(11);
    assert_eq!((train.len(), test.len()), (1348, 449));
    let mut model = Sequential::new(64)
        .add(Dense::new(64).activation("relu").kernel_initializer("he_normal"))
        .add(Dense::new(10).activation("softmax"))
        .seed(11)
        .build()
        .unwrap();
    let loss = Loss::SparseCategoricalCrossentropy;
    let cfg = || FitConfig::new(loss).epochs(30).batch_size(32).seed(11);
    let before = model.evaluate(&(&test).into(), loss, 128).unwrap();
    model.fit(&(&train).into(), &mut cfg().optimizer(adam(0.003))).unwrap();
    let after = model.evaluate(&(&test).into(), loss, 128).unwrap();
    let trained = model.evaluate(&(&train).into(), loss, 128).unwrap();
    println!(
        "digits 64-64-10: test loss {:.3} -> {:.3}, test accuracy {:.4} -> {:.4} (train {:.4})",
        before.loss, after.loss, before.accuracy, after.accuracy, trained.accuracy
    );
    assert!(before.accuracy < 0.3, "untrained accuracy {}", before.accuracy);
    assert!(after.accuracy >= 0.95, "test accuracy {}", after.accuracy);
}

#[test]
fn blobs_train_through_batch_norm_residual_and_dropout() {
    let (x, labels) = blobs(100, 3);
    let (tx, tl) = blobs(50, 4);
    let train = Data::labels(view(&x, 2), &labels, 3);
    let test = Data::labels(view(&tx, 2), &tl, 3);
    for loss in [Loss::SparseCategoricalCrossentropy, Loss::CategoricalCrossentropy] {
        let mut model = blob_model(5);
        let cfg = || FitConfig::new(loss).epochs(30).batch_size(16).seed(5);
        let before = model.evaluate(&test, loss, 32).unwrap();
        let mut opt = momentum(0.05);
        let history = model.fit(&train, &mut cfg().optimizer(&mut opt).validation(test)).unwrap();
        let eval = model.evaluate(&test, loss, cfg().batch_size).unwrap();
        assert_eq!(history.epochs.last().unwrap().validation, Some(eval));
        let last = history.epochs.last().unwrap();
        println!(
            "{}: held-out loss {:.3} -> {:.3}, accuracy {:.3} -> {:.3} (last epoch train accuracy {:.3})",
            loss.name(),
            before.loss,
            eval.loss,
            before.accuracy,
            eval.accuracy,
            last.accuracy
        );
        assert!(eval.accuracy >= 0.9, "{}: held-out accuracy {}", loss.name(), eval.accuracy);
        assert!(
            eval.loss < before.loss / 3.0,
            "{}: loss {} vs untrained {}",
            loss.name(),
            eval.loss,
            before.loss
        );
    }
}

#[test]
fn reruns_with_the_same_seeds_are_bit_identical() {
    let (x, labels) = blobs(20, 8);
    let data = Data::labels(view(&x, 2), &labels, 3);
    let run = |fit_seed: u64| {
        let mut model = blob_model(9);
        let cfg =
            || FitConfig::new(Loss::SparseCategoricalCrossentropy).epochs(3).batch_size(8).seed(fit_seed);
        model.fit(&data, &mut cfg().optimizer(momentum(0.05))).unwrap();
        model.to_safetensors(false).unwrap()
    };
    let a = run(1);
    assert_eq!(a, run(1));
    // Validating at each epoch's end leaves the training run unchanged.
    let mut model = blob_model(9);
    let cfg = || FitConfig::new(Loss::SparseCategoricalCrossentropy).epochs(3).batch_size(8).seed(1);
    let mut opt = momentum(0.05);
    let history = model.fit(&data, &mut cfg().optimizer(&mut opt).validation(data)).unwrap();
    assert!(history.epochs.iter().all(|e| e.validation.is_some()));
    assert_eq!(a, model.to_safetensors(false).unwrap());
    assert_ne!(a, run(2), "the fit seed changes shuffling and dropout");
}

#[test]
fn steady_state_steps_allocate_nothing() {
    let (x, labels) = blobs(30, 1);
    let data = Data::labels(view(&x, 2), &labels, 3);
    let mut model = blob_model(2);
    // 90 rows in batches of 16: the last batch of each epoch is smaller.
    let cfg = || FitConfig::new(Loss::SparseCategoricalCrossentropy).epochs(4).batch_size(16).seed(2);
    let mut counts = Vec::with_capacity(64);
    let mut hook = FnHook(|_: &StepView<'_, f32>| {
        counts.push(allocations());
        Ok(())
    });
    model.fit(&data, &mut cfg().optimizer(momentum(0.01)).hook(&mut hook)).unwrap();
    assert_eq!(counts.len(), 24);
    // Steps 0 and 1 warm the pools and the optimiser's state; later steps allocate nothing.
    let warm = counts[2];
    let extra: Vec<usize> = counts[2..].iter().map(|c| c - warm).collect();
    assert!(extra.iter().all(|&e| e == 0), "allocations after warm-up, per step: {extra:?}");
    // The counter does see this thread's allocations.
    let before = allocations();
    let v = std::hint::black_box(vec![0u8; 64]);
    assert!(allocations() > before && v.len() == 64);
}

/// Allocations on this thread between consecutive steps of `epochs` one-batch
/// epochs, from the third step on (the first two warm pools and optimiser state).
fn allocations_per_warm_step(
    model: &mut Model<f32>,
    data: &Data<'_, f32>,
    loss: Loss,
    opt: &mut dyn gradlab::optim::Optimizer<f32>,
) -> Vec<usize> {
    let rows = data.rows();
    let cfg = || FitConfig::new(loss).epochs(6).batch_size(rows).seed(1);
    let mut counts = Vec::with_capacity(16);
    let mut hook = FnHook(|_: &StepView<'_, f32>| {
        counts.push(allocations());
        Ok(())
    });
    model.fit(data, &mut cfg().optimizer(opt).hook(&mut hook)).unwrap();
    counts.windows(2).skip(1).map(|w| w[1] - w[0]).collect()
}

/// The three networks `benches/train.rs` times, at smaller batch or length:
/// their warm steps (through `fit`, with SGD or Adam) allocate nothing.
#[test]
fn the_benchmarked_networks_allocate_nothing_once_warm() {
    use gradlab::data::random::{normal, uniform01};
    use gradlab::layers::recurrent::Recurrent;
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut normals = |n: usize| (0..n).map(|_| normal(&mut rng) as f32).collect::<Vec<_>>();

    let mut deep = Sequential::new(10);
    for _ in 0..9 {
        deep = deep.add(Dense::new(64).activation("sigmoid"));
    }
    let mut deep = deep.add(Dense::new(1).activation("sigmoid")).seed(3).build().unwrap();
    let (x, y) = (normals(32 * 10), vec![1.0f32; 32]);
    let data = Data::values(view(&x, 10), view(&y, 1));
    let extra = allocations_per_warm_step(&mut deep, &data, Loss::Mse, &mut momentum(0.01));
    assert!(extra.iter().all(|&e| e == 0), "sigmoid10 + SGD: {extra:?}");

    let mut mlp = Sequential::new(784);
    for _ in 0..4 {
        mlp = mlp.add(Dense::new(128).activation("sigmoid"));
    }
    let mut mlp = mlp.add(Dense::new(10).activation("softmax")).seed(4).build().unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(22);
    let x: Vec<f32> = (0..16 * 784).map(|_| uniform01(&mut r) as f32).collect();
    let labels: Vec<usize> = (0..16).map(|i| i % 10).collect();
    let data = Data::labels(view(&x, 784), &labels, 10);
    let extra =
        allocations_per_warm_step(&mut mlp, &data, Loss::SparseCategoricalCrossentropy, &mut adam(1e-3));
    assert!(extra.iter().all(|&e| e == 0), "784-128x4-10 + Adam: {extra:?}");

    let (steps, features) = (20, 10);
    let lstm = Sequential::new(steps * features).add(Recurrent::lstm(20, features)).add(Dense::new(1));
    let mut lstm = lstm.seed(5).build().unwrap();
    let (x, y) = (normals(8 * steps * features), normals(8));
    let data = Data::values(view(&x, steps * features), view(&y, 1));
    let extra = allocations_per_warm_step(&mut lstm, &data, Loss::Mse, &mut adam(1e-3));
    assert!(extra.iter().all(|&e| e == 0), "LSTM + Adam: {extra:?}");
}

/// `values` as rows of `cols`.
fn view<T>(values: &[T], cols: usize) -> MatrixView<'_, T> {
    MatrixView::new(values, cols).expect("whole rows")
}

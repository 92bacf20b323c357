//! Proves that a warm training step allocates nothing: a counting global
//! allocator watches `clear()`, recording the forward graph (matmul, bias row,
//! activation, loss) and the backward sweep on a `Tape<f32>` after one warm-up,
//! and whole `Model::fit` steps of the eight benchmark models (`benches/models`:
//! dense, batch norm, dropout, clipping, residual, LSTM, SimpleRNN, GRU; SGD and Adam).
#[path = "../benches/models/mod.rs"]
mod models;

use gradlab::model::{FnHook, StepView};
use gradlab::{Activation, NodeId, Shape, Tape};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Counts allocations, while armed, on the threads that do the step's work:
/// the test's own thread and rayon's workers (kernels may run there). The
/// harness's bookkeeping thread is left out: it may allocate at any moment.
struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}

fn watch_this_thread() {
    WATCHED.with(|w| w.set(true));
}

fn bump() {
    // `try_with`: the allocator may run while a thread's locals are torn down.
    if ARMED.load(Ordering::Relaxed) && WATCHED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made while `f` runs.
fn count_allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[derive(Clone, Copy, Debug)]
enum Loss {
    Mse,
    BceLogits,
    SparseSoftmaxCe,
    SoftmaxCe,
}

const BATCH: usize = 16;
const IN: usize = 13;
const HIDDEN: usize = 24;
const OUT: usize = 10;

/// Fixed data and parameters, owned outside the tape as a trainer owns them.
struct Step {
    x: Vec<f32>,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    target: Vec<f32>,
    labels: Vec<usize>,
}

impl Step {
    fn new() -> Self {
        let wave = |n: usize, f: f32| (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect::<Vec<_>>();
        Step {
            x: wave(BATCH * IN, 0.37),
            w1: wave(IN * HIDDEN, 0.71),
            b1: wave(HIDDEN, 1.3),
            w2: wave(HIDDEN * OUT, 0.53),
            target: wave(BATCH * OUT, 0.29).iter().map(|v| v + 0.5).collect(),
            labels: (0..BATCH).map(|i| i * 7 % OUT).collect(),
        }
    }

    /// One step: clear, record `loss(act(x·W1 + b1)·W2)`, backward.
    fn run(&self, t: &mut Tape<f32>, act: Activation, loss: Loss) -> NodeId {
        t.clear();
        let x = t.input(Shape::new(BATCH, IN), &self.x).unwrap();
        let w1 = t.param(Shape::new(IN, HIDDEN), &self.w1).unwrap();
        let b1 = t.param(Shape::new(1, HIDDEN), &self.b1).unwrap();
        let w2 = t.param(Shape::new(HIDDEN, OUT), &self.w2).unwrap();
        let z = t.matmul(x, w1).unwrap();
        let z = t.add(z, b1).unwrap();
        let h = t.act(z, act).unwrap();
        let out = t.matmul(h, w2).unwrap();
        let l = match loss {
            Loss::Mse => {
                let y = t.input(Shape::new(BATCH, OUT), &self.target).unwrap();
                t.mse(out, y).unwrap()
            }
            Loss::BceLogits => {
                let y = t.input(Shape::new(BATCH, OUT), &self.target).unwrap();
                t.bce_with_logits(out, y).unwrap()
            }
            Loss::SparseSoftmaxCe => t.sparse_softmax_cross_entropy(out, &self.labels).unwrap(),
            Loss::SoftmaxCe => {
                let y = t.input(Shape::new(BATCH, OUT), &self.target).unwrap();
                t.softmax_cross_entropy(out, y).unwrap()
            }
        };
        t.backward(l).unwrap();
        w1
    }
}

#[test]
fn a_warm_step_allocates_nothing() {
    // The only test in this binary, so it configures rayon's global pool first.
    rayon::ThreadPoolBuilder::new()
        .start_handler(|_| watch_this_thread())
        .build_global()
        .expect("nothing used rayon's global pool before this test");
    // Before this thread is watched, so only the workers' allocations count.
    let on_workers = count_allocations(|| {
        rayon::broadcast(|_| std::hint::black_box(vec![1u8; 64]).len());
    });
    assert!(on_workers >= 1, "allocations on rayon's workers are counted, counted {on_workers}");
    watch_this_thread();

    // The counter itself works, so the zero below means something.
    let seen = count_allocations(|| {
        let mut t = Tape::<f32>::new();
        t.input(Shape::new(1, 3), &[1.0, 2.0, 3.0]).unwrap();
        std::hint::black_box(&t);
    });
    assert!(seen >= 2, "a fresh tape's node list and value buffer allocate, counted {seen}");

    let step = Step::new();
    let acts =
        [Activation::Relu, Activation::Tanh, Activation::Sigmoid, Activation::Gelu, Activation::Softplus];
    let losses = [Loss::Mse, Loss::BceLogits, Loss::SparseSoftmaxCe, Loss::SoftmaxCe];
    let mut failures = Vec::new();
    for act in acts {
        for loss in losses {
            let mut t = Tape::<f32>::new();
            let w1 = step.run(&mut t, act, loss);
            let warm = t.grad(w1).unwrap().to_vec();
            let n = count_allocations(|| {
                for _ in 0..3 {
                    step.run(&mut t, act, loss);
                }
            });
            if n != 0 {
                failures.push(format!("{act} → {loss:?}: {n} allocations in 3 warm steps"));
            }
            assert_eq!(t.grad(w1).unwrap(), warm.as_slice(), "a warm step computes the same gradient");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    fit_steps_of_every_bench_model_allocate_nothing();
}

/// Steps 0 and 1 of a fit warm the tape, the pools and the optimiser's state; from step 2 on,
/// each step (on any thread of the pool) allocates nothing.
fn fit_steps_of_every_bench_model_allocate_nothing() {
    const STEPS: usize = 6;
    let mut failures = Vec::new();
    for name in models::NAMES {
        let mut bench = models::build(name);
        let mut counts = Vec::with_capacity(STEPS);
        let mut hook = FnHook(|_: &StepView<'_, f32>| {
            counts.push(ALLOCATIONS.load(Ordering::SeqCst));
            Ok(())
        });
        // On one of the pool's workers, as `ThreadPool::install` runs a fit: parallel kernels
        // called from outside the pool hand rayon's shared injector queue a job each, and that
        // queue allocates a block per 63 jobs, which no code of ours can avoid.
        count_allocations(|| {
            rayon::scope(|_| {
                bench.fit(STEPS, &mut hook);
            })
        });
        assert_eq!(counts.len(), STEPS, "{name}: the hook saw every step");
        let per_step: Vec<usize> = counts.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
        if per_step.iter().any(|&n| n != 0) {
            failures.push(format!("{name}: allocations per warm step {per_step:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

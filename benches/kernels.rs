//! Element-wise f32 kernels in GB/s: each SIMD kernel beside its scalar
//! reference in one group (so the report shows the ratio), at 4K elements (in
//! cache) and 4M (memory), with a plain `copy_from_slice` of the same size as
//! the memory-bandwidth yardstick. Bytes counted are those a kernel must move:
//! read x and write y (8 B/element) for maps, read x, y, gy, gx and write gx
//! (20 B) for backward, read x (4 B) for sums.
//!
//! `cargo bench --bench kernels -- --warm-up-time 1 --measurement-time 2`
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gradlab::Activation;
use gradlab::kernels::{activation, elementwise, math, reduce, softmax};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [(usize, &str); 2] = [(1 << 12, "4K"), (1 << 22, "4M")];
const SOFTMAX_COLS: usize = 1024;

const ACTS: [Activation; 8] = [
    Activation::Linear,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu { alpha: 0.3 },
    Activation::Elu { alpha: 1.0 },
    Activation::Gelu,
    Activation::Softplus,
];

/// Deterministic inputs in [lo, hi) without a generator: a Weyl sequence.
fn data(n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let g = 0.618_034_f64;
    (0..n).map(|i| (lo as f64 + (i as f64 * g).fract() * (hi - lo) as f64) as f32).collect()
}

fn copy(c: &mut Criterion) {
    let mut g = c.benchmark_group("copy");
    for (n, label) in SIZES {
        let x = data(n, -4.0, 4.0);
        let mut y = vec![0.0f32; n];
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_function(BenchmarkId::new("copy", label), |b| b.iter(|| y.copy_from_slice(black_box(&x))));
    }
    g.finish();
}

fn activations(c: &mut Criterion) {
    for act in ACTS {
        let mut g = c.benchmark_group(format!("fwd_{}", act.name()));
        for (n, label) in SIZES {
            let x = data(n, -6.0, 6.0);
            let mut y = vec![0.0f32; n];
            g.throughput(Throughput::Bytes(8 * n as u64));
            g.bench_function(BenchmarkId::new("simd", label), |b| {
                b.iter(|| activation::forward_f32(act, black_box(&x), &mut y))
            });
            g.bench_function(BenchmarkId::new("scalar", label), |b| {
                b.iter(|| activation::reference::forward(act, black_box(&x), &mut y))
            });
        }
        g.finish();
        let mut g = c.benchmark_group(format!("bwd_{}", act.name()));
        for (n, label) in SIZES {
            let x = data(n, -6.0, 6.0);
            let mut y = vec![0.0f32; n];
            activation::forward_f32(act, &x, &mut y);
            let gy = data(n, -1.0, 1.0);
            let mut gx = vec![0.0f32; n];
            g.throughput(Throughput::Bytes(20 * n as u64));
            g.bench_function(BenchmarkId::new("simd", label), |b| {
                b.iter(|| activation::backward_f32(act, black_box(&x), &y, &gy, &mut gx))
            });
            g.bench_function(BenchmarkId::new("scalar", label), |b| {
                b.iter(|| activation::reference::backward(act, black_box(&x), &y, &gy, &mut gx))
            });
        }
        g.finish();
    }
}

type Map = fn(&[f32], &mut [f32]);

fn maps(c: &mut Criterion) {
    let cases: [(&str, f32, f32, Map, Map); 2] = [
        ("exp", -80.0, 80.0, math::exp_f32, math::reference::exp::<f32>),
        ("ln", 1e-30, 1e30, math::ln_f32, math::reference::ln::<f32>),
    ];
    for (name, lo, hi, simd, scalar) in cases {
        let mut g = c.benchmark_group(name);
        for (n, label) in SIZES {
            let x = data(n, lo, hi);
            let mut y = vec![0.0f32; n];
            g.throughput(Throughput::Bytes(8 * n as u64));
            g.bench_function(BenchmarkId::new("simd", label), |b| b.iter(|| simd(black_box(&x), &mut y)));
            g.bench_function(BenchmarkId::new("scalar", label), |b| b.iter(|| scalar(black_box(&x), &mut y)));
        }
        g.finish();
    }
    let mut g = c.benchmark_group("softmax_rows");
    for (n, label) in SIZES {
        let x = data(n, -10.0, 10.0);
        let mut y = vec![0.0f32; n];
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_function(BenchmarkId::new("simd", label), |b| {
            b.iter(|| softmax::softmax_rows_f32(SOFTMAX_COLS, black_box(&x), &mut y))
        });
        g.bench_function(BenchmarkId::new("simd_1thread", label), |b| {
            one_thread().install(|| b.iter(|| softmax::softmax_rows_f32(SOFTMAX_COLS, black_box(&x), &mut y)))
        });
        g.bench_function(BenchmarkId::new("scalar", label), |b| {
            b.iter(|| softmax::softmax_rows(SOFTMAX_COLS, black_box(&x), &mut y))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("axpy");
    for (n, label) in SIZES {
        let x = data(n, -1.0, 1.0);
        let mut y = vec![0.0f32; n];
        g.throughput(Throughput::Bytes(12 * n as u64));
        g.bench_function(BenchmarkId::new("simd", label), |b| {
            b.iter(|| elementwise::axpy_f32(1e-3, black_box(&x), &mut y))
        });
        g.bench_function(BenchmarkId::new("scalar", label), |b| {
            b.iter(|| elementwise::axpy(1e-3, black_box(&x), &mut y))
        });
    }
    g.finish();
}

fn sums(c: &mut Criterion) {
    let mut g = c.benchmark_group("sum");
    for (n, label) in SIZES {
        let x = data(n, -1.0, 1.0);
        g.throughput(Throughput::Bytes(4 * n as u64));
        g.bench_function(BenchmarkId::new("simd", label), |b| b.iter(|| reduce::sum_f32(black_box(&x))));
        g.bench_function(BenchmarkId::new("simd_1thread", label), |b| {
            one_thread().install(|| b.iter(|| reduce::sum_f32(black_box(&x))))
        });
        g.bench_function(BenchmarkId::new("scalar", label), |b| b.iter(|| reduce::sum(black_box(&x))));
    }
    g.finish();
}

/// The parallel kernels (sum, softmax at 4M) also run on one thread, so the
/// SIMD/scalar ratio is not a thread-count ratio.
fn one_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("one-thread pool")
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
}

/// Where chunk-parallel summing starts to pay: per length, one thread against two threads with the
/// split forced. `reduce::PAR_MIN` should sit at the first length where `split_2t` beats `serial_1t`.
/// Run with `cargo bench --bench kernels -- par_crossover`.
fn par_crossover(c: &mut Criterion) {
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("1-thread pool");
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("2-thread pool");
    let mut g = c.benchmark_group("par_crossover/sum");
    for n in [1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20] {
        let x = data(n, -4.0, 4.0);
        g.throughput(Throughput::Bytes(4 * n as u64));
        g.bench_function(BenchmarkId::new("serial_1t", n), |b| {
            one.install(|| b.iter(|| reduce::sum_f32_split_above(black_box(&x), usize::MAX)))
        });
        g.bench_function(BenchmarkId::new("split_2t", n), |b| {
            two.install(|| b.iter(|| reduce::sum_f32_split_above(black_box(&x), 0)))
        });
    }
    g.finish();
}

criterion_group! { name = kernels; config = config(); targets = copy, activations, maps, sums, par_crossover }
criterion_main!(kernels);

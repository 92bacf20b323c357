//! f32 matrix multiply throughput. Every benchmark's throughput is in elements, where one element is
//! one flop (a multiply-add counts two), so criterion's "elem/s" reads as flop/s.
//!
//! Per shape, one group holds: ours on one thread and on the whole rayon pool, the `gemm` crate on one
//! thread and the pool, `matrixmultiply` (single-threaded build), and a naive triple loop for small
//! products. `matmul_trans/{atb,abt}` holds the transposed forms of backward passes on one thread,
//! beside `gemm` and `matrixmultiply` reading the same memory with the same strides. `fma_peak` measures the core's achievable FMA rate. Run with
//! `cargo bench --bench matmul -- --warm-up-time 1 --measurement-time 2` (add a name filter such as
//! `m128_k784` to run one shape).
//!
//! With `GRADLAB_BENCH_CLOCK=thread-cpu` (Unix) the one-thread benchmarks (`*_1t`, `serial_1t`) time
//! the CPU time of the calling thread instead of wall time, as `benches/train.rs` does: on a shared
//! machine the time the scheduler gives to others is left out (run them under `taskset -c 0`). The
//! pool benchmarks always measure wall time.
use criterion::{Bencher, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use gradlab::kernels::hot_pool::with_hot_pool;
use gradlab::kernels::matmul::{Gemm, sgemm, sgemm_split_above};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;
use wide::f32x8;

/// (m, k, n): the square sizes, then shapes from training (batch × features products).
const SHAPES: &[(usize, usize, usize)] = &[
    (64, 64, 64),
    (128, 128, 128),
    (256, 256, 256),
    (512, 512, 512),
    (1024, 1024, 1024),
    (2048, 2048, 2048),
    (32, 10, 64),
    (32, 64, 64),
    (128, 784, 128),
    (256, 1024, 1024),
];

/// Times `iters` calls of `f` on the calling thread by the clock `GRADLAB_BENCH_CLOCK` names (wall
/// time unless it says `thread-cpu`).
fn one_thread(bch: &mut Bencher, mut f: impl FnMut()) {
    if std::env::var("GRADLAB_BENCH_CLOCK").is_ok_and(|c| c == "thread-cpu") {
        bch.iter_custom(|iters| {
            let start = thread_cpu();
            for _ in 0..iters {
                f();
            }
            thread_cpu().saturating_sub(start)
        });
    } else {
        bch.iter(f);
    }
}

/// CPU time of the calling thread so far (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "GRADLAB_BENCH_CLOCK=thread-cpu needs clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The naive loop is only run below this many flops: it is two orders of magnitude slower.
const NAIVE_MAX_FLOPS: usize = 1 << 26;

fn uniform(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0).collect()
}

fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f32;
            for p in 0..k {
                s += a[i * k + p] * b[p * n + j];
            }
            c[i * n + j] = s;
        }
    }
}

/// Row and column strides of op(A) (`m × k`) and op(B) (`k × n`) stored densely, transposed or not:
/// the same memory `sgemm` reads for those flags.
#[derive(Clone, Copy)]
struct Strides {
    a_rs: isize,
    a_cs: isize,
    b_rs: isize,
    b_cs: isize,
}

impl Strides {
    fn new(m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool) -> Self {
        let (a_rs, a_cs) = if trans_a { (1, m as isize) } else { (k as isize, 1) };
        let (b_rs, b_cs) = if trans_b { (1, k as isize) } else { (n as isize, 1) };
        Strides { a_rs, a_cs, b_rs, b_cs }
    }
}

fn gemm_crate(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], par: gemm::Parallelism) {
    gemm_strided(m, k, n, Strides::new(m, k, n, false, false), a, b, c, par)
}

#[allow(clippy::too_many_arguments)]
fn gemm_strided(
    m: usize,
    k: usize,
    n: usize,
    s: Strides,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    par: gemm::Parallelism,
) {
    // SAFETY: dense m×k (or k×m), k×n (or n×k) and m×n buffers of exactly those lengths, read
    // through strides that stay inside them; read_dst = false.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            s.a_cs,
            s.a_rs,
            b.as_ptr(),
            s.b_cs,
            s.b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

fn matrixmultiply_crate(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    matrixmultiply_strided(m, k, n, Strides::new(m, k, n, false, false), a, b, c)
}

fn matrixmultiply_strided(m: usize, k: usize, n: usize, s: Strides, a: &[f32], b: &[f32], c: &mut [f32]) {
    // SAFETY: as above; beta = 0 overwrites C.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            s.a_rs,
            s.a_cs,
            b.as_ptr(),
            s.b_rs,
            s.b_cs,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// (m, k, n) of the transposed-operand products of backward passes: dW = Xᵀ·dY is Aᵀ·B, dX = dY·Wᵀ
/// is A·Bᵀ (batch 32, 64, 128; widths 10 to 784), and the large squares of the plain form.
const TRANS_SHAPES: &[(usize, usize, usize)] = &[
    (32, 10, 64),
    (32, 64, 64),
    (64, 32, 64),
    (10, 32, 64),
    (64, 64, 64),
    (128, 128, 128),
    (128, 784, 128),
    (784, 128, 128),
    (128, 128, 784),
    (256, 256, 256),
    (1024, 1024, 1024),
    (2048, 2048, 2048),
];

/// Aᵀ·B and A·Bᵀ on one thread: ours, `gemm` and `matrixmultiply` reading the same memory through
/// the same strides.
fn matmul_transposed(cr: &mut Criterion) {
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("1-thread pool");
    for &(m, k, n) in TRANS_SHAPES {
        let flops = 2 * m * k * n;
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (a, b) = (uniform(&mut rng, m * k), uniform(&mut rng, k * n));
        let mut c = vec![0.0f32; m * n];
        for (form, ta, tb) in [("atb", true, false), ("abt", false, true)] {
            let g = Gemm { trans_a: ta, trans_b: tb, ..Gemm::new(m, k, n) };
            let s = Strides::new(m, k, n, ta, tb);
            let mut group = cr.benchmark_group(format!("matmul_trans/{form}/m{m}_k{k}_n{n}"));
            group.throughput(Throughput::Elements(flops as u64));
            if flops >= 1 << 28 {
                group.sample_size(10).sampling_mode(SamplingMode::Flat);
            }
            let id = |name: &str| BenchmarkId::new(name, format!("{m}x{k}x{n}"));
            group.bench_function(id("ours_1t"), |bch| {
                one.install(|| one_thread(bch, || sgemm(&g, black_box(&a), black_box(&b), &mut c)))
            });
            group.bench_function(id("gemm_1t"), |bch| {
                one_thread(bch, || {
                    gemm_strided(m, k, n, s, black_box(&a), black_box(&b), &mut c, gemm::Parallelism::None)
                })
            });
            group.bench_function(id("matrixmultiply_1t"), |bch| {
                one_thread(bch, || matrixmultiply_strided(m, k, n, s, black_box(&a), black_box(&b), &mut c))
            });
            group.finish();
        }
    }
}

fn matmul(cr: &mut Criterion) {
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("1-thread pool");
    let threads = rayon::current_num_threads();
    for &(m, k, n) in SHAPES {
        let flops = 2 * m * k * n;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (a, b) = (uniform(&mut rng, m * k), uniform(&mut rng, k * n));
        let mut c = vec![0.0f32; m * n];
        let g = Gemm::new(m, k, n);
        let mut group = cr.benchmark_group(format!("matmul_flops/m{m}_k{k}_n{n}"));
        group.throughput(Throughput::Elements(flops as u64));
        if flops >= 1 << 28 {
            group.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        let id = |name: &str| BenchmarkId::new(name, format!("{m}x{k}x{n}"));
        group.bench_function(id("ours_1t"), |bch| {
            one.install(|| one_thread(bch, || sgemm(&g, black_box(&a), black_box(&b), &mut c)))
        });
        // On one core (taskset) the pool runs would repeat the 1t ids, which criterion rejects.
        if threads > 1 {
            group.bench_function(id(&format!("ours_{threads}t")), |bch| {
                bch.iter(|| sgemm(&g, black_box(&a), black_box(&b), &mut c))
            });
        }
        group.bench_function(id("gemm_1t"), |bch| {
            one_thread(bch, || {
                gemm_crate(m, k, n, black_box(&a), black_box(&b), &mut c, gemm::Parallelism::None)
            })
        });
        if threads > 1 {
            group.bench_function(id(&format!("gemm_{threads}t")), |bch| {
                let par = gemm::Parallelism::Rayon(threads);
                bch.iter(|| gemm_crate(m, k, n, black_box(&a), black_box(&b), &mut c, par))
            });
        }
        group.bench_function(id("matrixmultiply_1t"), |bch| {
            one_thread(bch, || matrixmultiply_crate(m, k, n, black_box(&a), black_box(&b), &mut c))
        });
        if flops <= NAIVE_MAX_FLOPS {
            group.bench_function(id("naive"), |bch| {
                bch.iter(|| naive(m, k, n, black_box(&a), black_box(&b), &mut c))
            });
        }
        group.finish();
    }
}

/// (m, k, n) for the thread crossover, in rising flops: squares from 0.2 to 34 MFLOP and the products
/// of the training benches (residual 64×100×100, the 784 net's layers and their backward forms).
const CROSSOVER: &[(usize, usize, usize)] = &[
    (48, 48, 48),
    (64, 64, 64),
    (80, 80, 80),
    (64, 100, 100),
    (96, 96, 96),
    (128, 128, 128),
    (160, 160, 160),
    (192, 192, 192),
    (128, 784, 128),
    (256, 256, 256),
];

/// Where splitting a product across two threads starts to pay: per shape, one thread against two
/// threads with the split forced (threshold 0). The shipped `PAR_MIN_FLOPS` should sit at the first
/// shape where `split_2t` beats `serial_1t`. Run with `cargo bench --bench matmul -- par_crossover`.
fn par_crossover(cr: &mut Criterion) {
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("1-thread pool");
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("2-thread pool");
    for &(m, k, n) in CROSSOVER {
        let flops = 2 * m * k * n;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (a, b) = (uniform(&mut rng, m * k), uniform(&mut rng, k * n));
        let mut c = vec![0.0f32; m * n];
        let g = Gemm::new(m, k, n);
        let mut group = cr.benchmark_group(format!("par_crossover/m{m}_k{k}_n{n}"));
        group.throughput(Throughput::Elements(flops as u64));
        let id = |name: &str| BenchmarkId::new(name, format!("{m}x{k}x{n}"));
        group.bench_function(id("serial_1t"), |bch| {
            one.install(|| {
                one_thread(bch, || sgemm_split_above(&g, black_box(&a), black_box(&b), &mut c, usize::MAX))
            })
        });
        group.bench_function(id("split_2t"), |bch| {
            two.install(|| bch.iter(|| sgemm_split_above(&g, black_box(&a), black_box(&b), &mut c, 0)))
        });
        group.bench_function(id("shipped_2t"), |bch| {
            two.install(|| bch.iter(|| sgemm(&g, black_box(&a), black_box(&b), &mut c)))
        });
        group.finish();
    }
}

/// Products per chain in `par_chain`: the residual net's step has 3 per block over 50 blocks.
const CHAIN: usize = 150;

/// Serial elementwise work between the products of a chain, in passes over one 64×100 activation
/// (about 1 µs each): 0 (products back to back), 4 (the residual net's step has about this much per
/// product) and 32 (long enough for an idle rayon worker to go to sleep).
const CHAIN_GAPS: &[usize] = &[0, 4, 32];

/// The two-thread cost of a training step's products in isolation: a chain of CHAIN 64×100×100
/// products with serial elementwise work between them, on one thread, on two with the split forced
/// (threshold 0), and on two as shipped. `split_2t` against `serial_1t` at gap 0 is the split's own
/// overhead with a hot pool; the growth with the gap is the price of waking a worker that went idle.
/// Wall time only: run in a quiet moment (`cargo bench --bench matmul -- par_chain`).
fn par_chain(cr: &mut Criterion) {
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("1-thread pool");
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("2-thread pool");
    let (m, k, n) = (64, 100, 100);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (a, b) = (uniform(&mut rng, m * k), uniform(&mut rng, k * n));
    let mut c = vec![0.0f32; m * n];
    let mut act = uniform(&mut rng, m * n);
    let g = Gemm::new(m, k, n);
    for &gap in CHAIN_GAPS {
        let mut group = cr.benchmark_group(format!("par_chain/gap{gap}"));
        group.throughput(Throughput::Elements((CHAIN * g.flops()) as u64));
        let mut chain = |min_flops: usize| {
            for _ in 0..CHAIN {
                sgemm_split_above(&g, black_box(&a), black_box(&b), &mut c, min_flops);
                for _ in 0..gap {
                    for (x, &y) in act.iter_mut().zip(&c) {
                        *x = x.mul_add(0.5, y);
                    }
                    black_box(&mut act);
                }
            }
        };
        group.bench_function("serial_1t", |bch| one.install(|| bch.iter(|| chain(usize::MAX))));
        group.bench_function("split_2t", |bch| two.install(|| bch.iter(|| chain(0))));
        group.bench_function("shipped_2t", |bch| {
            two.install(|| bch.iter(|| chain(gradlab::kernels::matmul::params::PAR_MIN_FLOPS)))
        });
        // As `fit` runs its steps: the second worker kept awake for the whole chain.
        group.bench_function("split_2t_hot", |bch| two.install(|| bch.iter(|| with_hot_pool(|| chain(0)))));
        group.finish();
    }
}

/// FMA steps per call of the peak loop.
const PEAK_STEPS: usize = 4096;

/// 12 independent `f32x8` multiply-add chains: enough in flight to cover two FMA pipes of latency 4,
/// so this is the rate a perfect micro-kernel could reach on one core.
fn fma_peak_loop(x: f32x8, y: f32x8) -> [f32x8; 12] {
    let mut acc = [f32x8::splat(1.0); 12];
    for _ in 0..PEAK_STEPS {
        for s in acc.iter_mut() {
            *s = s.mul_add(x, y);
        }
    }
    acc
}

fn fma_peak(cr: &mut Criterion) {
    let mut group = cr.benchmark_group("matmul_flops/fma_peak");
    group.throughput(Throughput::Elements((PEAK_STEPS * 12 * 8 * 2) as u64));
    let (x, y) = (f32x8::splat(0.999), f32x8::splat(0.001));
    group.bench_function("f32x8_12_chains_1t", |bch| bch.iter(|| fma_peak_loop(black_box(x), black_box(y))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    targets = fma_peak, matmul, matmul_transposed, par_crossover, par_chain
}
criterion_main!(benches);

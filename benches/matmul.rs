//! f32 matrix multiply throughput. Every benchmark's throughput is in elements, where one element is
//! one flop (a multiply-add counts two), so criterion's "elem/s" reads as flop/s.
//!
//! Per shape, one group holds: ours on one thread and on the whole rayon pool, the `gemm` crate on one
//! thread and the pool, `matrixmultiply` (single-threaded build), and a naive triple loop for small
//! products. `fma_peak` measures the core's achievable FMA rate. Run with
//! `cargo bench --bench matmul -- --warm-up-time 1 --measurement-time 2` (add a name filter such as
//! `m128_k784` to run one shape).
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use gradlab::kernels::matmul::{Gemm, sgemm};
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

fn gemm_crate(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], par: gemm::Parallelism) {
    // SAFETY: dense row-major m×k, k×n and m×n buffers of exactly those lengths; read_dst = false.
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
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
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
    // SAFETY: as above; beta = 0 overwrites C.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
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
            one.install(|| bch.iter(|| sgemm(&g, black_box(&a), black_box(&b), &mut c)))
        });
        group.bench_function(id(&format!("ours_{threads}t")), |bch| {
            bch.iter(|| sgemm(&g, black_box(&a), black_box(&b), &mut c))
        });
        group.bench_function(id("gemm_1t"), |bch| {
            bch.iter(|| gemm_crate(m, k, n, black_box(&a), black_box(&b), &mut c, gemm::Parallelism::None))
        });
        group.bench_function(id(&format!("gemm_{threads}t")), |bch| {
            let par = gemm::Parallelism::Rayon(threads);
            bch.iter(|| gemm_crate(m, k, n, black_box(&a), black_box(&b), &mut c, par))
        });
        group.bench_function(id("matrixmultiply_1t"), |bch| {
            bch.iter(|| matrixmultiply_crate(m, k, n, black_box(&a), black_box(&b), &mut c))
        });
        if flops <= NAIVE_MAX_FLOPS {
            group.bench_function(id("naive"), |bch| {
                bch.iter(|| naive(m, k, n, black_box(&a), black_box(&b), &mut c))
            });
        }
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
    targets = fma_peak, matmul
}
criterion_main!(benches);

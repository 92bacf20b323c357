//! The page's timings: the machine, matmul GFLOP/s against a measured FMA peak, and each scenario's
//! wall time and training steps per second. These numbers depend on the machine and its load, so they
//! go on the page and into `timings.json` only, never into the data files that `SHA256SUMS` lists.
use crate::error::{ReportError, Result};
use crate::machine::Machine;
use crate::run::ScenarioResult;
use engine::Gemm;
use serde::Serialize;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};
/// The vector the matmul's micro-kernel is built on (a 16-wide row where the build has AVX-512, 8-wide
/// otherwise): the peak has to be measured at that width, or the kernel would beat its own ceiling.
#[cfg(target_feature = "avx512f")]
type Lane = wide::f32x16;
#[cfg(not(target_feature = "avx512f"))]
type Lane = wide::f32x8;
/// Its name, for the page.
pub const PEAK_LANE: &str = if cfg!(target_feature = "avx512f") { "f32x16" } else { "f32x8" };

/// The unhashed timings file beside the page.
pub const FILE: &str = "timings.json";

/// Everything the timings section shows.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub machine: Machine,
    pub quick: bool,
    pub kernels: Kernels,
    pub scenarios: Vec<ScenarioTiming>,
    /// Scenarios, charts and kernel measurements together (the page is rendered after this).
    pub total_seconds: f64,
}

/// The FMA peak and matmul throughput, in GFLOP/s (a multiply-add counts two flops).
#[derive(Debug, Clone, Serialize)]
pub struct Kernels {
    /// One thread running independent [`Lane`] multiply-adds: the ceiling a kernel can reach per core.
    pub fma_peak_one: f64,
    /// Every thread of the pool doing the same at once (None with one thread).
    pub fma_peak_all: Option<f64>,
    pub matmul: Vec<MatmulTiming>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatmulTiming {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub gflop: f64,
    pub one_thread: f64,
    pub one_thread_pct: f64,
    pub all_threads: Option<f64>,
    pub all_threads_pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioTiming {
    pub name: String,
    pub seconds: f64,
    pub steps: u64,
    /// None when the scenario trains nothing (steps = 0).
    pub steps_per_second: Option<f64>,
}

/// Matmul shapes (m, k, n): square sizes from cache-resident to memory-bound, and the 784-input dense
/// layer's forward product on a batch of 128.
const SHAPES_FULL: &[(usize, usize, usize)] =
    &[(64, 64, 64), (256, 256, 256), (128, 784, 128), (1024, 1024, 1024)];
const SHAPES_QUICK: &[(usize, usize, usize)] = &[(64, 64, 64), (256, 256, 256), (128, 784, 128)];

/// Measures the FMA peak and the matmul shapes on the current rayon pool (and on one thread).
pub fn measure_kernels(quick: bool) -> Result<Kernels> {
    let budget = if quick { Duration::from_millis(15) } else { Duration::from_millis(80) };
    let threads = rayon::current_num_threads();
    let fma_peak_one = fma_peak(budget);
    let fma_peak_all = (threads > 1).then(|| rayon::broadcast(|_| fma_peak(budget)).into_iter().sum());
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| ReportError::Usage(format!("timings: cannot start a one-thread pool: {e}")))?;
    let shapes = if quick { SHAPES_QUICK } else { SHAPES_FULL };
    let matmul = shapes
        .iter()
        .map(|&(m, k, n)| {
            let g = Gemm::new(m, k, n);
            let gflop = g.flops() as f64 * 1e-9;
            let one_thread = gflop / one.install(|| seconds_per_call(&g, budget));
            let all_threads = (threads > 1).then(|| gflop / seconds_per_call(&g, budget));
            MatmulTiming {
                m,
                k,
                n,
                gflop,
                one_thread,
                one_thread_pct: 100.0 * one_thread / fma_peak_one,
                all_threads,
                all_threads_pct: all_threads.zip(fma_peak_all).map(|(a, p)| 100.0 * a / p),
            }
        })
        .collect();
    Ok(Kernels { fma_peak_one, fma_peak_all, matmul })
}

/// Best GFLOP/s of a loop of twelve independent [`Lane`] multiply-add chains: enough chains to cover
/// the FMA latency on two ports, so the loop is bound by throughput, as a matmul micro-kernel is.
fn fma_peak(budget: Duration) -> f64 {
    const CHAINS: usize = 12;
    const ITERS: usize = 1 << 16;
    const LANES: usize = std::mem::size_of::<Lane>() / std::mem::size_of::<f32>();
    let a = black_box(Lane::splat(0.999_9));
    let b = black_box(Lane::splat(1e-4));
    let mut best = f64::INFINITY;
    let started = Instant::now();
    let mut reps = 0;
    while reps < 3 || started.elapsed() < budget {
        let mut acc = [Lane::splat(0.5); CHAINS];
        let t = Instant::now();
        for _ in 0..ITERS {
            for x in acc.iter_mut() {
                *x = x.mul_add(a, b);
            }
        }
        black_box(&acc);
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
    }
    (ITERS * CHAINS * LANES * 2) as f64 * 1e-9 / best
}

/// Fastest of several calls (after one warm-up call) of `sgemm` on the current pool.
fn seconds_per_call(g: &Gemm, budget: Duration) -> f64 {
    // Fixed, exactly representable inputs: the values do not matter, only that they are not denormal.
    let a: Vec<f32> = (0..g.m * g.k).map(|i| (i % 17) as f32 * 0.125 - 1.0).collect();
    let b: Vec<f32> = (0..g.k * g.n).map(|i| (i % 13) as f32 * 0.25 - 1.5).collect();
    let mut c = vec![0.0f32; g.m * g.n];
    engine::kernels::matmul::sgemm(g, &a, &b, &mut c);
    let mut best = f64::INFINITY;
    let started = Instant::now();
    let mut reps = 0;
    while reps < 3 || started.elapsed() < budget {
        let t = Instant::now();
        engine::kernels::matmul::sgemm(g, black_box(&a), black_box(&b), black_box(&mut c));
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
    }
    best
}

impl Timings {
    pub fn new(
        machine: Machine,
        kernels: Kernels,
        runs: &[(ScenarioResult, Duration)],
        total: Duration,
        quick: bool,
    ) -> Timings {
        let scenarios = runs
            .iter()
            .map(|(r, dt)| {
                let seconds = dt.as_secs_f64();
                ScenarioTiming {
                    name: r.scenario.clone(),
                    seconds,
                    steps: r.steps,
                    steps_per_second: (r.steps > 0 && seconds > 0.0).then(|| r.steps as f64 / seconds),
                }
            })
            .collect();
        Timings { machine, quick, kernels, scenarios, total_seconds: total.as_secs_f64() }
    }

    /// Writes `timings.json` into `dir` (not listed in `SHA256SUMS`: it changes from run to run).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let mut text = serde_json::to_string_pretty(self).expect("timings serialise");
        text.push('\n');
        std::fs::write(&path, text).map_err(|e| ReportError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fma_peak_and_matmul_are_positive_and_matmul_stays_below_the_peak_bound() {
        let k = measure_kernels(true).unwrap();
        assert!(k.fma_peak_one > 0.1, "{k:?}");
        assert_eq!(k.matmul.len(), SHAPES_QUICK.len());
        for t in &k.matmul {
            assert!(t.one_thread > 0.0 && t.one_thread.is_finite(), "{t:?}");
            // A matmul doing only FMAs cannot beat the FMA loop by much; 150% leaves room for noise
            // on a loaded machine but catches a wrong flop count or a timer that measured nothing.
            assert!(t.one_thread_pct < 150.0, "{t:?} vs peak {}", k.fma_peak_one);
        }
    }
}

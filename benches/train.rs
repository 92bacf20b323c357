//! Whole training steps (forward, backward, optimiser update) through the
//! public `Model::fit` API, in steps per second: criterion's throughput is one
//! element per iteration and one iteration is one step.
//!
//! - `train_step/{model}/1t` and `train_step/{model}/nt`: the eight models of
//!   `benches/models` (the peer comparison's: see `benches/peers.sh`), each in a
//!   rayon pool of one thread and in one of every available core. The kernels
//!   fork only inside the pool the step runs in, so the pair shows what a second
//!   thread buys (or costs).
//! - `monitor_overhead`: the deep sigmoid step without a monitor and with
//!   `MonitorHook` (every step, no histograms), in the same run; under
//!   `cargo bench` also a paired measurement (alternating chunks, median
//!   ratio) that a change of machine load between the two cannot bias.
//!
//! Each timed sample is one `fit` call of `iters` epochs over a data set of
//! exactly one batch (no shuffling), so every epoch is one step and the only
//! per-call work outside the steps is the history's one allocation; steps
//! themselves allocate nothing once warm (tests/alloc.rs proves it for all
//! eight models).
//!
//! With `GRADLAB_BENCH_CLOCK=thread-cpu` (Unix) each sample is the CPU time of the
//! thread that ran the steps instead of wall time: on a machine shared with other
//! work, a one-thread step's CPU time does not count the time the scheduler gave
//! to others, so before/after ratios of `*/1t` stay readable under load. (For
//! `*/nt` it leaves out the other workers' share: read those in wall time.)
//!
//! `cargo bench --bench train -- --warm-up-time 1 --measurement-time 3`
mod models;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gradlab::model::NoHook;
use gradlab::monitor::{MonitorConfig, MonitorHook, Records};
use models::{Bench, NAMES};
use std::time::{Duration, Instant};

/// Times `steps` training steps of `bench` (see [`Bench::fit`]), by the clock
/// `GRADLAB_BENCH_CLOCK` names (wall time unless it says `thread-cpu`).
fn timed(bench: &mut Bench, steps: u64, hook: &mut dyn gradlab::model::StepHook<f32>) -> Duration {
    if std::env::var("GRADLAB_BENCH_CLOCK").is_ok_and(|c| c == "thread-cpu") {
        let start = thread_cpu();
        std::hint::black_box(bench.fit(steps as usize, hook));
        return thread_cpu().saturating_sub(start);
    }
    let start = Instant::now();
    std::hint::black_box(bench.fit(steps as usize, hook));
    start.elapsed()
}

/// CPU time of the calling thread so far (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "GRADLAB_BENCH_CLOCK=thread-cpu needs clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn train_step(c: &mut Criterion) {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pools: Vec<(&str, rayon::ThreadPool)> = [("1t", 1), ("nt", all)]
        .into_iter()
        .map(|(tag, n)| (tag, rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("a thread pool")))
        .collect();
    let mut g = c.benchmark_group("train_step");
    g.throughput(Throughput::Elements(1));
    for name in NAMES {
        let mut bench = models::build(name);
        for (tag, pool) in &pools {
            g.bench_function(format!("{name}/{tag}"), |b| {
                b.iter_custom(|iters| pool.install(|| timed(&mut bench, iters, &mut NoHook)))
            });
        }
    }
    g.finish();
}

/// The deep sigmoid step bare and with a fresh `MonitorHook` per timed sample
/// (every step, no histograms): the ratio of the two is the monitor's cost.
/// Building the hook and dropping its records stay outside the timing.
fn monitor_overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("monitor_overhead");
    g.throughput(Throughput::Elements(1));
    let mut bare = models::build("deep_sigmoid");
    g.bench_function("sigmoid10_no_monitor", |b| b.iter_custom(|iters| timed(&mut bare, iters, &mut NoHook)));
    let mut watched = models::build("deep_sigmoid");
    let config = MonitorConfig { every: 1, histograms: false };
    g.bench_function("sigmoid10_monitor_every_step", |b| {
        b.iter_custom(|iters| {
            let records = Records::new("bench", "sigmoid10", 3);
            let mut hook = MonitorHook::new(&watched.model, config, records);
            let elapsed = timed(&mut watched, iters, &mut hook);
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
        let a = timed(bare, STEPS, &mut NoHook);
        let mut hook = MonitorHook::new(&watched.model, config, Records::new("bench", "sigmoid10", 3));
        let b = timed(watched, STEPS, &mut hook);
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

//! A training run gives the same bits on one thread as on two or three: the eight benchmark models
//! (`benches/models`) each take a few `fit` steps in rayon pools of 1, 2 and 3 threads, and every
//! parameter and gradient must match bit for bit. On two or more threads the big products, the
//! activation passes and the optimiser updates are cut over the hot run's team
//! (`kernels::hot_pool`), so this is the end-to-end check that which thread computes a part never
//! changes it.
#[path = "../benches/models/mod.rs"]
mod models;

use gradlab::model::NoHook;

/// Every parameter's values and gradient, as bits, after `steps` steps of `name` in a pool of
/// `threads` threads.
fn trained_bits(name: &str, threads: usize, steps: usize) -> Vec<Vec<u32>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
    let mut bench = models::build(name);
    pool.install(|| bench.fit(steps, &mut NoHook));
    bench
        .model
        .params()
        .iter()
        .flat_map(|(_, p)| {
            [p.value.iter().map(|v| v.to_bits()).collect(), p.grad.iter().map(|g| g.to_bits()).collect()]
        })
        .collect()
}

#[test]
fn every_benchmark_model_trains_to_the_same_bits_on_one_two_and_three_threads() {
    for name in models::NAMES {
        let one = trained_bits(name, 1, 3);
        assert!(one.iter().any(|p| p.iter().any(|&b| b != 0)), "{name}: the run trained nothing");
        for threads in [2, 3] {
            let many = trained_bits(name, threads, 3);
            assert_eq!(one.len(), many.len(), "{name}: parameter count on {threads} threads");
            for (i, (a, b)) in one.iter().zip(&many).enumerate() {
                let first = a.iter().zip(b).position(|(x, y)| x != y);
                assert!(first.is_none(), "{name}: buffer {i} differs at {first:?} on {threads} threads");
            }
        }
    }
}

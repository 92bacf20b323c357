//! Keeps the other workers of the current rayon pool awake while a run of many small steps goes on.
//!
//! A product split over the pool hands half its blocks to a second worker. If that worker went to
//! sleep during the serial work between two products (the elementwise ops, the optimiser), waking
//! it is a futex wake, which in a virtual machine goes through the hypervisor and costs tens of
//! microseconds: more than a split of a 1-MFLOP product saves. [`with_hot_pool`] parks a keeper on
//! every other worker instead, which polls the pool for work ([`rayon::yield_now`]: its own deque,
//! the others', the injector) and runs what it finds, so a split reaches a worker that is already
//! running. The keepers stop when the closure returns or unwinds.
//!
//! They start at the run's first split ([`start_keepers`], called by the parallel kernels), not
//! at its start: a spinning keeper slows the caller's own work on this host (the deep sigmoid
//! net, none of whose products split, measured its two-thread step 7-10% slower than one thread
//! with keepers from the start), so a run that never splits never spins.
//!
//! Only the scheduling changes: which thread computes a block of C never changes its value, so
//! results stay bit-identical for any pool size.
use rayon::Yield;
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Set while this thread runs a [`with_hot_pool`] closure or a keeper. A keeper that lands
    /// on such a thread (its own caller's, or a worker busy with another run, reaching for work
    /// while it waits in a join) returns at once: spinning there would hold that thread's own
    /// work until the other run ends. A run nested inside a keeper starts no keepers of its own.
    static HOT: Cell<bool> = const { Cell::new(false) };
    /// The current hot run's stop flag and caller's worker index, until its keepers start.
    static PENDING: Cell<Option<(Arc<AtomicBool>, usize)>> = const { Cell::new(None) };
}

/// Sets [`HOT`] for the current thread and restores it on drop, also on unwinding.
struct HotMark {
    was: bool,
}

impl HotMark {
    fn set() -> Self {
        Self { was: HOT.with(|h| h.replace(true)) }
    }
}

impl Drop for HotMark {
    fn drop(&mut self) {
        HOT.with(|h| h.set(self.was));
    }
}

/// Raises `stop` on drop, so the keepers end however the closure leaves (return, `?`, panic).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Runs `f` with the other workers of the current pool kept awake (see the module doc). Does
/// nothing extra on a one-thread pool, off the pool (a thread outside it would compete with the
/// keepers for the cores), or when the caller already runs inside a hot run or a keeper.
///
/// Wrap a whole loop of steps, not a step: the keepers are started once per call.
///
/// The keepers are not scoped to the call: a keeper may be running a job it took from the pool (in
/// the report, another scenario) when `f` returns, and waiting for that job would hold this
/// thread's next work behind it. They share only the `stop` flag, so one that finishes late just
/// sees it raised and returns.
pub fn with_hot_pool<R>(f: impl FnOnce() -> R) -> R {
    let Some(owner) = rayon::current_thread_index() else { return f() };
    if rayon::current_num_threads() < 2 || HOT.with(Cell::get) {
        return f();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let _mark = HotMark::set();
    let _stop = StopOnDrop(Arc::clone(&stop));
    PENDING.set(Some((stop, owner)));
    let _pending = ClearPending;
    f()
}

/// Forgets a run's keepers that never started, on return and on unwinding.
struct ClearPending;

impl Drop for ClearPending {
    fn drop(&mut self) {
        PENDING.set(None);
    }
}

/// Starts the keepers of the hot run this thread is in, if it is in one and they have not started:
/// a parallel kernel calls it just before it splits. One broadcast per run (a few small
/// allocations, at the first split of the first step); a cheap thread-local check after that.
pub fn start_keepers() {
    let Some((stop, owner)) = PENDING.take() else { return };
    // Exactly one keeper in each worker's own queue; the caller's copy returns at once.
    rayon::spawn_broadcast(move |ctx| {
        if ctx.index() != owner {
            keep(&stop);
        }
    });
}

/// Polls the pool for work until `stop` is raised.
fn keep(stop: &AtomicBool) {
    if HOT.with(Cell::get) {
        return;
    }
    let _mark = HotMark::set();
    while !stop.load(Ordering::Acquire) {
        if let Some(Yield::Idle) | None = rayon::yield_now() {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::sync::atomic::AtomicUsize;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool")
    }

    #[test]
    fn keepers_run_the_pools_work_and_stop_when_the_run_ends() {
        for threads in [1, 2, 3] {
            let ran = AtomicUsize::new(0);
            let sum = pool(threads).install(|| {
                with_hot_pool(|| {
                    // Parallel work inside a hot run completes (the keepers execute it or let it be).
                    (0..1000u64)
                        .into_par_iter()
                        .inspect(|_| _ = ran.fetch_add(1, Ordering::Relaxed))
                        .sum::<u64>()
                })
            });
            assert_eq!(sum, 999 * 1000 / 2, "{threads} threads");
            assert_eq!(ran.load(Ordering::Relaxed), 1000, "{threads} threads");
            assert!(!HOT.with(Cell::get), "the thread's mark is cleared");
        }
    }

    #[test]
    fn a_panic_in_the_run_stops_the_keepers_and_clears_the_mark() {
        let p = pool(2);
        let caught = p.install(|| {
            let r = std::panic::catch_unwind(|| with_hot_pool(|| panic!("inside the run")));
            (r.is_err(), HOT.with(Cell::get))
        });
        assert_eq!(caught, (true, false), "the panic comes through and the mark is restored");
        // The pool is usable afterwards: the keeper saw the flag and left.
        assert_eq!(p.install(|| with_hot_pool(|| 7)), 7);
        assert_eq!(p.install(|| (0..100u64).into_par_iter().sum::<u64>()), 4950);
    }

    #[test]
    fn the_first_split_starts_the_keepers_once_and_the_run_still_ends() {
        let p = pool(2);
        let (pending_before, pending_after) = p.install(|| {
            with_hot_pool(|| {
                let before = PENDING.with(|c| {
                    let v = c.take();
                    let some = v.is_some();
                    c.set(v);
                    some
                });
                start_keepers();
                start_keepers();
                // The kept worker runs the other half of a join.
                let (a, b) = rayon::join(|| 1, || 2);
                assert_eq!(a + b, 3);
                let after = PENDING.with(|c| {
                    let v = c.take();
                    let some = v.is_some();
                    c.set(v);
                    some
                });
                (before, after)
            })
        });
        assert_eq!((pending_before, pending_after), (true, false), "started once, then nothing pending");
        assert!(p.install(|| PENDING.with(|c| c.take()).is_none()), "cleared after the run");
        assert_eq!(p.install(|| (0..100u64).into_par_iter().sum::<u64>()), 4950);
    }

    #[test]
    fn nested_and_off_pool_runs_start_no_keepers_and_still_return() {
        let p = pool(2);
        let inner =
            p.install(|| with_hot_pool(|| (HOT.with(Cell::get), with_hot_pool(|| HOT.with(Cell::get)))));
        assert_eq!(inner, (true, true), "the outer run marks the thread; the inner one runs inside it");
        // Off any pool: plain call, nothing marked.
        assert!(!with_hot_pool(|| HOT.with(Cell::get)));
    }

    #[test]
    fn concurrent_runs_on_one_pool_do_not_hold_each_other() {
        // Two runs side by side on a two-thread pool: each worker's keeper for the other run
        // must return at once (its thread is busy with its own run), or both would wait forever.
        let p = pool(2);
        let (a, b) = p.install(|| {
            rayon::join(
                || with_hot_pool(|| (0..200u64).into_par_iter().sum::<u64>()),
                || with_hot_pool(|| (0..300u64).into_par_iter().sum::<u64>()),
            )
        });
        assert_eq!((a, b), (199 * 200 / 2, 299 * 300 / 2));
    }
}

//! Keeps the other workers of the current rayon pool at hand while a run of many small steps goes
//! on, and hands them parts of the run's kernels.
//!
//! A training step is a chain of a few hundred kernels of a few microseconds each. Split through
//! rayon, a kernel pays twice: a worker that went to sleep during the serial work between two
//! kernels is woken by a futex, which in a virtual machine goes through the hypervisor and costs
//! tens of microseconds, and a caller whose half finished first falls asleep waiting for the other
//! half after a few rounds of `sched_yield`, and has to be woken in turn. A keeper that polls
//! rayon's queues instead stays awake, but it also keeps reading the lines of the caller's deque
//! and the pool's injector, and it never runs the elementwise work between the products, whose
//! operands then live half in the other core's cache.
//!
//! So a run marked by [`with_hot_pool`] gets a team: at the run's first product big enough to split
//! ([`start_keepers`]) a keeper joins from every other worker of the pool and spins on one shared
//! word. [`run`] publishes a job there; the caller and the keepers claim its tasks (member `i`
//! first claims task `i`, its own share, so a kernel cut the same way as the one before it finds
//! its part in its own cache); the caller spins until every task is done. Nobody sleeps, nobody
//! allocates, and a split costs a few cache-line transfers.
//!
//! Only the scheduling changes: the kernels cut their output into disjoint parts and never split a
//! sum, so which thread computes a part never changes a bit, whatever the pool size.
//!
//! A task nobody else claims is run by the caller, so a keeper that is late, descheduled, or busy
//! with other rayon work (it looks at the pool's queues now and then, so that a fit inside a
//! parallel sweep does not hold the sweep's other jobs) only costs parallelism, never progress.
use std::cell::Cell;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Most tasks one job can have (the claim mask's width).
pub const MAX_TASKS: usize = 32;

/// Empty polls of the team's word between two looks at rayon's queues.
const POLLS_PER_YIELD: u32 = 1 << 14;

/// A job in flight: the caller's closure and the count of its finished tasks. It lives on the
/// caller's stack, and the caller does not return before every task has finished.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    done: AtomicUsize,
    panicked: AtomicBool,
}

/// What the keepers poll: one cache line, written by the caller once per job and by each claim.
#[repr(align(128))]
struct Board {
    /// Bits 40..64: the job's generation; 32..40: its task count; 0..32: the tasks claimed.
    state: AtomicU64,
    /// The current job, valid for whoever holds a claim on one of its tasks.
    job: AtomicPtr<Job<'static>>,
}

/// One hot run's team.
struct Team {
    board: Board,
    /// Keepers that have joined; member indices 1, 2, ... in joining order (the caller is 0).
    members: AtomicUsize,
    stop: AtomicBool,
}

impl Team {
    fn new() -> Self {
        Team {
            board: Board { state: AtomicU64::new(0), job: AtomicPtr::new(std::ptr::null_mut()) },
            members: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        }
    }

    /// Claims a free task of the current job for member `me`: its own share first, else the
    /// lowest free one.
    fn claim(&self, me: usize) -> Option<usize> {
        let mut s = self.board.state.load(Ordering::Acquire);
        loop {
            let tasks = ((s >> 32) & 0xff) as u32;
            let all = if tasks >= 32 { u32::MAX } else { (1u32 << tasks) - 1 };
            let free = all & !(s as u32);
            if free == 0 {
                return None;
            }
            let t = if me < 32 && free & (1 << me) != 0 { me as u32 } else { free.trailing_zeros() };
            match self.board.state.compare_exchange_weak(s, s | (1 << t), Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(t as usize),
                Err(now) => s = now,
            }
        }
    }

    /// Runs claimed task `t` and reports it done; a panic is caught and passed to the caller.
    fn execute(&self, t: usize) {
        // SAFETY: holding a claim on one of the job's tasks, and the job outlives its tasks (the
        // caller waits for all of them). The claim's acquire saw the caller's release of the
        // board, which came after the pointer's store.
        let job = unsafe { &*self.board.job.load(Ordering::Acquire) };
        if catch_unwind(AssertUnwindSafe(|| (job.f)(t))).is_err() {
            job.panicked.store(true, Ordering::Relaxed);
        }
        job.done.fetch_add(1, Ordering::Release);
    }
}

thread_local! {
    /// Set while this thread runs a [`with_hot_pool`] closure or a keeper. A keeper that lands
    /// on such a thread (its own caller's, or a worker busy with another run) returns at once. A
    /// run nested inside a keeper or another run starts no team of its own.
    static HOT: Cell<bool> = const { Cell::new(false) };
    /// The team of the hot run this thread is the caller of (null elsewhere), valid while the run
    /// lasts: the run's frame holds an `Arc` of it.
    static TEAM: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
    /// The current hot run's team and caller's worker index, until its keepers start.
    static PENDING: Cell<Option<(Arc<Team>, usize)>> = const { Cell::new(None) };
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

/// Ends a run however the closure leaves (return, `?`, panic): raises the stop flag, clears the
/// thread's team and forgets keepers that never started.
struct EndRun(Arc<Team>);

impl Drop for EndRun {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Release);
        TEAM.set(std::ptr::null());
        PENDING.set(None);
    }
}

/// Runs `f` as a hot run (see the module doc). Does nothing extra on a one-thread pool, off the
/// pool (a thread outside it would compete with the keepers for the cores), or when the caller
/// already runs inside a hot run or a keeper.
///
/// Wrap a whole loop of steps, not a step: the keepers are started once per call.
///
/// The keepers are not scoped to the call: a keeper may be running a job it took from the pool (in
/// the report, another scenario) when `f` returns, and waiting for that job would hold this
/// thread's next work behind it. They share only the team, so one that finishes late just sees
/// the stop flag and returns.
pub fn with_hot_pool<R>(f: impl FnOnce() -> R) -> R {
    let Some(owner) = rayon::current_thread_index() else { return f() };
    if rayon::current_num_threads() < 2 || HOT.with(Cell::get) {
        return f();
    }
    let team = Arc::new(Team::new());
    let _mark = HotMark::set();
    TEAM.set(Arc::as_ptr(&team));
    PENDING.set(Some((Arc::clone(&team), owner)));
    let _end = EndRun(team);
    f()
}

/// Whether this thread is the caller of a hot run: its kernels then split through [`run`].
pub fn in_run() -> bool {
    !TEAM.get().is_null()
}

/// Starts the keepers of the hot run this thread is in, if it is in one and they have not started:
/// a kernel calls it when it first has work worth splitting. One broadcast per run (a few small
/// allocations, at the first split of the first step); a cheap thread-local check after that.
pub fn start_keepers() {
    let Some((team, owner)) = PENDING.take() else { return };
    // Exactly one keeper in each worker's own queue; the caller's copy returns at once.
    rayon::spawn_broadcast(move |ctx| {
        if ctx.index() != owner {
            keep(&team);
        }
    });
}

/// Members of this thread's team, the caller included: 1 outside a hot run or before any keeper
/// has joined. A kernel cuts its work into this many parts.
pub fn team_size() -> usize {
    let team = TEAM.get();
    if team.is_null() {
        return 1;
    }
    // SAFETY: non-null only while the run's frame holds the team (see TEAM).
    1 + unsafe { &*team }.members.load(Ordering::Relaxed).min(MAX_TASKS - 1)
}

/// Joins `team` as its next member and runs the tasks it can claim until the run stops.
fn keep(team: &Team) {
    if HOT.with(Cell::get) {
        return;
    }
    let _mark = HotMark::set();
    let me = team.members.fetch_add(1, Ordering::AcqRel) + 1;
    let mut idle = 0u32;
    while !team.stop.load(Ordering::Acquire) {
        if let Some(t) = team.claim(me) {
            team.execute(t);
            idle = 0;
            continue;
        }
        idle += 1;
        if idle == POLLS_PER_YIELD {
            idle = 0;
            _ = rayon::yield_now();
        }
        std::hint::spin_loop();
    }
}

/// Runs `f(0)`, ..., `f(tasks - 1)`, spread over this thread's team when it is the caller of a hot
/// run with keepers, else in order on this thread. Returns when all have run; a panic in any task
/// comes through here, after the others have finished.
///
/// # Panics
/// When `tasks` exceeds [`MAX_TASKS`] in a team, and as said above.
pub fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let team = TEAM.get();
    // SAFETY: non-null only while the run's frame holds the team (see TEAM).
    if team.is_null() || tasks < 2 || unsafe { &*team }.members.load(Ordering::Relaxed) == 0 {
        (0..tasks).for_each(f);
        return;
    }
    let team = unsafe { &*team };
    assert!(tasks <= MAX_TASKS, "hot_pool::run: {tasks} tasks, at most {MAX_TASKS}");
    let job = Job { f, done: AtomicUsize::new(0), panicked: AtomicBool::new(false) };
    // Only the caller writes the generation bits (claims set the low ones), so the next one is read
    // off the board.
    let generation = ((team.board.state.load(Ordering::Relaxed) >> 40) + 1) & 0xff_ffff;
    // The keepers only dereference the pointer under a claim of this job, and this frame does not
    // return before all of its tasks are done.
    team.board.job.store((&raw const job).cast_mut().cast(), Ordering::Relaxed);
    team.board.state.store(generation << 40 | (tasks as u64) << 32, Ordering::Release);
    while let Some(t) = team.claim(0) {
        team.execute(t);
    }
    while job.done.load(Ordering::Acquire) < tasks {
        std::hint::spin_loop();
    }
    if job.panicked.load(Ordering::Relaxed) {
        resume_unwind(Box::new("a task of a hot-pool job panicked"));
    }
}

/// The `i`-th of `parts` consecutive ranges that cut `0..len`, each boundary a multiple of `align`
/// (the last range takes the rest). Parts may be empty when `len` is short.
pub fn part(len: usize, parts: usize, i: usize, align: usize) -> Range<usize> {
    let at = |j: usize| if j >= parts { len } else { (len * j / parts).div_ceil(align) * align }.min(len);
    at(i)..at(i + 1)
}

/// Runs `f` on consecutive ranges cutting `0..len`, one per team member (see [`run`]), each at
/// least `min_part` long and starting at a multiple of `align`; as one range on this thread when
/// the team is one or `len` is short.
pub fn for_parts(len: usize, align: usize, min_part: usize, f: &(dyn Fn(Range<usize>) + Sync)) {
    let parts = team_size().min(len / min_part.max(1)).max(1);
    if parts == 1 {
        return f(0..len);
    }
    run(parts, &|i| f(part(len, parts, i, align)));
}

/// A mutable slice handed to the tasks of a job, each of which takes a disjoint range of it.
pub struct Parts<'a, T> {
    ptr: *mut T,
    len: usize,
    _slice: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: the tasks only reach the slice through `range`, whose callers promise disjoint ranges.
unsafe impl<T: Send> Sync for Parts<'_, T> {}

impl<'a, T> Parts<'a, T> {
    pub fn new(slice: &'a mut [T]) -> Self {
        Parts { ptr: slice.as_mut_ptr(), len: slice.len(), _slice: std::marker::PhantomData }
    }

    /// The elements in `r`.
    ///
    /// # Safety
    /// No two live results may overlap.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn range(&self, r: Range<usize>) -> &mut [T] {
        assert!(r.start <= r.end && r.end <= self.len, "Parts::range {r:?} outside 0..{}", self.len);
        // SAFETY: inside the slice, and disjoint from every other live range (the caller's promise).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool")
    }

    /// Waits (bounded) until the run's keepers have joined, so a test exercises the team path.
    fn wait_for_members(want: usize) -> usize {
        for _ in 0..200_000 {
            if team_size() >= want {
                break;
            }
            std::thread::yield_now();
        }
        team_size()
    }

    #[test]
    fn jobs_run_every_task_once_on_the_team() {
        for threads in [1, 2, 3] {
            let p = pool(threads);
            let (size, counts, workers) = p.install(|| {
                with_hot_pool(|| {
                    start_keepers();
                    let size = wait_for_members(threads);
                    let counts: Vec<AtomicUsize> = (0..MAX_TASKS).map(|_| AtomicUsize::new(0)).collect();
                    let workers: Vec<AtomicUsize> =
                        (0..MAX_TASKS).map(|_| AtomicUsize::new(usize::MAX)).collect();
                    for tasks in [0, 1, 2, 3, 7, MAX_TASKS] {
                        for _ in 0..50 {
                            run(tasks, &|t| {
                                counts[t].fetch_add(1, Ordering::Relaxed);
                                let w = rayon::current_thread_index().unwrap_or(usize::MAX);
                                workers[t].store(w, Ordering::Relaxed);
                            });
                        }
                    }
                    let counts: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
                    let workers: Vec<usize> = workers.iter().map(|c| c.load(Ordering::Relaxed)).collect();
                    (size, counts, workers)
                })
            });
            assert_eq!(size, threads, "every other worker joined");
            // Task t ran 50 times for every job size above t.
            for (t, &c) in counts.iter().enumerate() {
                let want = [0, 1, 2, 3, 7, MAX_TASKS].iter().filter(|&&n| n > t).count() * 50;
                assert_eq!(c, want, "task {t} on {threads} threads");
            }
            assert!(workers.iter().all(|&w| w == usize::MAX || w < threads));
            assert!(!HOT.with(Cell::get) && !in_run(), "the thread's marks are cleared");
        }
    }

    #[test]
    fn parts_cut_the_range_into_aligned_disjoint_pieces() {
        for len in [0, 1, 15, 16, 17, 100, 1000, 6400, 16384] {
            for parts in 1..6 {
                let mut next = 0;
                for i in 0..parts {
                    let r = part(len, parts, i, 16);
                    assert_eq!(r.start, next, "len {len}, {parts} parts, part {i}");
                    assert!(r.start == len || r.start.is_multiple_of(16));
                    next = r.end;
                }
                assert_eq!(next, len);
            }
        }
        let p = pool(2);
        let mut out = vec![0u32; 10_000];
        p.install(|| {
            with_hot_pool(|| {
                start_keepers();
                wait_for_members(2);
                let parts = Parts::new(&mut out);
                for_parts(10_000, 16, 1000, &|r| {
                    let start = r.start;
                    // SAFETY: for_parts hands out disjoint ranges.
                    let s = unsafe { parts.range(r) };
                    s.iter_mut().enumerate().for_each(|(i, o)| *o += (start + i) as u32);
                });
            })
        });
        assert!(out.iter().enumerate().all(|(i, &v)| v == i as u32));
    }

    #[test]
    fn a_panicking_task_comes_through_after_the_others_and_the_team_goes_on() {
        let p = pool(2);
        let (caught, after) = p.install(|| {
            with_hot_pool(|| {
                start_keepers();
                wait_for_members(2);
                let done = AtomicUsize::new(0);
                let r = catch_unwind(AssertUnwindSafe(|| {
                    run(4, &|t| {
                        if t == 1 {
                            panic!("task 1");
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    })
                }));
                let ok = AtomicUsize::new(0);
                run(4, &|_| _ = ok.fetch_add(1, Ordering::Relaxed));
                ((r.is_err(), done.load(Ordering::Relaxed)), ok.load(Ordering::Relaxed))
            })
        });
        assert_eq!(caught, (true, 3), "the panic came through once the three others had run");
        assert_eq!(after, 4, "the next job runs whole");
    }

    #[test]
    fn a_panic_in_the_run_stops_the_keepers_and_clears_the_mark() {
        let p = pool(2);
        let caught = p.install(|| {
            let r = catch_unwind(|| {
                with_hot_pool(|| {
                    start_keepers();
                    panic!("inside the run")
                })
            });
            (r.is_err(), HOT.with(Cell::get), in_run())
        });
        assert_eq!(caught, (true, false, false), "the panic comes through and the marks are restored");
        // The pool is usable afterwards: the keeper saw the flag and left.
        assert_eq!(p.install(|| with_hot_pool(|| 7)), 7);
        assert_eq!(p.install(|| (0..100u64).into_par_iter().sum::<u64>()), 4950);
    }

    #[test]
    fn rayon_work_inside_a_run_still_completes() {
        // A keeper polls the team, and rayon's queues only now and then: a parallel iterator inside
        // the run must still finish (run by its caller or picked up by a keeper).
        for threads in [1, 2, 3] {
            let sum = pool(threads).install(|| {
                with_hot_pool(|| {
                    start_keepers();
                    (0..1000u64).into_par_iter().sum::<u64>()
                })
            });
            assert_eq!(sum, 999 * 1000 / 2, "{threads} threads");
        }
    }

    #[test]
    fn nested_and_off_pool_runs_start_no_team_and_still_return() {
        let p = pool(2);
        let inner = p.install(|| with_hot_pool(|| (in_run(), with_hot_pool(|| HOT.with(Cell::get)))));
        assert_eq!(inner, (true, true), "the outer run marks the thread; the inner one runs inside it");
        // Off any pool: plain call, nothing marked, jobs run in order.
        assert!(!with_hot_pool(in_run));
        let order = std::sync::Mutex::new(Vec::new());
        run(3, &|t| order.lock().expect("lock").push(t));
        assert_eq!(*order.lock().expect("lock"), [0, 1, 2]);
    }

    #[test]
    fn concurrent_runs_on_one_pool_do_not_hold_each_other() {
        // Two runs side by side on a two-thread pool: each worker's keeper for the other run must
        // return at once (its thread is busy with its own run), or both would wait forever.
        let p = pool(2);
        let (a, b) = p.install(|| {
            rayon::join(
                || {
                    with_hot_pool(|| {
                        start_keepers();
                        let s = AtomicUsize::new(0);
                        run(8, &|t| _ = s.fetch_add(t, Ordering::Relaxed));
                        s.load(Ordering::Relaxed)
                    })
                },
                || with_hot_pool(|| (0..300u64).into_par_iter().sum::<u64>()),
            )
        });
        assert_eq!((a, b), (28, 299 * 300 / 2));
    }
}

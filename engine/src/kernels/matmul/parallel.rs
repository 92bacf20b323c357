//! Splits a large product into disjoint blocks of C for rayon. The shared dimension is never split, so
//! each element of C is summed in the same order whatever the pool size: results are bit-identical
//! on 1, 2 or 7 threads.
use super::driver::{Problem, run_serial, run_task};
use super::params::{MR, NR, PAR_MIN_TASK_FLOPS};
use crate::kernels::hot_pool;
use rayon::prelude::*;

/// How C is cut: `tasks` blocks of `step` rows (or columns when `by_cols`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Split {
    pub tasks: usize,
    pub step: usize,
    pub by_cols: bool,
}

/// Chooses the split for `threads` workers, or `None` when the product should stay on the calling
/// thread. Blocks are whole register tiles, and the dimension whose split leaves the least padded
/// work in the largest block wins.
#[cfg(test)]
pub(super) fn plan(m: usize, n: usize, k: usize, threads: usize) -> Option<Split> {
    plan_above(m, n, k, threads, super::params::PAR_MIN_FLOPS, false)
}

/// [`plan`] with the parallel threshold as an argument, so a benchmark can force the split below it
/// and measure where it starts to pay. `rows_on_tie`: whether a tie between the two cuts goes to rows.
pub(super) fn plan_above(
    m: usize,
    n: usize,
    k: usize,
    threads: usize,
    min_flops: usize,
    rows_on_tie: bool,
) -> Option<Split> {
    let flops = 2 * m * n * k;
    if threads < 2 || flops < min_flops {
        return None;
    }
    let want = threads.min(flops / PAR_MIN_TASK_FLOPS).max(2);
    // Tiles per task and task count when cutting `units` tiles into at most `want` parts.
    let cut = |units: usize| {
        let per = units.div_ceil(want.min(units));
        (per, units.div_ceil(per))
    };
    let (m_pad, n_pad) = (m.div_ceil(MR) * MR, n.div_ceil(NR) * NR);
    let (row_per, row_tasks) = cut(m.div_ceil(MR));
    let (col_per, col_tasks) = cut(n.div_ceil(NR));
    // Padded work of the largest block, which decides when the last task finishes.
    let row_work = row_per * MR * n_pad;
    let col_work = col_per * NR * m_pad;
    // A tie goes to columns in isolation: every row block would pack all of a packed B, where a
    // column block packs only its share. In a hot run it goes to rows: the elementwise kernels that
    // follow cut their operands into the same consecutive parts, so each thread finds its rows of C
    // in its own cache (despite the packing, the two-thread step was 1.09x faster by rows on the
    // 784-input net and 1.06x on the batch-norm net, alternating runs).
    let by_cols =
        col_tasks >= 2 && (col_work < row_work || (col_work == row_work && !rows_on_tie) || row_tasks < 2);
    let split = if by_cols {
        Split { tasks: col_tasks, step: col_per * NR, by_cols: true }
    } else {
        Split { tasks: row_tasks, step: row_per * MR, by_cols: false }
    };
    (split.tasks >= 2).then_some(split)
}

/// Runs the problem, split when it has at least `min_flops` flops: over the team of a hot run (see
/// `hot_pool`), whose keepers spin between kernels, or else over the rayon pool.
///
/// # Safety
/// As for [`run_serial`].
pub(super) unsafe fn run(p: &Problem, min_flops: usize) {
    let flops = 2 * p.m * p.n * p.k;
    if hot_pool::in_run() {
        if flops < min_flops {
            // SAFETY: forwarded.
            return unsafe { run_serial(p) };
        }
        // The run's first product worth splitting brings the keepers in.
        hot_pool::start_keepers();
        let Some(split) = plan_above(p.m, p.n, p.k, hot_pool::team_size(), min_flops, true) else {
            // SAFETY: forwarded.
            return unsafe { run_serial(p) };
        };
        // SAFETY: as below.
        return hot_pool::run(split.tasks, &|t| unsafe { task(p, split, t) });
    }
    // Small products do not even ask rayon for the pool size (a registry lookup off the pool).
    let threads = if flops < min_flops { 1 } else { rayon::current_num_threads() };
    let Some(split) = plan_above(p.m, p.n, p.k, threads, min_flops, false) else {
        // SAFETY: forwarded.
        return unsafe { run_serial(p) };
    };
    // SAFETY: as below.
    (0..split.tasks).into_par_iter().for_each(|t| unsafe { task(p, split, t) });
}

/// Runs block `t` of the split.
///
/// # Safety
/// As for [`run_serial`]; the blocks [start, start + len) of a split are disjoint and inside the
/// problem, so each task writes its own region of C.
unsafe fn task(p: &Problem, split: Split, t: usize) {
    let start = t * split.step;
    unsafe {
        let sub = if split.by_cols {
            p.sub(0, p.m, start, split.step.min(p.n - start))
        } else {
            p.sub(start, split.step.min(p.m - start), 0, p.n)
        };
        run_task(&sub, t);
    }
}

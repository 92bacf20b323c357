//! The BLIS loop nest on one thread: NC/KC/MC cache blocks, packing, and the micro-kernel sweep, with
//! packing buffers kept per thread so that a warm call allocates nothing.
use super::micro::{Dest, ROW, kernel_packed, kernel_strided};
use super::pack::{View, a_len, b_len, f32x8_as_flat, pack_a, pack_b, panel_width};
use super::params::{
    DIRECT_A_ALIASED_MAX_N, DIRECT_A_MAX_N, DIRECT_A_MAX_STRIDE, DIRECT_B_MAX_K, DIRECT_B_MAX_K_SPREAD,
    DIRECT_B_MAX_M, DIRECT_B_MAX_N, KC, MC, MR, NC, NR,
};
use std::cell::Cell;
use std::sync::Mutex;
use wide::f32x8;

/// One product on raw memory: `C[i, j] (+)= Σ_p A[i, p]·B[p, j]` for `i < m`, `j < n`, `p < k`, with
/// `C[i, j]` at `c + i·ldc + j`. A sub-block of a larger product is itself a `Problem`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Problem {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: View,
    pub b: View,
    pub c: *mut f32,
    pub ldc: usize,
    pub accumulate: bool,
}

// SAFETY: a Problem is only built by `sgemm` from live slices that outlive every task, and parallel
// tasks receive sub-problems whose C regions are disjoint (see `parallel.rs`); A and B are only read.
unsafe impl Send for Problem {}
unsafe impl Sync for Problem {}

impl Problem {
    /// The sub-product on rows `i0 .. i0 + m` and columns `j0 .. j0 + n` of C.
    ///
    /// # Safety
    /// The ranges must lie inside this problem.
    pub unsafe fn sub(&self, i0: usize, m: usize, j0: usize, n: usize) -> Problem {
        unsafe {
            Problem {
                m,
                n,
                a: self.a.offset(i0, 0),
                b: self.b.offset(0, j0),
                c: self.c.add(i0 * self.ldc + j0),
                ..*self
            }
        }
    }
}

thread_local! {
    // Taken out for the duration of a product and put back after: a product that starts while this
    // thread is inside another (rayon work stealing) finds an empty Vec and grows its own instead
    // of panicking on a second borrow.
    static A_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static B_BUF: Cell<Vec<f32x8>> = const { Cell::new(Vec::new()) };
}

/// Packing buffers of the tasks of a parallel product, by task index. Which worker runs which
/// task is up to rayon, so buffers kept per thread would grow whenever a worker first meets a
/// larger task, at any step; kept per task index they see the same sizes every step, and a warm
/// step allocates nothing whatever the scheduling.
const SLOTS: usize = 64;
static TASK_BUFS: [Mutex<(Vec<f32>, Vec<f32x8>)>; SLOTS] =
    [const { Mutex::new((Vec::new(), Vec::new())) }; SLOTS];

/// Runs `f` with this thread's packing buffers, grown (never shrunk) to the requested lengths.
fn with_buffers<R>(a_need: usize, b_need: usize, f: impl FnOnce(&mut [f32], &mut [f32x8]) -> R) -> R {
    let mut a = A_BUF.take();
    let mut b = B_BUF.take();
    let r = with_these(&mut a, &mut b, a_need, b_need, f);
    A_BUF.set(a);
    B_BUF.set(b);
    r
}

/// Grows `a` and `b` to the requested lengths and runs `f` on them.
fn with_these<R>(
    a: &mut Vec<f32>,
    b: &mut Vec<f32x8>,
    a_need: usize,
    b_need: usize,
    f: impl FnOnce(&mut [f32], &mut [f32x8]) -> R,
) -> R {
    if a.len() < a_need {
        a.resize(a_need, 0.0);
    }
    if b.len() < b_need + 1 {
        b.resize(b_need + 1, f32x8::ZERO);
    }
    // Start the packed B panels on a 64-byte boundary: each 16-float row of a micro-panel is then
    // exactly one cache line, and no load in the micro-kernel straddles two.
    let skew = b.as_ptr().align_offset(64).min(1);
    f(a, &mut b[skew..])
}

/// Buffer lengths for a product.
fn needs(p: &Problem) -> (usize, usize) {
    let kc_max = k_step(p.k);
    (a_len(MC.min(p.m), kc_max), b_len(kc_max, NC.min(p.n)))
}

/// Depth of the k blocks: at most KC, and equal blocks rather than a short last one (k = 784 runs as
/// 4 × 196, not 3 × 256 + 16, whose 16-deep tiles would be mostly write-back overhead). It depends on
/// k alone, which keeps each element's order of summation fixed.
fn k_step(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC))
}

/// Whether `lines` cache lines read `stride` floats apart fit in the L1 sets they map to: a stride
/// of `s` lines (a multiple of 16 floats) hits only `64 / gcd(s, 64)` of the 64 sets, `L1_WAYS` lines
/// each (8: Zen 3's L1d; Sapphire Rapids has 12). Any other stride starts each read at a shifting
/// offset within its line and spreads over all sets.
fn column_stays_in_l1(stride: usize, lines: usize) -> bool {
    const SETS: usize = 64;
    const L1_WAYS: usize = 8;
    if !stride.is_multiple_of(16) {
        return true;
    }
    let s = stride / 16;
    let mut g = SETS;
    let mut x = s % SETS;
    while x != 0 {
        (g, x) = (x, g % x);
    }
    SETS / g * L1_WAYS >= lines
}

/// Runs the whole problem on the calling thread.
///
/// # Safety
/// `p` must describe live, readable A and B and writable, unaliased C of the stated sizes, with
/// `m, n, k > 0`.
pub(super) unsafe fn run_serial(p: &Problem) {
    let (a_need, b_need) = needs(p);
    // SAFETY: forwarded from the caller.
    with_buffers(a_need, b_need, |abuf, bbuf| unsafe { nest(p, abuf, bbuf) });
}

/// [`run_serial`] for task `task` of a parallel product, with that task index's buffers. A slot
/// held by a concurrent product (products started on several threads at once) falls back to the
/// thread's own buffers.
///
/// # Safety
/// As for [`run_serial`].
pub(super) unsafe fn run_task(p: &Problem, task: usize) {
    let (a_need, b_need) = needs(p);
    let slot = TASK_BUFS.get(task).and_then(|m| m.try_lock().ok());
    match slot {
        Some(mut bufs) => {
            let (a, b) = &mut *bufs;
            // SAFETY: forwarded from the caller.
            with_these(a, b, a_need, b_need, |abuf, bbuf| unsafe { nest(p, abuf, bbuf) })
        }
        // SAFETY: forwarded from the caller.
        None => unsafe { run_serial(p) },
    }
}

/// The column panels `(first column, width)` of an `nc`-wide block: NR wide, except that the
/// in-place region ends at `full_cols` (a multiple of NR, or of NR plus one ROW) and the packed rest
/// after it is cut into NR-wide panels again.
fn col_panels(nc: usize, full_cols: usize) -> impl Iterator<Item = (usize, usize)> {
    let in_place = (0..full_cols).step_by(NR).map(move |j| (j, NR.min(full_cols - j)));
    let packed = (full_cols..nc).step_by(NR).map(move |j| (j, NR.min(nc - j)));
    in_place.chain(packed)
}

/// The five loops around the micro-kernel.
unsafe fn nest(p: &Problem, abuf: &mut [f32], bbuf: &mut [f32x8]) {
    // A stored untransposed streams each row of a micro-panel contiguously, so reading it in place
    // is as good as packing at any size. Transposed, each k step reads one short run of a different
    // row of the stored matrix, and large power-of-two row lengths would fall into a handful of
    // cache sets: only small ones are read in place.
    let direct_a = p.a.cs == 1
        || (p.n <= DIRECT_A_MAX_N
            && p.a.cs <= DIRECT_A_MAX_STRIDE
            && (p.n <= DIRECT_A_ALIASED_MAX_N || column_stays_in_l1(p.a.cs, k_step(p.k))));
    let direct_b = p.b.cs == 1
        && p.n <= DIRECT_B_MAX_N
        && (p.k <= DIRECT_B_MAX_K
            || (p.k <= DIRECT_B_MAX_K_SPREAD && !p.b.rs.is_multiple_of(16))
            || p.m <= DIRECT_B_MAX_M);
    for jc in (0..p.n).step_by(NC) {
        let nc = NC.min(p.n - jc);
        for pc in (0..p.k).step_by(k_step(p.k)) {
            let kc = k_step(p.k).min(p.k - pc);
            // In direct mode only the ragged last column panel is packed: loading NR floats in
            // place there would read past the row.
            let mut full_cols = if direct_b { nc / NR * NR } else { 0 };
            // A ragged rest wider than one register row keeps its first ROW columns in place too
            // (run by the one-row tile), so only the last ≤ ROW columns are packed: a 20-unit
            // recurrent cell's 20-column B would otherwise be packed whole on every product.
            if direct_b && NR > ROW && nc - full_cols > ROW {
                full_cols += ROW;
            }
            // The last ≤ ROW columns are then read in place too, by the one-row tile shifted left to
            // end at the block's last column, its first lanes recomputing columns already written
            // and dropped at the store: every lane is the same FMA chain wherever the tile sits, so
            // the bits are unchanged, and the recurrent cells' small products (20 or 60 columns)
            // skip a scalar, zero-padding pack of their ragged rest on every product.
            let shifted = direct_b && full_cols < nc && nc >= ROW;
            // SAFETY (whole block): every offset below stays inside the m × k, k × n, m × n
            // matrices the caller vouched for.
            if full_cols < nc && !shifted {
                unsafe { pack_b(kc, nc - full_cols, p.b.offset(pc, jc + full_cols), bbuf) };
            }
            let bflat = &*f32x8_as_flat(bbuf);
            // The first k block overwrites C unless the caller asked to accumulate.
            let overwrite = pc == 0 && !p.accumulate;
            for ic in (0..p.m).step_by(MC) {
                let mc = MC.min(p.m - ic);
                let a_blk = unsafe { p.a.offset(ic, pc) };
                // Likewise in direct mode only the ragged last row panel is packed (into the
                // start of abuf): reading past row mc in place would leave the matrix.
                let full_rows = if direct_a { mc / MR * MR } else { 0 };
                if full_rows < mc {
                    unsafe { pack_a(mc - full_rows, kc, a_blk.offset(full_rows, 0), abuf) };
                }
                let apacked = abuf.as_ptr();
                for (jr, nr) in col_panels(nc, full_cols) {
                    let (bp, b_rs, skip) = if jr < full_cols {
                        (unsafe { p.b.at(pc, jc + jr) }, p.b.rs, 0)
                    } else if shifted {
                        (unsafe { p.b.at(pc, jc + nc - ROW) }, p.b.rs, ROW - nr)
                    } else {
                        (bflat[(jr - full_cols) / NR * kc * NR..].as_ptr(), panel_width(nr), 0)
                    };
                    for ir in (0..mc).step_by(MR) {
                        let mr = MR.min(mc - ir);
                        let dst = Dest {
                            c: unsafe { p.c.add((ic + ir) * p.ldc + jc + jr) },
                            ldc: p.ldc,
                            mr,
                            nr,
                            skip,
                            overwrite,
                        };
                        unsafe {
                            if ir < full_rows {
                                kernel_strided(kc, a_blk.at(ir, 0), p.a.rs, p.a.cs, bp, b_rs, dst)
                            } else {
                                kernel_packed(kc, apacked.add((ir - full_rows) * kc), bp, b_rs, dst)
                            }
                        }
                    }
                }
            }
        }
    }
}

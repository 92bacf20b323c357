//! Reductions (sum, sum of squares, max |x|) over a slice, per row and per
//! column, with a fixed summation order: the order depends only on the length,
//! never on the thread count, so results are bit-identical however many
//! threads run.
//!
//! Slice order (f32): the slice is cut into [`CHUNK`]-element chunks; in a
//! chunk, four f32x8 accumulators take 32 elements per step, then one takes the
//! remaining 8-blocks, the lanes are combined by a fixed pairwise tree and the
//! scalar tail is added last. Chunk partials are added in index order. Above
//! [`PAR_MIN`] elements the chunks run on rayon, which changes who computes a
//! partial, not how; below it nothing is allocated.
//!
//! Accuracy: each lane adds at most CHUNK/32 = 128 terms, so the f32 sum is
//! within about (128 + 8 + n/CHUNK)·2⁻²⁴·Σ|xᵢ| of the exact sum (test
//! `sum_accuracy_against_f64`).
use num_traits::Float;
use rayon::prelude::*;
use wide::{bytemuck::cast, f32x8, i32x8};

/// Elements per chunk: the unit of summation order (and of parallel work).
pub const CHUNK: usize = 4096;
/// Slices at least this long are reduced chunk-parallel on rayon. A sum is memory-bound and cheap per
/// element, so the fork pays only on long slices: measured on the 2-core dev machine (`cargo bench
/// --bench kernels -- par_crossover`, medians of 4 alternated rounds, 2-thread speed over 1-thread)
/// 64K elements 0.36, 128K 0.87, 256K 0.92, 512K 1.01, 1M 1.30. The old 16·CHUNK (64K) made two
/// threads three times slower than one there.
pub const PAR_MIN: usize = 128 * CHUNK;
/// Row/column reductions over at least this many elements split across rayon: the same cheap
/// per-element work as a slice sum, so the same threshold.
const PAR_ROWS_MIN: usize = PAR_MIN;

// ---------------------------------------------------------------- references

pub fn sum<T: Float>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |a, &v| a + v)
}

pub fn sum_sq<T: Float>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |a, &v| v.mul_add(v, a))
}

/// max |xᵢ|, NaN if any element is NaN (a monitor must see a blow-up), 0 for
/// an empty slice.
pub fn max_abs<T: Float>(x: &[T]) -> T {
    x.iter().fold(T::zero(), |a, &v| if v.is_nan() || a.is_nan() { T::nan() } else { a.max(v.abs()) })
}

/// Column sums over `rows`: `out[j] = Σ_i x[i, j]` (reduce over the batch).
pub fn sum_axis0<T: Float>(cols: usize, x: &[T], out: &mut [T]) {
    assert_eq!(out.len(), cols);
    out.iter_mut().for_each(|o| *o = T::zero());
    if cols == 0 {
        return;
    }
    for row in x.chunks_exact(cols) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o = *o + v;
        }
    }
}

/// Row sums: `out[i] = Σ_j x[i, j]`.
pub fn sum_axis1<T: Float>(cols: usize, x: &[T], out: &mut [T]) {
    if cols == 0 {
        out.iter_mut().for_each(|o| *o = T::zero());
        return;
    }
    assert_eq!(out.len() * cols, x.len());
    for (o, row) in out.iter_mut().zip(x.chunks_exact(cols)) {
        *o = sum(row);
    }
}

// ---------------------------------------------------------------- f32 SIMD

/// One reduction: how a lane and a scalar absorb an element, how two partials
/// combine, and the identity.
trait Reduction: Sync {
    const ID: f32;
    fn lanes(acc: f32x8, v: f32x8) -> f32x8;
    /// Two vector partials (accumulators, not data).
    fn merge(a: f32x8, b: f32x8) -> f32x8;
    fn one(acc: f32, v: f32) -> f32;
    fn combine(a: f32, b: f32) -> f32;
}

struct Sum;
impl Reduction for Sum {
    const ID: f32 = 0.0;
    #[inline(always)]
    fn lanes(acc: f32x8, v: f32x8) -> f32x8 {
        acc + v
    }
    #[inline(always)]
    fn merge(a: f32x8, b: f32x8) -> f32x8 {
        a + b
    }
    #[inline(always)]
    fn one(acc: f32, v: f32) -> f32 {
        acc + v
    }
    #[inline(always)]
    fn combine(a: f32, b: f32) -> f32 {
        a + b
    }
}

struct SumSq;
impl Reduction for SumSq {
    const ID: f32 = 0.0;
    #[inline(always)]
    fn lanes(acc: f32x8, v: f32x8) -> f32x8 {
        v.mul_add(v, acc)
    }
    #[inline(always)]
    fn merge(a: f32x8, b: f32x8) -> f32x8 {
        a + b
    }
    #[inline(always)]
    fn one(acc: f32, v: f32) -> f32 {
        super::fmadd(v, v, acc)
    }
    #[inline(always)]
    fn combine(a: f32, b: f32) -> f32 {
        a + b
    }
}

/// max |x| on the bit patterns: with the sign cleared, f32 order is integer
/// order and every NaN sorts above +inf, so NaN propagates and the result does
/// not depend on the order at all.
struct MaxAbs;
impl Reduction for MaxAbs {
    const ID: f32 = 0.0;
    #[inline(always)]
    fn lanes(acc: f32x8, v: f32x8) -> f32x8 {
        let mask = i32x8::splat(0x7fff_ffff);
        cast(cast::<_, i32x8>(acc).max(cast::<_, i32x8>(v) & mask))
    }
    #[inline(always)]
    fn merge(a: f32x8, b: f32x8) -> f32x8 {
        Self::lanes(a, b)
    }
    #[inline(always)]
    fn one(acc: f32, v: f32) -> f32 {
        f32::from_bits(acc.to_bits().max(v.to_bits() & 0x7fff_ffff))
    }
    #[inline(always)]
    fn combine(a: f32, b: f32) -> f32 {
        Self::one(a, b)
    }
}

#[inline(always)]
fn load(s: &[f32]) -> f32x8 {
    f32x8::new(s.try_into().expect("block of 8"))
}

/// One chunk (≤ CHUNK elements) in the fixed order described at the top.
#[inline(always)]
fn chunk<R: Reduction>(x: &[f32]) -> f32 {
    let id = f32x8::splat(R::ID);
    let mut acc = [id; 4];
    let mut quads = x.chunks_exact(32);
    for q in &mut quads {
        for (k, a) in acc.iter_mut().enumerate() {
            *a = R::lanes(*a, load(&q[8 * k..8 * k + 8]));
        }
    }
    let mut blocks = quads.remainder().chunks_exact(8);
    for b in &mut blocks {
        acc[0] = R::lanes(acc[0], load(b));
    }
    let v = R::merge(R::merge(acc[0], acc[1]), R::merge(acc[2], acc[3]));
    let l = v.to_array();
    let c = |a, b| R::combine(a, b);
    let lanes = c(c(c(l[0], l[1]), c(l[2], l[3])), c(c(l[4], l[5]), c(l[6], l[7])));
    let tail = blocks.remainder().iter().fold(R::ID, |a, &v| R::one(a, v));
    R::combine(lanes, tail)
}

fn slice<R: Reduction>(x: &[f32]) -> f32 {
    slice_above::<R>(x, PAR_MIN)
}

/// [`slice`] with the parallel threshold given; the chunks and their order are the same either way.
fn slice_above<R: Reduction>(x: &[f32], par_min: usize) -> f32 {
    if x.len() <= CHUNK {
        return chunk::<R>(x);
    }
    if x.len() < par_min {
        return x.chunks(CHUNK).map(chunk::<R>).fold(R::ID, R::combine);
    }
    // The partials go to a buffer kept per calling thread, so a warm call allocates nothing.
    let mut partials = PARTIALS.take();
    x.par_chunks(CHUNK).map(chunk::<R>).collect_into_vec(&mut partials);
    let r = partials.iter().fold(R::ID, |a, &v| R::combine(a, v));
    PARTIALS.set(partials);
    r
}

thread_local! {
    // Taken out while in use: a reduction nested in another on this thread grows its own.
    static PARTIALS: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// `out[i] = reduce(row i)`; rows are independent, so splitting them across
/// threads changes nothing.
fn rows<R: Reduction>(cols: usize, x: &[f32], out: &mut [f32]) {
    if cols == 0 {
        out.fill(R::ID);
        return;
    }
    assert_eq!(out.len() * cols, x.len(), "row reduction: x is not rows × cols");
    if x.len() >= PAR_ROWS_MIN && out.len() > 1 {
        out.par_iter_mut().zip(x.par_chunks(cols)).for_each(|(o, r)| *o = slice::<R>(r));
    } else {
        out.iter_mut().zip(x.chunks_exact(cols)).for_each(|(o, r)| *o = slice::<R>(r));
    }
}

/// `out[j] = reduce_i x[i, j]` for the columns `j0..j0+out.len()`, rows in order.
fn col_block<R: Reduction>(cols: usize, j0: usize, x: &[f32], out: &mut [f32]) {
    out.fill(R::ID);
    let w = out.len();
    for row in x.chunks_exact(cols) {
        let r = &row[j0..j0 + w];
        let mut oc = out.chunks_exact_mut(8);
        let mut rc = r.chunks_exact(8);
        for (o, v) in (&mut oc).zip(&mut rc) {
            o.copy_from_slice(&R::lanes(load(o), load(v)).to_array());
        }
        for (o, &v) in oc.into_remainder().iter_mut().zip(rc.remainder()) {
            *o = R::one(*o, v);
        }
    }
}

/// Column blocks are disjoint outputs, each summed over rows in row order, so
/// splitting columns across threads changes nothing.
fn columns<R: Reduction>(cols: usize, x: &[f32], out: &mut [f32]) {
    assert_eq!(out.len(), cols, "column reduction: out needs one value per column");
    if cols == 0 {
        return;
    }
    assert_eq!(x.len() % cols, 0, "column reduction: x is not rows × cols");
    const BLOCK: usize = 256;
    if x.len() >= PAR_ROWS_MIN && cols > BLOCK {
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, o)| col_block::<R>(cols, b * BLOCK, x, o));
    } else {
        col_block::<R>(cols, 0, x, out);
    }
}

pub fn sum_f32(x: &[f32]) -> f32 {
    slice::<Sum>(x)
}

/// [`sum_f32`] with chunk-parallel reduction from `par_min` elements up. Only for measuring
/// [`PAR_MIN`] (`benches/kernels.rs`, `par_crossover`): the result is the same for any threshold.
#[doc(hidden)]
pub fn sum_f32_split_above(x: &[f32], par_min: usize) -> f32 {
    slice_above::<Sum>(x, par_min)
}

pub fn sum_sq_f32(x: &[f32]) -> f32 {
    slice::<SumSq>(x)
}

/// max |xᵢ|: NaN if any element is NaN, 0 for an empty slice.
pub fn max_abs_f32(x: &[f32]) -> f32 {
    slice::<MaxAbs>(x)
}

/// Column sums `out[j] = Σ_i x[i, j]`.
pub fn sum_axis0_f32(cols: usize, x: &[f32], out: &mut [f32]) {
    columns::<Sum>(cols, x, out)
}

/// Row sums `out[i] = Σ_j x[i, j]`.
pub fn sum_axis1_f32(cols: usize, x: &[f32], out: &mut [f32]) {
    rows::<Sum>(cols, x, out)
}

/// Column sums of squares `out[j] = Σ_i x[i, j]²`.
pub fn sum_sq_axis0_f32(cols: usize, x: &[f32], out: &mut [f32]) {
    columns::<SumSq>(cols, x, out)
}

/// Row sums of squares `out[i] = Σ_j x[i, j]²`.
pub fn sum_sq_axis1_f32(cols: usize, x: &[f32], out: &mut [f32]) {
    rows::<SumSq>(cols, x, out)
}

/// Column max |x|: `out[j] = max_i |x[i, j]|` (NaN-propagating).
pub fn max_abs_axis0_f32(cols: usize, x: &[f32], out: &mut [f32]) {
    columns::<MaxAbs>(cols, x, out)
}

/// Row max |x|: `out[i] = max_j |x[i, j]|` (NaN-propagating).
pub fn max_abs_axis1_f32(cols: usize, x: &[f32], out: &mut [f32]) {
    rows::<MaxAbs>(cols, x, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::math::tests::uniform_vec;
    use crate::kernels::softmax;

    const LENS: [usize; 14] =
        [0, 1, 7, 8, 9, 31, 32, 33, 1003, CHUNK, CHUNK + 1, 100_003, PAR_MIN + 5, (1 << 20) + 3];

    /// First-order bound on the f32 error of our order (see the module docs).
    fn bound(n: usize, abs_sum: f64) -> f64 {
        (CHUNK / 32 + 8 + n / CHUNK + 2) as f64 * 2f64.powi(-24) * abs_sum
    }

    #[test]
    fn sum_accuracy_against_f64() {
        for n in LENS {
            for (lo, hi) in [(-1.0, 1.0), (0.0, 1.0)] {
                let x = uniform_vec(n as u64, n, lo, hi);
                let abs: f64 = x.iter().map(|&v| v.abs() as f64).sum();
                let s64: f64 = x.iter().map(|&v| v as f64).sum();
                let q64: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
                let (s, q) = (sum_f32(&x) as f64, sum_sq_f32(&x) as f64);
                assert!((s - s64).abs() <= bound(n, abs), "sum n={n}: {s} vs {s64}");
                assert!((q - q64).abs() <= bound(n, q64), "sum_sq n={n}: {q} vs {q64}");
                assert_eq!(max_abs_f32(&x), max_abs(&x), "max_abs n={n}");
            }
        }
    }

    #[test]
    fn integer_sums_are_exact() {
        for n in LENS {
            let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
            let want: i64 = x.iter().map(|&v| v as i64).sum();
            let want_sq: i64 = x.iter().map(|&v| (v * v) as i64).sum();
            assert_eq!(sum_f32(&x), want as f32, "n={n}");
            // every partial of these sums stays below 2^24, where f32 integers are exact
            if want_sq < 1 << 24 {
                assert_eq!(sum_sq_f32(&x), want_sq as f32, "n={n}");
            }
        }
    }

    #[test]
    fn max_abs_propagates_nan_and_sees_infinity() {
        for n in [1, 9, 40, 5000] {
            for at in [0, n / 2, n - 1] {
                let mut x = uniform_vec(3, n, -1.0, 1.0);
                x[at] = f32::NAN;
                assert!(max_abs_f32(&x).is_nan() && max_abs(&x).is_nan(), "n={n} at={at}");
                x[at] = f32::NEG_INFINITY;
                assert_eq!(max_abs_f32(&x), f32::INFINITY, "n={n} at={at}");
            }
        }
        assert_eq!(max_abs_f32(&[]), 0.0);
    }

    #[test]
    fn rows_and_columns_match_reference() {
        let shapes = [(0, 5), (3, 0), (1, 1), (7, 9), (9, 7), (300, 301), (17, 5000), (3000, 33)];
        for (r, c) in shapes {
            let x = uniform_vec((r * 31 + c) as u64, r * c, -1.0, 1.0);
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let sq: Vec<f32> = x.iter().map(|v| v * v).collect();
            let sq64: Vec<f64> = x64.iter().map(|v| v * v).collect();
            let ab: Vec<f32> = x.iter().map(|v| v.abs()).collect();
            type K = fn(usize, &[f32], &mut [f32]);
            let kernels: [(K, &[f32], &[f64], bool); 6] = [
                (sum_axis0_f32, &x, &x64, true),
                (sum_sq_axis0_f32, &sq, &sq64, true),
                (max_abs_axis0_f32, &ab, &x64, true),
                (sum_axis1_f32, &x, &x64, false),
                (sum_sq_axis1_f32, &sq, &sq64, false),
                (max_abs_axis1_f32, &ab, &x64, false),
            ];
            for (k, (f, like, like64, axis0)) in kernels.into_iter().enumerate() {
                let m = if axis0 { c } else { r };
                let mut out = vec![f32::NAN; m];
                f(c, &x, &mut out);
                // reference: the same reduction in f64 over the transformed data
                let mut want = vec![0.0; m];
                if k == 2 || k == 5 {
                    let mut o32 = vec![0.0f32; m];
                    for i in 0..m {
                        let pick: Vec<f32> = if axis0 {
                            (0..r).map(|q| like[q * c + i]).collect()
                        } else {
                            like[i * c..(i + 1) * c].to_vec()
                        };
                        o32[i] = max_abs(&pick);
                    }
                    assert_eq!(out, o32, "kernel {k} shape {r}x{c}");
                    continue;
                }
                if axis0 {
                    sum_axis0(c, like64, &mut want);
                } else {
                    sum_axis1(c, like64, &mut want);
                }
                let n = if axis0 { r } else { c };
                for i in 0..m {
                    let abs = if k == 1 || k == 4 { want[i] } else { n as f64 };
                    assert!((out[i] as f64 - want[i]).abs() <= bound(n, abs), "kernel {k} {r}x{c} [{i}]");
                }
            }
        }
    }

    /// The threshold only schedules: a forced chunk-parallel sum gives the bits of the serial one.
    #[test]
    fn threshold_changes_no_bits() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
        for n in [CHUNK + 1, 5 * CHUNK + 7, 40_003] {
            let x = uniform_vec(7, n, -3.0, 3.0);
            let (serial, split) =
                pool.install(|| (sum_f32_split_above(&x, usize::MAX), sum_f32_split_above(&x, 0)));
            assert_eq!(serial.to_bits(), split.to_bits(), "n = {n}: the forced split changed the sum");
        }
    }

    #[test]
    fn bit_identical_on_1_2_and_7_threads() {
        let n = 3 * PAR_MIN + 17;
        let x = uniform_vec(99, n, -3.0, 3.0);
        let (rows, cols) = (n / 1001, 1001);
        let m = &x[..rows * cols];
        let run = || {
            let mut out =
                vec![f32::to_bits(sum_f32(&x)), sum_sq_f32(&x).to_bits(), max_abs_f32(&x).to_bits()];
            let mut c = vec![0.0; cols];
            sum_axis0_f32(cols, m, &mut c);
            let mut r = vec![0.0; rows];
            sum_axis1_f32(cols, m, &mut r);
            let mut sm = vec![0.0; m.len()];
            softmax::softmax_rows_f32(cols, m, &mut sm);
            let mut ls = vec![0.0; m.len()];
            softmax::log_softmax_rows_f32(cols, m, &mut ls);
            out.extend(c.iter().chain(&r).chain(&sm).chain(&ls).map(|v| v.to_bits()));
            out
        };
        let results: Vec<Vec<u32>> = [1, 2, 7]
            .iter()
            .map(|&t| rayon::ThreadPoolBuilder::new().num_threads(t).build().expect("pool").install(run))
            .collect();
        assert!(results[0] == results[1] && results[1] == results[2], "results depend on the thread count");
    }
}

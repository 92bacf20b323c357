//! The register-tile micro-kernel: one MR×NR block of C as 12 `f32x8` FMA accumulators, written back
//! into C at the end (full tiles with vector stores, ragged edges element by element).
use super::params::{MR, NR};
use wide::f32x8;

/// One MR×NR tile of C: `tile[i][h]` holds `C[i, 8h .. 8h + 8]`.
type Tile = [[f32x8; NR / 8]; MR];

/// Where a tile goes: the top-left `mr × nr` corner lands at `c` (row stride `ldc`), stored when
/// `overwrite`, added otherwise.
#[derive(Clone, Copy, Debug)]
pub(super) struct Dest {
    pub c: *mut f32,
    pub ldc: usize,
    pub mr: usize,
    pub nr: usize,
    pub overwrite: bool,
}

/// Computes `Σ_p A[i, p]·B[p, j]` over `p < kc` for the first `R` rows of the tile and writes it to
/// `dst`. `A[i, p]` is read at `a + i·a_rs + p·a_cs` and row `p` of B is the NR floats at
/// `b + p·b_rs`. Each accumulator sums its products in increasing `p` with one rounding per FMA, so an
/// element's value depends only on the k block, never on the tile's position, its row count or the
/// thread that runs it.
///
/// # Safety
/// `a + i·a_rs + p·a_cs` readable for `i < R`, `p < kc`; `b + p·b_rs + j` for `p < kc`, `j < NR`;
/// `dst` as for [`store`], with `dst.mr ≤ R`.
#[inline(always)]
unsafe fn tile_kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    dst: Dest,
) {
    // Start fetching the C tile now so the write-back after the k loop does not wait on memory.
    #[cfg(target_arch = "x86_64")]
    for i in 0..R {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // A fixed trip count keeps this a straight line of prefetches; rows past mr repeat the last.
        // SAFETY: a prefetch never faults; the addresses are inside C anyway.
        unsafe {
            let row = dst.c.add(i.min(dst.mr - 1) * dst.ldc);
            _mm_prefetch::<_MM_HINT_T0>(row.cast());
            _mm_prefetch::<_MM_HINT_T0>(row.add(dst.nr - 1).cast());
        }
    }
    let mut acc: Tile = [[f32x8::ZERO; NR / 8]; MR];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        // SAFETY: the caller vouches for kc rows of B and of A's columns.
        unsafe {
            let b0 = b.cast::<f32x8>().read_unaligned();
            let b1 = b.add(8).cast::<f32x8>().read_unaligned();
            for (i, row) in acc.iter_mut().enumerate().take(R) {
                let ai = f32x8::splat(*a.add(i * a_rs));
                row[0] = ai.mul_add(b0, row[0]);
                row[1] = ai.mul_add(b1, row[1]);
            }
            a = a.add(a_cs);
            b = b.add(b_rs);
        }
    }
    // SAFETY: forwarded.
    unsafe { store(&acc, dst) }
}

#[inline(never)]
unsafe fn packed_rows<const R: usize>(kc: usize, a: *const f32, b: *const f32, b_rs: usize, dst: Dest) {
    unsafe { tile_kernel::<R>(kc, a, 1, MR, b, b_rs, dst) }
}

/// The tile from a packed A micro-panel (`A[i, p]` at `a + p·MR + i`), computing only the `dst.mr`
/// rows it writes: a ragged last row panel of 2 rows then costs 4 FMA chains, not 12.
///
/// # Safety
/// `a` readable for `kc · MR` floats, `b + p·b_rs + j` for `p < kc`, `j < NR`; `dst` as for [`store`].
#[inline(always)]
pub(super) unsafe fn kernel_packed(kc: usize, a: *const f32, b: *const f32, b_rs: usize, dst: Dest) {
    unsafe {
        match dst.mr {
            1 => packed_rows::<1>(kc, a, b, b_rs, dst),
            2 => packed_rows::<2>(kc, a, b, b_rs, dst),
            3 => packed_rows::<3>(kc, a, b, b_rs, dst),
            4 => packed_rows::<4>(kc, a, b, b_rs, dst),
            5 => packed_rows::<5>(kc, a, b, b_rs, dst),
            _ => packed_rows::<MR>(kc, a, b, b_rs, dst),
        }
    }
}

/// The full-height tile from A read in place with strides `(a_rs, a_cs)`: saves packing when each A
/// micro-panel meets only a few B micro-panels.
///
/// # Safety
/// `a + i·a_rs + p·a_cs` readable for `i < MR`, `p < kc`; `b + p·b_rs + j` for `p < kc`, `j < NR`;
/// `dst` as for [`store`].
#[inline(never)]
pub(super) unsafe fn kernel_strided(
    kc: usize,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    dst: Dest,
) {
    unsafe { tile_kernel::<MR>(kc, a, a_rs, a_cs, b, b_rs, dst) }
}

/// Writes the top-left `mr × nr` corner of `tile` into C. Nothing outside that corner is touched.
///
/// # Safety
/// `dst.c + i·dst.ldc + j` must be writable for `i < dst.mr ≤ MR`, `j < dst.nr ≤ NR`, and not
/// aliased.
#[inline(always)]
unsafe fn store(tile: &Tile, dst: Dest) {
    let Dest { c, ldc, mr, nr, overwrite } = dst;
    if mr == MR && nr == NR {
        for (i, row) in tile.iter().enumerate() {
            for (h, &v) in row.iter().enumerate() {
                // SAFETY: full tile, inside C by the caller's promise.
                unsafe {
                    let d = c.add(i * ldc + 8 * h).cast::<f32x8>();
                    let v = if overwrite { v } else { d.read_unaligned() + v };
                    d.write_unaligned(v);
                }
            }
        }
        return;
    }
    // SAFETY: forwarded.
    unsafe { store_ragged(tile, dst) }
}

/// The ragged-edge write-back, out of line so that the full-tile path keeps its accumulators in
/// registers. The padded lanes hold products with the zero padding and are dropped here.
///
/// # Safety
/// As for [`store`].
#[inline(never)]
unsafe fn store_ragged(tile: &Tile, dst: Dest) {
    let Dest { c, ldc, mr, nr, overwrite } = dst;
    for (i, row) in tile.iter().enumerate().take(mr) {
        let vals = [row[0].to_array(), row[1].to_array()];
        for (j, &v) in vals.as_flattened().iter().enumerate().take(nr) {
            // SAFETY: i < mr, j < nr.
            unsafe {
                let d = c.add(i * ldc + j);
                *d = if overwrite { v } else { *d + v };
            }
        }
    }
}

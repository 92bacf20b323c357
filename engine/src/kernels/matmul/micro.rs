//! The register-tile micro-kernel: one MR×NR block of C as MR rows of accumulators, each row `W`
//! 16-float [`Row`]s (one `f32x16` or two `f32x8` each), that FMA chains fill over the k block,
//! written back into C at the end (full tiles with vector stores, ragged edges element by element).
//! A ragged last column panel no wider than [`ROW`] runs the one-`Row` tile (`W = 1`).
use super::params::{MR, NR};

/// Floats in one [`Row`]: the narrowest tile width.
pub(super) const ROW: usize = 16;

/// Rows per tile row at full width.
const W_FULL: usize = NR / ROW;

/// One MR×(16·W) tile of C: `tile[i]` holds row `i`.
type Tile<const W: usize> = [[Row; W]; MR];

/// One NR = 16 float row of a tile, in one 512-bit register where the target has AVX-512: such a
/// core issues two 16-wide FMAs per cycle where two 8-wide halves give half the flops (measured on
/// the Sapphire Rapids dev host: 115 against 62 GFLOP/s in an FMA loop). Elsewhere two `f32x8`.
/// Either way every lane is one FMA chain of its own, so the bits are the same.
#[cfg(target_feature = "avx512f")]
#[derive(Clone, Copy)]
struct Row(wide::f32x16);

#[cfg(not(target_feature = "avx512f"))]
#[derive(Clone, Copy)]
struct Row([wide::f32x8; 2]);

const _: () = assert!(
    NR.is_multiple_of(ROW) && (W_FULL == 1 || W_FULL == 2) && MR <= 8,
    "a tile row is one or two 16-float Rows, and kernel_packed has a case for each row count up to 8"
);

#[cfg(target_feature = "avx512f")]
impl Row {
    const ZERO: Row = Row(wide::f32x16::ZERO);

    /// The 16 floats at `p`.
    ///
    /// # Safety
    /// `p` readable for 16 floats.
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Row {
        Row(unsafe { p.cast::<wide::f32x16>().read_unaligned() })
    }

    /// `self + a·b`, one rounding per lane.
    #[inline(always)]
    fn fma(self, a: f32, b: Row) -> Row {
        Row(wide::f32x16::splat(a).mul_add(b.0, self.0))
    }

    /// `self + other` lane by lane.
    #[inline(always)]
    fn add(self, other: Row) -> Row {
        Row(self.0 + other.0)
    }

    fn to_array(self) -> [f32; ROW] {
        self.0.to_array()
    }

    /// Writes the 16 floats to `p`.
    ///
    /// # Safety
    /// `p` writable for 16 floats.
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { p.cast::<wide::f32x16>().write_unaligned(self.0) }
    }

    /// Writes lanes `from .. from + n` to `p .. p + n` (adds them to what is there unless
    /// `overwrite`) with one masked store: the lanes compressed down to lane 0, no memory outside
    /// the `n` floats touched.
    ///
    /// # Safety
    /// `p` readable and writable for `n` floats; `from + n ≤ 16`.
    #[inline(always)]
    unsafe fn store_lanes(self, p: *mut f32, from: usize, n: usize, overwrite: bool) {
        use core::arch::x86_64::{
            __mmask16, _mm512_add_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_compress_ps,
            _mm512_maskz_loadu_ps,
        };
        let low = ((1u32 << n) - 1) as __mmask16;
        let lanes = self.to_array();
        // SAFETY: the masked loads and the store touch only the n floats at p.
        unsafe {
            let v = _mm512_maskz_compress_ps(low << from, _mm512_loadu_ps(lanes.as_ptr()));
            let v = if overwrite { v } else { _mm512_add_ps(_mm512_maskz_loadu_ps(low, p), v) };
            _mm512_mask_storeu_ps(p, low, v);
        }
    }
}

#[cfg(not(target_feature = "avx512f"))]
impl Row {
    const ZERO: Row = Row([wide::f32x8::ZERO; 2]);

    /// The 16 floats at `p`.
    ///
    /// # Safety
    /// `p` readable for 16 floats.
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Row {
        let v = p.cast::<wide::f32x8>();
        Row(unsafe { [v.read_unaligned(), v.add(1).read_unaligned()] })
    }

    /// `self + a·b`, one rounding per lane.
    #[inline(always)]
    fn fma(self, a: f32, b: Row) -> Row {
        let a = wide::f32x8::splat(a);
        Row([a.mul_add(b.0[0], self.0[0]), a.mul_add(b.0[1], self.0[1])])
    }

    /// `self + other` lane by lane.
    #[inline(always)]
    fn add(self, other: Row) -> Row {
        Row([self.0[0] + other.0[0], self.0[1] + other.0[1]])
    }

    fn to_array(self) -> [f32; ROW] {
        let (lo, hi) = (self.0[0].to_array(), self.0[1].to_array());
        core::array::from_fn(|j| if j < 8 { lo[j] } else { hi[j - 8] })
    }

    /// Writes the 16 floats to `p`.
    ///
    /// # Safety
    /// `p` writable for 16 floats.
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        let v = p.cast::<wide::f32x8>();
        unsafe {
            v.write_unaligned(self.0[0]);
            v.add(1).write_unaligned(self.0[1]);
        }
    }

    /// Writes lanes `from .. from + n` to `p .. p + n` (adds them to what is there unless
    /// `overwrite`), element by element.
    ///
    /// # Safety
    /// `p` readable and writable for `n` floats; `from + n ≤ 16`.
    #[inline(always)]
    unsafe fn store_lanes(self, p: *mut f32, from: usize, n: usize, overwrite: bool) {
        for (j, &v) in self.to_array()[from..from + n].iter().enumerate() {
            // SAFETY: j < n.
            unsafe {
                let d = p.add(j);
                *d = if overwrite { v } else { *d + v };
            }
        }
    }
}

/// Where a tile goes: its first `mr` rows, lanes `skip .. skip + nr`, land at `c` (row stride
/// `ldc`), stored when `overwrite`, added otherwise. `skip` is nonzero only for a one-row tile
/// shifted left to read a ragged last panel of B in place (see `driver.rs`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Dest {
    pub c: *mut f32,
    pub ldc: usize,
    pub mr: usize,
    pub nr: usize,
    pub skip: usize,
    pub overwrite: bool,
}

/// Computes `Σ_p A[i, p]·B[p, j]` over `p < kc` for the first `R` rows and `16·W` columns of the tile
/// and writes it to `dst`. `A[i, p]` is read at `a + i·a_rs + p·a_cs` and row `p` of B is the
/// `16·W` floats at `b + p·b_rs`. Each accumulator sums its products in increasing `p` with one
/// rounding per FMA, so an element's value depends only on the k block, never on the tile's
/// position, its shape or the thread that runs it.
///
/// # Safety
/// `a + i·a_rs + p·a_cs` readable for `i < R`, `p < kc`; `b + p·b_rs + j` for `p < kc`, `j < 16·W`;
/// `dst` as for [`store`], with `dst.mr ≤ R` and `dst.nr ≤ 16·W`.
#[inline(always)]
unsafe fn tile_kernel<const R: usize, const W: usize>(
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
    let mut acc: Tile<W> = [[Row::ZERO; W]; MR];
    // Each row's offset from the current column of A. With 16-wide rows they are hidden from the
    // optimiser: knowing them to be multiples of `a_rs`, it steps from row to row inside the k loop
    // (`+ a_rs` after `+ a_rs`), and the loads then wait on a chain of R dependent adds, which takes
    // longer than the FMAs themselves (8 cycles against 4 at R = 8). With two 8-wide halves per row
    // the chain is no longer than the FMAs, and that code (tuned on Zen 3) is left as it was.
    let off: [usize; MR] = core::array::from_fn(|i| i * a_rs);
    #[cfg(target_feature = "avx512f")]
    let off = core::hint::black_box(off);
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        // SAFETY: the caller vouches for kc rows of B and of A's columns.
        unsafe {
            let bp: [Row; W] = core::array::from_fn(|w| Row::load(b.add(w * ROW)));
            for (row, &o) in acc.iter_mut().zip(&off).take(R) {
                // One broadcast of A feeds W FMAs: at W = 2 a k step issues 2 + R loads for 2·R
                // FMAs, where W = 1 needs 1 + R for R (more loads than the two load ports can feed
                // the two FMA pipes at R = 8).
                let av = *a.add(o);
                for (r, &bw) in row.iter_mut().zip(&bp) {
                    *r = r.fma(av, bw);
                }
            }
            a = a.add(a_cs);
            b = b.add(b_rs);
        }
    }
    // SAFETY: forwarded.
    unsafe { store(&acc, dst) }
}

#[inline(never)]
unsafe fn packed_rows<const R: usize, const W: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    b_rs: usize,
    dst: Dest,
) {
    unsafe { tile_kernel::<R, W>(kc, a, 1, MR, b, b_rs, dst) }
}

/// The tile from a packed A micro-panel (`A[i, p]` at `a + p·MR + i`), computing only the `dst.mr`
/// rows it writes (a ragged last row panel of 2 rows then costs 4 FMA chains, not 12) and only one
/// [`Row`] of columns when `dst.nr ≤ 16`.
///
/// # Safety
/// `a` readable for `kc · MR` floats, `b + p·b_rs + j` for `p < kc`, `j < NR` (`j < 16` when
/// `dst.nr ≤ 16`); `dst` as for [`store`].
#[inline(always)]
pub(super) unsafe fn kernel_packed(kc: usize, a: *const f32, b: *const f32, b_rs: usize, dst: Dest) {
    if dst.nr <= ROW {
        unsafe { packed_width::<1>(kc, a, b, b_rs, dst) }
    } else {
        unsafe { packed_width::<W_FULL>(kc, a, b, b_rs, dst) }
    }
}

#[inline(always)]
unsafe fn packed_width<const W: usize>(kc: usize, a: *const f32, b: *const f32, b_rs: usize, dst: Dest) {
    unsafe {
        match dst.mr {
            1 => packed_rows::<1, W>(kc, a, b, b_rs, dst),
            2 => packed_rows::<2, W>(kc, a, b, b_rs, dst),
            3 => packed_rows::<3, W>(kc, a, b, b_rs, dst),
            4 => packed_rows::<4, W>(kc, a, b, b_rs, dst),
            5 => packed_rows::<5, W>(kc, a, b, b_rs, dst),
            6 if MR > 6 => packed_rows::<6, W>(kc, a, b, b_rs, dst),
            7 if MR > 7 => packed_rows::<7, W>(kc, a, b, b_rs, dst),
            _ => packed_rows::<MR, W>(kc, a, b, b_rs, dst),
        }
    }
}

/// The full-height tile from A read in place with strides `(a_rs, a_cs)`: saves packing when each A
/// micro-panel meets only a few B micro-panels. One [`Row`] of columns when `dst.nr ≤ 16`.
///
/// # Safety
/// `a + i·a_rs + p·a_cs` readable for `i < MR`, `p < kc`; `b + p·b_rs + j` for `p < kc`, `j < NR`
/// (`j < 16` when `dst.nr ≤ 16`); `dst` as for [`store`].
#[inline(always)]
pub(super) unsafe fn kernel_strided(
    kc: usize,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    dst: Dest,
) {
    unsafe {
        if dst.nr <= ROW {
            strided_width::<1>(kc, a, a_rs, a_cs, b, b_rs, dst)
        } else {
            strided_width::<W_FULL>(kc, a, a_rs, a_cs, b, b_rs, dst)
        }
    }
}

#[inline(never)]
unsafe fn strided_width<const W: usize>(
    kc: usize,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    dst: Dest,
) {
    unsafe { tile_kernel::<MR, W>(kc, a, a_rs, a_cs, b, b_rs, dst) }
}

/// Writes lanes `skip .. skip + nr` of the first `mr` rows of `tile` into the `mr × nr` block at
/// `dst.c`. Nothing outside that block is touched.
///
/// # Safety
/// `dst.c + i·dst.ldc + j` must be writable for `i < dst.mr ≤ MR`, `j < dst.nr`, and not aliased;
/// `dst.skip + dst.nr ≤ 16·W`.
#[inline(always)]
unsafe fn store<const W: usize>(tile: &Tile<W>, dst: Dest) {
    let Dest { c, ldc, mr, nr, overwrite, .. } = dst;
    if mr == MR && nr == W * ROW {
        for (i, row) in tile.iter().enumerate() {
            for (w, &part) in row.iter().enumerate() {
                // SAFETY: full tile, inside C by the caller's promise.
                unsafe {
                    let d = c.add(i * ldc + w * ROW);
                    let v = if overwrite { part } else { Row::load(d).add(part) };
                    v.store(d);
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
unsafe fn store_ragged<const W: usize>(tile: &Tile<W>, dst: Dest) {
    let Dest { c, ldc, mr, nr, skip, overwrite } = dst;
    debug_assert!(skip + nr <= W * ROW);
    for (i, row) in tile.iter().enumerate().take(mr) {
        for (w, part) in row.iter().enumerate() {
            // The tile lanes lo .. hi of this Row go to columns lo - skip .. hi - skip.
            let (lo, hi) = ((w * ROW).max(skip), ((w + 1) * ROW).min(skip + nr));
            if lo < hi {
                // SAFETY: columns lo - skip .. hi - skip < nr of row i < mr are inside the block.
                unsafe { part.store_lanes(c.add(i * ldc + lo - skip), lo - w * ROW, hi - lo, overwrite) };
            }
        }
    }
}

//! Packing: copies a block of op(A) or op(B) into the contiguous, zero-padded micro-panel layout the
//! micro-kernel reads with unit stride.
use super::micro::ROW;
use super::params::{MR, NR};
use wide::f32x8;

/// A read-only strided matrix: element `(r, c)` lives at `ptr + r·rs + c·cs`. A transposed operand is
/// the same memory with the two strides swapped, so nothing is ever materialised.
#[derive(Clone, Copy, Debug)]
pub(super) struct View {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

impl View {
    /// Pointer to element `(r, c)`.
    ///
    /// # Safety
    /// `(r, c)` must lie inside the matrix this view was made from (or one past its end).
    #[inline(always)]
    pub unsafe fn at(self, r: usize, c: usize) -> *const f32 {
        unsafe { self.ptr.add(r * self.rs + c * self.cs) }
    }

    /// The view of the sub-matrix starting at `(r, c)`.
    ///
    /// # Safety
    /// As for [`View::at`].
    #[inline(always)]
    pub unsafe fn offset(self, r: usize, c: usize) -> View {
        View { ptr: unsafe { self.at(r, c) }, ..self }
    }
}

/// Floats needed to pack an `mc × kc` block of A (rows rounded up to whole micro-panels).
pub(super) fn a_len(mc: usize, kc: usize) -> usize {
    mc.div_ceil(MR) * MR * kc
}

/// Vectors needed to pack a `kc × nc` block of B (columns rounded up to whole micro-panels).
pub(super) fn b_len(kc: usize, nc: usize) -> usize {
    nc.div_ceil(NR) * kc * (NR / 8)
}

/// Packs the `mc × kc` block of A at `a` into micro-panels of MR rows: panel `q` holds, for each
/// `p`, the MR values `A[q·MR + i, p]` side by side. Rows past `mc` are zero, so the micro-kernel
/// never needs a ragged variant.
///
/// # Safety
/// Every element `(i, p)` with `i < mc`, `p < kc` of `a` must be readable.
pub(super) unsafe fn pack_a(mc: usize, kc: usize, a: View, out: &mut [f32]) {
    let out = &mut out[..a_len(mc, kc)];
    for (q, panel) in out.chunks_exact_mut(MR * kc).enumerate() {
        let i0 = q * MR;
        let rows = MR.min(mc - i0);
        if rows == MR && a.rs == 1 {
            // A stored transposed (dW = Xᵀ·G): the MR values of one `p` lie side by side, so
            // each step is one contiguous copy instead of MR loads a whole row stride apart.
            for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                // SAFETY: rows i0 .. i0 + MR and column p lie inside the block.
                dst.copy_from_slice(unsafe { core::slice::from_raw_parts(a.at(i0, p), MR) });
            }
            continue;
        }
        if rows < MR {
            panel.fill(0.0);
        }
        for i in 0..rows {
            // SAFETY: i0 + i < mc and p < kc, inside the block the caller vouched for.
            let row = unsafe { a.offset(i0 + i, 0) };
            for (p, dst) in panel[i..].iter_mut().step_by(MR).take(kc).enumerate() {
                *dst = unsafe { *row.at(0, p) };
            }
        }
    }
}

/// Width of the packed B micro-panel holding the last `cols ≤ NR` columns of a block: a ragged panel
/// of at most 16 columns is packed (and multiplied) 16 wide, not zero-padded to NR.
pub(super) fn panel_width(cols: usize) -> usize {
    if cols <= ROW { ROW } else { NR }
}

/// Packs the `kc × nc` block of B at `b` into micro-panels of NR columns: panel `q` starts at float
/// `q·kc·NR` and holds, for each `p`, the `w` values `B[p, q·NR + j]`, `w = panel_width(cols)`.
/// Columns past `nc` are zero.
///
/// # Safety
/// Every element `(p, j)` with `p < kc`, `j < nc` of `b` must be readable.
pub(super) unsafe fn pack_b(kc: usize, nc: usize, b: View, out: &mut [f32x8]) {
    let out = &mut out[..b_len(kc, nc)];
    for (q, panel) in out.chunks_mut(kc * (NR / 8)).enumerate() {
        let j0 = q * NR;
        let cols = NR.min(nc - j0);
        let width = panel_width(cols);
        let panel = &mut panel[..kc * (width / 8)];
        if b.cs == 1 {
            // Rows of B are contiguous: unaligned vector loads of whole 8-column groups, the last
            // `cols mod 8` columns gathered into one zero-padded vector, zero vectors after it.
            let groups = cols / 8;
            for (p, dst) in panel.chunks_exact_mut(width / 8).enumerate() {
                let (full, rest) = dst.split_at_mut(groups);
                for (v, d) in full.iter_mut().enumerate() {
                    // SAFETY: columns j0 + 8v .. j0 + 8v + 8 ≤ j0 + cols of row p are inside the block.
                    *d = unsafe { b.at(p, j0 + 8 * v).cast::<f32x8>().read_unaligned() };
                }
                if let Some((part, zeros)) = rest.split_first_mut() {
                    let mut last = [0.0f32; 8];
                    for (j, l) in last.iter_mut().enumerate().take(cols - groups * 8) {
                        // SAFETY: column j0 + 8·groups + j < j0 + cols of row p.
                        *l = unsafe { *b.at(p, j0 + groups * 8 + j) };
                    }
                    *part = f32x8::from(last);
                    zeros.fill(f32x8::ZERO);
                }
            }
            continue;
        }
        if b.rs == 1 && cols >= 8 {
            // SAFETY: forwarded: the panel's columns are inside the block.
            unsafe { pack_b_panel_transposed(kc, cols, width, b.offset(0, j0), b.cs, panel) };
            continue;
        }
        let flat = f32x8_as_flat(panel);
        if cols < width {
            flat.fill(0.0);
        }
        // Walk each column of op(B) down the shared dimension: for a transposed B that is a
        // contiguous row of the stored matrix.
        for j in 0..cols {
            // SAFETY: column j0 + j < nc, rows p < kc.
            let col = unsafe { b.offset(0, j0 + j) };
            for (p, dst) in flat[j..].iter_mut().step_by(width).take(kc).enumerate() {
                *dst = unsafe { *col.at(p, 0) };
            }
        }
    }
}

/// One micro-panel of `cols ≤ width` columns of a transposed B (column `j` of op(B) is the contiguous
/// stored row at `b + j·cs`), zero past `cols`: 8 × 8 blocks loaded as eight rows and transposed in
/// registers, instead of one scalar load and store per element (the scalar loop in [`pack_b`] is the
/// reference; the tests compare the two through every product with `trans_b`). The last `kc mod 8`
/// steps and the last `cols mod 8` columns are scalar: a recurrent cell's 20 × 20 Uᵀ is two
/// transposed groups and four scalar columns, where it was all scalar.
///
/// # Safety
/// Elements `p < kc` of the `cols` stored rows must be readable.
#[inline]
unsafe fn pack_b_panel_transposed(
    kc: usize,
    cols: usize,
    width: usize,
    b: View,
    cs: usize,
    panel: &mut [f32x8],
) {
    let full = kc / 8 * 8;
    let vecs = width / 8;
    let groups = cols / 8;
    for part in 0..groups {
        for p in (0..full).step_by(8) {
            // SAFETY: rows part·8 + r < cols and columns p..p + 8 <= kc.
            let rows: [f32x8; 8] = core::array::from_fn(|r| unsafe {
                b.ptr.add((part * 8 + r) * cs + p).cast::<f32x8>().read_unaligned()
            });
            for (pp, v) in f32x8::transpose(rows).into_iter().enumerate() {
                panel[(p + pp) * vecs + part] = v;
            }
        }
    }
    let flat = f32x8_as_flat(panel);
    for (p, row) in flat.chunks_exact_mut(width).enumerate() {
        let first = if p < full { groups * 8 } else { 0 };
        for (j, dst) in row.iter_mut().enumerate().take(cols).skip(first) {
            // SAFETY: as above.
            *dst = unsafe { *b.ptr.add(j * cs + p) };
        }
        row[cols..].fill(0.0);
    }
}

/// The floats of a slice of vectors.
pub(super) fn f32x8_as_flat(v: &mut [f32x8]) -> &mut [f32] {
    // SAFETY: f32x8 is `repr(C, align(32))` around eight f32 with no padding; every bit pattern is
    // a valid f32, and the borrow is carried over.
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<f32>(), v.len() * 8) }
}

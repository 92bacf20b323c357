//! Recurrent cells: the gate maths of one time step as one node, forward and
//! backward, so that a step records two nodes (the recurrent product
//! `h_{t−1}·U` and the cell) instead of a dozen small ones, each with its own
//! buffers to fill and its own pass over memory.
//!
//! Every cell reads its step's input projection `a` (columns `offset..offset +
//! G·H` of the layer's `x·W + b` for all steps) and `hu = h_{t−1}·U` (absent
//! from a zero state). With `n = rows·H`:
//!
//! - RNN: `h = tanh(a + hu)`; backward `dz = dh⊙(1 − h²)`, to `a` and `hu`.
//!   Extra values: `z` (n). Scratch: `dz` (n).
//! - LSTM: `z = a + hu`, `i, f, o = σ(z_i, z_f, z_o)`, `g = tanh(z_c)`,
//!   `c = f⊙c_{t−1} + i⊙g`, `h = o⊙tanh(c)`. The node's output is `h`; it keeps
//!   `c`, `tanh c`, the gates and `z` after it, and carries `dL/dc` in a
//!   gradient slot after `dL/dh`, which the next step's cell (or a
//!   [`Op::CellState`] node) fills. Backward, with `dc' = dc + dh⊙o⊙(1 − tanh²c)`:
//!   `dz_i = dc'⊙g⊙i(1−i)`, `dz_f = dc'⊙c_{t−1}⊙f(1−f)`, `dz_c = dc'⊙i⊙(1−g²)`,
//!   `dz_o = dh⊙tanh c⊙o(1−o)`, `dc_{t−1} += dc'⊙f`.
//! - GRU (reset after the product, `u = hu + b_rec`): `z, r = σ(a_zr + u_zr)`,
//!   `ĥ = tanh(a_h + r⊙u_h)`, `h = ĥ + z⊙(h_{t−1} − ĥ)` (`ĥ − z⊙ĥ` from a zero
//!   state). Backward: `dĥ = dh⊙(1 − z)`, `dz = dh⊙(h_{t−1} − ĥ)`,
//!   `dh_{t−1} += dh⊙z`, `dp = dĥ⊙(1 − ĥ²)`, `dr = dp⊙u_h`; `a` gets
//!   `(dz⊙z(1−z), dr⊙r(1−r), dp)` and `u` (so `hu` and the bias, summed over
//!   rows) the same with `dp⊙r` in the last block.
//!
//! The element maths is plain loops over rows (they vectorise); the
//! nonlinearities go through the activation kernels (SIMD for f32, with their
//! scalar references for f64).
use crate::error::{Error, Result};
use crate::kernels::Activation;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{Backward, CellKind, Extra, NodeId, Op, Tape};

impl CellKind {
    /// Gate blocks of `units` columns per step.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// Values kept after the `n = rows·units` outputs, gradient slots carried
    /// after the output's, and the backward rule's scratch.
    fn extra(self, n: usize) -> Extra {
        match self {
            // z
            CellKind::Rnn => Extra { values: n, grad_carry: 0, grad_scratch: n },
            // c, tanh c, gates (4n), z (4n); carries dc; scratch dz (4n), dc_{t−1} (n)
            CellKind::Lstm => Extra { values: 10 * n, grad_carry: n, grad_scratch: 5 * n },
            // gates z, r, ĥ (3n), u_h (n), pre-activations (3n); scratch da (3n), du_h (n)
            CellKind::Gru => Extra { values: 7 * n, grad_carry: 0, grad_scratch: 4 * n },
        }
    }
}

/// Where a cell reads a carried state: an LSTM cell node's `c` sits after its
/// `h` (value and gradient alike); any other node is the state itself.
fn carried_offset(op: Op, n: usize) -> usize {
    if matches!(op, Op::Cell { kind: CellKind::Lstm, .. }) { n } else { 0 }
}

/// One step's pieces, checked: rows, units, where the step's rows sit in the
/// projection (row `r` at `r·stride + offset`).
#[derive(Clone, Copy)]
struct Dims {
    rows: usize,
    units: usize,
    stride: usize,
    offset: usize,
}

/// Where one step's block sits in the projection's values: row `r` of the
/// step starts at element `r·stride + offset`. Columns `offset..` of a
/// `rows × stride` projection, or step `t` of a `(rows·T) × G·H` product
/// whose row `r·T + t` is sample `r`'s step `t` (`stride = T·G·H`,
/// `offset = t·G·H`): the same layout, so no reshape is ever copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepAt {
    pub stride: usize,
    pub offset: usize,
}

impl<T: Real> Tape<T> {
    /// One time step of a recurrent cell of `units` units (see the module
    /// notes): the step's projection `a` is read from `xw` at `at`;
    /// `hu = h_{t−1}·U` is `rows × G·units`; `prev` is the LSTM's `c_{t−1}`
    /// (an LSTM cell node stands for its cell state) or the GRU's `h_{t−1}`.
    /// `bias` is added to `a`: a `1 × G·units` row for the RNN and LSTM
    /// (optional), and for the GRU (required) `2 × 3·units`, the input bias
    /// row then the recurrent one.
    #[allow(clippy::too_many_arguments)]
    pub fn cell(
        &mut self,
        kind: CellKind,
        units: usize,
        xw: NodeId,
        at: StepAt,
        hu: Option<NodeId>,
        prev: Option<NodeId>,
        bias: Option<NodeId>,
    ) -> Result<NodeId> {
        let u32_of = |v: usize| u32::try_from(v).ok();
        let (stride, offset) = (at.stride, at.offset);
        let op = Op::Cell {
            kind,
            xw,
            stride: u32_of(stride).unwrap_or(u32::MAX),
            offset: u32_of(offset).unwrap_or(u32::MAX),
            hu,
            prev,
            bias,
        };
        let name = op.name();
        for id in [Some(xw), hu, prev, bias].into_iter().flatten() {
            self.check_id(name, id)?;
        }
        let sx = self.shape(xw);
        let width = kind.gates() * units;
        let fits = units > 0
            && stride > 0
            && sx.len().is_multiple_of(stride)
            && offset.checked_add(width).is_some_and(|end| end <= stride)
            && u32_of(stride).is_some();
        if !fits {
            return Err(Error::invalid(
                name,
                format!("a step of {width} values at {offset} of every {stride} of the projection {sx}"),
            ));
        }
        let rows = sx.len() / stride;
        let expect = |got: Shape, want: Shape| {
            if got == want { Ok(()) } else { Err(Error::ShapeMismatch { op: name, lhs: got, rhs: want }) }
        };
        if let Some(hu) = hu {
            expect(self.shape(hu), Shape::new(rows, width))?;
        }
        if let Some(p) = prev {
            if kind == CellKind::Rnn {
                return Err(Error::invalid(name, "a SimpleRNN step carries no state besides h·U"));
            }
            expect(self.shape(p), Shape::new(rows, units))?;
        }
        match (kind, bias) {
            (CellKind::Gru, Some(b)) => expect(self.shape(b), Shape::new(2, width))?,
            (CellKind::Gru, None) => {
                return Err(Error::invalid(name, "a GRU step needs its [2, 3·units] bias"));
            }
            (_, Some(b)) => expect(self.shape(b), Shape::new(1, width))?,
            (_, None) => {}
        }
        if kind == CellKind::Gru && prev.is_some() != hu.is_some() {
            return Err(Error::invalid(name, "a GRU step has both h_{t-1} and h_{t-1}·U or neither"));
        }
        let d = Dims { rows, units, stride, offset };
        let n = rows * units;
        let carried = prev.map(|p| carried_offset(self.op(p), n));
        let rg =
            self.any_grad(&[xw]) || [hu, prev, bias].into_iter().flatten().any(|i| self.requires_grad(i));
        Ok(self.record_with(op, Shape::new(rows, units), kind.extra(n), rg, |v, _, out| {
            let a = &v[xw.index()][..sx.len()];
            let hu = hu.map(|i| &v[i.index()][..rows * width]);
            let prev = prev.map(|p| &v[p.index()][carried.unwrap_or(0)..][..n]);
            let b = bias.map(|b| &v[b.index()][..]);
            match kind {
                CellKind::Rnn => rnn_forward(d, a, b, hu, out),
                CellKind::Lstm => lstm_forward(d, a, b, hu, prev, out),
                CellKind::Gru => gru_forward(d, a, hu, prev, &b.expect("checked")[..2 * width], out),
            }
        }))
    }

    /// The cell state `c_t` of an LSTM cell node, as a node of its own
    /// (`rows × units`): what a caller chaining states across calls needs.
    pub fn cell_state(&mut self, cell: NodeId) -> Result<NodeId> {
        self.check_id("lstm_cell_state", cell)?;
        if !matches!(self.op(cell), Op::Cell { kind: CellKind::Lstm, .. }) {
            return Err(Error::invalid(
                "lstm_cell_state",
                format!("node {} is not an LSTM cell", cell.index()),
            ));
        }
        let s = self.shape(cell);
        let rg = self.requires_grad(cell);
        Ok(self.record(Op::CellState { cell }, s, rg, |v, _, out| {
            out.copy_from_slice(&v[cell.index()][s.len()..2 * s.len()])
        }))
    }
}

/// The step's `G·H` projection values of row `r`.
#[inline]
fn a_row<T>(d: Dims, a: &[T], r: usize, width: usize) -> &[T] {
    &a[r * d.stride + d.offset..][..width]
}

/// `z = (a + b) + hu` for every row of the step: the order of the unfused
/// graph (the projection's bias first), in whole-row passes that vectorise.
fn pre_activation<T: Real>(d: Dims, a: &[T], b: Option<&[T]>, hu: Option<&[T]>, z: &mut [T]) {
    let width = z.len() / d.rows;
    for (r, zr) in z.chunks_exact_mut(width).enumerate() {
        zr.copy_from_slice(a_row(d, a, r, width));
        if let Some(b) = b {
            zr.iter_mut().zip(&b[..width]).for_each(|(o, &v)| *o = *o + v);
        }
        if let Some(hu) = hu {
            zr.iter_mut().zip(&hu[r * width..(r + 1) * width]).for_each(|(o, &v)| *o = *o + v);
        }
    }
}

fn rnn_forward<T: Real>(d: Dims, a: &[T], b: Option<&[T]>, hu: Option<&[T]>, out: &mut [T]) {
    let (hv, z) = out.split_at_mut(d.rows * d.units);
    pre_activation(d, a, b, hu, z);
    T::act_forward(Activation::Tanh, z, hv);
}

fn lstm_forward<T: Real>(
    d: Dims,
    a: &[T],
    b: Option<&[T]>,
    hu: Option<&[T]>,
    prev: Option<&[T]>,
    out: &mut [T],
) {
    let h = d.units;
    let (n, w) = (d.rows * h, 4 * h);
    let (hv, rest) = out.split_at_mut(n);
    let (c, rest) = rest.split_at_mut(n);
    let (tc, rest) = rest.split_at_mut(n);
    let (gates, z) = rest.split_at_mut(4 * n);
    pre_activation(d, a, b, hu, z);
    // One sigmoid pass over all four blocks (contiguous, so whole vectors),
    // then the candidate block's tanh over it, row by row.
    T::act_forward(Activation::Sigmoid, z, gates);
    for (zr, gr) in z.chunks_exact(w).zip(gates.chunks_exact_mut(w)) {
        T::act_forward(Activation::Tanh, &zr[2 * h..3 * h], &mut gr[2 * h..3 * h]);
    }
    for (r, (cr, gr)) in c.chunks_exact_mut(h).zip(gates.chunks_exact(w)).enumerate() {
        let (i, f, g) = (&gr[..h], &gr[h..2 * h], &gr[2 * h..3 * h]);
        match prev {
            Some(p) => {
                let pr = &p[r * h..(r + 1) * h];
                for j in 0..h {
                    cr[j] = f[j] * pr[j] + i[j] * g[j];
                }
            }
            None => cr.iter_mut().zip(i).zip(g).for_each(|((o, &i), &g)| *o = i * g),
        }
    }
    T::act_forward(Activation::Tanh, c, tc);
    for ((hr, tr), gr) in hv.chunks_exact_mut(h).zip(tc.chunks_exact(h)).zip(gates.chunks_exact(w)) {
        hr.iter_mut().zip(tr).zip(&gr[3 * h..]).for_each(|((o, &t), &g)| *o = g * t);
    }
}

/// `b` is the input bias row then the recurrent one (`2 × 3H`).
fn gru_forward<T: Real>(d: Dims, a: &[T], hu: Option<&[T]>, prev: Option<&[T]>, b: &[T], out: &mut [T]) {
    let h = d.units;
    let (n, w) = (d.rows * h, 3 * h);
    let (hv, rest) = out.split_at_mut(n);
    let (gates, rest) = rest.split_at_mut(3 * n);
    let (uh, pre) = rest.split_at_mut(n);
    let (b_in, b_rec) = b.split_at(w);
    for r in 0..d.rows {
        let ar = a_row(d, a, r, w);
        let (pr, gr, ur) =
            (&mut pre[r * w..(r + 1) * w], &mut gates[r * w..(r + 1) * w], &mut uh[r * h..(r + 1) * h]);
        // (a + b_in) + (hu + b_rec): the order of the unfused graph.
        match hu {
            Some(hu) => {
                let hr = &hu[r * w..(r + 1) * w];
                for j in 0..2 * h {
                    pr[j] = (ar[j] + b_in[j]) + (hr[j] + b_rec[j]);
                }
                for j in 0..h {
                    ur[j] = hr[2 * h + j] + b_rec[2 * h + j];
                }
            }
            None => {
                for j in 0..2 * h {
                    pr[j] = (ar[j] + b_in[j]) + b_rec[j];
                }
                ur.copy_from_slice(&b_rec[2 * h..]);
            }
        }
        T::act_forward(Activation::Sigmoid, &pr[..2 * h], &mut gr[..2 * h]);
        for j in 0..h {
            pr[2 * h + j] = (ar[2 * h + j] + b_in[2 * h + j]) + gr[h + j] * ur[j];
        }
        T::act_forward(Activation::Tanh, &pr[2 * h..], &mut gr[2 * h..]);
        let hr = &mut hv[r * h..(r + 1) * h];
        match prev {
            Some(p) => {
                let p = &p[r * h..(r + 1) * h];
                for j in 0..h {
                    let cand = gr[2 * h + j];
                    hr[j] = cand + gr[j] * (p[j] - cand);
                }
            }
            None => {
                for j in 0..h {
                    let cand = gr[2 * h + j];
                    hr[j] = cand - gr[j] * cand;
                }
            }
        }
    }
}

/// Adds the step's `rows × width` block `src` into the projection's gradient
/// where the step's rows sit.
fn add_to_projection<T: Real>(d: Dims, width: usize, src: &[T], ga: &mut [T]) {
    for (r, sr) in src.chunks_exact(width).enumerate() {
        let dst = &mut ga[r * d.stride + d.offset..][..width];
        dst.iter_mut().zip(sr).for_each(|(o, &s)| *o = *o + s);
    }
}

/// `gb += Σ_r src[r]`, rows in order.
fn add_row_sums<T: Real>(src: &[T], gb: &mut [T]) {
    for sr in src.chunks_exact(gb.len()) {
        gb.iter_mut().zip(sr).for_each(|(o, &s)| *o = *o + s);
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_cell<T: Real>(
    ctx: &mut Backward<'_, T>,
    kind: CellKind,
    xw: NodeId,
    (stride, offset): (u32, u32),
    hu: Option<NodeId>,
    prev: Option<NodeId>,
    bias: Option<NodeId>,
) {
    let out = ctx.out_shape();
    let (h, rows) = (out.cols, out.rows);
    let n = rows * h;
    let width = kind.gates() * h;
    let d = Dims { rows, units: h, stride: stride as usize, offset: offset as usize };
    let carried = prev.map(|p| carried_offset(ctx.nodes[p.index()].op, n)).unwrap_or(0);
    let me = ctx.out;
    // Pass 1: the step's gradients into this node's scratch.
    {
        let (values, g) = ctx.raw();
        let val = &values[me];
        let pv = prev.map(|p| &values[p.index()][carried..carried + n]);
        let (gy, rest) = g.split_at_mut(n);
        match kind {
            CellKind::Rnn => {
                let dz = &mut rest[..n];
                for ((o, &g), &y) in dz.iter_mut().zip(&*gy).zip(&val[..n]) {
                    *o = g * (T::one() - y * y);
                }
            }
            CellKind::Lstm => lstm_backward(h, val, pv, gy, rest),
            CellKind::Gru => gru_backward(h, val, pv, gy, rest),
        }
    }
    // Pass 2: the scratch into the inputs' gradients, one input at a time.
    let scratch_at = n + if kind == CellKind::Lstm { n } else { 0 };
    for id in [Some(xw), hu, bias, prev].into_iter().flatten() {
        if ctx.nodes[id.index()].requires_grad {
            ctx.touch(id);
        }
    }
    let Backward { nodes, values, grads, gy, .. } = ctx;
    let scratch = &gy[scratch_at..];
    let wants = |id: NodeId| nodes[id.index()].requires_grad;
    match kind {
        CellKind::Rnn | CellKind::Lstm => {
            let dz = &scratch[..rows * width];
            if wants(xw) {
                add_to_projection(d, width, dz, &mut grads[xw.index()]);
            }
            if let Some(hu) = hu.filter(|&i| wants(i)) {
                T::axpy(T::one(), dz, &mut grads[hu.index()][..rows * width]);
            }
            if let Some(b) = bias.filter(|&i| wants(i)) {
                add_row_sums(dz, &mut grads[b.index()][..width]);
            }
            if let Some(p) = prev.filter(|&i| wants(i)) {
                let dcp = &scratch[4 * n..5 * n];
                T::axpy(T::one(), dcp, &mut grads[p.index()][carried..carried + n]);
            }
        }
        CellKind::Gru => {
            let (da, duh) = (&scratch[..3 * n], &scratch[3 * n..4 * n]);
            if wants(xw) {
                add_to_projection(d, width, da, &mut grads[xw.index()]);
            }
            // du = (da_z, da_r, du_h) row by row, into hu and summed over rows into the bias.
            let du_rows = da.chunks_exact(width).zip(duh.chunks_exact(h));
            if let Some(hu) = hu.filter(|&i| wants(i)) {
                let gh = &mut grads[hu.index()][..rows * width];
                for (dst, (dar, dur)) in gh.chunks_exact_mut(width).zip(du_rows.clone()) {
                    let (zr, hh) = dst.split_at_mut(2 * h);
                    zr.iter_mut().zip(&dar[..2 * h]).for_each(|(o, &s)| *o = *o + s);
                    hh.iter_mut().zip(dur).for_each(|(o, &s)| *o = *o + s);
                }
            }
            if let Some(b) = bias.filter(|&i| wants(i)) {
                let (gb_in, gb_rec) = grads[b.index()][..2 * width].split_at_mut(width);
                add_row_sums(da, gb_in);
                for (dar, dur) in du_rows {
                    gb_rec[..2 * h].iter_mut().zip(&dar[..2 * h]).for_each(|(o, &s)| *o = *o + s);
                    gb_rec[2 * h..].iter_mut().zip(dur).for_each(|(o, &s)| *o = *o + s);
                }
            }
            if let Some(p) = prev.filter(|&i| wants(i)) {
                // dh_{t−1} += dh⊙z
                let gates = &values[me][n..4 * n];
                let gp = &mut grads[p.index()][..n];
                for ((gr, dr), zr) in
                    gp.chunks_exact_mut(h).zip(gy[..n].chunks_exact(h)).zip(gates.chunks_exact(width))
                {
                    gr.iter_mut().zip(dr).zip(&zr[..h]).for_each(|((o, &g), &z)| *o = *o + g * z);
                }
            }
        }
    }
}

/// LSTM pass 1: `rest` is `[dc (n) | dz (4n) | dc_{t−1} (n)]` after `dh`.
fn lstm_backward<T: Real>(h: usize, val: &[T], prev: Option<&[T]>, dh: &[T], rest: &mut [T]) {
    let n = dh.len();
    let w = 4 * h;
    let (tc, gates) = (&val[2 * n..3 * n], &val[3 * n..7 * n]);
    let (dc, rest) = rest.split_at_mut(n);
    let (dz, dcp) = rest.split_at_mut(4 * n);
    let one = T::one();
    for r in 0..n / h {
        let gr = &gates[r * w..(r + 1) * w];
        let dzr = &mut dz[r * w..(r + 1) * w];
        for j in 0..h {
            let k = r * h + j;
            let (i, f, g, o) = (gr[j], gr[h + j], gr[2 * h + j], gr[3 * h + j]);
            let t = tc[k];
            let dct = dc[k] + dh[k] * o * (one - t * t);
            dzr[j] = dct * g * (i * (one - i));
            dzr[2 * h + j] = dct * i * (one - g * g);
            dzr[3 * h + j] = dh[k] * t * (o * (one - o));
            match prev {
                Some(p) => {
                    dzr[h + j] = dct * p[k] * (f * (one - f));
                    dcp[k] = dct * f;
                }
                None => {
                    dzr[h + j] = T::zero();
                    dcp[k] = T::zero();
                }
            }
        }
    }
}

/// GRU pass 1: `rest` is `[da (3n) | du_h (n)]` after `dh`.
fn gru_backward<T: Real>(h: usize, val: &[T], prev: Option<&[T]>, dh: &[T], rest: &mut [T]) {
    let n = dh.len();
    let w = 3 * h;
    let (gates, uh) = (&val[n..4 * n], &val[4 * n..5 * n]);
    let (da, duh) = rest.split_at_mut(3 * n);
    let one = T::one();
    for r in 0..n / h {
        let gr = &gates[r * w..(r + 1) * w];
        let dar = &mut da[r * w..(r + 1) * w];
        for j in 0..h {
            let k = r * h + j;
            let (z, rg, cand) = (gr[j], gr[h + j], gr[2 * h + j]);
            let dcand = dh[k] * (one - z);
            let dz = match prev {
                Some(p) => dh[k] * (p[k] - cand),
                None => -(dh[k] * cand),
            };
            let dp = dcand * (one - cand * cand);
            let dr = dp * uh[k];
            dar[j] = dz * (z * (one - z));
            dar[h + j] = dr * (rg * (one - rg));
            dar[2 * h + j] = dp;
            duh[k] = dp * rg;
        }
    }
}

/// `dL/dc` of the cell, in the slot after its `dL/dh`.
pub(crate) fn backward_cell_state<T: Real>(ctx: &mut Backward<'_, T>, cell: NodeId) {
    let n = ctx.out_shape().len();
    if ctx.nodes[cell.index()].requires_grad {
        ctx.touch(cell);
    }
    let Backward { nodes, grads, gy, .. } = ctx;
    if nodes[cell.index()].requires_grad {
        T::axpy(T::one(), &gy[..n], &mut grads[cell.index()][n..2 * n]);
    }
}

#[cfg(test)]
mod tests {
    use super::StepAt;
    use crate::error::Result;
    use crate::gradcheck::testing::{config, dim, values, verify};
    use crate::gradcheck::{CheckOptions, GradCheckFailure, check, check_tape};
    use crate::kernels::Activation;
    use crate::shape::Shape;
    use crate::tape::{CellKind, NodeId, Tape};
    use proptest::prelude::*;

    const KINDS: [CellKind; 3] = [CellKind::Rnn, CellKind::Lstm, CellKind::Gru];

    /// Inputs of an unrolled layer of `steps` steps: the projection (with
    /// `pad` spare columns on each side, so offsets matter), `U`, the bias
    /// (the GRU's input and recurrent rows), then the initial state(s) when
    /// `with_state`.
    fn layer_inputs(
        kind: CellKind,
        rows: usize,
        units: usize,
        steps: usize,
        with_state: bool,
        seed: &[f64],
    ) -> (Vec<(Shape, Vec<f64>)>, usize) {
        let w = kind.gates() * units;
        let pad = 1;
        let mut take = {
            let mut at = 0;
            move |n: usize| {
                let v: Vec<f64> =
                    (0..n).map(|i| seed[(at + i) % seed.len()] * (1.0 + 0.01 * i as f64)).collect();
                at += n;
                v
            }
        };
        let xw_cols = steps * w + 2 * pad;
        let mut inputs = vec![
            (Shape::new(rows, xw_cols), take(rows * xw_cols)),
            (Shape::new(units, w), take(units * w).iter().map(|v| 0.5 * v).collect()),
            if kind == CellKind::Gru { (Shape::new(2, w), take(2 * w)) } else { (Shape::new(1, w), take(w)) },
        ];
        if with_state {
            inputs.push((Shape::new(rows, units), take(rows * units)));
            inputs.push((Shape::new(rows, units), take(rows * units)));
        }
        (inputs, pad)
    }

    /// The fused graph: every step's cell; the output is every `h_t` side by
    /// side, and for the LSTM the last cell state too.
    fn fused(
        t: &mut Tape<f64>,
        x: &[NodeId],
        kind: CellKind,
        units: usize,
        steps: usize,
        pad: usize,
    ) -> Result<NodeId> {
        let (xw, u, b) = (x[0], x[1], x[2]);
        let w = kind.gates() * units;
        let (mut h, mut c) = (x.get(3).copied(), x.get(4).copied());
        let mut outs = Vec::new();
        for s in 0..steps {
            let hu = h.map(|p| t.matmul(p, u)).transpose()?;
            let prev = match kind {
                CellKind::Rnn => None,
                CellKind::Lstm => c,
                CellKind::Gru => h,
            };
            let at = StepAt { stride: t.shape(xw).cols, offset: pad + s * w };
            let cell = t.cell(kind, units, xw, at, hu, prev, Some(b))?;
            outs.push(cell);
            (h, c) = (Some(cell), Some(cell));
        }
        if kind == CellKind::Lstm {
            let last = t.cell_state(*outs.last().expect("a step"))?;
            outs.push(last);
        }
        t.concat_cols(&outs)
    }

    /// The same layer out of the small ops (the graph the layers recorded
    /// before the fused cells): the reference for the forward values.
    fn unfused(
        t: &mut Tape<f64>,
        x: &[NodeId],
        kind: CellKind,
        units: usize,
        steps: usize,
        pad: usize,
    ) -> Result<NodeId> {
        let (xw, u, b) = (x[0], x[1], x[2]);
        let (hh, w) = (units, kind.gates() * units);
        let (b_in, b_rec) = if kind == CellKind::Gru {
            let flat = t.reshape(b, Shape::new(1, 2 * w))?;
            (t.slice_cols(flat, 0, w)?, t.slice_cols(flat, w, w)?)
        } else {
            (b, b)
        };
        let (mut h, mut c) = (x.get(3).copied(), x.get(4).copied());
        let mut outs = Vec::new();
        for s in 0..steps {
            let a = t.slice_cols(xw, pad + s * w, w)?;
            let a = t.add(a, b_in)?;
            let hu = h.map(|p| t.matmul(p, u)).transpose()?;
            let next = match kind {
                CellKind::Rnn => {
                    let z = match hu {
                        Some(hu) => t.add(a, hu)?,
                        None => a,
                    };
                    t.act(z, Activation::Tanh)?
                }
                CellKind::Lstm => {
                    let z = match hu {
                        Some(hu) => t.add(a, hu)?,
                        None => a,
                    };
                    let sg = t.act(z, Activation::Sigmoid)?;
                    let (i, f, o) =
                        (t.slice_cols(sg, 0, hh)?, t.slice_cols(sg, hh, hh)?, t.slice_cols(sg, 3 * hh, hh)?);
                    let zc = t.slice_cols(z, 2 * hh, hh)?;
                    let g = t.act(zc, Activation::Tanh)?;
                    let ig = t.mul(i, g)?;
                    let cn = match c {
                        Some(cp) => {
                            let fc = t.mul(f, cp)?;
                            t.add(fc, ig)?
                        }
                        None => ig,
                    };
                    c = Some(cn);
                    let tc = t.act(cn, Activation::Tanh)?;
                    t.mul(o, tc)?
                }
                CellKind::Gru => {
                    let uu = match hu {
                        Some(hu) => t.add(hu, b_rec)?,
                        None => b_rec,
                    };
                    let uu = if hu.is_none() {
                        // The bias row broadcast down the batch.
                        let zeros =
                            t.input(Shape::new(t.shape(a).rows, w), &vec![0.0; t.shape(a).rows * w])?;
                        t.add(zeros, uu)?
                    } else {
                        uu
                    };
                    let (a_zr, u_zr) = (t.slice_cols(a, 0, 2 * hh)?, t.slice_cols(uu, 0, 2 * hh)?);
                    let pre = t.add(a_zr, u_zr)?;
                    let zr = t.act(pre, Activation::Sigmoid)?;
                    let (z, r) = (t.slice_cols(zr, 0, hh)?, t.slice_cols(zr, hh, hh)?);
                    let (a_h, u_h) = (t.slice_cols(a, 2 * hh, hh)?, t.slice_cols(uu, 2 * hh, hh)?);
                    let ru = t.mul(r, u_h)?;
                    let cp = t.add(a_h, ru)?;
                    let cand = t.act(cp, Activation::Tanh)?;
                    match h {
                        Some(p) => {
                            let d = t.sub(p, cand)?;
                            let zd = t.mul(z, d)?;
                            t.add(cand, zd)?
                        }
                        None => {
                            let zc = t.mul(z, cand)?;
                            t.sub(cand, zc)?
                        }
                    }
                }
            };
            outs.push(next);
            h = Some(next);
        }
        if kind == CellKind::Lstm {
            outs.push(c.expect("a step"));
        }
        t.concat_cols(&outs)
    }

    proptest! {
        #![proptest_config(config())]

        /// Every cell over one to three steps, from a zero state and from a
        /// given one: gradients wrt the projection, `U`, the bias and the
        /// initial state(s), through every step's `h` (and the LSTM's last `c`).
        #[test]
        fn cell_gradients(
            rows in dim(),
            units in 1usize..=4,
            steps in 1usize..=3,
            with_state in any::<bool>(),
            seed in values(64, -1.5, 1.5),
        ) {
            for kind in KINDS {
                let (inputs, pad) = layer_inputs(kind, rows, units, steps, with_state, &seed);
                let name = format!("{kind:?} cell, {rows} rows, {units} units, {steps} steps, state {with_state}");
                verify(&name, &inputs, |t, x| fused(t, x, kind, units, steps, pad))?;
            }
        }

        /// The checker proves backward consistent with forward; this pins the
        /// forward itself to the small-op graph, value for value.
        #[test]
        fn cells_match_the_small_op_graph(
            rows in dim(),
            units in 1usize..=4,
            steps in 1usize..=3,
            with_state in any::<bool>(),
            seed in values(64, -1.5, 1.5),
        ) {
            for kind in KINDS {
                let (inputs, pad) = layer_inputs(kind, rows, units, steps, with_state, &seed);
                let mut t = Tape::<f64>::new();
                let ids: Vec<NodeId> = inputs.iter().map(|(s, v)| t.param(*s, v)).collect::<Result<_>>()?;
                let (a, b) = (fused(&mut t, &ids, kind, units, steps, pad)?, unfused(&mut t, &ids, kind, units, steps, pad)?);
                prop_assert_eq!(t.shape(a), t.shape(b));
                for (p, q) in t.value(a).iter().zip(t.value(b)) {
                    prop_assert!((p - q).abs() <= 1e-14 * (1.0 + q.abs()), "{:?}: {} vs {}", kind, p, q);
                }
            }
        }
    }

    /// A wrong rule is caught: the fused cells' tape gradient with one
    /// plausible mistake each (the LSTM's carry `dc_{t−1} += dc'⊙f` dropped;
    /// the GRU's `z` and `r` blocks swapped), checked by the same checker.
    #[test]
    fn checker_rejects_wrong_cell_rules() {
        let seed: Vec<f64> = (0..64).map(|i| (i as f64 * 0.77).sin()).collect();
        let (units, steps) = (3, 2);
        for kind in [CellKind::Lstm, CellKind::Gru] {
            let (inputs, pad) = layer_inputs(kind, 2, units, steps, true, &seed);
            let build = |t: &mut Tape<f64>, x: &[NodeId]| {
                let out = fused(t, x, kind, units, steps, pad)?;
                t.sum(out)
            };
            // The true rule passes, through the same closures as the wrong one.
            let tape_grad = |x: &[Vec<f64>]| {
                let mut t = Tape::<f64>::new();
                let ids: Vec<NodeId> =
                    inputs.iter().zip(x).map(|((s, _), v)| t.param(*s, v).unwrap()).collect();
                let loss = build(&mut t, &ids).unwrap();
                t.backward(loss).unwrap();
                (t.scalar(loss), ids.iter().map(|&i| t.grad(i).unwrap().to_vec()).collect::<Vec<_>>())
            };
            let f = |x: &[Vec<f64>]| tape_grad(x).0;
            let opts = CheckOptions::default();
            check("true rule", &inputs, f, |x| tape_grad(x).1, &opts).expect("the fused rule is right");
            check_tape("true rule on the tape", &inputs, build, &opts).expect("the fused rule is right");
            let wrong = |x: &[Vec<f64>]| {
                let mut g = tape_grad(x).1;
                match kind {
                    // c0 is input 4: no gradient reaches it without the carry.
                    CellKind::Lstm => g[4].iter_mut().for_each(|v| *v = 0.0),
                    // z and r blocks of every step's projection swapped.
                    _ => {
                        let cols = inputs[0].0.cols;
                        for row in g[0].chunks_exact_mut(cols) {
                            for s in 0..steps {
                                let at = pad + s * 3 * units;
                                let (z, r) = row[at..at + 2 * units].split_at_mut(units);
                                z.swap_with_slice(r);
                            }
                        }
                    }
                }
                g
            };
            let err = check("wrong rule", &inputs, f, wrong, &opts).expect_err("a wrong cell rule is caught");
            let GradCheckFailure::Mismatch(m) = &err else { panic!("expected a mismatch, got {err}") };
            let want = if kind == CellKind::Lstm { "input 4" } else { "input 0" };
            assert!(err.to_string().contains(want), "{kind:?}: the failure names the wrong input: {err}");
            assert!(m.failed >= 1);
        }
    }

    #[test]
    fn cell_shape_errors_name_the_op() {
        let mut t = Tape::<f64>::new();
        let xw = t.input(Shape::new(2, 8), &[0.0; 16]).unwrap();
        let hu = t.input(Shape::new(3, 8), &[0.0; 24]).unwrap();
        let at = |offset| StepAt { stride: 8, offset };
        let msg = t.cell(CellKind::Lstm, 2, xw, at(2), None, None, None).unwrap_err().to_string();
        assert_eq!(msg, "lstm_cell: a step of 8 values at 2 of every 8 of the projection [2, 8]");
        let msg = t.cell(CellKind::Lstm, 2, xw, StepAt { stride: 5, offset: 0 }, None, None, None);
        assert!(msg.is_err(), "a stride that does not divide the projection");
        let msg = t.cell(CellKind::Lstm, 2, xw, at(0), Some(hu), None, None).unwrap_err().to_string();
        assert_eq!(msg, "lstm_cell: shape mismatch: [3, 8] vs [2, 8]");
        assert!(t.cell(CellKind::Gru, 2, xw, at(0), None, None, None).is_err(), "a GRU step needs its bias");
        assert!(t.cell(CellKind::Rnn, 2, xw, at(0), None, Some(xw), None).is_err());
        assert!(t.cell_state(xw).unwrap_err().to_string().starts_with("lstm_cell_state:"));
        assert_eq!(t.len(), 2, "a failed op records nothing");
    }
}

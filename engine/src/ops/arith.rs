//! Element-wise arithmetic with broadcasting of the right operand: `b` may
//! have `a`'s shape, one row (a bias, broadcast down the batch), one column
//! (a per-row statistic) or be 1 × 1. Rules, with gb summed over broadcast
//! positions: add ga += g, gb += g; sub gb −= g; mul ga += g·b, gb += g·a;
//! div ga += g/b, gb −= g·a/b². Affine: y = s·x + c, gx += s·g.
use crate::error::{Error, Result};
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{Backward, BinaryKind, Dest, NodeId, Op, Tape};

/// Where element `(i, j)` of `a` finds its partner in a broadcast `b`.
#[derive(Clone, Copy)]
struct Broadcast {
    cols: usize,
    b_cols: usize,
    row_step: usize,
    col_step: usize,
}

impl Broadcast {
    fn new(op: &'static str, a: Shape, b: Shape) -> Result<Self> {
        let rows_ok = b.rows == a.rows || b.rows == 1;
        let cols_ok = b.cols == a.cols || b.cols == 1;
        if !rows_ok || !cols_ok {
            return Err(Error::ShapeMismatch { op, lhs: a, rhs: b });
        }
        Ok(Broadcast {
            cols: a.cols,
            b_cols: b.cols,
            row_step: usize::from(b.rows != 1),
            col_step: usize::from(b.cols != 1),
        })
    }

    #[inline]
    fn index(&self, flat: usize) -> usize {
        let (i, j) = (flat / self.cols, flat % self.cols);
        i * self.row_step * self.b_cols + j * self.col_step
    }

    /// Start of the broadcast operand's row for output row `i`.
    #[inline]
    fn b_row(&self, i: usize) -> usize {
        i * self.row_step * self.b_cols
    }
}

/// Applies `f` row by row: `b` is a full row (same width) or one value per
/// row. Whole-row loops with `f` known at compile time vectorise, where a
/// per-element broadcast index does not; the element order is unchanged.
#[inline(always)]
fn map_rows<T: Real>(bc: &Broadcast, a: &[T], b: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
    let n = bc.cols.max(1);
    for (i, (orow, arow)) in out.chunks_exact_mut(n).zip(a.chunks_exact(n)).enumerate() {
        let start = bc.b_row(i);
        if bc.col_step == 1 {
            for ((o, &x), &y) in orow.iter_mut().zip(arow).zip(&b[start..start + n]) {
                *o = f(x, y);
            }
        } else {
            let y = b[start];
            for (o, &x) in orow.iter_mut().zip(arow) {
                *o = f(x, y);
            }
        }
    }
}

/// `acc[k] += f(g, x, y)` row by row over the same broadcast as [`map_rows`];
/// with `ACC` false, `acc[k] = 0 + f(g, x, y)` without reading `acc` (a first
/// contribution: bit for bit the sum into zeros).
#[inline(always)]
fn accumulate_rows<T: Real, const ACC: bool>(
    bc: &Broadcast,
    g: &[T],
    a: &[T],
    b: &[T],
    acc: &mut [T],
    f: impl Fn(T, T, T) -> T,
) {
    let n = bc.cols.max(1);
    let base = |o: &T| if ACC { *o } else { T::zero() };
    for (i, (grow, arow)) in g.chunks_exact(n).zip(a.chunks_exact(n)).enumerate() {
        let start = bc.b_row(i);
        let arow_acc = &mut acc[i * n..(i + 1) * n];
        if bc.col_step == 1 {
            for (((o, &gi), &x), &y) in arow_acc.iter_mut().zip(grow).zip(arow).zip(&b[start..start + n]) {
                *o = base(o) + f(gi, x, y);
            }
        } else {
            let y = b[start];
            for ((o, &gi), &x) in arow_acc.iter_mut().zip(grow).zip(arow) {
                *o = base(o) + f(gi, x, y);
            }
        }
    }
}

/// `acc ± g` (`add`/`sub` rules): `alpha` is ±1, so `g·alpha + acc` is exact
/// as `axpy` computes it; a first contribution is `g·alpha + 0`.
#[inline(always)]
fn add_signed<T: Real>(alpha: T, g: &[T], acc: &mut [T], fresh: bool) {
    if fresh {
        acc.iter_mut().zip(g).for_each(|(o, &gi)| *o = gi * alpha + T::zero());
    } else {
        T::axpy(alpha, g, acc);
    }
}

impl<T: Real> Tape<T> {
    pub fn add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryKind::Add, a, b)
    }

    pub fn sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryKind::Sub, a, b)
    }

    pub fn mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryKind::Mul, a, b)
    }

    pub fn div(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.binary(BinaryKind::Div, a, b)
    }

    fn binary(&mut self, kind: BinaryKind, a: NodeId, b: NodeId) -> Result<NodeId> {
        let op = Op::Binary { kind, a, b };
        self.check_id(op.name(), a)?;
        self.check_id(op.name(), b)?;
        let (sa, sb) = (self.shape(a), self.shape(b));
        let bc = Broadcast::new(op.name(), sa, sb)?;
        let rg = self.any_grad(&[a, b]);
        let (ia, ib) = (a.index(), b.index());
        Ok(self.record(op, sa, rg, |v, _, out| {
            let (av, bv) = (&v[ia][..sa.len()], &v[ib][..sb.len()]);
            match kind {
                BinaryKind::Add => map_rows(&bc, av, bv, out, |x, y| x + y),
                BinaryKind::Sub => map_rows(&bc, av, bv, out, |x, y| x - y),
                BinaryKind::Mul => map_rows(&bc, av, bv, out, |x, y| x * y),
                BinaryKind::Div => map_rows(&bc, av, bv, out, |x, y| x / y),
            }
        }))
    }

    /// `scale·x + shift`, elementwise.
    pub fn affine(&mut self, x: NodeId, scale: f64, shift: f64) -> Result<NodeId> {
        self.check_id("affine", x)?;
        let s = self.shape(x);
        let rg = self.any_grad(&[x]);
        let (sc, sh) = (T::c(scale), T::c(shift));
        Ok(self.record(Op::Affine { x, scale, shift }, s, rg, |v, _, out| {
            for (o, &xi) in out.iter_mut().zip(&v[x.index()][..s.len()]) {
                *o = sc.mul_add(xi, sh);
            }
        }))
    }

    /// `s·x`.
    pub fn scale(&mut self, x: NodeId, s: f64) -> Result<NodeId> {
        self.affine(x, s, 0.0)
    }

    /// `x + c`.
    pub fn add_scalar(&mut self, x: NodeId, c: f64) -> Result<NodeId> {
        self.affine(x, 1.0, c)
    }
}

pub(crate) fn backward_binary<T: Real>(ctx: &mut Backward<'_, T>, kind: BinaryKind, a: NodeId, b: NodeId) {
    let (sa, sb) = (ctx.shape(a), ctx.shape(b));
    let bc = Broadcast::new("", sa, sb).expect("checked in forward");
    let (a_len, b_len) = (sa.len(), sb.len());
    // ga: same shape as the output, no reduction; written if it is the first.
    let (values, gy, ga) = ctx.parts_for_write(a);
    if let Some(Dest { buf: ga, fresh }) = ga {
        let (av, bv) = (&values[a.index()][..a_len], &values[b.index()][..b_len]);
        match (kind, fresh) {
            (BinaryKind::Add | BinaryKind::Sub, _) => add_signed(T::one(), gy, ga, fresh),
            (BinaryKind::Mul, false) => accumulate_rows::<T, true>(&bc, gy, av, bv, ga, |g, _, y| g * y),
            (BinaryKind::Mul, true) => accumulate_rows::<T, false>(&bc, gy, av, bv, ga, |g, _, y| g * y),
            (BinaryKind::Div, false) => accumulate_rows::<T, true>(&bc, gy, av, bv, ga, |g, _, y| g / y),
            (BinaryKind::Div, true) => accumulate_rows::<T, false>(&bc, gy, av, bv, ga, |g, _, y| g / y),
        }
    }
    // gb: summed over the broadcast positions, in index order.
    if sa == sb {
        let (values, gy, gb) = ctx.parts_for_write(b);
        if let Some(Dest { buf: gb, fresh }) = gb {
            let (av, bv) = (&values[a.index()][..a_len], &values[b.index()][..b_len]);
            let div = |g: T, x: T, y: T| -g * x / (y * y);
            match (kind, fresh) {
                (BinaryKind::Add, _) => add_signed(T::one(), gy, gb, fresh),
                (BinaryKind::Sub, _) => add_signed(-T::one(), gy, gb, fresh),
                (BinaryKind::Mul, false) => accumulate_rows::<T, true>(&bc, gy, bv, av, gb, |g, _, x| g * x),
                (BinaryKind::Mul, true) => accumulate_rows::<T, false>(&bc, gy, bv, av, gb, |g, _, x| g * x),
                (BinaryKind::Div, false) => accumulate_rows::<T, true>(&bc, gy, av, bv, gb, div),
                (BinaryKind::Div, true) => accumulate_rows::<T, false>(&bc, gy, av, bv, gb, div),
            }
        }
        return;
    }
    let (values, gy, gb) = ctx.parts_for(b);
    if let Some(gb) = gb {
        let (av, bv) = (&values[a.index()][..a_len], &values[b.index()][..b_len]);
        if bc.row_step == 0 && bc.col_step == 1 && sa.cols == sb.cols {
            // A bias row: column sums, each over the rows in order, as below.
            let n = sa.cols.max(1);
            for (grow, arow) in gy.chunks_exact(n).zip(av.chunks_exact(n)) {
                let gb = gb.iter_mut().zip(grow).zip(arow).zip(bv);
                match kind {
                    BinaryKind::Add => gb.for_each(|(((o, &g), _), _)| *o = *o + g),
                    BinaryKind::Sub => gb.for_each(|(((o, &g), _), _)| *o = *o - g),
                    BinaryKind::Mul => gb.for_each(|(((o, &g), &x), _)| *o = *o + g * x),
                    BinaryKind::Div => gb.for_each(|(((o, &g), &x), &y)| *o = *o + -g * x / (y * y)),
                }
            }
            return;
        }
        for (idx, &gi) in gy.iter().enumerate() {
            let bj = bc.index(idx);
            let d = match kind {
                BinaryKind::Add => gi,
                BinaryKind::Sub => -gi,
                BinaryKind::Mul => gi * av[idx],
                BinaryKind::Div => -gi * av[idx] / (bv[bj] * bv[bj]),
            };
            gb[bj] = gb[bj] + d;
        }
    }
}

pub(crate) fn backward_affine<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId, scale: f64) {
    let s = T::c(scale);
    let (_, gy, gx) = ctx.parts_for(x);
    if let Some(gx) = gx {
        T::axpy(s, gy, gx);
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::testing::{config, dim, values, verify};
    use crate::shape::Shape;
    use crate::tape::{NodeId, Tape};
    use proptest::prelude::*;

    type Binary = fn(&mut Tape<f64>, NodeId, NodeId) -> crate::Result<NodeId>;

    const OPS: [(&str, Binary); 4] =
        [("add", Tape::add), ("sub", Tape::sub), ("mul", Tape::mul), ("div", Tape::div)];

    /// `b`'s shape for broadcast form `form` over an `m × n` operand:
    /// the same shape, a row, a column, a scalar.
    fn b_shape(form: usize, m: usize, n: usize) -> Shape {
        [Shape::new(m, n), Shape::new(1, n), Shape::new(m, 1), Shape::SCALAR][form]
    }

    proptest! {
        #![proptest_config(config())]

        /// Every binary op in every broadcast form, gradients wrt both operands
        /// (the broadcast operand's gradient sums over the positions it covers).
        #[test]
        fn binary_gradients_in_every_broadcast_form(
            (m, n) in (dim(), dim()),
            a in values(81, -2.0, 2.0),
            // Divisors positive and at least 0.5 away from 0.
            b in values(81, 0.5, 2.0),
        ) {
            for form in 0..4 {
                let (sa, sb) = (Shape::new(m, n), b_shape(form, m, n));
                for (name, op) in OPS {
                    let inputs = [(sa, a[..sa.len()].to_vec()), (sb, b[..sb.len()].to_vec())];
                    verify(&format!("{name} {sa} ∘ {sb}"), &inputs, |t, x| op(t, x[0], x[1]))?;
                }
            }
        }

        #[test]
        fn affine_scale_add_scalar_gradients(
            (m, n) in (dim(), dim()),
            x in values(81, -3.0, 3.0),
            s in -2.5f64..2.5,
            c in -2.5f64..2.5,
        ) {
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            verify("affine", &inputs, |t, x| t.affine(x[0], s, c))?;
            verify("scale", &inputs, |t, x| t.scale(x[0], s))?;
            verify("add_scalar", &inputs, |t, x| t.add_scalar(x[0], c))?;
        }
    }

    /// The checker only proves backward consistent with forward; this pins the
    /// forward broadcast itself.
    #[test]
    fn broadcast_forward_pairs_the_right_elements() {
        let mut t = Tape::<f64>::new();
        let a = t.input(Shape::new(2, 3), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let row = t.input(Shape::new(1, 3), &[10.0, 20.0, 30.0]).unwrap();
        let col = t.input(Shape::new(2, 1), &[100.0, 200.0]).unwrap();
        let s = t.input(Shape::SCALAR, &[2.0]).unwrap();
        let y = t.add(a, row).unwrap();
        assert_eq!(t.value(y), &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        let y = t.sub(a, col).unwrap();
        assert_eq!(t.value(y), &[-99.0, -98.0, -97.0, -196.0, -195.0, -194.0]);
        let y = t.div(a, s).unwrap();
        assert_eq!(t.value(y), &[0.5, 1.0, 1.5, 2.0, 2.5, 3.0]);
        let y = t.affine(a, -1.0, 0.5).unwrap();
        assert_eq!(t.value(y), &[-0.5, -1.5, -2.5, -3.5, -4.5, -5.5]);
    }

    #[test]
    fn incompatible_broadcast_is_an_error_naming_the_op_and_shapes() {
        let mut t = Tape::<f64>::new();
        let a = t.input(Shape::new(2, 3), &[0.0; 6]).unwrap();
        let b = t.input(Shape::new(3, 1), &[0.0; 3]).unwrap();
        for (name, op) in OPS {
            let msg = op(&mut t, a, b).unwrap_err().to_string();
            assert_eq!(msg, format!("{name}: shape mismatch: [2, 3] vs [3, 1]"));
        }
        // Only the right operand broadcasts.
        let msg = t.mul(b, a).unwrap_err().to_string();
        assert_eq!(msg, "mul: shape mismatch: [3, 1] vs [2, 3]");
    }
}

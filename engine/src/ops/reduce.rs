//! Sums and means, over everything or one axis. The gradient of a sum is the
//! output gradient broadcast back over the reduced positions (divided by the
//! count for a mean).
use crate::error::Result;
use crate::kernels::reduce;
use crate::real::Real;
use crate::shape::{Axis, Shape};
use crate::tape::{Backward, Dest, NodeId, Op, Tape};

impl<T: Real> Tape<T> {
    /// Sum of every element, 1 × 1.
    pub fn sum(&mut self, x: NodeId) -> Result<NodeId> {
        self.reduce(x, None, false)
    }

    /// Mean of every element, 1 × 1.
    pub fn mean(&mut self, x: NodeId) -> Result<NodeId> {
        self.reduce(x, None, true)
    }

    pub fn sum_axis(&mut self, x: NodeId, axis: Axis) -> Result<NodeId> {
        self.reduce(x, Some(axis), false)
    }

    pub fn mean_axis(&mut self, x: NodeId, axis: Axis) -> Result<NodeId> {
        self.reduce(x, Some(axis), true)
    }

    fn reduce(&mut self, x: NodeId, axis: Option<Axis>, mean: bool) -> Result<NodeId> {
        let op = Op::Reduce { x, axis, mean };
        self.check_id(op.name(), x)?;
        let s = self.shape(x);
        let (out_shape, count) = match axis {
            None => (Shape::SCALAR, s.len()),
            Some(Axis::Rows) => (Shape::new(1, s.cols), s.rows),
            Some(Axis::Cols) => (Shape::new(s.rows, 1), s.cols),
        };
        let rg = self.any_grad(&[x]);
        let inv = if count == 0 { T::zero() } else { T::one() / T::c(count as f64) };
        Ok(self.record(op, out_shape, rg, |v, _, out| {
            let xv = &v[x.index()][..s.len()];
            match axis {
                None => out[0] = T::sum_slice(xv),
                Some(Axis::Rows) => reduce::sum_axis0(s.cols, xv, out),
                Some(Axis::Cols) => reduce::sum_axis1(s.cols, xv, out),
            }
            if mean {
                out.iter_mut().for_each(|o| *o = *o * inv);
            }
        }))
    }
}

pub(crate) fn backward<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId, axis: Option<Axis>, mean: bool) {
    let s = ctx.shape(x);
    let count = match axis {
        None => s.len(),
        Some(Axis::Rows) => s.rows,
        Some(Axis::Cols) => s.cols,
    };
    let scale = if mean && count > 0 { T::one() / T::c(count as f64) } else { T::one() };
    let (_, gy, gx) = ctx.parts_for_write(x);
    match gx {
        Some(Dest { buf: gx, fresh: false }) => spread::<T, true>(gx, gy, s, axis, scale),
        Some(Dest { buf: gx, fresh: true }) => spread::<T, false>(gx, gy, s, axis, scale),
        None => {}
    }
}

/// `gx += gy[src]·scale` for every element (`ACC`), or `gx = 0 + gy[src]·scale`
/// into a gradient that holds nothing yet.
#[inline(always)]
fn spread<T: Real, const ACC: bool>(gx: &mut [T], gy: &[T], s: Shape, axis: Option<Axis>, scale: T) {
    let base = |g: &T| if ACC { *g } else { T::zero() };
    // Row by row rather than an index division per element (most of a batch-norm
    // backward's time once); each element still gets `g + gy[src]·scale`.
    let add = |gs: &mut [T], src: &[T]| gs.iter_mut().zip(src).for_each(|(g, &d)| *g = base(g) + d * scale);
    match axis {
        None => gx.iter_mut().for_each(|g| *g = base(g) + gy[0] * scale),
        Some(_) if s.cols == 0 => {}
        Some(Axis::Rows) => gx.chunks_exact_mut(s.cols).for_each(|row| add(row, &gy[..s.cols])),
        Some(Axis::Cols) => {
            for (row, &d) in gx.chunks_exact_mut(s.cols).zip(gy) {
                row.iter_mut().for_each(|g| *g = base(g) + d * scale);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::testing::{config, dim, values, verify};
    use crate::shape::{Axis, Shape};
    use crate::tape::Tape;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        /// Sum and mean over everything, over the rows and over the columns.
        #[test]
        fn sum_and_mean_gradients((m, n) in (dim(), dim()), x in values(81, -3.0, 3.0)) {
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            verify("sum", &inputs, |t, x| t.sum(x[0]))?;
            verify("mean", &inputs, |t, x| t.mean(x[0]))?;
            for axis in [Axis::Rows, Axis::Cols] {
                verify(&format!("sum_axis({axis:?})"), &inputs, |t, x| t.sum_axis(x[0], axis))?;
                verify(&format!("mean_axis({axis:?})"), &inputs, |t, x| t.mean_axis(x[0], axis))?;
            }
        }
    }

    #[test]
    fn axis_reductions_have_numpy_shapes_and_values() {
        let mut t = Tape::<f64>::new();
        let x = t.input(Shape::new(2, 3), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let rows = t.sum_axis(x, Axis::Rows).unwrap();
        assert_eq!((t.shape(rows), t.value(rows)), (Shape::new(1, 3), &[5.0, 7.0, 9.0][..]));
        let cols = t.mean_axis(x, Axis::Cols).unwrap();
        assert_eq!((t.shape(cols), t.value(cols)), (Shape::new(2, 1), &[2.0, 5.0][..]));
        let all = t.mean(x).unwrap();
        assert_eq!(t.scalar(all), 3.5);
    }
}

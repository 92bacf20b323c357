//! Layout ops: reshape (same data, gx += g), transpose (gx = gᵀ), column
//! concat (each part gets its block of g) and column slice (g lands in its
//! block of gx). The recurrent cells and normalisation layers are built on them.
use crate::error::{Error, Result};
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{Backward, NodeId, Op, Tape, Values};

impl<T: Real> Tape<T> {
    pub fn reshape(&mut self, x: NodeId, shape: Shape) -> Result<NodeId> {
        self.check_id("reshape", x)?;
        let s = self.shape(x);
        if s.len() != shape.len() {
            return Err(Error::ShapeMismatch { op: "reshape", lhs: s, rhs: shape });
        }
        let rg = self.any_grad(&[x]);
        Ok(self
            .record(Op::Reshape { x }, shape, rg, |v, _, out| out.copy_from_slice(&v[x.index()][..s.len()])))
    }

    pub fn transpose(&mut self, x: NodeId) -> Result<NodeId> {
        self.check_id("transpose", x)?;
        let s = self.shape(x);
        let rg = self.any_grad(&[x]);
        Ok(self.record(Op::Transpose { x }, s.transposed(), rg, |v, _, out| {
            let xv = &v[x.index()];
            for i in 0..s.rows {
                for j in 0..s.cols {
                    out[j * s.rows + i] = xv[i * s.cols + j];
                }
            }
        }))
    }

    /// Parts side by side along the feature axis; all must have the same rows.
    pub fn concat_cols(&mut self, parts: &[NodeId]) -> Result<NodeId> {
        let Some(&first) = parts.first() else {
            return Err(Error::invalid("concat", "needs at least one part"));
        };
        for &p in parts {
            self.check_id("concat", p)?;
        }
        let rows = self.shape(first).rows;
        let mut cols = 0;
        for &p in parts {
            let s = self.shape(p);
            if s.rows != rows {
                return Err(Error::ShapeMismatch { op: "concat", lhs: self.shape(first), rhs: s });
            }
            cols += s.cols;
        }
        let start = self.parts.len();
        self.parts.extend_from_slice(parts);
        let rg = self.any_grad(parts);
        let op = Op::Concat { start: start as u32, count: parts.len() as u32 };
        let id = self.record(op, Shape::new(rows, cols), rg, |_, _, _| {});
        // Filled after recording: the part list lives on the tape, beside the values.
        let (prev, rest) = self.values.split_at_mut(id.index());
        // Parts are read through the view: a parameter leaf's value is in the store.
        let prev = Values { nodes: &self.nodes, bufs: prev, params: &self.params };
        let out = &mut rest[0];
        let mut offset = 0;
        for p in &self.parts[start..] {
            let pc = self.nodes[p.index()].shape.cols;
            let pv = &prev[p.index()];
            for i in 0..rows {
                out[i * cols + offset..i * cols + offset + pc].copy_from_slice(&pv[i * pc..(i + 1) * pc]);
            }
            offset += pc;
        }
        Ok(id)
    }

    /// Columns `start..start + len` of `x`.
    pub fn slice_cols(&mut self, x: NodeId, start: usize, len: usize) -> Result<NodeId> {
        self.check_id("slice", x)?;
        let s = self.shape(x);
        if start.checked_add(len).is_none_or(|end| end > s.cols) {
            return Err(Error::invalid(
                "slice",
                format!("columns {start}..{} of {s}", start.saturating_add(len)),
            ));
        }
        let rg = self.any_grad(&[x]);
        Ok(self.record(Op::Slice { x, start }, Shape::new(s.rows, len), rg, |v, _, out| {
            let xv = &v[x.index()];
            for i in 0..s.rows {
                out[i * len..(i + 1) * len]
                    .copy_from_slice(&xv[i * s.cols + start..i * s.cols + start + len]);
            }
        }))
    }
}

pub(crate) fn backward_reshape<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId) {
    let (_, gy, gx) = ctx.parts_for(x);
    if let Some(gx) = gx {
        T::axpy(T::one(), gy, gx);
    }
}

pub(crate) fn backward_transpose<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId) {
    let s = ctx.shape(x);
    let (_, gy, gx) = ctx.parts_for(x);
    let Some(gx) = gx else { return };
    for i in 0..s.rows {
        for j in 0..s.cols {
            gx[i * s.cols + j] = gx[i * s.cols + j] + gy[j * s.rows + i];
        }
    }
}

pub(crate) fn backward_concat<T: Real>(ctx: &mut Backward<'_, T>, start: u32, count: u32) {
    let out = ctx.out_shape();
    let (rows, cols) = (out.rows, out.cols);
    let mut offset = 0;
    for k in 0..count as usize {
        let p = ctx.parts[start as usize + k];
        let pc = ctx.shape(p).cols;
        let (_, gy, gp) = ctx.parts_for(p);
        if let Some(gp) = gp {
            for i in 0..rows {
                let src = &gy[i * cols + offset..i * cols + offset + pc];
                for (g, &s) in gp[i * pc..(i + 1) * pc].iter_mut().zip(src) {
                    *g = *g + s;
                }
            }
        }
        offset += pc;
    }
}

pub(crate) fn backward_slice<T: Real>(ctx: &mut Backward<'_, T>, x: NodeId, start: usize) {
    let s = ctx.shape(x);
    let len = ctx.out_shape().cols;
    let (_, gy, gx) = ctx.parts_for(x);
    let Some(gx) = gx else { return };
    for i in 0..s.rows {
        let dst = &mut gx[i * s.cols + start..i * s.cols + start + len];
        for (g, &v) in dst.iter_mut().zip(&gy[i * len..(i + 1) * len]) {
            *g = *g + v;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::testing::{config, dim, values, verify};
    use crate::shape::Shape;
    use crate::tape::Tape;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn reshape_and_transpose_gradients(
            (m, n) in (dim(), dim()),
            x in values(81, -3.0, 3.0),
        ) {
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            for to in [Shape::new(n, m), Shape::new(1, m * n), Shape::new(m * n, 1)] {
                verify(&format!("reshape to {to}"), &inputs, |t, x| t.reshape(x[0], to))?;
            }
            verify("transpose", &inputs, |t, x| t.transpose(x[0]))?;
            // Through a product, so the layout of the gradient matters, not only its values.
            let w: Vec<f64> = (0..m * 2).map(|i| 0.3 * i as f64 - 1.0).collect();
            verify("transpose·w", &inputs, |t, x| {
                let w = t.input(Shape::new(m, 2), &w)?;
                let xt = t.transpose(x[0])?;
                t.matmul(xt, w)
            })?;
        }

        /// Two or three parts of different widths; the same node may appear twice.
        #[test]
        fn concat_cols_gradients(
            m in dim(),
            widths in proptest::collection::vec(dim(), 2..=3),
            x in values(3 * 81, -3.0, 3.0),
            repeat in any::<bool>(),
        ) {
            let mut offset = 0;
            let inputs: Vec<(Shape, Vec<f64>)> = widths.iter().map(|&w| {
                let part = (Shape::new(m, w), x[offset..offset + m * w].to_vec());
                offset += m * w;
                part
            }).collect();
            let name = format!("concat_cols {widths:?} repeat={repeat}");
            verify(&name, &inputs, |t, x| {
                let mut parts = x.to_vec();
                if repeat {
                    parts.push(x[0]);
                }
                t.concat_cols(&parts)
            })?;
        }

        #[test]
        fn slice_cols_gradients(
            (m, n) in (dim(), dim()),
            start_frac in 0.0f64..1.0,
            len_frac in 0.0f64..1.0,
            x in values(81, -3.0, 3.0),
        ) {
            let start = ((n as f64 * start_frac) as usize).min(n - 1);
            let len = 1 + ((n - start - 1) as f64 * len_frac) as usize;
            let inputs = [(Shape::new(m, n), x[..m * n].to_vec())];
            verify(&format!("slice_cols {start}..{}", start + len), &inputs, |t, x| {
                t.slice_cols(x[0], start, len)
            })?;
        }
    }

    #[test]
    fn concat_then_slice_round_trips() {
        let mut t = Tape::<f64>::new();
        let a = t.input(Shape::new(2, 1), &[1.0, 2.0]).unwrap();
        let b = t.input(Shape::new(2, 2), &[3.0, 4.0, 5.0, 6.0]).unwrap();
        let c = t.concat_cols(&[a, b]).unwrap();
        assert_eq!(t.value(c), &[1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
        let s = t.slice_cols(c, 1, 2).unwrap();
        assert_eq!(t.value(s), t.value(b));
        let tr = t.transpose(c).unwrap();
        assert_eq!((t.shape(tr), t.value(tr)), (Shape::new(3, 2), &[1.0, 2.0, 3.0, 5.0, 4.0, 6.0][..]));
    }

    #[test]
    fn layout_errors_name_the_op() {
        let mut t = Tape::<f64>::new();
        let a = t.input(Shape::new(2, 3), &[0.0; 6]).unwrap();
        let b = t.input(Shape::new(3, 3), &[0.0; 9]).unwrap();
        let msg = t.reshape(a, Shape::new(4, 2)).unwrap_err().to_string();
        assert_eq!(msg, "reshape: shape mismatch: [2, 3] vs [4, 2]");
        let msg = t.concat_cols(&[a, b]).unwrap_err().to_string();
        assert_eq!(msg, "concat: shape mismatch: [2, 3] vs [3, 3]");
        assert!(t.concat_cols(&[]).unwrap_err().to_string().starts_with("concat:"));
        let msg = t.slice_cols(a, 2, 2).unwrap_err().to_string();
        assert_eq!(msg, "slice: columns 2..4 of [2, 3]");
        assert!(t.slice_cols(a, usize::MAX, 2).is_err());
        assert_eq!(t.len(), 2);
    }
}

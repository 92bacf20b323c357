//! The backward sweep: seed the output's gradient, then walk the nodes in
//! reverse creation order and let each op's rule accumulate (`+=`) into its
//! inputs' gradients, so a value used twice receives both contributions.
//! Gradient buffers are not zeroed before the sweep: a node's first
//! contribution may be written instead of added ([`Backward::parts_for_write`]:
//! a matmul's product overwrites, an activation writes `0 + f'(x)·g`), and a
//! rule that only adds finds its input's buffer zeroed on first access. So
//! only the gradients nobody writes are ever zero-filled, and the results are
//! bit for bit those of zeroing everything first.
//! A bound parameter's gradient buffer is lent to the sweep from the store
//! (a swap of two `Vec`s, no copy), so its gradient lands in the store.
use super::{NodeId, Op, Tape, Values};
use crate::error::{Error, Result};
use crate::kernels::elementwise::all_finite;
use crate::ops;
use crate::real::Real;
use crate::shape::Shape;

use super::op::Node;

/// What one node's backward rule sees: every value, the gradient of its own
/// output, and mutable gradients of all earlier nodes (its inputs among them).
pub struct Backward<'a, T: Real> {
    pub(crate) nodes: &'a [Node],
    pub(crate) values: Values<'a, T>,
    pub(crate) labels: &'a [usize],
    pub(crate) parts: &'a [NodeId],
    pub(crate) grads: &'a mut [Vec<T>],
    /// Whether each earlier node's gradient holds values yet (see the module doc).
    pub(crate) written: &'a mut [bool],
    /// The node being differentiated.
    pub(crate) out: usize,
    pub(crate) gy: &'a mut [T],
}

/// An input's gradient as [`Backward::parts_for_write`] lends it: `fresh`
/// when nothing was added to `buf` yet (the rule writes it whole).
pub(crate) struct Dest<'g, T> {
    pub buf: &'g mut [T],
    pub fresh: bool,
}

impl<T: Real> Backward<'_, T> {
    pub fn value(&self, id: NodeId) -> &[T] {
        &self.values[id.index()][..self.nodes[id.index()].shape.len()]
    }

    pub fn out_value(&self) -> &[T] {
        &self.values[self.out][..self.nodes[self.out].shape.len()]
    }

    pub fn shape(&self, id: NodeId) -> Shape {
        self.nodes[id.index()].shape
    }

    pub fn out_shape(&self) -> Shape {
        self.nodes[self.out].shape
    }

    pub fn gy(&self) -> &[T] {
        &self.gy[..self.nodes[self.out].shape.len()]
    }

    /// Whole value buffers (outputs and the extra values after them) and the
    /// node's whole gradient buffer, writable.
    pub(crate) fn raw(&mut self) -> (Values<'_, T>, &mut [T]) {
        (self.values, self.gy)
    }

    /// Makes an input's gradient ready to add into: zeroed (with its carried
    /// slots) unless an earlier rule has written it. Call it before reaching
    /// into `grads` directly; only for an input that requires a gradient.
    pub(crate) fn touch(&mut self, id: NodeId) {
        let i = id.index();
        if !self.written[i] {
            let zeroed = self.nodes[i].grad_zeroed();
            self.grads[i][..zeroed].fill(T::zero());
            self.written[i] = true;
        }
    }

    /// The gradient buffer of an input, ready to add into, or `None` when it
    /// needs none.
    pub fn grad_mut(&mut self, id: NodeId) -> Option<&mut [T]> {
        let i = id.index();
        let n = self.nodes[i].shape.len();
        if !self.nodes[i].requires_grad {
            return None;
        }
        self.touch(id);
        Some(&mut self.grads[i][..n])
    }

    /// Splits into the pieces a rule needs at once: values, the output
    /// gradient, and one input's mutable gradient, ready to add into.
    pub fn parts_for(&mut self, id: NodeId) -> (Values<'_, T>, &[T], Option<&mut [T]>) {
        let i = id.index();
        let n = self.nodes[i].shape.len();
        let g = if self.nodes[i].requires_grad {
            self.touch(id);
            Some(&mut self.grads[i][..n])
        } else {
            None
        };
        (self.values, &self.gy[..self.nodes[self.out].shape.len()], g)
    }

    /// [`Backward::parts_for`] for a rule that can write its contribution:
    /// the input's gradient comes with `fresh`, true when nothing was added
    /// to it yet. A fresh buffer holds stale values: the rule must then write
    /// every element, as `0 + contribution` (so that a `−0` contribution
    /// becomes `+0`, as adding it to a zeroed buffer does); otherwise it adds.
    pub(crate) fn parts_for_write(&mut self, id: NodeId) -> (Values<'_, T>, &[T], Option<Dest<'_, T>>) {
        let i = id.index();
        let node = self.nodes[i];
        let n = node.shape.len();
        let g = if node.requires_grad {
            let fresh = !self.written[i];
            if fresh {
                // Carried slots are added into by other rules: they start at zero.
                self.grads[i][n..node.grad_zeroed()].fill(T::zero());
                self.written[i] = true;
            }
            Some(Dest { buf: &mut self.grads[i][..n], fresh })
        } else {
            None
        };
        (self.values, &self.gy[..self.nodes[self.out].shape.len()], g)
    }
}

impl<T: Real> Tape<T> {
    /// Reverse-mode sweep from a scalar (1 × 1) node, seeded with 1.
    pub fn backward(&mut self, loss: NodeId) -> Result<()> {
        self.check_id("backward", loss)?;
        let shape = self.shape(loss);
        if shape != Shape::SCALAR {
            return Err(Error::ShapeMismatch { op: "backward", lhs: shape, rhs: Shape::SCALAR });
        }
        self.backward_with_seed(loss, &[T::one()])
    }

    /// Reverse-mode sweep from any node with an explicit seed `dL/d(out)`:
    /// one row of a Jacobian per unit seed.
    pub fn backward_with_seed(&mut self, out: NodeId, seed: &[T]) -> Result<()> {
        self.check_id("backward", out)?;
        let shape = self.shape(out);
        if seed.len() != shape.len() {
            return Err(Error::invalid(
                "backward",
                format!("seed has {} values, output {shape} has {}", seed.len(), shape.len()),
            ));
        }
        let last = out.index();
        while self.grads.len() <= last {
            self.grads.push(Vec::new());
        }
        self.lend_param_grads(last);
        for (node, g) in self.nodes[..=last].iter().zip(&mut self.grads) {
            if node.requires_grad {
                // Sized only: the output's gradient and the carried slots are
                // written or zeroed on first use, a rule's scratch is overwritten.
                let len = node.grad_len();
                if g.len() < len {
                    g.resize(len, T::zero());
                } else {
                    g.truncate(len);
                }
            } else {
                g.clear();
            }
        }
        self.written.clear();
        self.written.resize(last + 1, false);
        let seeded = &mut self.grads[last];
        if self.nodes[last].requires_grad {
            seeded[shape.len()..self.nodes[last].grad_zeroed()].fill(T::zero());
        } else {
            // Nothing upstream needs a gradient; only the seed is meaningful.
            seeded.resize(shape.len(), T::zero());
        }
        seeded[..shape.len()].copy_from_slice(seed);
        self.written[last] = true;
        self.grad_finite.clear();
        self.grad_finite.resize(self.params.len(), true);
        for i in (0..=last).rev() {
            let node = self.nodes[i];
            if !node.requires_grad {
                continue;
            }
            if matches!(node.op, Op::Leaf) {
                // Every consumer of the leaf comes after it: its gradient is
                // final here, and still in cache from the rule that wrote it.
                if let (Some(p), true) = (node.param, self.written[i]) {
                    self.grad_finite[p as usize] = all_finite(&self.grads[i][..node.shape.len()]);
                }
                continue;
            }
            let (lower, upper) = self.grads.split_at_mut(i);
            let (written, own) = self.written.split_at_mut(i);
            if !own[0] {
                // Nothing reached this node: its gradient is zero.
                upper[0][..node.grad_zeroed()].fill(T::zero());
                own[0] = true;
            }
            let mut ctx = Backward {
                nodes: &self.nodes,
                values: Values { nodes: &self.nodes, bufs: &self.values, params: &self.params },
                labels: &self.labels,
                parts: &self.parts,
                grads: lower,
                written,
                out: i,
                gy: &mut upper[0],
            };
            ops::backward(node.op, &mut ctx);
        }
        // Leaves (parameters among them) that no rule reached get zero.
        for ((node, g), written) in self.nodes[..=last].iter().zip(&mut self.grads).zip(&self.written) {
            if node.requires_grad && !written {
                g[..node.grad_zeroed()].fill(T::zero());
            }
        }
        self.lend_param_grads(last);
        for (p, node) in self.params.bindings_mut() {
            if node.is_none_or(|n| n.index() > last) {
                p.grad.fill(T::zero());
            }
        }
        self.grads_valid = last + 1;
        Ok(())
    }

    /// Whether each parameter's gradient (in store order) was all finite
    /// when the last backward pass left it: the check a training step makes
    /// before its update, done by the sweep while each gradient was in cache.
    /// Valid until the gradients are changed (clipping, a new pass).
    pub(crate) fn param_grads_finite(&self) -> &[bool] {
        &self.grad_finite
    }

    /// Swaps the store's gradient buffer of every parameter bound at or
    /// before node `last` with that leaf's slot in `grads`: before the sweep
    /// it lends the buffers to the sweep, after it gives them back.
    fn lend_param_grads(&mut self, last: usize) {
        for (p, node) in self.params.bindings_mut() {
            if let Some(n) = node.filter(|n| n.index() <= last) {
                std::mem::swap(&mut p.grad, &mut self.grads[n.index()]);
            }
        }
    }
}

//! The backward sweep: seed the output's gradient, then walk the nodes in
//! reverse creation order and let each op's rule accumulate (`+=`) into its
//! inputs' gradients, so a value used twice receives both contributions.
//! A bound parameter's gradient buffer is lent to the sweep from the store
//! (a swap of two `Vec`s, no copy), so its gradient lands in the store.
use super::{NodeId, Op, Tape, Values};
use crate::error::{Error, Result};
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
    /// The node being differentiated.
    pub(crate) out: usize,
    pub(crate) gy: &'a mut [T],
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

    /// The gradient buffer of an input, or `None` when it needs none.
    pub fn grad_mut(&mut self, id: NodeId) -> Option<&mut [T]> {
        let i = id.index();
        let n = self.nodes[i].shape.len();
        if self.nodes[i].requires_grad { Some(&mut self.grads[i][..n]) } else { None }
    }

    /// Splits into the pieces a rule needs at once: values, the output
    /// gradient, and one input's mutable gradient.
    pub fn parts_for(&mut self, id: NodeId) -> (Values<'_, T>, &[T], Option<&mut [T]>) {
        let i = id.index();
        let n = self.nodes[i].shape.len();
        let g = if self.nodes[i].requires_grad { Some(&mut self.grads[i][..n]) } else { None };
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
                // Rules accumulate into the output's gradient and the carried
                // slots, which start at zero; a rule's scratch is overwritten.
                let (zeroed, len) = (node.grad_zeroed(), node.grad_len());
                if g.len() < len {
                    g.resize(len, T::zero());
                } else {
                    g.truncate(len);
                }
                g[..zeroed].fill(T::zero());
            } else {
                g.clear();
            }
        }
        if !self.nodes[last].requires_grad {
            // Nothing upstream needs a gradient; only the seed is meaningful.
            self.grads[last].resize(shape.len(), T::zero());
        }
        self.grads[last][..shape.len()].copy_from_slice(seed);
        for i in (0..=last).rev() {
            let node = self.nodes[i];
            if !node.requires_grad || matches!(node.op, Op::Leaf) {
                continue;
            }
            let (lower, upper) = self.grads.split_at_mut(i);
            let mut ctx = Backward {
                nodes: &self.nodes,
                values: Values { nodes: &self.nodes, bufs: &self.values, params: &self.params },
                labels: &self.labels,
                parts: &self.parts,
                grads: lower,
                out: i,
                gy: &mut upper[0],
            };
            ops::backward(node.op, &mut ctx);
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

//! The tape: an append-only arena of nodes (a Wengert list) addressed by a
//! `Copy` id. Creation order is topological, so backward is a reverse loop.
//! Value and gradient buffers are pooled by position and kept across
//! [`Tape::clear`], so a training step that records the same graph again
//! allocates nothing.
mod backward;
pub mod op;

pub use backward::Backward;
pub use op::{BinaryKind, CellKind, Op, UnaryKind};

use crate::error::{Error, Result};
use crate::real::Real;
use crate::shape::Shape;
use op::Node;

/// What a node stores beyond its output: `values` kept after it for its own
/// backward rule (a cell's gates; readers of the node see only the output),
/// and gradient slots (see [`Node`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Extra {
    pub values: usize,
    pub grad_carry: usize,
    pub grad_scratch: usize,
}

/// Index of a node on its tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

pub struct Tape<T: Real> {
    pub(crate) nodes: Vec<Node>,
    /// Pooled by position: `values[i]` is node `i`'s value while `i < nodes.len()`.
    pub(crate) values: Vec<Vec<T>>,
    pub(crate) grads: Vec<Vec<T>>,
    /// Integer labels of sparse cross-entropy nodes.
    pub(crate) labels: Vec<usize>,
    /// Operand lists of variadic ops (concat).
    pub(crate) parts: Vec<NodeId>,
    /// Gradients are valid for nodes `< grads_valid` after a backward pass.
    grads_valid: usize,
}

impl<T: Real> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> Tape<T> {
    pub fn new() -> Self {
        Tape {
            nodes: Vec::new(),
            values: Vec::new(),
            grads: Vec::new(),
            labels: Vec::new(),
            parts: Vec::new(),
            grads_valid: 0,
        }
    }

    /// Forgets every node but keeps every buffer's capacity.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.labels.clear();
        self.parts.clear();
        self.grads_valid = 0;
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A leaf holding a copy of `data`; `requires_grad` decides whether the
    /// backward pass computes its gradient.
    pub fn leaf(&mut self, shape: Shape, data: &[T], requires_grad: bool) -> Result<NodeId> {
        if data.len() != shape.len() {
            return Err(Error::invalid(
                "leaf",
                format!("shape {shape} needs {} values, got {}", shape.len(), data.len()),
            ));
        }
        Ok(self.record(Op::Leaf, shape, requires_grad, |_, _, out| out.copy_from_slice(data)))
    }

    /// A constant input (no gradient).
    pub fn input(&mut self, shape: Shape, data: &[T]) -> Result<NodeId> {
        self.leaf(shape, data, false)
    }

    /// A trainable value (gradient computed).
    pub fn param(&mut self, shape: Shape, data: &[T]) -> Result<NodeId> {
        self.leaf(shape, data, true)
    }

    pub fn shape(&self, id: NodeId) -> Shape {
        self.nodes[id.index()].shape
    }

    pub fn op(&self, id: NodeId) -> Op {
        self.nodes[id.index()].op
    }

    pub fn value(&self, id: NodeId) -> &[T] {
        &self.values[id.index()][..self.nodes[id.index()].shape.len()]
    }

    /// The value of a 1 × 1 node.
    pub fn scalar(&self, id: NodeId) -> T {
        self.value(id)[0]
    }

    pub fn requires_grad(&self, id: NodeId) -> bool {
        self.nodes[id.index()].requires_grad
    }

    /// `dL/d(node)` after [`Tape::backward`], for any node that requires a
    /// gradient and was recorded before the node backward started from:
    /// parameters and intermediate values alike.
    pub fn grad(&self, id: NodeId) -> Option<&[T]> {
        let i = id.index();
        let n = self.nodes.get(i)?.shape.len();
        (i < self.grads_valid && self.nodes[i].requires_grad).then(|| &self.grads[i][..n])
    }

    pub(crate) fn any_grad(&self, ids: &[NodeId]) -> bool {
        ids.iter().any(|&i| self.nodes[i.index()].requires_grad)
    }

    /// Appends a node and computes its value in place: `compute` sees the
    /// values of every earlier node, the labels, and the fresh output buffer
    /// (zero-filled, `shape.len()` long).
    pub(crate) fn record(
        &mut self,
        op: Op,
        shape: Shape,
        requires_grad: bool,
        compute: impl FnOnce(&[Vec<T>], &[usize], &mut [T]),
    ) -> NodeId {
        self.record_with(op, shape, Extra::default(), requires_grad, compute)
    }

    /// [`Tape::record`] for an op that keeps `extra.values` more values after
    /// its output (`out` is that much longer) and has gradient slots beyond
    /// its output's (see [`Node`]).
    pub(crate) fn record_with(
        &mut self,
        op: Op,
        shape: Shape,
        extra: Extra,
        requires_grad: bool,
        compute: impl FnOnce(&[Vec<T>], &[usize], &mut [T]),
    ) -> NodeId {
        let id = self.nodes.len();
        if self.values.len() == id {
            self.values.push(Vec::new());
        }
        let (prev, rest) = self.values.split_at_mut(id);
        let out = &mut rest[0];
        out.clear();
        out.resize(shape.len() + extra.values, T::zero());
        compute(prev, &self.labels, out);
        let u = |n: usize| u32::try_from(n).expect("a node's extra slots fit in u32");
        self.nodes.push(Node {
            op,
            shape,
            requires_grad,
            grad_carry: u(extra.grad_carry),
            grad_scratch: u(extra.grad_scratch),
        });
        self.grads_valid = self.grads_valid.min(id);
        NodeId(u32::try_from(id).expect("tape holds fewer than 2^32 nodes"))
    }

    pub(crate) fn check_id(&self, op: &'static str, id: NodeId) -> Result<()> {
        if id.index() < self.nodes.len() {
            Ok(())
        } else {
            Err(Error::invalid(op, format!("node {} is not on this tape", id.index())))
        }
    }
}

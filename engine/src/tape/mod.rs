//! The tape: an append-only arena of nodes (a Wengert list) addressed by a
//! `Copy` id. Creation order is topological, so backward is a reverse loop.
//! Value and gradient buffers are pooled by position and kept across
//! [`Tape::clear`], so a training step that records the same graph again
//! allocates nothing. The tape holds the model's [`ParamStore`]: a parameter
//! bound onto it ([`Tape::bind_param`]) is a leaf whose value ops read from
//! the store in place and whose gradient the backward sweep accumulates
//! into the store, so a step copies no weights in and no gradients out.
mod backward;
pub mod op;

pub use backward::Backward;
pub(crate) use backward::Dest;
pub use op::{BinaryKind, CellKind, Op, UnaryKind};

use crate::error::{Error, Result};
use crate::params::{ParamId, ParamStore};
use crate::real::Real;
use crate::shape::Shape;
use op::Node;
use std::ops::Index;

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

/// Node values as ops read them, indexed by node position: a node's whole
/// value buffer (its output, then any extra values it keeps), except that a
/// parameter leaf's is its value in the store.
#[derive(Clone, Copy)]
pub struct Values<'a, T> {
    pub(crate) nodes: &'a [Node],
    pub(crate) bufs: &'a [Vec<T>],
    pub(crate) params: &'a ParamStore<T>,
}

impl<'a, T: Real> Values<'a, T> {
    /// Node `i`'s value buffer, for as long as the view's borrow.
    pub fn get(self, i: usize) -> &'a [T] {
        match self.nodes[i].param {
            Some(p) => &self.params.by_index(p as usize).value,
            None => &self.bufs[i],
        }
    }
}

impl<T: Real> Index<usize> for Values<'_, T> {
    type Output = [T];

    fn index(&self, i: usize) -> &[T] {
        self.get(i)
    }
}

pub struct Tape<T: Real> {
    pub(crate) nodes: Vec<Node>,
    /// Pooled by position: `values[i]` is node `i`'s value while `i < nodes.len()`
    /// (unused for a parameter leaf, whose value is in `params`).
    pub(crate) values: Vec<Vec<T>>,
    /// Pooled like `values`; a parameter leaf's gradient is in `params`.
    pub(crate) grads: Vec<Vec<T>>,
    /// During a backward sweep, whether node `i`'s gradient holds values yet.
    pub(crate) written: Vec<bool>,
    /// After a backward sweep, whether each parameter's gradient is finite.
    grad_finite: Vec<bool>,
    /// Integer labels of sparse cross-entropy nodes.
    pub(crate) labels: Vec<usize>,
    /// Operand lists of variadic ops (concat).
    pub(crate) parts: Vec<NodeId>,
    /// Gradients are valid for nodes `< grads_valid` after a backward pass.
    grads_valid: usize,
    /// The parameters [`Tape::bind_param`] binds, and where each is bound.
    pub(crate) params: ParamStore<T>,
}

impl<T: Real> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> Tape<T> {
    pub fn new() -> Self {
        Self::with_params(ParamStore::new())
    }

    /// A tape holding `params`, for [`Tape::bind_param`].
    pub fn with_params(params: ParamStore<T>) -> Self {
        Tape {
            nodes: Vec::new(),
            values: Vec::new(),
            grads: Vec::new(),
            written: Vec::new(),
            grad_finite: Vec::new(),
            labels: Vec::new(),
            parts: Vec::new(),
            grads_valid: 0,
            params,
        }
    }

    /// The parameter store. After a backward pass each parameter's `grad` is
    /// `dL/dθ` (zero for one not bound, or bound after the node the sweep
    /// started from); a bound parameter's leaf reads `value` and `grad` here,
    /// so after an optimiser step (or clipping) the tape shows the updated
    /// weights (clipped gradients) at that leaf, not the ones of the pass.
    pub fn params(&self) -> &ParamStore<T> {
        &self.params
    }

    /// The parameter store, writable (see [`Tape::params`]); a value's
    /// length must stay its shape's.
    pub fn params_mut(&mut self) -> &mut ParamStore<T> {
        &mut self.params
    }

    /// Forgets every node and every parameter binding but keeps every
    /// buffer's capacity.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.labels.clear();
        self.parts.clear();
        self.params.unbind_all();
        self.grads_valid = 0;
    }

    /// The leaf of a stored parameter in this recording, binding it on first
    /// use so a parameter used many times (shared recurrent weights) is one
    /// leaf whose gradient sums every use. Its value is read from the store,
    /// not copied.
    pub fn bind_param(&mut self, id: ParamId) -> Result<NodeId> {
        if id.index() >= self.params.len() {
            return Err(Error::invalid(
                "bind_param",
                format!("parameter {} is not in this tape's store of {}", id.index(), self.params.len()),
            ));
        }
        if let Some(node) = self.params.node(id) {
            return Ok(node);
        }
        let shape = self.params.get(id).shape;
        let param = u32::try_from(id.index()).expect("fewer than 2^32 parameters");
        let node = self.push_node(Op::Leaf, shape, Extra::default(), true, Some(param));
        self.params.set_node(id, node);
        Ok(node)
    }

    /// Every node's value as ops read it.
    pub(crate) fn values(&self) -> Values<'_, T> {
        Values { nodes: &self.nodes, bufs: &self.values, params: &self.params }
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

    /// A constant input (no gradient) whose `shape.len()` values `fill`
    /// writes in place (all of them: the buffer holds stale values), e.g.
    /// rows gathered from a data set without a staging copy.
    pub(crate) fn input_with(&mut self, shape: Shape, fill: impl FnOnce(&mut [T])) -> NodeId {
        self.record(Op::Leaf, shape, false, |_, _, out| fill(out))
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
        &self.values().get(id.index())[..self.nodes[id.index()].shape.len()]
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
        let node = self.nodes.get(i)?;
        let n = node.shape.len();
        (i < self.grads_valid && node.requires_grad).then(|| match node.param {
            Some(p) => &self.params.by_index(p as usize).grad[..n],
            None => &self.grads[i][..n],
        })
    }

    pub(crate) fn any_grad(&self, ids: &[NodeId]) -> bool {
        ids.iter().any(|&i| self.nodes[i.index()].requires_grad)
    }

    /// Appends a node and computes its value in place: `compute` sees the
    /// values of every earlier node, the labels, and the output buffer
    /// (`shape.len()` long, holding stale values: `compute` must write every
    /// element).
    pub(crate) fn record(
        &mut self,
        op: Op,
        shape: Shape,
        requires_grad: bool,
        compute: impl FnOnce(Values<'_, T>, &[usize], &mut [T]),
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
        compute: impl FnOnce(Values<'_, T>, &[usize], &mut [T]),
    ) -> NodeId {
        let id = self.nodes.len();
        if self.values.len() == id {
            self.values.push(Vec::new());
        }
        let (prev, rest) = self.values.split_at_mut(id);
        let prev = Values { nodes: &self.nodes, bufs: prev, params: &self.params };
        let out = &mut rest[0];
        // The buffer keeps whatever the node at this position held last step:
        // every op writes its whole output, so zeroing it first would only
        // cost a pass over memory (most of a recurrent step's time, once).
        let len = shape.len() + extra.values;
        if out.len() < len {
            out.resize(len, T::zero());
        } else {
            out.truncate(len);
        }
        compute(prev, &self.labels, out);
        self.push_node(op, shape, extra, requires_grad, None)
    }

    /// Appends a node whose value buffer (unless it is the parameter
    /// `param`'s leaf) [`Tape::record_with`] has filled.
    fn push_node(
        &mut self,
        op: Op,
        shape: Shape,
        extra: Extra,
        requires_grad: bool,
        param: Option<u32>,
    ) -> NodeId {
        let id = self.nodes.len();
        if self.values.len() == id {
            // A parameter leaf's slot stays empty but keeps positions aligned.
            self.values.push(Vec::new());
        }
        let u = |n: usize| u32::try_from(n).expect("a node's extra slots fit in u32");
        self.nodes.push(Node {
            op,
            shape,
            requires_grad,
            grad_carry: u(extra.grad_carry),
            grad_scratch: u(extra.grad_scratch),
            param,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Activation;
    use crate::ops::recurrent::StepAt;
    use crate::shape::Axis;

    /// Every node's value, then every node's gradient.
    type Recorded = (Vec<Vec<f64>>, Vec<Vec<f64>>);

    /// A graph touching every op: its values and gradients, recorded on `t`.
    fn every_op(t: &mut Tape<f64>) -> Result<Recorded> {
        t.clear();
        let wave = |n: usize, f: f64| (0..n).map(|i| (i as f64 * f).sin()).collect::<Vec<_>>();
        let x = t.param(Shape::new(3, 4), &wave(12, 0.7))?;
        let w = t.param(Shape::new(4, 8), &wave(32, 0.3))?;
        let row = t.param(Shape::new(1, 8), &wave(8, 1.1))?;
        let col = t.param(Shape::new(3, 1), &wave(3, 0.9).iter().map(|v| v + 2.0).collect::<Vec<_>>())?;
        let xw = t.matmul(x, w)?;
        let xt = t.matmul_tn(x, x)?;
        let lin = t.linear(x, w, row)?;
        let z = t.add(xw, row)?;
        let z = t.div(z, col)?;
        let z = t.mul(z, z)?;
        let z = t.sub(z, xw)?;
        let z = t.affine(z, 0.5, 0.1)?;
        let sq = t.square(z)?;
        let e = t.exp(z)?;
        let l = t.log(e)?;
        let s = t.sqrt(sq)?;
        let a = t.act(l, Activation::Tanh)?;
        let sm = t.softmax(a)?;
        let ls = t.log_softmax(s)?;
        let r0 = t.sum_axis(sm, Axis::Rows)?;
        let r1 = t.mean_axis(ls, Axis::Cols)?;
        let rs = t.reshape(a, Shape::new(6, 4))?;
        let tr = t.transpose(rs)?;
        let sl = t.slice_cols(tr, 1, 3)?;
        let cat = t.concat_cols(&[a, sm, xw])?;
        let hu = t.matmul(x, w)?;
        let u = t.param(Shape::new(2, 8), &wave(16, 0.4))?;
        let at = |stride, offset| StepAt { stride, offset };
        let lstm = t.cell(CellKind::Lstm, 2, cat, at(24, 4), None, None, Some(row))?;
        let hu2 = t.matmul(lstm, u)?;
        let lstm2 = t.cell(CellKind::Lstm, 2, cat, at(24, 12), Some(hu2), Some(lstm), None)?;
        let c2 = t.cell_state(lstm2)?;
        let rnn = t.cell(CellKind::Rnn, 4, hu, at(8, 2), None, None, None)?;
        let b = t.param(Shape::new(2, 6), &wave(12, 0.2))?;
        let gru = t.cell(CellKind::Gru, 2, cat, at(24, 3), None, None, Some(b))?;
        let parts = [
            t.mean(sl)?,
            t.sum(r0)?,
            t.sum(r1)?,
            t.sum(xt)?,
            t.sum(c2)?,
            t.sum(rnn)?,
            t.sum(gru)?,
            t.sum(lin)?,
        ];
        let target = t.input(Shape::new(3, 8), &wave(24, 0.5))?;
        let mse = t.mse(z, target)?;
        let probs = t.softmax(target)?;
        let ce = t.softmax_cross_entropy(z, probs)?;
        let sce = t.sparse_softmax_cross_entropy(z, &[1, 7, 0])?;
        let bce = t.bce_with_logits(z, probs)?;
        let all = t.concat_cols(&parts)?;
        let all = t.sum(all)?;
        let all = t.add(all, mse)?;
        let all = t.add(all, ce)?;
        let all = t.add(all, sce)?;
        let loss = t.add(all, bce)?;
        t.backward(loss)?;
        let ids = (0..t.len()).map(|i| NodeId(i as u32));
        let values = ids.clone().map(|i| t.value(i).to_vec()).collect();
        let grads = ids.map(|i| t.grad(i).map_or_else(Vec::new, <[f64]>::to_vec)).collect();
        Ok((values, grads))
    }

    /// A bound parameter's leaf reads its value in the store (a change there
    /// shows at the leaf) and its gradient lands there; a parameter bound
    /// after the node the sweep starts from, or not bound, gets zero.
    #[test]
    fn bound_parameters_are_read_and_differentiated_in_the_store() {
        let mut store = ParamStore::new();
        let a = store.add("a", Shape::new(1, 2), vec![1.0, 2.0]).unwrap();
        let b = store.add("b", Shape::new(1, 2), vec![3.0, 4.0]).unwrap();
        let c = store.add("c", Shape::new(1, 1), vec![5.0]).unwrap();
        let mut t = Tape::<f64>::with_params(store);
        for id in [a, b, c] {
            t.params_mut().get_mut(id).grad.fill(f64::NAN);
        }
        let na = t.bind_param(a).unwrap();
        assert_eq!(t.bind_param(a).unwrap(), na, "one leaf per parameter");
        let cat = t.concat_cols(&[na, na]).unwrap();
        let sq = t.square(cat).unwrap();
        let loss = t.sum(sq).unwrap();
        let nb = t.bind_param(b).unwrap();
        t.backward(loss).unwrap();
        assert_eq!(t.value(cat), [1.0, 2.0, 1.0, 2.0]);
        assert_eq!(t.params().get(a).grad, [4.0, 8.0]);
        assert_eq!(t.grad(na).unwrap(), [4.0, 8.0]);
        assert_eq!(t.params().get(b).grad, [0.0, 0.0]);
        assert_eq!(t.grad(nb), None);
        assert_eq!(t.params().get(c).grad, [0.0]);
        t.params_mut().get_mut(a).value[0] = 7.0;
        assert_eq!(t.value(na), [7.0, 2.0]);
        let err = t.bind_param(ParamId(3)).unwrap_err().to_string();
        assert!(err.contains("parameter 3") && err.contains("store of 3"), "{err}");
        t.clear();
        assert_eq!(t.params().node(a), None, "clear unbinds");
    }

    /// A gradient's first contribution is written, later ones added: the
    /// sum is the same as adding everything into zeros, down to the sign of
    /// zero (relu's `0·(−g)` is `−0`; added to a zeroed buffer it was `+0`),
    /// over stale NaN buffers, and a node no rule reaches reads zero.
    #[test]
    fn first_contributions_are_written_as_into_zeros() {
        let mut t = Tape::<f32>::new();
        for round in 0..2 {
            t.clear();
            let x = t.param(Shape::new(1, 3), &[-1.0, 2.0, -3.0]).unwrap();
            let unused = t.param(Shape::new(1, 3), &[1.0, 1.0, 1.0]).unwrap();
            let r = t.act(x, Activation::Relu).unwrap();
            let w = t.param(Shape::new(3, 1), &[-1.0, -1.0, -1.0]).unwrap();
            let loss = t.matmul(r, w).unwrap();
            t.backward(loss).unwrap();
            let bits = |v: &[f32]| v.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(t.grad(x).unwrap()), bits(&[0.0, -1.0, 0.0]), "round {round}");
            assert_eq!(bits(t.grad(unused).unwrap()), bits(&[0.0; 3]), "round {round}");
            // x used twice: the matmul's product is written, the add's term added.
            let y = t.matmul(r, w).unwrap();
            let z = t.add(x, x).unwrap();
            let s = t.sum(z).unwrap();
            let l2 = t.add(y, s).unwrap();
            t.backward(l2).unwrap();
            assert_eq!(t.grad(x).unwrap(), [2.0, 1.0, 2.0], "round {round}");
            for buf in t.grads.iter_mut() {
                buf.fill(f32::NAN);
            }
        }
    }

    /// Buffers are reused without zeroing: whatever a node at a position
    /// held before (NaN here) must never reach a value or a gradient.
    #[test]
    fn stale_buffers_never_leak_into_values_or_gradients() {
        let mut t = Tape::<f64>::new();
        let fresh = every_op(&mut t).unwrap();
        for buf in t.values.iter_mut().chain(&mut t.grads) {
            let len = buf.len();
            buf.resize(len + 16, f64::NAN);
            buf.fill(f64::NAN);
        }
        let reused = every_op(&mut t).unwrap();
        assert!(fresh.0.iter().flatten().chain(fresh.1.iter().flatten()).all(|v| v.is_finite()));
        for (i, (a, b)) in fresh.0.iter().zip(&reused.0).enumerate() {
            assert_eq!(a, b, "value of node {i} ({})", t.op(NodeId(i as u32)).name());
        }
        for (i, (a, b)) in fresh.1.iter().zip(&reused.1).enumerate() {
            assert_eq!(a, b, "gradient of node {i} ({})", t.op(NodeId(i as u32)).name());
        }
    }
}

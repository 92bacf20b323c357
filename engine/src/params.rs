//! Trainable parameters live in a store with stable ids, held by the tape
//! (see [`Tape::bind_param`]): each step binds a parameter onto the tape once
//! as a leaf that reads its value here in place, and the backward sweep
//! accumulates its gradient here, where clipping, the monitor and the
//! optimiser all read the same numbers. Nothing is copied either way.
use crate::error::{Error, Result};
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub(crate) usize);

impl ParamId {
    pub fn index(self) -> usize {
        self.0
    }
}

#[derive(Clone, Debug)]
pub struct Param<T> {
    /// Dotted name, e.g. `layers.3.dense.weight`.
    pub name: String,
    pub shape: Shape,
    pub value: Vec<T>,
    pub grad: Vec<T>,
}

#[derive(Clone, Debug, Default)]
pub struct ParamStore<T> {
    params: Vec<Param<T>>,
    /// The tape node each parameter is bound to in the current step.
    bound: Vec<Option<NodeId>>,
}

impl<T: Real> ParamStore<T> {
    pub fn new() -> Self {
        ParamStore { params: Vec::new(), bound: Vec::new() }
    }

    pub fn add(&mut self, name: impl Into<String>, shape: Shape, value: Vec<T>) -> Result<ParamId> {
        let name = name.into();
        if value.len() != shape.len() {
            return Err(Error::Config {
                layer: name,
                msg: format!("parameter of shape {shape} given {} values", value.len()),
            });
        }
        self.params.push(Param { name, shape, grad: vec![T::zero(); value.len()], value });
        self.bound.push(None);
        Ok(ParamId(self.params.len() - 1))
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    pub fn get(&self, id: ParamId) -> &Param<T> {
        &self.params[id.0]
    }

    pub fn get_mut(&mut self, id: ParamId) -> &mut Param<T> {
        &mut self.params[id.0]
    }

    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &Param<T>)> {
        self.params.iter().enumerate().map(|(i, p)| (ParamId(i), p))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ParamId, &mut Param<T>)> {
        self.params.iter_mut().enumerate().map(|(i, p)| (ParamId(i), p))
    }

    /// Total number of scalar parameters.
    pub fn count(&self) -> usize {
        self.params.iter().map(|p| p.value.len()).sum()
    }

    /// Forgets this step's bindings (call with `Tape::clear`).
    pub fn unbind_all(&mut self) {
        self.bound.iter_mut().for_each(|b| *b = None);
    }

    /// The tape node holding this parameter in the current step, if bound.
    pub fn node(&self, id: ParamId) -> Option<NodeId> {
        self.bound[id.0]
    }

    pub(crate) fn set_node(&mut self, id: ParamId, node: NodeId) {
        self.bound[id.0] = Some(node);
    }

    pub(crate) fn by_index(&self, i: usize) -> &Param<T> {
        &self.params[i]
    }

    /// Every parameter with the node it is bound to, writable: the backward
    /// sweep lends the gradient buffers of the bound ones to the tape.
    pub(crate) fn bindings_mut(&mut self) -> impl Iterator<Item = (&mut Param<T>, Option<NodeId>)> {
        self.params.iter_mut().zip(self.bound.iter().copied())
    }

    /// Copies into this store the gradients a tape's own store received in
    /// its last backward pass (matched by position; zero where the tape's
    /// store has no parameter or left it unbound): for a store kept beside a
    /// tape, e.g. a test's, whose values were copied into the tape's store
    /// with `tape.params_mut().clone_from(&store)`. A model's store is its
    /// tape's and needs no gathering.
    pub fn gather_grads(&mut self, tape: &Tape<T>) {
        let own = tape.params();
        for (i, p) in self.params.iter_mut().enumerate() {
            match (own.params.get(i), own.bound.get(i).copied().flatten()) {
                (Some(q), Some(n)) if tape.grad(n).is_some() => p.grad.copy_from_slice(&q.grad),
                _ => p.grad.iter_mut().for_each(|g| *g = T::zero()),
            }
        }
    }
}

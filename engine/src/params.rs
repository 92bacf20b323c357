//! Trainable parameters live outside the tape, in a store with stable ids.
//! Each step binds a parameter onto the tape once (a copy of its value into a
//! leaf); after backward its gradient is gathered back here, where clipping,
//! the monitor and the optimiser all read the same numbers.
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

    /// The tape node holding this parameter in the current step, binding it
    /// on first use so a parameter used many times (shared recurrent weights)
    /// is one leaf whose gradient sums every use.
    pub fn bind(&mut self, tape: &mut Tape<T>, id: ParamId) -> Result<NodeId> {
        if let Some(node) = self.bound[id.0] {
            return Ok(node);
        }
        let p = &self.params[id.0];
        let node = tape.param(p.shape, &p.value)?;
        self.bound[id.0] = Some(node);
        Ok(node)
    }

    pub fn node(&self, id: ParamId) -> Option<NodeId> {
        self.bound[id.0]
    }

    /// Copies each bound parameter's gradient from the tape after backward;
    /// unbound parameters get zero.
    pub fn gather_grads(&mut self, tape: &Tape<T>) {
        for (p, b) in self.params.iter_mut().zip(&self.bound) {
            match b.and_then(|n| tape.grad(n)) {
                Some(g) => p.grad.copy_from_slice(g),
                None => p.grad.iter_mut().for_each(|g| *g = T::zero()),
            }
        }
    }
}

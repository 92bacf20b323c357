//! What each node computed: a plain enum naming the op and its inputs. The
//! forward and backward rules live in `crate::ops`, one file per family.
use crate::kernels::Activation;
use crate::shape::{Axis, Shape};

use super::NodeId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryKind {
    Square,
    Sqrt,
    Exp,
    Log,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// An input or a parameter: its value was copied in, it has no inputs.
    Leaf,
    MatMul {
        a: NodeId,
        b: NodeId,
        trans_a: bool,
        trans_b: bool,
    },
    /// `x·w + b`: a product and its bias row in one node (a dense layer's
    /// pre-activation), so the bias costs no pass and no node of its own.
    Linear {
        x: NodeId,
        w: NodeId,
        b: NodeId,
    },
    /// `a ∘ b` where `b` is broadcast over `a`'s rows and/or columns.
    Binary {
        kind: BinaryKind,
        a: NodeId,
        b: NodeId,
    },
    /// `scale·x + shift`.
    Affine {
        x: NodeId,
        scale: f64,
        shift: f64,
    },
    Unary {
        kind: UnaryKind,
        x: NodeId,
    },
    Act {
        x: NodeId,
        act: Activation,
    },
    Softmax {
        x: NodeId,
    },
    LogSoftmax {
        x: NodeId,
    },
    /// Sum or mean over one axis, or over everything when `axis` is `None`.
    Reduce {
        x: NodeId,
        axis: Option<Axis>,
        mean: bool,
    },
    Reshape {
        x: NodeId,
    },
    Transpose {
        x: NodeId,
    },
    /// Columns of `parts[start..start + count]`, side by side.
    Concat {
        start: u32,
        count: u32,
    },
    /// Columns `start..start + out.cols` of `x`.
    Slice {
        x: NodeId,
        start: usize,
    },
    Mse {
        pred: NodeId,
        target: NodeId,
    },
    BceLogits {
        logits: NodeId,
        target: NodeId,
    },
    SoftmaxCe {
        logits: NodeId,
        target: NodeId,
    },
    /// Labels are `labels[start..start + rows]`.
    SparseSoftmaxCe {
        logits: NodeId,
        start: u32,
    },
    /// One time step of a recurrent cell's gate maths (see `ops::recurrent`):
    /// row `r` of the step's input projection starts at value
    /// `r·stride + offset` of `xw`, `hu` is `h_{t−1}·U` (absent from a zero
    /// state), `prev` the carried state the cell reads besides `hu` (the
    /// LSTM's `c_{t−1}`, the GRU's `h_{t−1}`) and `bias` the bias added to
    /// the projection (the GRU's recurrent bias row after it).
    Cell {
        kind: CellKind,
        xw: NodeId,
        stride: u32,
        offset: u32,
        hu: Option<NodeId>,
        prev: Option<NodeId>,
        bias: Option<NodeId>,
    },
    /// The cell state `c_t` an LSTM cell node carries beside its output `h_t`.
    CellState {
        cell: NodeId,
    },
    /// Batch normalisation of `x` over its rows (training), scaled by the
    /// row `gamma` and shifted by the row `beta` (see `ops::norm`).
    BatchNorm {
        x: NodeId,
        gamma: NodeId,
        beta: NodeId,
        epsilon: f64,
    },
}

/// The gate maths of one recurrent step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// `h = tanh(z)`.
    Rnn,
    /// Gates i, f, c, o; `c = f⊙c_{t−1} + i⊙tanh(z_c)`, `h = o⊙tanh(c)`.
    Lstm,
    /// Gates z, r, h (reset after the product); `h = ĥ + z⊙(h_{t−1} − ĥ)`.
    Gru,
}

impl Op {
    /// Short name for error messages and diagnostics.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Leaf => "leaf",
            Op::MatMul { .. } => "matmul",
            Op::Linear { .. } => "linear",
            Op::Binary { kind, .. } => match kind {
                BinaryKind::Add => "add",
                BinaryKind::Sub => "sub",
                BinaryKind::Mul => "mul",
                BinaryKind::Div => "div",
            },
            Op::Affine { .. } => "affine",
            Op::Unary { kind, .. } => match kind {
                UnaryKind::Square => "square",
                UnaryKind::Sqrt => "sqrt",
                UnaryKind::Exp => "exp",
                UnaryKind::Log => "log",
            },
            Op::Act { act, .. } => act.name(),
            Op::Softmax { .. } => "softmax",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Reduce { mean: false, .. } => "sum",
            Op::Reduce { mean: true, .. } => "mean",
            Op::Reshape { .. } => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Concat { .. } => "concat",
            Op::Slice { .. } => "slice",
            Op::Mse { .. } => "mse",
            Op::BceLogits { .. } => "bce_with_logits",
            Op::SoftmaxCe { .. } => "softmax_cross_entropy",
            Op::SparseSoftmaxCe { .. } => "sparse_softmax_cross_entropy",
            Op::Cell { kind, .. } => match kind {
                CellKind::Rnn => "rnn_cell",
                CellKind::Lstm => "lstm_cell",
                CellKind::Gru => "gru_cell",
            },
            Op::CellState { .. } => "lstm_cell_state",
            Op::BatchNorm { .. } => "batch_norm",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    pub op: Op,
    pub shape: Shape,
    pub requires_grad: bool,
    /// Gradient slots after the output's: leading `grad_carry` of them are
    /// accumulated like the output's (an LSTM's `dL/dc`) and zeroed before
    /// the sweep, the rest are the rule's scratch, which it overwrites.
    pub grad_carry: u32,
    pub grad_scratch: u32,
    /// For a parameter leaf, the parameter's index in the tape's store,
    /// which holds its value and gradient.
    pub param: Option<u32>,
}

impl Node {
    /// Gradient values zeroed before a backward sweep.
    pub fn grad_zeroed(&self) -> usize {
        self.shape.len() + self.grad_carry as usize
    }

    pub fn grad_len(&self) -> usize {
        self.grad_zeroed() + self.grad_scratch as usize
    }
}

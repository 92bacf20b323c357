//! The ops, one file per family: the forward call (a method on [`Tape`]) and
//! its backward rule side by side, with the maths in a comment, and the
//! family's gradient checks in its test module.
//!
//! [`Tape`]: crate::tape::Tape
pub mod activation;
pub mod arith;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod recurrent;
pub mod reduce;
pub mod shape;
pub mod unary;

use crate::real::Real;
use crate::tape::{Backward, Op};

/// Dispatches one node's backward rule.
pub(crate) fn backward<T: Real>(op: Op, ctx: &mut Backward<'_, T>) {
    match op {
        Op::Leaf => {}
        Op::MatMul { a, b, trans_a, trans_b } => matmul::backward(ctx, a, b, trans_a, trans_b),
        Op::Linear { x, w, b } => matmul::backward_linear(ctx, x, w, b),
        Op::Binary { kind, a, b } => arith::backward_binary(ctx, kind, a, b),
        Op::Affine { x, scale, .. } => arith::backward_affine(ctx, x, scale),
        Op::Unary { kind, x } => unary::backward(ctx, kind, x),
        Op::Act { x, act } => activation::backward_act(ctx, x, act),
        Op::Softmax { x } => activation::backward_softmax(ctx, x),
        Op::LogSoftmax { x } => activation::backward_log_softmax(ctx, x),
        Op::Reduce { x, axis, mean } => reduce::backward(ctx, x, axis, mean),
        Op::Reshape { x } => shape::backward_reshape(ctx, x),
        Op::Transpose { x } => shape::backward_transpose(ctx, x),
        Op::Concat { start, count } => shape::backward_concat(ctx, start, count),
        Op::Slice { x, start } => shape::backward_slice(ctx, x, start),
        Op::Mse { pred, target } => loss::backward_mse(ctx, pred, target),
        Op::BceLogits { logits, target } => loss::backward_bce(ctx, logits, target),
        Op::SoftmaxCe { logits, target } => loss::backward_softmax_ce(ctx, logits, target),
        Op::SparseSoftmaxCe { logits, start } => loss::backward_sparse_ce(ctx, logits, start),
        Op::Cell { kind, xw, stride, offset, hu, prev, bias } => {
            recurrent::backward_cell(ctx, kind, xw, (stride, offset), hu, prev, bias)
        }
        Op::CellState { cell } => recurrent::backward_cell_state(ctx, cell),
        Op::BatchNorm { x, gamma, beta, .. } => norm::backward(ctx, x, gamma, beta),
    }
}

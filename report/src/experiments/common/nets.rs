//! Networks measured at initialisation: a square random net recorded straight on a tape (no layers, so
//! one set of unit matrices serves every σ_w through a gain).
use engine::{Activation, NodeId, Real, Shape, Tape};

/// A square random net recorded on a tape: `h_l = gain·x_(l-1)·W_l`, `x_l = φ(h_l)`, no biases, `x_0` a
/// gradient-carrying leaf of `batch` rows. Returns the input, the pre-activations and the outputs. (A gain
/// lets one set of unit matrices serve every σ_w without copying them.)
pub struct SquareNet {
    pub input: NodeId,
    pub pre: Vec<NodeId>,
    pub post: Vec<NodeId>,
}

pub fn record_net<T: Real>(
    tape: &mut Tape<T>,
    weights: &[Vec<T>],
    gain: f64,
    act: Activation,
    x: &[T],
    batch: usize,
) -> engine::Result<SquareNet> {
    let n = x.len() / batch.max(1);
    let input = tape.param(Shape::new(batch, n), x)?;
    let (mut cur, mut pre, mut post) = (input, Vec::new(), Vec::new());
    for w in weights {
        let w = tape.input(Shape::new(n, n), w)?;
        let mut h = tape.matmul(cur, w)?;
        if gain != 1.0 {
            h = tape.scale(h, gain)?;
        }
        cur = tape.act(h, act)?;
        pre.push(h);
        post.push(cur);
    }
    Ok(SquareNet { input, pre, post })
}

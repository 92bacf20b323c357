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
    record_biased_net(tape, weights, gain, None, act, x, batch)
}

/// The same net with a bias row per layer, `h_l = gain·x_(l-1)·W_l + bias_gain·b_l`, where `biases` is
/// `Some((b, bias_gain))` with one row of `b` per layer (σ_b through a gain, as σ_w).
pub fn record_biased_net<T: Real>(
    tape: &mut Tape<T>,
    weights: &[Vec<T>],
    gain: f64,
    biases: Option<(&[Vec<T>], f64)>,
    act: Activation,
    x: &[T],
    batch: usize,
) -> engine::Result<SquareNet> {
    let n = x.len() / batch.max(1);
    let input = tape.param(Shape::new(batch, n), x)?;
    let (mut cur, mut pre, mut post) = (input, Vec::new(), Vec::new());
    for (l, w) in weights.iter().enumerate() {
        let w = tape.input(Shape::new(n, n), w)?;
        let mut h = tape.matmul(cur, w)?;
        if gain != 1.0 {
            h = tape.scale(h, gain)?;
        }
        if let Some((b, bias_gain)) = biases {
            let row = b.get(l).ok_or_else(|| engine::Error::InvalidArgument {
                op: "record_biased_net",
                msg: format!("{} bias rows for {} layers", b.len(), weights.len()),
            })?;
            let row = tape.input(Shape::new(1, n), row)?;
            let row = tape.scale(row, bias_gain)?;
            h = tape.add(h, row)?;
        }
        cur = tape.act(h, act)?;
        pre.push(h);
        post.push(cur);
    }
    Ok(SquareNet { input, pre, post })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bias row is added to every sample's pre-activation, scaled by its gain; without biases the net
    /// is the plain one.
    #[test]
    fn biases_shift_every_row_by_their_gain() {
        let (w, b, x) = (vec![vec![1.0, 0.0, 0.0, 1.0]], vec![vec![1.0, -2.0]], [0.5, 1.0, -1.0, 2.0]);
        let mut tape = Tape::<f64>::new();
        let net = record_biased_net(&mut tape, &w, 2.0, Some((&b, 0.5)), Activation::Linear, &x, 2).unwrap();
        assert_eq!(tape.value(net.pre[0]), &[1.5, 1.0, -1.5, 3.0]);
        let plain = record_net(&mut tape, &w, 2.0, Activation::Linear, &x, 2).unwrap();
        assert_eq!(tape.value(plain.pre[0]), &[1.0, 2.0, -2.0, 4.0]);
        let short = record_biased_net(&mut tape, &w, 2.0, Some((&[], 0.5)), Activation::Linear, &x, 2);
        assert!(short.is_err(), "a missing bias row is an error, not a silent zero");
    }
}

//! Gradient checks of whole graphs: three-layer perceptrons for every
//! activation × loss, checked wrt every weight and bias, and graphs that use
//! one node more than once (whose gradient must sum every contribution).
use gradlab::gradcheck::{CheckOptions, CheckReport, check_tape};
use gradlab::{Activation, NodeId, Shape, Tape};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

const ACTS: [Activation; 8] = [
    Activation::Linear,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu { alpha: 0.3 },
    Activation::Elu { alpha: 1.0 },
    Activation::Gelu,
    Activation::Softplus,
];

#[derive(Clone, Copy, Debug)]
enum Loss {
    Mse,
    BceLogits,
    SparseSoftmaxCe,
    SoftmaxCe,
}

const LOSSES: [Loss; 4] = [Loss::Mse, Loss::BceLogits, Loss::SparseSoftmaxCe, Loss::SoftmaxCe];

/// Batch, input width, two hidden widths, outputs: odd sizes on purpose.
const BATCH: usize = 5;
const DIMS: [usize; 4] = [4, 6, 5, 3];

/// Closest a pre-activation may come to a kink, so `x ± h` stays on one side.
const MARGIN: f64 = 1e-3;

fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
}

fn draw(rng: &mut ChaCha8Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| uniform(rng, lo, hi)).collect()
}

/// A perceptron's data and its parameters `[W1, b1, W2, b2, W3, b3]`.
struct Mlp {
    x: Vec<f64>,
    target: Vec<f64>,
    labels: Vec<usize>,
    params: Vec<(Shape, Vec<f64>)>,
}

impl Mlp {
    fn random(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = Vec::new();
        for pair in DIMS.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let bound = (3.0 / fan_in as f64).sqrt();
            params.push((Shape::new(fan_in, fan_out), draw(&mut rng, fan_in * fan_out, -bound, bound)));
            params.push((Shape::new(1, fan_out), draw(&mut rng, fan_out, -0.5, 0.5)));
        }
        let out = DIMS[3];
        let x = draw(&mut rng, BATCH * DIMS[0], -1.5, 1.5);
        // In [0, 1]: valid for BCE; as soft class targets the rows need not sum to one.
        let target = draw(&mut rng, BATCH * out, 0.0, 1.0);
        let labels = (0..BATCH).map(|_| (rng.next_u64() % out as u64) as usize).collect();
        Mlp { x, target, labels, params }
    }

    /// `x·W1+b1 → act → ·W2+b2 → act → ·W3+b3 → loss`; returns the loss and
    /// both pre-activations.
    fn forward(
        &self,
        t: &mut Tape<f64>,
        p: &[NodeId],
        act: Activation,
        loss: Loss,
    ) -> gradlab::Result<(NodeId, [NodeId; 2])> {
        let mut h = t.input(Shape::new(BATCH, DIMS[0]), &self.x)?;
        let mut pre = [h; 2];
        for layer in 0..3 {
            let z = t.matmul(h, p[2 * layer])?;
            let z = t.add(z, p[2 * layer + 1])?;
            h = if layer < 2 {
                pre[layer] = z;
                t.act(z, act)?
            } else {
                z
            };
        }
        let target = || Shape::new(BATCH, DIMS[3]);
        let out = match loss {
            Loss::Mse => {
                let y = t.input(target(), &self.target)?;
                t.mse(h, y)?
            }
            Loss::BceLogits => {
                let y = t.input(target(), &self.target)?;
                t.bce_with_logits(h, y)?
            }
            Loss::SparseSoftmaxCe => t.sparse_softmax_cross_entropy(h, &self.labels)?,
            Loss::SoftmaxCe => {
                let y = t.input(target(), &self.target)?;
                t.softmax_cross_entropy(h, y)?
            }
        };
        Ok((out, pre))
    }

    /// Smallest distance of a pre-activation from one of `act`'s kinks.
    fn kink_distance(&self, act: Activation) -> f64 {
        let mut t = Tape::new();
        let ids: Vec<NodeId> = self.params.iter().map(|(s, v)| t.param(*s, v).unwrap()).collect();
        let (_, pre) = self.forward(&mut t, &ids, act, Loss::Mse).unwrap();
        pre.iter()
            .flat_map(|&z| t.value(z).iter())
            .flat_map(|&z| act.kinks().iter().map(move |k| (z - k).abs()))
            .fold(f64::INFINITY, f64::min)
    }
}

fn check_mlp(act: Activation, loss: Loss, seed: u64) -> CheckReport {
    // Redraw (deterministically) until no pre-activation sits on a kink.
    let mlp = (0..100)
        .map(|attempt| Mlp::random(seed * 1000 + attempt))
        .find(|m| m.kink_distance(act) >= MARGIN)
        .expect("some draw keeps every pre-activation off the kinks");
    let name = format!("mlp {act} → {loss:?}");
    check_tape(&name, &mlp.params, |t, p| Ok(mlp.forward(t, p, act, loss)?.0), &CheckOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn three_layer_perceptrons_for_every_activation_and_loss() {
    let weights: usize = DIMS.windows(2).map(|p| p[0] * p[1] + p[1]).sum();
    for (i, act) in ACTS.into_iter().enumerate() {
        for (j, loss) in LOSSES.into_iter().enumerate() {
            let report = check_mlp(act, loss, (i * LOSSES.len() + j) as u64);
            assert_eq!(report.coordinates, weights, "every weight and bias checked");
            assert_eq!(report.directions, CheckOptions::default().directions);
        }
    }
}

fn opts() -> CheckOptions {
    CheckOptions::default()
}

#[test]
fn a_node_used_twice_sums_both_contributions() {
    let x = vec![0.5, -1.5, 2.0, 0.25, -0.75, 1.0];
    let inputs = [(Shape::new(2, 3), x.clone())];
    check_tape("x*x", &inputs, |t, x| t.mul(x[0], x[0]), &opts()).unwrap_or_else(|e| panic!("{e}"));
    // Exactly 2x: one contribution alone would give x.
    let mut t = Tape::<f64>::new();
    let p = t.param(Shape::new(2, 3), &x).unwrap();
    let sq = t.mul(p, p).unwrap();
    let loss = t.sum(sq).unwrap();
    t.backward(loss).unwrap();
    assert_eq!(t.grad(p).unwrap(), x.iter().map(|v| 2.0 * v).collect::<Vec<_>>().as_slice());
    check_tape(
        "x/x + x - x",
        &inputs,
        |t, x| {
            let q = t.div(x[0], x[0])?;
            let s = t.sub(x[0], x[0])?;
            let y = t.add(q, x[0])?;
            t.add(y, s)
        },
        &opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn skip_connection_gets_the_identity_path_and_the_branch() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let inputs = [
        (Shape::new(3, 4), draw(&mut rng, 12, -1.0, 1.0)),
        (Shape::new(4, 4), draw(&mut rng, 16, -1.0, 1.0)),
    ];
    let residual = |t: &mut Tape<f64>, x: &[NodeId]| -> gradlab::Result<NodeId> {
        let z = t.matmul(x[0], x[1])?;
        let f = t.act(z, Activation::Tanh)?;
        t.add(f, x[0])
    };
    check_tape("tanh(x·W) + x", &inputs, residual, &opts()).unwrap_or_else(|e| panic!("{e}"));
    // Two residual blocks sharing W: W collects gradients from both uses.
    check_tape(
        "shared-weight residual stack",
        &inputs,
        |t, x| {
            let h = residual(t, x)?;
            let z = t.matmul(h, x[1])?;
            let f = t.act(z, Activation::Gelu)?;
            let h = t.add(f, h)?;
            t.mean(h)
        },
        &opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Two steps of a GRU-style cell with shared weights, from slices, concat,
/// gates and element-wise products: the layout ops and the arithmetic
/// composed as the recurrent layers use them.
#[test]
fn gated_recurrent_cell_over_two_steps() {
    let (batch, input, hidden) = (3, 2, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let xs: Vec<Vec<f64>> = (0..2).map(|_| draw(&mut rng, batch * input, -1.0, 1.0)).collect();
    let inputs = [
        (Shape::new(input + hidden, 3 * hidden), draw(&mut rng, (input + hidden) * 3 * hidden, -0.7, 0.7)),
        (Shape::new(1, 3 * hidden), draw(&mut rng, 3 * hidden, -0.3, 0.3)),
        (Shape::new(batch, hidden), draw(&mut rng, batch * hidden, -0.5, 0.5)),
    ];
    check_tape(
        "gru cell × 2",
        &inputs,
        |t, p| {
            let mut h = p[2];
            for x in &xs {
                let x = t.input(Shape::new(batch, input), x)?;
                let xh = t.concat_cols(&[x, h])?;
                let z = t.matmul(xh, p[0])?;
                let z = t.add(z, p[1])?;
                let gates = t.slice_cols(z, 0, 2 * hidden)?;
                let gates = t.act(gates, Activation::Sigmoid)?;
                let (u, r) = (t.slice_cols(gates, 0, hidden)?, t.slice_cols(gates, hidden, hidden)?);
                let c = t.slice_cols(z, 2 * hidden, hidden)?;
                let c = t.mul(c, r)?;
                let c = t.act(c, Activation::Tanh)?;
                let keep = t.mul(u, h)?;
                let one_minus_u = t.affine(u, -1.0, 1.0)?;
                let new = t.mul(one_minus_u, c)?;
                h = t.add(keep, new)?;
            }
            let out = t.sum_axis(h, gradlab::Axis::Cols)?;
            t.square(out)
        },
        &opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

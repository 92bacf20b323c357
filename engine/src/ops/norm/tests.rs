use crate::gradcheck::testing::{config, dim, values, verify};
use crate::real::Real;
use crate::shape::{Axis, Shape};
use crate::tape::{NodeId, Tape};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

proptest! {
    #![proptest_config(config())]

    /// Gradients with respect to x, γ and β against finite differences.
    #[test]
    fn batch_norm_gradients((m, n) in (2usize..=9, dim()), v in values(81 + 18, -2.0, 2.0)) {
        let inputs = [
            (Shape::new(m, n), v[..m * n].to_vec()),
            (Shape::new(1, n), v[81..81 + n].to_vec()),
            (Shape::new(1, n), v[90..90 + n].to_vec()),
        ];
        verify("batch_norm", &inputs, |t, x| t.batch_norm(x[0], x[1], x[2], 1e-3))?;
        // x also read past the normalisation: its gradient then adds two contributions.
        verify("batch_norm(x) + x", &inputs, |t, x| {
            let y = t.batch_norm(x[0], x[1], x[2], 1e-3)?;
            t.add(y, x[0])
        })?;
    }
}

/// The nine-node graph the fused node replaces (what the layer recorded before it).
fn composed<T: Real>(t: &mut Tape<T>, x: NodeId, gamma: NodeId, beta: NodeId, eps: f64) -> [NodeId; 3] {
    let mu = t.mean_axis(x, Axis::Rows).unwrap();
    let d = t.sub(x, mu).unwrap();
    let sq = t.square(d).unwrap();
    let var = t.mean_axis(sq, Axis::Rows).unwrap();
    let ve = t.add_scalar(var, eps).unwrap();
    let sd = t.sqrt(ve).unwrap();
    let xhat = t.div(d, sd).unwrap();
    let scaled = t.mul(xhat, gamma).unwrap();
    [t.add(scaled, beta).unwrap(), mu, var]
}

fn bits<T: Real>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.as_f64().to_bits()).collect()
}

/// Values, batch statistics and every gradient (x, γ, β) of one case, fused or composed; `reuse_x`
/// adds x to the output, so x's gradient is written by that add before the normalisation's rule.
fn run<T: Real>(
    fused: bool,
    m: usize,
    n: usize,
    reuse_x: bool,
    grads: [bool; 3],
    seed: u64,
) -> Vec<Vec<u64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |len: usize, lo: f64, hi: f64| -> Vec<T> {
        (0..len).map(|_| T::c(lo + (hi - lo) * (rng.next_u32() as f64 / 4294967296.0))).collect()
    };
    let (xv, gv, bv, sv) =
        (draw(m * n, -3.0, 3.0), draw(n, 0.5, 2.0), draw(n, -1.0, 1.0), draw(m * n, -1.0, 1.0));
    let mut t = Tape::<T>::new();
    let x = t.leaf(Shape::new(m, n), &xv, grads[0]).unwrap();
    let gamma = t.leaf(Shape::new(1, n), &gv, grads[1]).unwrap();
    let beta = t.leaf(Shape::new(1, n), &bv, grads[2]).unwrap();
    let eps = 1e-3;
    let (y, mu, var) = if fused {
        let y = t.batch_norm(x, gamma, beta, eps).unwrap();
        let (mu, var) = t.batch_norm_stats(y).unwrap();
        (y, mu.to_vec(), var.to_vec())
    } else {
        let [y, mu, var] = composed(&mut t, x, gamma, beta, eps);
        (y, t.value(mu).to_vec(), t.value(var).to_vec())
    };
    let out = if reuse_x { t.add(y, x).unwrap() } else { y };
    let mut got = vec![bits(t.value(y)), bits(&mu), bits(&var)];
    if grads.iter().any(|&g| g) {
        t.backward_with_seed(out, &sv).unwrap();
        for (id, want) in [x, gamma, beta].into_iter().zip(grads) {
            got.push(if want { bits(t.grad(id).unwrap()) } else { vec![] });
        }
    }
    got
}

fn same_bits_as_the_composed_graph<T: Real>() {
    let mut seed = 0;
    for m in [1, 2, 3, 7, 8, 9, 33] {
        for n in [1, 5, 16, 17] {
            for reuse_x in [false, true] {
                for grads in [[true; 3], [true, false, false], [false, true, true], [false; 3]] {
                    seed += 1;
                    let (f, c) = (
                        run::<T>(true, m, n, reuse_x, grads, seed),
                        run::<T>(false, m, n, reuse_x, grads, seed),
                    );
                    let what = ["y", "mean", "variance", "dx", "dgamma", "dbeta"];
                    for ((a, b), w) in f.iter().zip(&c).zip(what) {
                        assert_eq!(
                            a,
                            b,
                            "{} m={m} n={n} reuse_x={reuse_x} grads={grads:?}: {w} differs",
                            T::NAME
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn equals_the_composed_graph_to_the_bit_in_f32() {
    same_bits_as_the_composed_graph::<f32>();
}

#[test]
fn equals_the_composed_graph_to_the_bit_in_f64() {
    same_bits_as_the_composed_graph::<f64>();
}

#[test]
fn bad_operands_are_named() {
    let mut t = Tape::<f32>::new();
    let x = t.param(Shape::new(4, 3), &[0.5; 12]).unwrap();
    let row = t.param(Shape::new(1, 3), &[1.0; 3]).unwrap();
    let wide = t.param(Shape::new(1, 4), &[1.0; 4]).unwrap();
    let err = t.batch_norm(x, wide, row, 1e-3).unwrap_err().to_string();
    assert!(err.contains("batch_norm"), "{err}");
    let err = t.batch_norm(x, row, row, 1e-3).unwrap_err().to_string();
    assert!(err.contains("three different nodes"), "{err}");
    let beta = t.param(Shape::new(1, 3), &[0.0; 3]).unwrap();
    let err = t.batch_norm(x, row, beta, f64::NAN).unwrap_err().to_string();
    assert!(err.contains("epsilon"), "{err}");
    let empty = t.input(Shape::new(0, 3), &[]).unwrap();
    assert!(t.batch_norm(empty, row, beta, 1e-3).is_err());
    let y = t.add(x, x).unwrap();
    assert!(t.batch_norm_stats(y).unwrap_err().to_string().contains("not a batch_norm"));
}

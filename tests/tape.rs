//! Tests of the tape itself: gradients of intermediate nodes, Jacobian rows
//! from explicit seeds, errors instead of panics for bad shapes and labels, and
//! buffer reuse across `clear()`.
use gradlab::gradcheck::{CheckOptions, check};
use gradlab::{Activation, NodeId, Shape, Tape};

const X: [f64; 8] = [0.3, -1.2, 0.8, 0.5, -0.7, 1.1, 0.05, -0.4];
const W1: [f64; 12] = [0.4, -0.3, 0.9, 0.1, -0.8, 0.6, 0.2, 0.5, -0.5, 0.7, 0.3, -0.2];
const W2: [f64; 6] = [0.6, -0.9, 0.3, 0.8, -0.4, 0.2];
const Y: [f64; 4] = [0.2, -0.1, 0.7, 0.4];

/// The tail of a small network: `mse(tanh(h)·W2, Y)` for a 4 × 3 hidden `h`.
fn tail(t: &mut Tape<f64>, h: NodeId) -> gradlab::Result<NodeId> {
    let a = t.act(h, Activation::Tanh)?;
    let w2 = t.param(Shape::new(3, 2), &W2)?;
    let out = t.matmul(a, w2)?;
    let y = t.input(Shape::new(4, 1), &Y)?;
    let out = t.slice_cols(out, 0, 1)?;
    t.mse(out, y)
}

#[test]
fn hidden_layer_gradient_matches_finite_differences_of_the_tail() {
    let mut t = Tape::<f64>::new();
    let x = t.input(Shape::new(4, 2), &X).unwrap();
    let w1 = t.param(Shape::new(2, 3), &W1[..6]).unwrap();
    let h = t.matmul(x, w1).unwrap();
    let loss = tail(&mut t, h).unwrap();
    t.backward(loss).unwrap();
    let dh = t.grad(h).expect("an intermediate node that requires a gradient has one").to_vec();
    let h_value = t.value(h).to_vec();
    assert!(dh.iter().any(|g| g.abs() > 1e-3), "the check must see a non-trivial gradient: {dh:?}");
    assert!(t.grad(x).is_none(), "an input has no gradient");

    // dL/dh from the whole network against central differences of L as a function of h alone.
    let f = |hv: &[Vec<f64>]| {
        let mut t = Tape::<f64>::new();
        let h = t.input(Shape::new(4, 3), &hv[0]).unwrap();
        let loss = tail(&mut t, h).unwrap();
        t.scalar(loss)
    };
    let report =
        check("dL/dh", &[(Shape::new(4, 3), h_value)], f, |_| vec![dh.clone()], &CheckOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.coordinates, 12);
}

#[test]
fn backward_with_seed_gives_jacobian_rows() {
    let w = [0.5, -0.3, 0.8, 0.2, 0.1, -0.7, 0.4, 0.9, -0.2, 0.6, -0.5, 0.3];
    let x0 = [0.7, -0.4, 1.3];
    let forward = |t: &mut Tape<f64>, x: &[f64]| -> (NodeId, NodeId) {
        let x = t.param(Shape::new(1, 3), x).unwrap();
        let w = t.input(Shape::new(3, 4), &w).unwrap();
        let z = t.matmul(x, w).unwrap();
        (x, t.softmax(z).unwrap())
    };
    let h = 1e-5;
    let mut t = Tape::<f64>::new();
    for i in 0..4 {
        let (x, y) = forward(&mut t, &x0);
        let mut seed = [0.0; 4];
        seed[i] = 1.0;
        // Twice on the same recording: each sweep starts from zero gradients.
        t.backward_with_seed(y, &seed).unwrap();
        t.backward_with_seed(y, &seed).unwrap();
        let row = t.grad(x).unwrap().to_vec();
        for (j, &analytic) in row.iter().enumerate() {
            let probe = |d: f64| {
                let mut xs = x0;
                xs[j] += d;
                let mut t = Tape::<f64>::new();
                let (_, y) = forward(&mut t, &xs);
                t.value(y)[i]
            };
            let numeric = (probe(h) - probe(-h)) / (2.0 * h);
            let tol = 1e-6 * analytic.abs().max(numeric.abs()) + 1e-8;
            assert!(
                (analytic - numeric).abs() <= tol,
                "J[{i}][{j}]: analytic {analytic} vs numeric {numeric}"
            );
        }
        assert_eq!(t.grad(y).unwrap(), &seed, "the output's own gradient is the seed");
        t.clear();
    }
}

#[test]
fn backward_needs_a_scalar_or_a_seed_of_the_right_length() {
    let mut t = Tape::<f64>::new();
    let x = t.param(Shape::new(2, 3), &[1.0; 6]).unwrap();
    let msg = t.backward(x).unwrap_err().to_string();
    assert_eq!(msg, "backward: shape mismatch: [2, 3] vs [1, 1]");
    let msg = t.backward_with_seed(x, &[1.0; 5]).unwrap_err().to_string();
    assert_eq!(msg, "backward: seed has 5 values, output [2, 3] has 6");
    let mut other = Tape::<f64>::new();
    for _ in 0..3 {
        other.input(Shape::SCALAR, &[0.0]).unwrap();
    }
    let foreign = other.input(Shape::SCALAR, &[0.0]).unwrap();
    assert!(t.backward(foreign).unwrap_err().to_string().contains("not on this tape"));
    assert!(t.sum(foreign).unwrap_err().to_string().starts_with("sum: node 3 is not on this tape"));
}

#[test]
fn shape_errors_name_the_op_and_both_shapes_without_panicking() {
    let mut t = Tape::<f64>::new();
    let a = t.param(Shape::new(2, 3), &[0.5; 6]).unwrap();
    let b = t.param(Shape::new(4, 5), &[0.5; 20]).unwrap();
    let c = t.param(Shape::new(3, 2), &[0.5; 6]).unwrap();
    let cases: Vec<(gradlab::Result<NodeId>, &str)> = vec![
        (t.matmul(a, b), "matmul: shape mismatch: [2, 3] vs [4, 5]"),
        (t.matmul_nt(a, c), "matmul: shape mismatch: [2, 3] vs [2, 3]"),
        (t.add(a, b), "add: shape mismatch: [2, 3] vs [4, 5]"),
        (t.div(a, c), "div: shape mismatch: [2, 3] vs [3, 2]"),
        (t.concat_cols(&[a, c]), "concat: shape mismatch: [2, 3] vs [3, 2]"),
        (t.reshape(a, Shape::new(5, 1)), "reshape: shape mismatch: [2, 3] vs [5, 1]"),
        (t.mse(a, c), "mse: shape mismatch: [2, 3] vs [3, 2]"),
        (t.bce_with_logits(a, b), "bce_with_logits: shape mismatch: [2, 3] vs [4, 5]"),
        (t.softmax_cross_entropy(a, c), "softmax_cross_entropy: shape mismatch: [2, 3] vs [3, 2]"),
    ];
    for (result, want) in cases {
        assert_eq!(result.unwrap_err().to_string(), want);
    }
    assert!(matches!(t.matmul(a, b), Err(gradlab::Error::ShapeMismatch { op: "matmul", .. })));
    let msg = t.leaf(Shape::new(2, 2), &[0.0; 3], true).unwrap_err().to_string();
    assert_eq!(msg, "leaf: shape [2, 2] needs 4 values, got 3");
    assert_eq!(t.len(), 3, "failed ops record nothing");
    // The tape is still usable after the errors.
    let p = t.matmul(a, c).unwrap();
    let loss = t.sum(p).unwrap();
    t.backward(loss).unwrap();
    assert_eq!(t.grad(a).unwrap(), &[1.0; 6]);
}

#[test]
fn out_of_range_labels_are_rejected() {
    let mut t = Tape::<f64>::new();
    let z = t.param(Shape::new(3, 4), &[0.1; 12]).unwrap();
    let msg = t.sparse_softmax_cross_entropy(z, &[0, 4, 1]).unwrap_err().to_string();
    assert_eq!(msg, "sparse_softmax_cross_entropy: label 4 at row 1 is not below 4 classes");
    assert!(t.sparse_softmax_cross_entropy(z, &[0, usize::MAX, 1]).is_err());
    assert!(t.sparse_softmax_cross_entropy(z, &[0, 1]).is_err());
    assert_eq!(t.len(), 1);
    // Rejected labels leave nothing behind: a later valid call reads its own labels.
    let loss = t.sparse_softmax_cross_entropy(z, &[3, 3, 3]).unwrap();
    t.backward(loss).unwrap();
    let g = t.grad(z).unwrap();
    for row in g.chunks(4) {
        assert!(row[3] < 0.0 && row[..3].iter().all(|&v| v > 0.0), "label 3 in every row: {row:?}");
    }
}

/// Records a small training graph; returns its nodes in creation order.
fn record(t: &mut Tape<f64>, scale: f64) -> Vec<NodeId> {
    let x = t.input(Shape::new(4, 2), &X.map(|v| v * scale)).unwrap();
    let w1 = t.param(Shape::new(2, 6), &W1).unwrap();
    let b1 = t.param(Shape::new(1, 6), &[0.1, -0.1, 0.2, 0.0, 0.05, -0.3]).unwrap();
    let z = t.matmul(x, w1).unwrap();
    let z = t.add(z, b1).unwrap();
    let a = t.act(z, Activation::Gelu).unwrap();
    let parts = [a, z];
    let c = t.concat_cols(&parts).unwrap();
    let loss = t.sparse_softmax_cross_entropy(c, &[0, 3, 11, 7]).unwrap();
    vec![x, w1, b1, z, a, c, loss]
}

#[test]
fn clear_and_rerecord_reuses_buffers() {
    let mut t = Tape::<f64>::new();
    let first = record(&mut t, 1.0);
    t.backward(*first.last().unwrap()).unwrap();
    let value_ptrs: Vec<*const f64> = first.iter().map(|&id| t.value(id).as_ptr()).collect();
    let grad_ptrs: Vec<*const f64> = first[1..].iter().map(|&id| t.grad(id).unwrap().as_ptr()).collect();
    let grads: Vec<Vec<f64>> = first[1..].iter().map(|&id| t.grad(id).unwrap().to_vec()).collect();

    t.clear();
    assert!(t.is_empty());
    // A different input first, so stale values would show.
    let other = record(&mut t, -2.0);
    t.backward(*other.last().unwrap()).unwrap();
    t.clear();
    let again = record(&mut t, 1.0);
    assert!(t.grad(again[1]).is_none(), "no gradient before backward");
    t.backward(*again.last().unwrap()).unwrap();

    assert_eq!(first, again, "ids are positions");
    let value_ptrs2: Vec<*const f64> = again.iter().map(|&id| t.value(id).as_ptr()).collect();
    let grad_ptrs2: Vec<*const f64> = again[1..].iter().map(|&id| t.grad(id).unwrap().as_ptr()).collect();
    assert_eq!(value_ptrs, value_ptrs2, "value buffers are pooled by position");
    assert_eq!(grad_ptrs, grad_ptrs2, "gradient buffers are pooled by position");
    let grads2: Vec<Vec<f64>> = again[1..].iter().map(|&id| t.grad(id).unwrap().to_vec()).collect();
    assert_eq!(grads, grads2, "the same graph gives bit-identical gradients");
}

#[test]
fn gradients_are_invalidated_by_new_nodes_after_backward() {
    let mut t = Tape::<f64>::new();
    let x = t.param(Shape::new(1, 2), &[1.0, 2.0]).unwrap();
    let s = t.square(x).unwrap();
    let loss = t.sum(s).unwrap();
    t.backward(loss).unwrap();
    assert_eq!(t.grad(x).unwrap(), &[2.0, 4.0]);
    // A node recorded after the sweep has no gradient from it.
    let later = t.exp(x).unwrap();
    assert!(t.grad(later).is_none());
}

#[test]
fn only_nodes_that_depend_on_a_parameter_get_gradients() {
    let mut t = Tape::<f64>::new();
    let x = t.input(Shape::new(1, 2), &[1.0, 2.0]).unwrap();
    let unused = t.param(Shape::new(1, 2), &[3.0, 4.0]).unwrap();
    let w = t.param(Shape::new(1, 2), &[0.5, -0.5]).unwrap();
    let constant = t.square(x).unwrap();
    let y = t.mul(constant, w).unwrap();
    let loss = t.sum(y).unwrap();
    assert!(!t.requires_grad(constant) && t.requires_grad(y));
    t.backward(loss).unwrap();
    assert!(t.grad(constant).is_none() && t.grad(x).is_none());
    assert_eq!(t.grad(unused).unwrap(), &[0.0, 0.0], "a parameter the loss ignores has a zero gradient");
    assert_eq!(t.grad(w).unwrap(), &[1.0, 4.0]);
    assert_eq!(t.grad(y).unwrap(), &[1.0, 1.0]);
}

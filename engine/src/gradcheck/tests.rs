//! Tests of the checker itself: it passes correct rules, and it rejects wrong
//! ones with a message naming the check, the worst coordinate and the error.
use super::*;
use crate::kernels::activation::reference as act_ref;
use crate::kernels::{Activation, Gemm};

fn sigmoid(x: f64) -> f64 {
    act_ref::f(Activation::Sigmoid, x)
}

/// Fixed weights so the sigmoid check covers a full vector-Jacobian product.
const C: [f64; 6] = [0.7, -1.3, 0.4, 2.0, -0.2, 1.1];
const X: [f64; 6] = [-1.5, -0.4, 0.0, 0.3, 1.2, 2.5];

fn sigmoid_check(derivative: impl Fn(f64) -> f64) -> Result<CheckReport, GradCheckFailure> {
    let f = |x: &[Vec<f64>]| x[0].iter().zip(C).map(|(&v, c)| c * sigmoid(v)).sum();
    let g = |x: &[Vec<f64>]| vec![x[0].iter().zip(C).map(|(&v, c)| c * derivative(v)).collect()];
    check("sigmoid", &[(Shape::new(2, 3), X.to_vec())], f, g, &CheckOptions::default())
}

#[test]
fn correct_sigmoid_rule_passes() {
    let report = sigmoid_check(|x| sigmoid(x) * (1.0 - sigmoid(x))).expect("σ(1−σ) is the derivative");
    assert_eq!(report.coordinates, 6);
    assert_eq!(report.directions, 3);
    assert!(report.worst_ratio < 1.0);
}

#[test]
fn wrong_sigmoid_rule_is_rejected_with_op_and_largest_error() {
    let err = sigmoid_check(sigmoid).expect_err("σ is not the derivative of σ");
    let GradCheckFailure::Mismatch(ref m) = err else {
        panic!("expected a mismatch, got {err}");
    };
    let Mismatch { ref name, ref worst, analytic, numeric, max_abs_err, failed, .. } = **m;
    assert_eq!(name, "sigmoid");
    // Worst ratio is at the largest |c·(σ − σ(1−σ))| = |c|·σ²: coordinate 5 (x = 2.5, c = 1.1).
    assert!(
        matches!(worst, Probe::Coordinate { input: 0, index: 5, row: 1, col: 2, .. }),
        "worst probe {worst}"
    );
    let (s, d) = (sigmoid(2.5), sigmoid(2.5) * (1.0 - sigmoid(2.5)));
    assert!((analytic - 1.1 * s).abs() < 1e-12, "analytic {analytic}");
    assert!((numeric - 1.1 * d).abs() < 1e-8, "numeric {numeric}");
    assert!((max_abs_err - 1.1 * s * s).abs() < 1e-8, "largest error {max_abs_err}");
    assert!(failed >= 6, "every coordinate is wrong, only {failed} flagged");
    let msg = err.to_string();
    for needle in ["sigmoid", "input 0 [2, 3]", "coordinate 5", "analytic", "numeric", "largest error"] {
        assert!(msg.contains(needle), "message lacks {needle:?}: {msg}");
    }
}

/// `f(A, B) = Σ C ⊙ (A·B)` for 3 × 3 operands, with `dA = C·Bᵀ`; the wrong rule
/// forgets the transpose (`C·B`), which has the right shape, so only values tell.
fn matmul_check(transpose_b: bool) -> Result<CheckReport, GradCheckFailure> {
    let n = 3;
    let a: Vec<f64> = (0..9).map(|i| (i as f64 * 0.37).sin()).collect();
    let b: Vec<f64> = (0..9).map(|i| (i as f64 * 0.91 + 0.5).cos()).collect();
    let c: Vec<f64> = (0..9).map(|i| 1.0 - 0.23 * i as f64).collect();
    let product = |a: &[f64], b: &[f64]| {
        let mut out = vec![0.0; 9];
        crate::kernels::matmul::reference::gemm(&Gemm::new(n, n, n), a, b, &mut out);
        out
    };
    let f = |x: &[Vec<f64>]| product(&x[0], &x[1]).iter().zip(&c).map(|(p, w)| p * w).sum();
    let g = |x: &[Vec<f64>]| {
        let mut ga = vec![0.0; 9];
        let ge = Gemm { trans_b: transpose_b, ..Gemm::new(n, n, n) };
        crate::kernels::matmul::reference::gemm(&ge, &c, &x[1], &mut ga);
        let mut gb = vec![0.0; 9];
        let ge = Gemm { trans_a: true, ..Gemm::new(n, n, n) };
        crate::kernels::matmul::reference::gemm(&ge, &x[0], &c, &mut gb);
        vec![ga, gb]
    };
    let inputs = [(Shape::new(3, 3), a.clone()), (Shape::new(3, 3), b.clone())];
    check("matmul", &inputs, f, g, &CheckOptions::default())
}

#[test]
fn matmul_rule_with_untransposed_operand_is_rejected() {
    matmul_check(true).expect("dA = G·Bᵀ is right");
    let err = matmul_check(false).expect_err("dA = G·B is wrong");
    let msg = err.to_string();
    assert!(msg.starts_with("gradcheck `matmul`"), "{msg}");
    assert!(msg.contains("input 0 [3, 3]"), "the wrong gradient is A's: {msg}");
    assert!(msg.contains("largest error"), "{msg}");
}

#[test]
fn random_directions_catch_a_wrong_rule_without_coordinates() {
    let opts = CheckOptions { max_coordinates: 0, ..CheckOptions::default() };
    let f = |x: &[Vec<f64>]| x[0].iter().map(|v| v.sin()).sum();
    let right = |x: &[Vec<f64>]| vec![x[0].iter().map(|v| v.cos()).collect()];
    let wrong = |x: &[Vec<f64>]| vec![x[0].iter().map(|v| -v.cos()).collect()];
    let x: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.013) - 6.0).collect();
    let inputs = [(Shape::new(10, 100), x)];
    let report = check("sin", &inputs, f, right, &opts).expect("cos is sin's derivative");
    assert_eq!((report.coordinates, report.directions), (0, 3));
    let err = check("sin", &inputs, f, wrong, &opts).expect_err("−cos is not");
    assert!(
        matches!(&err, GradCheckFailure::Mismatch(m) if matches!(m.worst, Probe::Direction { .. })),
        "{err}"
    );
}

#[test]
fn a_single_wrong_coordinate_is_located() {
    let f = |x: &[Vec<f64>]| x[0].iter().map(|v| v * v * v).sum();
    let g = |x: &[Vec<f64>]| {
        let mut g: Vec<f64> = x[0].iter().map(|v| 3.0 * v * v).collect();
        g[7] *= 1.0 + 1e-4; // a relative error of 1e-4 is 100 times the tolerance
        vec![g]
    };
    let x: Vec<f64> = (0..12).map(|i| 0.5 + 0.1 * i as f64).collect();
    let err = check(
        "cube",
        &[(Shape::new(1, 1), vec![2.0]), (Shape::new(3, 4), x)],
        |x| f(&x[1..]),
        |x| {
            let mut out = g(&x[1..]);
            out.insert(0, vec![0.0]);
            out
        },
        &CheckOptions::default(),
    )
    .expect_err("coordinate 7 is off");
    match err {
        GradCheckFailure::Mismatch(m) => {
            assert_eq!(
                m.worst,
                Probe::Coordinate { input: 1, shape: Shape::new(3, 4), index: 7, row: 1, col: 3 }
            );
        }
        other => panic!("expected a mismatch, got {other}"),
    }
}

#[test]
fn nan_gradient_fails() {
    let f = |x: &[Vec<f64>]| x[0][0];
    let g = |_: &[Vec<f64>]| vec![vec![f64::NAN]];
    let err = check("nan", &[(Shape::SCALAR, vec![1.0])], f, g, &CheckOptions::default());
    assert!(matches!(err, Err(GradCheckFailure::Mismatch(_))), "{err:?}");
}

#[test]
fn gradient_of_the_wrong_length_is_invalid() {
    let f = |x: &[Vec<f64>]| x[0].iter().sum();
    let g = |_: &[Vec<f64>]| vec![vec![1.0; 2]];
    let err = check("len", &[(Shape::new(1, 3), vec![1.0; 3])], f, g, &CheckOptions::default());
    assert!(matches!(err, Err(GradCheckFailure::Invalid { .. })), "{err:?}");
}

#[test]
fn check_tape_passes_a_correct_graph_and_reports_build_errors() {
    let inputs = [(Shape::new(2, 3), vec![0.1, -0.2, 0.3, 0.4, 0.5, -0.6]), (Shape::new(3, 2), vec![1.0; 6])];
    let report = check_tape(
        "tanh(a·b)",
        &inputs,
        |t, x| {
            let p = t.matmul(x[0], x[1])?;
            t.act(p, Activation::Tanh)
        },
        &CheckOptions::default(),
    )
    .expect("tape gradients are right");
    assert_eq!(report.coordinates, 12);
    let err = check_tape("bad", &inputs, |t, x| t.matmul(x[1], x[1]), &CheckOptions::default())
        .expect_err("[3, 2]·[3, 2] is a shape error");
    let msg = err.to_string();
    assert!(msg.contains("bad") && msg.contains("matmul") && msg.contains("[3, 2]"), "{msg}");
}

//! Self-consistency tests of the mean-field maps against closed forms and
//! against their own derivatives (Price's theorem, Stein's lemma).
use super::meanfield::*;
use crate::kernels::Activation;
use std::f64::consts::PI;

const ALL: [Activation; 8] = [
    Activation::Linear,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu { alpha: 0.2 },
    Activation::Elu { alpha: 1.0 },
    Activation::Gelu,
    Activation::Softplus,
];

#[test]
fn relu_family_maps_match_closed_forms() {
    let (sw, sb) = (1.2, 0.3);
    let relu = MeanField::new(Activation::Relu, sw, sb).unwrap();
    for q in [0.01, 1.0, 40.0] {
        assert!((relu.variance_map(q) - (sw * sw * q / 2.0 + sb * sb)).abs() < 1e-12 * q.max(1.0));
        assert!((relu.chi1_at(q) - sw * sw / 2.0).abs() < 1e-13);
        // Arc-cosine kernel (Cho & Saul): E[relu(u₁)relu(u₂)] = q/(2π)·(√(1−c²) + (π − acos c)·c).
        for c in [-0.9f64, 0.0, 0.5, 0.99] {
            let want =
                (sw * sw * q / (2.0 * PI) * ((1.0 - c * c).sqrt() + (PI - f64::acos(c)) * c) + sb * sb) / q;
            let got = relu.correlation_map(q, c);
            assert!((got - want).abs() < 1e-12, "q={q} c={c}: {got} vs {want}");
        }
    }
    let fp = relu.variance_fixed_point(1.0).unwrap().q_star().unwrap();
    assert!((fp - sb * sb / (1.0 - sw * sw / 2.0)).abs() < 1e-12, "{fp}");
    let alpha = 0.2;
    let leaky = MeanField::new(Activation::LeakyRelu { alpha }, sw, 0.0).unwrap();
    assert!((leaky.chi1_at(0.7) - sw * sw * (1.0 + alpha * alpha) / 2.0).abs() < 1e-13);
    let lin = MeanField::new(Activation::Linear, 0.9, sb).unwrap();
    assert!((lin.variance_map(2.0) - (0.81 * 2.0 + sb * sb)).abs() < 1e-13);
}

#[test]
fn slopes_are_the_derivatives_of_the_maps() {
    // χ_q = V'(q) and χ_c = C'(c), checked by central differences, for every activation.
    for act in ALL {
        // Linear has no finite q* above σ_w = 1.
        let sw = if act == Activation::Linear { 0.9 } else { 1.3 };
        let mf = MeanField::new(act, sw, 0.2).unwrap();
        let (q, c, e) = (0.8, 0.4, 1e-5);
        let dv = (mf.variance_map(q + e) - mf.variance_map(q - e)) / (2.0 * e);
        assert!((dv - mf.chi_q_at(q)).abs() < 1e-7, "{act}: V' = {dv} vs χ_q = {}", mf.chi_q_at(q));
        let dc = (mf.correlation_map(q, c + e) - mf.correlation_map(q, c - e)) / (2.0 * e);
        let chi_c = mf.chi_c_at(q, c);
        assert!((dc - chi_c).abs() < 1e-7, "{act}: C' = {dc} vs χ_c = {chi_c}");
        // At c = 1 the two inputs coincide and χ_c is χ₁.
        assert!((mf.chi_c_at(q, 1.0) - mf.chi1_at(q)).abs() < 1e-12, "{act}");
        // c = 1 is a fixed point of the correlation map at q*.
        let qs = mf.variance_fixed_point(1.0).unwrap().q_star().unwrap();
        assert!((mf.correlation_map(qs, 1.0) - 1.0).abs() < 1e-10, "{act}");
        let an = mf.analyse(1.0).unwrap();
        assert!(an.chi1.is_finite() && an.xi_q > 0.0 && an.xi_c > 0.0, "{act}: {an:?}");
    }
}

#[test]
fn fixed_points_classify_collapse_marginal_and_divergence() {
    let tanh = |sw, sb| MeanField::new(Activation::Tanh, sw, sb).unwrap();
    // Ordered tanh without bias: the signal dies, geometrically.
    match tanh(0.8, 0.0).variance_fixed_point(1.0).unwrap() {
        VarianceFixedPoint::Finite { q_star, layers: Some(l) } => assert!(q_star == 0.0 && l < MAX_LAYERS),
        other => panic!("{other:?}"),
    }
    // At σ_w = 1 it dies algebraically (q ~ 1/(2l)): too slow for the iteration.
    // Rounding leaves q* at the 1e-18 level, where V(q) − q ≈ −2q² is below f64 resolution.
    match tanh(1.0, 0.0).variance_fixed_point(1.0).unwrap() {
        VarianceFixedPoint::Finite { q_star, layers: None } => assert!(q_star < 1e-15, "{q_star}"),
        other => panic!("{other:?}"),
    }
    // Chaotic tanh: a nonzero fixed point, and c* = 0 (tanh is odd, no bias).
    let mf = tanh(1.5, 0.0);
    let an = mf.analyse(1.0).unwrap();
    assert!((mf.variance_map(an.q_star) - an.q_star).abs() < 1e-14 && an.q_star > 0.1);
    assert!(an.chi1 > 1.0 && an.c_star.abs() < 1e-12 && an.xi_grad < 0.0, "{an:?}");
    // With a bias the chaotic c* lies strictly inside (0, 1) and is stable.
    let mf = tanh(2.5, 0.3);
    let an = mf.analyse(1.0).unwrap();
    assert!(an.c_star > 0.0 && an.c_star < 1.0 && an.chi_c < 1.0, "{an:?}");
    assert!((mf.correlation_map(an.q_star, an.c_star) - an.c_star).abs() < 1e-12);
    // ReLU above √2: no finite fixed point, seen within a few dozen layers.
    let relu = MeanField::new(Activation::Relu, 1.6, 0.0).unwrap();
    assert!(matches!(relu.variance_fixed_point(1.0).unwrap(), VarianceFixedPoint::Divergent {
        layers: Some(l),
        ..
    } if l < 1000));
    let err = relu.analyse(1.0).unwrap_err().to_string();
    assert!(err.contains("no finite fixed point"), "{err}");
    // ReLU at exactly √2 with a bias: q grows by σ_b² a layer, forever.
    let relu = MeanField::new(Activation::Relu, 2f64.sqrt(), 0.1).unwrap();
    assert!(matches!(
        relu.variance_fixed_point(1.0).unwrap(),
        VarianceFixedPoint::Divergent { layers: None, .. }
    ));
}

#[test]
fn gradient_ratios_at_the_fixed_point_are_powers_of_chi1() {
    let mf = MeanField::new(Activation::Tanh, 1.1, 0.1).unwrap();
    let an = mf.analyse(1.0).unwrap();
    let r = mf.gradient_norm_ratios(an.q_star, 12).unwrap();
    for (l, &v) in r.iter().enumerate() {
        let want = gradient_norm_ratio(an.chi1, l + 1, 12);
        assert!((v - want).abs() < 1e-12 * want, "layer {}: {v} vs {want}", l + 1);
    }
}

#[test]
fn edge_of_chaos_for_leaky_relu_is_closed_form() {
    let alpha = 0.3;
    let got = critical_sigma_w(Activation::LeakyRelu { alpha }, 0.0, 0.5, 3.0).unwrap();
    let want = (2.0 / (1.0 + alpha * alpha)).sqrt();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    // χ₁ is 1 there for a smooth activation with a bias too.
    let sw = critical_sigma_w(Activation::Tanh, 0.3, 0.5, 3.0).unwrap();
    let mf = MeanField::new(Activation::Tanh, sw, 0.3).unwrap();
    let an = mf.analyse(1.0).unwrap();
    assert!((an.chi1 - 1.0).abs() < 1e-9, "σ_w = {sw}: χ₁ = {}", an.chi1);
    assert!(critical_sigma_w(Activation::Tanh, 0.0, 1.5, 3.0).is_err());
    // GELU without bias: the switch from collapse (χ₁ = σ_w²/4 < 1) to
    // divergence is not an edge of chaos, and is reported as such.
    let err = critical_sigma_w(Activation::Gelu, 0.0, 0.5, 3.0).unwrap_err().to_string();
    assert!(err.contains("no chi1 = 1 crossing"), "{err}");
    assert!(MeanField::new(Activation::Tanh, -1.0, 0.0).is_err());
}

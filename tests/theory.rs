//! Measurement against theory: wide random networks on the tape at
//! initialisation, compared with mean-field predictions (Poole et al. 2016,
//! Schoenholz et al. 2017) and the Jacobian spectrum picture of Pennington,
//! Schoenholz & Ganguli (2017). Each test states its tolerance and why;
//! run with `--nocapture` to see the measured-vs-predicted figures.
use gradlab::Activation;
use gradlab::theory::{
    DeepNet, MeanField, SpectrumStats, WeightKind, critical_sigma_w, gaussian_matrix, histogram,
};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

const SEEDS: [u64; 3] = [1, 2, 3];

/// A batch whose first-layer pre-activations have variance `q1`:
/// `σ_w²·mean(x²) + σ_b² = q1`.
fn input_for(
    q1: f64,
    sigma_w: f64,
    sigma_b: f64,
    batch: usize,
    width: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let var = ((q1 - sigma_b * sigma_b) / (sigma_w * sigma_w)).max(0.0);
    gaussian_matrix(batch, width, var.sqrt(), rng)
}

/// Least-squares slope through the origin of `ln rₗ` against `L − l`: the
/// measured per-layer log factor of the gradient norm.
fn log_slope(ratios: &[f64]) -> f64 {
    let depth = ratios.len();
    let (mut num, mut den) = (0.0, 0.0);
    for (l, r) in ratios.iter().enumerate() {
        let d = (depth - 1 - l) as f64;
        num += d * r.ln();
        den += d * d;
    }
    num / den
}

/// Measured ‖∂L/∂hₗ‖ / ‖∂L/∂h_L‖: the square root of the seeds' arithmetic
/// mean of the squared ratio, since mean field predicts the expectation of
/// the squared norm (a mean of logs would sit below it by the Jensen gap,
/// about 1/(2n) a layer for a product of Gaussian matrices).
fn measured_ratios(
    act: Activation,
    sw: f64,
    sb: f64,
    q1: f64,
    width: usize,
    depth: usize,
    seeds: u64,
) -> Vec<f64> {
    let batch = 8;
    let mut sq = vec![0.0; depth];
    for seed in 1..=seeds {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let widths = vec![width; depth + 1];
        let net = DeepNet::random(&widths, act, sw, sb, WeightKind::Gaussian, &mut rng).unwrap();
        let x = input_for(q1, sw, sb, batch, width, &mut rng);
        let g = gaussian_matrix(batch, width, 1.0, &mut rng);
        let norms = net.gradient_norms(&x, batch, &g).unwrap();
        let top = norms[depth - 1];
        for (acc, n) in sq.iter_mut().zip(&norms) {
            *acc += (n / top).powi(2) / seeds as f64;
        }
    }
    sq.iter().map(|v| v.sqrt()).collect()
}

#[test]
fn gradient_norm_decay_follows_chi1() {
    // Width 256, depth 15, batch 8, 3 seeds; the input starts at q* so every
    // layer has the same χ₁. Tolerance on the per-layer log slope: 12 % of the
    // prediction plus 0.004 absolute, the scatter of the measurement (±0.004
    // seen at widths 128–512, which matters only where ½lnχ₁ is near 0).
    let (width, depth, sb) = (256, 15, 0.05);
    for sw in [0.8, 1.0, 1.5] {
        let mf = MeanField::new(Activation::Tanh, sw, sb).unwrap();
        let an = mf.analyse(1.0).unwrap();
        let predicted = 0.5 * an.chi1.ln();
        let ratios = measured_ratios(Activation::Tanh, sw, sb, an.q_star, width, depth, 3);
        let measured = log_slope(&ratios);
        eprintln!(
            "tanh σ_w={sw} σ_b={sb}: q*={:.4} χ₁={:.4}; per-layer ln-norm slope measured {measured:.4} vs \
             predicted ½lnχ₁ = {predicted:.4}; ‖g₁‖/‖g_L‖ measured {:.3e} vs χ₁^((L−1)/2) = {:.3e}",
            an.q_star,
            an.chi1,
            ratios[0],
            an.chi1.powf((depth - 1) as f64 / 2.0)
        );
        let tol = 0.12 * predicted.abs() + 0.004;
        assert!((measured - predicted).abs() <= tol, "σ_w={sw}: slope {measured} vs {predicted} (tol {tol})");
    }
}

#[test]
fn edge_of_chaos_is_one_for_tanh_and_root_two_for_relu() {
    let tanh = critical_sigma_w(Activation::Tanh, 0.0, 0.5, 3.0).unwrap();
    eprintln!("critical σ_w: tanh (σ_b=0) {tanh:.12}, expected 1");
    assert!((tanh - 1.0).abs() < 1e-6, "{tanh}");
    for sb in [0.0, 0.3] {
        let relu = critical_sigma_w(Activation::Relu, sb, 0.5, 3.0).unwrap();
        eprintln!("critical σ_w: relu (σ_b={sb}) {relu:.12}, expected √2 = {:.12}", 2f64.sqrt());
        assert!((relu - 2f64.sqrt()).abs() < 1e-4, "{relu}");
    }
    // Measured at the edge (tanh, σ_b = 0.05), the gradient norm keeps its size:
    // slope within the same finite-width noise band as above.
    let sw = critical_sigma_w(Activation::Tanh, 0.05, 0.5, 3.0).unwrap();
    let q = MeanField::new(Activation::Tanh, sw, 0.05).unwrap().analyse(1.0).unwrap().q_star;
    let slope = log_slope(&measured_ratios(Activation::Tanh, sw, 0.05, q, 256, 15, 3));
    eprintln!("tanh σ_b=0.05: critical σ_w={sw:.6}, q*={q:.4}, measured slope {slope:.4} (predicted 0)");
    // Bound 0.008: the slope of one such measurement scatters by about ±0.004
    // around ½lnχ₁ (seen at σ_w = 0.8 and 1.5 for widths 128, 256 and 512).
    assert!(slope.abs() < 0.008, "{slope}");
}

/// Measured `qₗ / q₁` (mean of hₗ² over batch and units), averaged over seeds.
fn variance_profile(sigma_w: f64, width: usize, depth: usize) -> Vec<f64> {
    let batch = 16;
    let mut prof = vec![0.0; depth];
    for seed in SEEDS {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let net = DeepNet::random(
            &vec![width; depth + 1],
            Activation::Relu,
            sigma_w,
            0.0,
            WeightKind::Gaussian,
            &mut rng,
        )
        .unwrap();
        let x = gaussian_matrix(batch, width, 1.0, &mut rng);
        let q = net.pre_activation_variances(&x, batch).unwrap();
        for (p, v) in prof.iter_mut().zip(&q) {
            *p += v / q[0] / SEEDS.len() as f64;
        }
    }
    prof
}

#[test]
fn he_relu_keeps_the_variance_where_small_normal_init_collapses_it() {
    let (width, depth) = (256, 20);
    // He: σ_w = √2, the mean-field map is q ↦ q exactly.
    let he = variance_profile(2f64.sqrt(), width, depth);
    let (lo, hi) = he.iter().fold((f64::MAX, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    eprintln!("He relu: q_l/q_1 over 20 layers in [{lo:.3}, {hi:.3}], q_20/q_1 = {:.3}", he[depth - 1]);
    assert!(hi / lo < 2.0, "He init: variance ranges over a factor {}", hi / lo);
    // random_normal(stddev 0.01): σ_w = 0.01·√fan_in, so q shrinks by σ_w²/2 = 0.0128 a layer.
    let sw = 0.01 * (width as f64).sqrt();
    let small = variance_profile(sw, width, depth);
    let mf = MeanField::new(Activation::Relu, sw, 0.0).unwrap();
    let pred = mf.variance_trajectory(1.0, depth).unwrap();
    let (m, p) = (small[depth - 1].log10(), pred[depth - 1].log10());
    eprintln!("stddev 0.01 relu: log10(q_20/q_1) measured {m:.2} vs mean-field {p:.2}");
    assert!(m < -20.0, "no collapse: log10 ratio {m}");
    // 5 % of 36 decades: each layer's factor is measured to ~1 % at this width.
    assert!((m - p).abs() < 0.05 * p.abs(), "collapse rate {m} vs {p}");
}

/// Singular values of the Jacobian for seeds `1..=seeds`, each at an input at the fixed point.
fn singular_values(
    sw: f64,
    sb: f64,
    kind: WeightKind,
    width: usize,
    depth: usize,
    seeds: u64,
) -> Vec<Vec<f64>> {
    let q = MeanField::new(Activation::Tanh, sw, sb).unwrap().analyse(1.0).unwrap().q_star;
    (1..=seeds)
        .map(|seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let net =
                DeepNet::random(&vec![width; depth + 1], Activation::Tanh, sw, sb, kind, &mut rng).unwrap();
            let x = input_for(q, sw, sb, 1, width, &mut rng);
            net.jacobian(&x).unwrap().singular_values()
        })
        .collect()
}

fn spectra(sw: f64, sb: f64, kind: WeightKind, width: usize, depth: usize, seeds: u64) -> Vec<SpectrumStats> {
    let all = singular_values(sw, sb, kind, width, depth, seeds);
    all.iter().map(|s| SpectrumStats::of(s).unwrap()).collect()
}

#[test]
fn jacobian_mean_squared_singular_value_is_chi1_to_the_depth() {
    // Width 128, depth 10, tanh, σ_b = 0.05, Gaussian weights, 12 seeds.
    // Mean field predicts the *expectation* E‖J‖²_F/n = χ₁^L, so the seeds are
    // averaged arithmetically. Near and above criticality the spectrum is
    // heavy-tailed and one seed's mean(s²) scatters by ~25 % (measured), so the
    // 12-seed mean is good to ~8 %: tolerance 0.15 in ln (2σ).
    let (width, depth, sb) = (128, 10, 0.05);
    let crit = critical_sigma_w(Activation::Tanh, sb, 0.5, 3.0).unwrap();
    for sw in [0.8, crit, 1.3] {
        let chi1 = MeanField::new(Activation::Tanh, sw, sb).unwrap().analyse(1.0).unwrap().chi1;
        let st = spectra(sw, sb, WeightKind::Gaussian, width, depth, 12);
        let measured = (st.iter().map(|s| s.mean_sq).sum::<f64>() / st.len() as f64).ln();
        let predicted = depth as f64 * chi1.ln();
        eprintln!(
            "tanh σ_w={sw:.4}: mean s² measured {:.4e} vs χ₁^L = {:.4e} (ln {measured:.3} vs {predicted:.3})",
            measured.exp(),
            predicted.exp()
        );
        assert!((measured - predicted).abs() < 0.15, "σ_w={sw}: ln {measured} vs {predicted}");
    }
}

#[test]
fn orthogonal_weights_at_criticality_give_dynamical_isometry() {
    // Tanh at the edge of chaos with a small q* (σ_b = 0.005, so q* ≈ 0.02),
    // width 128, depth 32, 3 seeds: Gaussian weights spread the singular
    // values over decades, orthogonal ones keep them near 1 (Pennington et
    // al. 2017, Fig. 1). With σ_b = 0.05 (q* = 0.15) even orthogonal weights
    // spread them (std(log10 s) 0.64 measured): isometry needs q* → 0.
    let (width, depth, sb) = (128, 32, 0.005);
    let sw = critical_sigma_w(Activation::Tanh, sb, 0.5, 3.0).unwrap();
    let (gsv, osv) = (
        singular_values(sw, sb, WeightKind::Gaussian, width, depth, 3),
        singular_values(sw, sb, WeightKind::Orthogonal, width, depth, 3),
    );
    let gauss: Vec<SpectrumStats> = gsv.iter().map(|s| SpectrumStats::of(s).unwrap()).collect();
    let orth: Vec<SpectrumStats> = osv.iter().map(|s| SpectrumStats::of(s).unwrap()).collect();
    let logs = |s: &[f64]| s.iter().map(|v| v.log10()).collect::<Vec<_>>();
    eprintln!(
        "log10 s histogram over [-8, 2) in 10 bins (seed 1): Gaussian {:?}, orthogonal {:?}",
        histogram(&logs(&gsv[0]), 10, -8.0, 2.0).unwrap(),
        histogram(&logs(&osv[0]), 10, -8.0, 2.0).unwrap()
    );
    let avg =
        |v: &[SpectrumStats], f: fn(&SpectrumStats) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let (gs, os) = (avg(&gauss, |s| s.log10_std), avg(&orth, |s| s.log10_std));
    let (gspread, ospread) = (avg(&gauss, |s| s.log10_spread), avg(&orth, |s| s.log10_spread));
    eprintln!(
        "critical tanh σ_w={sw:.4}, L={depth}: std(log10 s) Gaussian {gs:.3} vs orthogonal {os:.3}; \
         log10(max/min) Gaussian {gspread:.2} vs orthogonal {ospread:.2}; mean s² {:.3} vs {:.3}; \
         below SVD resolution: Gaussian {:.1} of {width}, orthogonal {:.1}",
        avg(&gauss, |s| s.mean_sq),
        avg(&orth, |s| s.mean_sq),
        avg(&gauss, |s| s.unresolved as f64),
        avg(&orth, |s| s.unresolved as f64)
    );
    assert!(os < 0.25 * gs, "orthogonal std(log10 s) {os} not much below Gaussian {gs}");
    assert!(ospread < 1.5 && gspread > 3.0, "spreads: orthogonal {ospread}, Gaussian {gspread}");
    // Both keep mean(s²) = χ₁^L = 1 on average (the tolerance of the test above).
    for (name, st) in [("Gaussian", &gauss), ("orthogonal", &orth)] {
        let m = avg(st, |s| s.mean_sq).ln();
        assert!(m.abs() < 0.15, "{name}: ln mean(s²) = {m}, predicted 0");
    }
}

#[test]
fn correlation_of_two_inputs_follows_the_correlation_map() {
    // Tanh, σ_b = 0.05, width 512, depth 20, 8 input pairs × 6 seeds, both
    // inputs at q* with first-layer correlation ≈ 0.2; σ_w = 0.9 (ordered,
    // c* = 1) and 2.5 (chaotic, c* ≈ 0). The measured cₗ (cosine of hₗ for the
    // two inputs, averaged over pairs and seeds) is compared with the map
    // iterated from the measured c₁: within 0.03 at every layer. Each layer
    // adds finite-width noise (~(1 − c²)/√n ≈ 0.04 for one pair) that the map
    // damps by χ_c a layer, so it accumulates: with χ_c = 0.94 (σ_w = 1.5) the
    // averaged trajectory wandered ±0.03 around the prediction, which is why
    // the chaotic case here is σ_w = 2.5 (χ_c = 0.84, gaps ≤ 0.02 seen).
    let (width, depth, sb, pairs) = (512, 20, 0.05, 8);
    for sw in [0.9, 2.5] {
        let mf = MeanField::new(Activation::Tanh, sw, sb).unwrap();
        let an = mf.analyse(1.0).unwrap();
        let v = (an.q_star - sb * sb) / (sw * sw);
        let rho = (0.2 * an.q_star - sb * sb) / (sw * sw * v);
        let mut measured = vec![0.0; depth];
        for seed in 1..=6u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let net = DeepNet::random(
                &vec![width; depth + 1],
                Activation::Tanh,
                sw,
                sb,
                WeightKind::Gaussian,
                &mut rng,
            )
            .unwrap();
            let mut x = Vec::with_capacity(2 * pairs * width);
            for _ in 0..pairs {
                let a = gaussian_matrix(1, width, v.sqrt(), &mut rng);
                let y = gaussian_matrix(1, width, v.sqrt(), &mut rng);
                let b: Vec<f64> =
                    a.iter().zip(&y).map(|(a, y)| rho * a + (1.0 - rho * rho).sqrt() * y).collect();
                x.extend_from_slice(&a);
                x.extend_from_slice(&b);
            }
            let mut tape = gradlab::Tape::new();
            let rec = net.record(&mut tape, &x, 2 * pairs).unwrap();
            for (l, &h) in rec.pre.iter().enumerate() {
                let hv = tape.value(h);
                for p in 0..pairs {
                    let (a, b) = (&hv[2 * p * width..][..width], &hv[(2 * p + 1) * width..][..width]);
                    let dot = |u: &[f64], w: &[f64]| u.iter().zip(w).map(|(u, w)| u * w).sum::<f64>();
                    let cos = dot(a, b) / (dot(a, a) * dot(b, b)).sqrt();
                    measured[l] += cos / (pairs * 6) as f64;
                }
            }
        }
        let predicted = mf.correlation_trajectory(an.q_star, measured[0], depth).unwrap();
        let worst = measured.iter().zip(&predicted).map(|(m, p)| (m - p).abs()).fold(0.0, f64::max);
        eprintln!(
            "tanh σ_w={sw}: c* = {:.4}, χ_c = {:.4}, ξ_c = {:.2}, ξ_q = {:.2}; c_l measured {:.3}→{:.3}→{:.3} vs \
             predicted {:.3}→{:.3}→{:.3} (layers 1, 5, 20); worst gap {worst:.4}",
            an.c_star,
            an.chi_c,
            an.xi_c,
            an.xi_q,
            measured[0],
            measured[4],
            measured[depth - 1],
            predicted[0],
            predicted[4],
            predicted[depth - 1]
        );
        assert!(worst < 0.03, "σ_w={sw}: correlation trajectory off by {worst}");
    }
}

#[test]
fn gradient_norms_follow_the_variance_trajectory_off_the_fixed_point() {
    // Tanh at σ_w = 1, σ_b = 0 from q₁ = 1: q* = 0 is approached only
    // algebraically (qₗ ≈ 1/(2l)), so χ₁(qₗ) changes layer by layer and the
    // fixed-point formula does not apply; the layer-by-layer product
    // ∏ √χ₁(q_k) does. Width 256, depth 15, 12 seeds; tolerance 0.06 in ln at
    // every layer: one seed's ln ratio at layer 1 scatters by ~0.1 (measured),
    // so 12 seeds give ~0.03 and the bound is 2σ.
    let (width, depth) = (256, 15);
    let mf = MeanField::new(Activation::Tanh, 1.0, 0.0).unwrap();
    let predicted = mf.gradient_norm_ratios(1.0, depth).unwrap();
    let measured = measured_ratios(Activation::Tanh, 1.0, 0.0, 1.0, width, depth, 12);
    let worst = measured.iter().zip(&predicted).map(|(m, p)| (m.ln() - p.ln()).abs()).fold(0.0, f64::max);
    eprintln!(
        "tanh σ_w=1 σ_b=0 from q₁=1: ‖g₁‖/‖g_L‖ measured {:.4} vs trajectory prediction {:.4} \
         (fixed-point formula χ₁(0)^((L−1)/2) = 1); worst ln gap {worst:.4}",
        measured[0], predicted[0]
    );
    assert!(worst < 0.06, "worst ln gap {worst}");
}

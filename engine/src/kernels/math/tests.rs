//! Accuracy tests of exp, ln, expm1 and Φ against f64 references, in ulp, plus
//! the test helpers the other kernel tests share.
use super::erf::{erf, phi_pdf};
use super::exp::{exp, expm1};
use super::log::{ln, ln_1p};
use super::{exp_f32, ln_f32};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

pub(crate) fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Uniform in [lo, hi).
pub(crate) fn uniform(r: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    let u = (r.next_u32() >> 8) as f64 / (1u64 << 24) as f64;
    (lo as f64 + u * (hi as f64 - lo as f64)) as f32
}

pub(crate) fn uniform_vec(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut r = rng(seed);
    (0..n).map(|_| uniform(&mut r, lo, hi)).collect()
}

/// Keeps the larger error and where it occurred.
pub(crate) fn worse<E: PartialOrd, A>(e: E, at: A, worst: &mut (E, A)) {
    if e > worst.0 {
        *worst = (e, at);
    }
}

/// Distance in units in the last place between two f32 (0 for two NaNs).
pub(crate) fn ulp_dist(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() { 0 } else { u64::MAX };
    }
    let key = |v: f32| {
        let b = v.to_bits();
        if b >> 31 == 1 { -((b & 0x7fff_ffff) as i64) } else { b as i64 }
    };
    key(a).abs_diff(key(b))
}

/// Runs the slice kernel and checks every element against the f64 reference
/// rounded to f32 and against the scalar (tail) evaluation, bit for bit.
/// Returns (max ulp, where).
fn sweep(
    xs: &[f32],
    kernel: fn(&[f32], &mut [f32]),
    scalar: fn(f32) -> f32,
    exact: fn(f64) -> f64,
) -> (u64, f32) {
    let mut y = vec![f32::NAN; xs.len()];
    kernel(xs, &mut y);
    let mut worst = (0, 0.0);
    for (&x, &v) in xs.iter().zip(&y) {
        assert_eq!(v.to_bits(), scalar(x).to_bits(), "SIMD and scalar tail differ at x = {x:e}");
        let d = ulp_dist(v, exact(x as f64) as f32);
        if d > worst.0 {
            worst = (d, x);
        }
    }
    worst
}

#[test]
fn exp_ulp_sweep() {
    let mut xs: Vec<f32> = (0..=(176 * 64)).map(|i| -87.5 + i as f32 / 64.0).collect();
    let mut r = rng(11);
    xs.extend((0..2_000_000).map(|_| uniform(&mut r, -104.0, 89.0)));
    // the subnormal results and both edges of the finite range
    xs.extend((0..200_000).map(|_| uniform(&mut r, -104.0, -87.0)));
    xs.extend((0..100_000).map(|_| uniform(&mut r, 88.0, 88.75)));
    xs.extend((0..100_000).map(|_| uniform(&mut r, -1e-3, 1e-3)));
    let (worst, at) = sweep(&xs, exp_f32, exp::<f32>, f64::exp);
    println!("exp: max {worst} ulp at x = {at:e}");
    assert!(worst <= 2, "exp: {worst} ulp at x = {at:e}");
}

#[test]
fn ln_ulp_sweep() {
    let mut xs = Vec::new();
    // 4096 points in every binade, subnormals (2^-149 .. 2^-126) included
    for e in -149..128 {
        let lo = (e as f64).exp2();
        xs.extend((0..4096).map(|i| (lo * (1.0 + i as f64 / 4096.0)) as f32));
    }
    // every f32 in [0.5, 2): around 1, where ln is smallest relative to x
    xs.extend((0.5f32.to_bits()..2.0f32.to_bits()).map(f32::from_bits));
    let mut r = rng(12);
    xs.extend((0..2_000_000).map(|_| f32::from_bits(r.next_u32() % 0x7f80_0000)));
    let (worst, at) = sweep(&xs, ln_f32, ln::<f32>, f64::ln);
    println!("ln: max {worst} ulp at x = {at:e}");
    assert!(worst <= 2, "ln: {worst} ulp at x = {at:e}");
}

#[test]
fn exp_ln_special_values() {
    let x = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 88.73, 88.72, -103.98, -103.9, 1.0];
    let mut y = [0.0; 10];
    exp_f32(&x, &mut y);
    let e = |v: f32| (v as f64).exp() as f32;
    let want = [1.0, 1.0, f32::INFINITY, 0.0, f32::NAN, f32::INFINITY, e(88.72), 0.0, 1e-45, e(1.0)];
    for i in 0..x.len() {
        assert_eq!(ulp_dist(y[i], want[i]), 0, "exp({}) = {} want {}", x[i], y[i], want[i]);
    }
    let x =
        [0.0, -0.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1.0, 1e-45, f32::MAX, 1.1754942e-38];
    let mut y = [0.0; 10];
    ln_f32(&x, &mut y);
    let l = |v: f32| (v as f64).ln() as f32;
    let want = [
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::INFINITY,
        f32::NAN,
        f32::NAN,
        0.0,
        l(1e-45),
        l(f32::MAX),
        l(1.1754942e-38),
    ];
    for i in 0..x.len() {
        assert_eq!(ulp_dist(y[i], want[i]), 0, "ln({}) = {} want {}", x[i], y[i], want[i]);
    }
}

#[test]
fn odd_lengths_fully_overwrite_nan_outputs() {
    for n in [0, 1, 7, 8, 9, 1003] {
        let x = uniform_vec(n as u64, n, 0.01, 10.0);
        let mut y = vec![f32::NAN; n];
        exp_f32(&x, &mut y);
        assert!(y.iter().zip(&x).all(|(v, &x)| ulp_dist(*v, (x as f64).exp() as f32) <= 2), "exp n={n}");
        let mut y = vec![f32::NAN; n];
        ln_f32(&x, &mut y);
        assert!(y.iter().zip(&x).all(|(v, &x)| ulp_dist(*v, (x as f64).ln() as f32) <= 2), "ln n={n}");
    }
}

#[test]
fn expm1_and_ln1p_keep_relative_accuracy_near_zero() {
    let mut r = rng(13);
    let mut worst = (0, 0.0);
    for i in 0..400_000 {
        // log-uniform magnitudes from 1e-30 to 30, and x = 0
        let x = if i == 0 { 0.0 } else { -(10f32).powf(uniform(&mut r, -30.0, 1.5)) };
        let d = ulp_dist(expm1(x), libm::expm1(x as f64) as f32);
        worse(d, x, &mut worst);
        let u = x.abs().min(1.0);
        let d = ulp_dist(ln_1p(u), libm::log1p(u as f64) as f32);
        worse(d, u, &mut worst);
    }
    println!("expm1/ln_1p: max {} ulp at {:e}", worst.0, worst.1);
    assert!(worst.0 <= 3, "expm1/ln_1p: {} ulp at {:e}", worst.0, worst.1);
}

#[test]
fn phi_matches_f64() {
    // Φ relative error, pdf relative error, erf absolute+relative error
    let (mut worst_cdf, mut worst_pdf, mut worst_erf) = ((0.0f64, 0.0), (0.0f64, 0.0), (0.0f64, 0.0));
    for i in 0..=190_000 {
        let x = -13.0 + i as f32 * 1e-4;
        let (c, p) = phi_pdf(x);
        let xd = x as f64;
        let c64 = 0.5 * libm::erfc(-xd * std::f64::consts::FRAC_1_SQRT_2);
        let p64 = (-0.5 * xd * xd).exp() / (2.0 * std::f64::consts::PI).sqrt();
        worse((c as f64 - c64).abs() / c64, xd, &mut worst_cdf);
        worse((p as f64 - p64).abs() / p64, xd, &mut worst_pdf);
        let e64 = libm::erf(xd * 0.5);
        worse((erf(x * 0.5) as f64 - e64).abs() / (e64.abs() + 1e-30), xd * 0.5, &mut worst_erf);
    }
    println!("Φ rel {:?}, φ rel {:?}, erf rel {:?}", worst_cdf, worst_pdf, worst_erf);
    assert!(worst_cdf.0 < 4e-7, "Φ: {:?}", worst_cdf);
    assert!(worst_pdf.0 < 4e-7, "φ: {:?}", worst_pdf);
    assert!(worst_erf.0 < 4e-7, "erf: {:?}", worst_erf);
    for (x, want) in [(f32::INFINITY, 1.0), (f32::NEG_INFINITY, 0.0), (0.0, 0.5)] {
        assert_eq!(phi_pdf(x).0, want, "Φ({x})");
    }
    assert!(phi_pdf(f32::NAN).0.is_nan() && erf(f32::NAN).is_nan());
}

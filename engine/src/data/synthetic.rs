//! Seeded synthetic data sets whose exact distribution is stated in each
//! doc: linear regression, Gaussian clusters, XOR, two spirals, two moons.
//!
//! Each generator seeds one `ChaCha8Rng` and draws from it in the order its
//! doc lists, using [`super::random`]; values are computed in f64 (sines and
//! cosines from `libm`, the same bits on every platform) and stored as f32.
//! Samples are interleaved by class (sample `i` has class `i % classes`), so
//! no prefix of the data is a single class.
use super::random::{normal, uniform01};
use super::{Dataset, Targets};
use crate::error::{Error, Result};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::f64::consts::PI;

/// Linear regression with Gaussian inputs: draws `w ~ N(0, I_features)`
/// first, then for each of `n` samples `x ~ N(0, I_features)` followed by
/// `e ~ N(0, 1)`, and sets `y = x·w + noise_std·e`. Returns the data
/// (targets of width 1) and `w`.
pub fn regression(n: usize, features: usize, noise_std: f64, seed: u64) -> Result<(Dataset, Vec<f32>)> {
    check_count("regression", "samples", n)?;
    check_count("regression", "features", features)?;
    check_nonneg("regression", "noise_std", noise_std)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f64> = (0..features).map(|_| normal(&mut rng)).collect();
    let mut x = Vec::with_capacity(n * features);
    let mut y = Vec::with_capacity(n);
    let mut row = vec![0.0f64; features];
    for _ in 0..n {
        row.iter_mut().for_each(|v| *v = normal(&mut rng));
        let dot: f64 = row.iter().zip(&w).map(|(a, b)| a * b).sum();
        y.push((dot + noise_std * normal(&mut rng)) as f32);
        x.extend(row.iter().map(|&v| v as f32));
    }
    let ds = Dataset { name: "regression".into(), features, x, targets: Targets::Values { y, width: 1 } };
    Ok((ds, w.iter().map(|&v| v as f32).collect()))
}

/// Isotropic Gaussian clusters: draws `classes` centres `μ_c = s·z_c` with
/// `z_c ~ N(0, I_features)` and `s = separation / sqrt(2·features)`, so the
/// root-mean-square distance between two centres is `separation` in any
/// dimension; then sample `i` (class `c = i % classes`) is `μ_c + N(0, I)`.
/// With unit-variance clusters, `separation` ≈ 3 is hard, ≈ 8 nearly
/// separable. `n` samples in all.
pub fn gaussian_classes(
    n: usize,
    classes: usize,
    features: usize,
    separation: f64,
    seed: u64,
) -> Result<Dataset> {
    check_count("gaussian_classes", "samples", n)?;
    check_count("gaussian_classes", "features", features)?;
    check_nonneg("gaussian_classes", "separation", separation)?;
    if classes < 2 {
        return Err(Error::invalid("gaussian_classes", format!("need at least 2 classes, got {classes}")));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let s = separation / (2.0 * features as f64).sqrt();
    let centres: Vec<f64> = (0..classes * features).map(|_| s * normal(&mut rng)).collect();
    let mut x = Vec::with_capacity(n * features);
    let labels: Vec<usize> = (0..n).map(|i| i % classes).collect();
    for &c in &labels {
        let mu = &centres[c * features..(c + 1) * features];
        x.extend(mu.iter().map(|&m| (m + normal(&mut rng)) as f32));
    }
    Ok(Dataset {
        name: "gaussian_classes".into(),
        features,
        x,
        targets: Targets::Classes { labels, classes },
    })
}

/// XOR: the four points (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0 in that order,
/// repeated `repeats` times; each input coordinate gets `noise_std·N(0, 1)`
/// added (two normals drawn per point, even when `noise_std` is 0). Targets
/// are real values of width 1 (0 or 1), as a sigmoid output with binary
/// cross-entropy expects.
pub fn xor(repeats: usize, noise_std: f64, seed: u64) -> Result<Dataset> {
    check_count("xor", "repeats", repeats)?;
    check_nonneg("xor", "noise_std", noise_std)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(repeats * 8);
    let mut y = Vec::with_capacity(repeats * 4);
    for _ in 0..repeats {
        for (a, b) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)] {
            x.push((a + noise_std * normal(&mut rng)) as f32);
            x.push((b + noise_std * normal(&mut rng)) as f32);
            y.push(if a == b { 0.0 } else { 1.0 });
        }
    }
    Ok(Dataset { name: "xor".into(), features: 2, x, targets: Targets::Values { y, width: 1 } })
}

/// Two interleaved spirals in the plane, 1.5 turns each: sample `i` (class
/// `c = i % 2`) draws `t ~ U[0, 1)`, then noise `e1, e2 ~ N(0, 1)`; with
/// `θ = 3π·t` the point is `(−1)^c · t·(cos θ, sin θ) + noise_std·(e1, e2)`
/// (class 1 is class 0 turned by π). Radii lie in `[0, 1)` before noise.
pub fn spirals(n: usize, noise_std: f64, seed: u64) -> Result<Dataset> {
    planar("spirals", n, noise_std, seed, |t, c| {
        let (r, th) = (t, 3.0 * PI * t);
        let sign = if c == 0 { 1.0 } else { -1.0 };
        (sign * r * libm::cos(th), sign * r * libm::sin(th))
    })
}

/// Two interleaving half circles (the "moons" layout of scikit-learn, with
/// random instead of evenly spaced angles): sample `i` (class `c = i % 2`)
/// draws `θ = π·u`, `u ~ U[0, 1)`, then noise `e1, e2 ~ N(0, 1)`; class 0 is
/// `(cos θ, sin θ)`, class 1 is `(1 − cos θ, 0.5 − sin θ)`, plus `noise_std·(e1, e2)`.
pub fn moons(n: usize, noise_std: f64, seed: u64) -> Result<Dataset> {
    planar("moons", n, noise_std, seed, |u, c| {
        let th = PI * u;
        let (cos, sin) = (libm::cos(th), libm::sin(th));
        if c == 0 { (cos, sin) } else { (1.0 - cos, 0.5 - sin) }
    })
}

/// Two-class planar data: per sample one uniform `u`, the class's point
/// `shape(u, class)`, then two normals of noise.
fn planar(
    name: &'static str,
    n: usize,
    noise_std: f64,
    seed: u64,
    shape: impl Fn(f64, usize) -> (f64, f64),
) -> Result<Dataset> {
    check_count(name, "samples", n)?;
    check_nonneg(name, "noise_std", noise_std)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(2 * n);
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    for &c in &labels {
        let (a, b) = shape(uniform01(&mut rng), c);
        x.push((a + noise_std * normal(&mut rng)) as f32);
        x.push((b + noise_std * normal(&mut rng)) as f32);
    }
    Ok(Dataset { name: name.into(), features: 2, x, targets: Targets::Classes { labels, classes: 2 } })
}

fn check_count(op: &'static str, what: &str, v: usize) -> Result<()> {
    if v == 0 { Err(Error::invalid(op, format!("{what} must be at least 1"))) } else { Ok(()) }
}

fn check_nonneg(op: &'static str, what: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("{what} must be finite and ≥ 0, got {v}")))
    }
}

#[cfg(test)]
#[path = "synthetic_tests.rs"]
mod tests;

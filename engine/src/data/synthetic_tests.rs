//! Tests of the synthetic generators: determinism, the documented draw
//! order, and the stated distributions.
use super::*;
use crate::data::random;

fn labels(ds: &Dataset) -> &[usize] {
    match &ds.targets {
        Targets::Classes { labels, .. } => labels,
        Targets::Values { .. } => panic!("class targets expected"),
    }
}

fn values(ds: &Dataset) -> &[f32] {
    match &ds.targets {
        Targets::Values { y, .. } => y,
        Targets::Classes { .. } => panic!("real targets expected"),
    }
}

#[test]
fn every_generator_is_fixed_by_its_seed() {
    type Gen = fn(u64) -> Dataset;
    let gens: [Gen; 5] = [
        |s| regression(50, 3, 0.1, s).unwrap().0,
        |s| gaussian_classes(50, 3, 4, 5.0, s).unwrap(),
        |s| xor(5, 0.1, s).unwrap(),
        |s| spirals(50, 0.05, s).unwrap(),
        |s| moons(50, 0.05, s).unwrap(),
    ];
    for g in gens {
        let a = g(11);
        assert_eq!(a, g(11), "{}: same seed, same data", a.name);
        assert_ne!(a.x, g(12).x, "{}: another seed, other data", a.name);
        assert!(a.x.iter().all(|v| v.is_finite()));
        assert_eq!(a.x.len(), a.len() * a.features);
    }
}

#[test]
fn regression_draws_w_first_then_rows() {
    let (ds, w) = regression(3, 2, 0.0, 5).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let w0 = random::normal(&mut rng);
    let w1 = random::normal(&mut rng);
    assert_eq!(w, vec![w0 as f32, w1 as f32]);
    let x00 = random::normal(&mut rng);
    let x01 = random::normal(&mut rng);
    assert_eq!(&ds.x[..2], &[x00 as f32, x01 as f32]);
    assert_eq!(values(&ds)[0], (x00 * w0 + x01 * w1) as f32, "noise 0: y = x·w");
}

#[test]
fn regression_noise_has_the_stated_spread() {
    let (n, f) = (20_000, 4);
    let (ds, w) = regression(n, f, 0.5, 8).unwrap();
    let y = values(&ds);
    let resid: Vec<f64> = (0..n)
        .map(|i| {
            let dot: f64 = (0..f).map(|j| f64::from(ds.x[i * f + j]) * f64::from(w[j])).sum();
            f64::from(y[i]) - dot
        })
        .collect();
    let mean = resid.iter().sum::<f64>() / n as f64;
    let var = resid.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n as f64;
    // Noise variance 0.25; standard errors: mean 0.0035, variance 0.0025.
    assert!(mean.abs() < 0.015, "residual mean {mean}");
    assert!((var - 0.25).abs() < 0.012, "residual variance {var}");
    for j in 0..f {
        let col_var = (0..n).map(|i| f64::from(ds.x[i * f + j]).powi(2)).sum::<f64>() / n as f64;
        assert!((col_var - 1.0).abs() < 0.04, "x column {j} second moment {col_var}");
    }
}

/// Per-class means of a class-labelled set.
fn class_means(ds: &Dataset, classes: usize) -> Vec<Vec<f64>> {
    let f = ds.features;
    let mut sums = vec![vec![0.0; f]; classes];
    let mut counts = vec![0.0; classes];
    for (i, &c) in labels(ds).iter().enumerate() {
        counts[c] += 1.0;
        (0..f).for_each(|j| sums[c][j] += f64::from(ds.x[i * f + j]));
    }
    sums.iter().zip(&counts).map(|(s, n)| s.iter().map(|v| v / n).collect()).collect()
}

#[test]
fn gaussian_centres_are_separation_apart_on_average() {
    let (sep, f) = (6.0, 4);
    let seeds = 300;
    let mut mean_sq = 0.0;
    for seed in 0..seeds {
        let ds = gaussian_classes(400, 2, f, sep, seed).unwrap();
        let m = class_means(&ds, 2);
        mean_sq += m[0].iter().zip(&m[1]).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
    }
    mean_sq /= seeds as f64;
    // E‖μa − μb‖² = sep² (+ 0.04 from estimating the means); its standard error is 0.041·sep².
    assert!((mean_sq / (sep * sep) - 1.0).abs() < 0.15, "mean squared distance {mean_sq}");
}

#[test]
fn gaussian_clusters_have_unit_spread_and_interleaved_labels() {
    let (n, classes, f) = (6000, 3, 5);
    let ds = gaussian_classes(n, classes, f, 10.0, 4).unwrap();
    assert!(labels(&ds).iter().enumerate().all(|(i, &c)| c == i % classes));
    let m = class_means(&ds, classes);
    let mut var = 0.0;
    for (i, &c) in labels(&ds).iter().enumerate() {
        var += (0..f).map(|j| (f64::from(ds.x[i * f + j]) - m[c][j]).powi(2)).sum::<f64>();
    }
    var /= (n * f) as f64;
    assert!((var - 1.0).abs() < 0.03, "within-class variance {var}");
    assert!(gaussian_classes(10, 2, 2, 0.0, 1).is_ok(), "separation 0: one cloud");
}

#[test]
fn xor_holds_the_four_points_in_order() {
    let ds = xor(3, 0.0, 0).unwrap();
    assert_eq!(ds.len(), 12);
    let pts = [0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    assert!(ds.x.chunks(8).all(|c| c == pts));
    assert_eq!(values(&ds), &[0.0, 1.0, 1.0, 0.0].repeat(3)[..]);
    let noisy = xor(2000, 0.1, 0).unwrap();
    let dev: Vec<f64> = noisy.x.iter().zip(pts.iter().cycle()).map(|(&v, &p)| f64::from(v - p)).collect();
    let var = dev.iter().map(|d| d * d).sum::<f64>() / dev.len() as f64;
    assert!((var - 0.01).abs() < 0.001, "noise variance {var}");
    assert_eq!(values(&noisy), values(&xor(2000, 0.0, 9).unwrap()), "labels ignore noise");
}

#[test]
fn spirals_without_noise_lie_on_their_curves() {
    let ds = spirals(400, 0.0, 3).unwrap();
    for (i, &c) in labels(&ds).iter().enumerate() {
        let (a, b) = (f64::from(ds.x[2 * i]), f64::from(ds.x[2 * i + 1]));
        let sign = if c == 0 { 1.0 } else { -1.0 };
        let r = a.hypot(b);
        let th = 3.0 * PI * r;
        assert!(r < 1.0);
        assert!((sign * r * th.cos() - a).abs() < 1e-5 && (sign * r * th.sin() - b).abs() < 1e-5, "{i}");
    }
}

#[test]
fn moons_without_noise_lie_on_their_half_circles() {
    let ds = moons(400, 0.0, 3).unwrap();
    for (i, &c) in labels(&ds).iter().enumerate() {
        let (a, b) = (f64::from(ds.x[2 * i]), f64::from(ds.x[2 * i + 1]));
        let (cx, cy, upper) = if c == 0 { (0.0, 0.0, true) } else { (1.0, 0.5, false) };
        assert!(((a - cx).hypot(b - cy) - 1.0).abs() < 1e-6, "sample {i} off its circle");
        assert_eq!(b >= cy, upper || b == cy, "sample {i} on the wrong half");
    }
    assert_eq!(labels(&ds).iter().filter(|&&c| c == 1).count(), 200);
}

#[test]
fn bad_parameters_are_errors() {
    assert!(regression(0, 2, 0.1, 0).is_err());
    assert!(regression(5, 0, 0.1, 0).is_err());
    assert!(regression(5, 2, -0.1, 0).unwrap_err().to_string().contains("noise_std must be finite and ≥ 0"));
    assert!(gaussian_classes(5, 1, 2, 1.0, 0).unwrap_err().to_string().contains("at least 2 classes"));
    assert!(gaussian_classes(5, 2, 2, f64::NAN, 0).is_err());
    assert!(xor(0, 0.0, 0).is_err());
    assert!(spirals(4, f64::INFINITY, 0).is_err());
    assert!(moons(0, 0.1, 0).is_err());
}

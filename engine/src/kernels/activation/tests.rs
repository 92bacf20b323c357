//! SIMD activations against the f64 reference, with stated tolerances, plus
//! saturation, NaN, odd-length and tail-consistency checks.
use super::{Activation, backward_f32, backward_write_f32, forward_f32, reference};
use crate::kernels::math::tests::{uniform_vec, worse};

const ACTS: [Activation; 9] = [
    Activation::Linear,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
    Activation::LeakyRelu { alpha: 0.3 },
    Activation::Elu { alpha: 1.0 },
    Activation::Elu { alpha: 0.5 },
    Activation::Gelu,
    Activation::Softplus,
];

/// Forward: |y − y64| ≤ FWD_RTOL·|y64| + TINY (about 5 f32 ulp; TINY covers
/// results in the subnormal range, e.g. σ(−100)).
const FWD_RTOL: f64 = 6e-7;
/// Backward: |gx − gx64| ≤ BWD_RTOL·(|gx0| + |f'·gy|) + BWD_ATOL·|gy|. The
/// derivative is formed from the f32 `y`, so σ' = y(1−y) and tanh' = 1−y²
/// inherit y's absolute error δy (up to ~2 ulp of 1) as 2·δy·|gy|, even where
/// they are tiny.
const BWD_RTOL: f64 = 6e-7;
const BWD_ATOL: f64 = 5e-7;
const TINY: f64 = 1e-37;

fn inputs() -> Vec<f32> {
    let mut x: Vec<f32> = (0..=(60 * 256)).map(|i| -30.0 + i as f32 / 256.0).collect();
    x.extend(uniform_vec(21, 20_000, -10.0, 10.0));
    x.extend(uniform_vec(22, 2_000, -1e-3, 1e-3));
    x.extend([0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 100.0, -100.0, 1e4, -1e4, 88.0, -88.0, 9.0, -9.0]);
    x
}

#[test]
fn simd_matches_f64_reference() {
    let x = inputs();
    let n = x.len();
    let gx0 = uniform_vec(23, n, -1.0, 1.0);
    let gy = uniform_vec(24, n, -2.0, 2.0);
    for act in ACTS {
        let mut y = vec![f32::NAN; n];
        forward_f32(act, &x, &mut y);
        let mut gx = gx0.clone();
        backward_f32(act, &x, &y, &gy, &mut gx);
        let (mut wf, mut wb) = ((0.0f64, 0.0f32), (0.0f64, 0.0f32));
        for i in 0..n {
            let xd = x[i] as f64;
            let y64 = reference::f(act, xd);
            let ef = (y[i] as f64 - y64).abs() / (FWD_RTOL * y64.abs() + TINY);
            worse(ef, x[i], &mut wf);
            let d = reference::df(act, xd, y64) * gy[i] as f64;
            let g64 = gx0[i] as f64 + d;
            let eb = (gx[i] as f64 - g64).abs()
                / (BWD_RTOL * (gx0[i].abs() as f64 + d.abs()) + BWD_ATOL * gy[i].abs() as f64);
            worse(eb, x[i], &mut wb);
        }
        println!(
            "{act}: forward {:.3} of tolerance at x={:e}, backward {:.3} at x={:e}",
            wf.0, wf.1, wb.0, wb.1
        );
        assert!(wf.0 <= 1.0, "{act} forward: {:.3}× tolerance at x = {:e}", wf.0, wf.1);
        assert!(wb.0 <= 1.0, "{act} backward: {:.3}× tolerance at x = {:e}", wb.0, wb.1);
    }
}

#[test]
fn saturating_activations_reach_exact_limits() {
    let x: Vec<f32> =
        (0..=20_000).map(|i| -1e4 + i as f32).chain((-4000..=4000).map(|i| i as f32 / 100.0)).collect();
    for act in ACTS {
        let mut y = vec![f32::NAN; x.len()];
        forward_f32(act, &x, &mut y);
        let mut gx = vec![0.0; x.len()];
        backward_f32(act, &x, &y, &vec![1.0; x.len()], &mut gx);
        for i in 0..x.len() {
            assert!(y[i].is_finite() && gx[i].is_finite(), "{act}({}) = {}, f' = {}", x[i], y[i], gx[i]);
            // where f32 rounds the exact value to a limit, we return that limit
            let want = reference::f(act, x[i] as f64) as f32;
            if matches!(want, 0.0 | 1.0 | -1.0) {
                assert_eq!(y[i], want, "{act}({}) should be exactly {want}", x[i]);
            }
        }
    }
}

#[test]
fn nan_propagates_forward() {
    let x = [1.0, f32::NAN, -2.0, 0.5, 3.0, -1.0, 0.0, 2.0, f32::NAN];
    for act in ACTS {
        let mut y = [0.0; 9];
        forward_f32(act, &x, &mut y);
        assert!(y[1].is_nan() && y[8].is_nan(), "{act}: NaN lost: {y:?}");
        assert!(y.iter().enumerate().all(|(i, v)| v.is_nan() == (i == 1 || i == 8)), "{act}: {y:?}");
    }
}

#[test]
fn odd_lengths_and_tails_agree_with_blocks() {
    for n in [0, 1, 7, 8, 9, 1003] {
        let x = uniform_vec(n as u64 + 30, n, -6.0, 6.0);
        let gy = uniform_vec(n as u64 + 31, n, -1.0, 1.0);
        for act in ACTS {
            let mut y = vec![f32::NAN; n];
            forward_f32(act, &x, &mut y);
            let mut gx = vec![0.5; n];
            backward_f32(act, &x, &y, &gy, &mut gx);
            for i in 0..n {
                // the same element alone runs through the scalar tail
                let (mut yi, mut gi) = ([f32::NAN], [0.5]);
                forward_f32(act, &x[i..=i], &mut yi);
                backward_f32(act, &x[i..=i], &y[i..=i], &gy[i..=i], &mut gi);
                assert_eq!(y[i].to_bits(), yi[0].to_bits(), "{act} n={n} i={i}: block vs tail");
                assert_eq!(gx[i].to_bits(), gi[0].to_bits(), "{act} n={n} i={i}: block vs tail (backward)");
                let y64 = reference::f(act, x[i] as f64);
                assert!((y[i] as f64 - y64).abs() <= FWD_RTOL * y64.abs() + TINY, "{act} n={n} i={i}");
            }
        }
    }
}

/// The write form (a backward's first contribution) is bit for bit the
/// accumulating form into zeros, signs of zero included (`f'·gy = −0`
/// becomes `+0`, as adding it to `+0` does), for every length's tail, and
/// never reads the stale buffer it overwrites (NaN here). The f64 reference
/// pair likewise.
#[test]
fn write_form_equals_accumulating_into_zeros() {
    let mut x = inputs();
    x.extend([-1.0, -2.0, -0.0, 0.0, -5.0]);
    let n = x.len();
    let mut gy = uniform_vec(25, n, -2.0, 2.0);
    gy[n - 5..].copy_from_slice(&[-1.0, 1.0, -1.0, 0.0, -0.0]);
    for act in ACTS {
        let mut y = vec![0.0; n];
        forward_f32(act, &x, &mut y);
        for len in [n, n - 3, 7, 1] {
            let mut added = vec![0.0f32; len];
            backward_f32(act, &x[..len], &y[..len], &gy[..len], &mut added);
            let mut written = vec![f32::NAN; len];
            backward_write_f32(act, &x[..len], &y[..len], &gy[..len], &mut written);
            for i in 0..len {
                assert_eq!(written[i].to_bits(), added[i].to_bits(), "{act} at x = {}, gy = {}", x[i], gy[i]);
            }
        }
        let (x64, gy64): (Vec<f64>, Vec<f64>) =
            x.iter().zip(&gy).map(|(&a, &b)| (a as f64, b as f64)).unzip();
        let y64: Vec<f64> = x64.iter().map(|&v| reference::f(act, v)).collect();
        let mut added = vec![0.0f64; n];
        reference::backward(act, &x64, &y64, &gy64, &mut added);
        let mut written = vec![f64::NAN; n];
        reference::backward_write(act, &x64, &y64, &gy64, &mut written);
        for i in 0..n {
            assert_eq!(written[i].to_bits(), added[i].to_bits(), "reference {act} at x = {}", x64[i]);
        }
    }
}

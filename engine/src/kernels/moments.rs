//! One-pass summary moments of an f32 slice (Σx, Σx², Σ|x|, max |x|), Σ(a−b)²
//! and range counts: what the training monitor reads of every gradient and
//! activation at every step, so they must cost a small fraction of the step.
//!
//! Range: gradients of 1e-25 (vanishing) and 1e25 (exploding) are exactly
//! what the monitor exists to measure, and their squares leave the f32 range.
//! When max |x| lies outside [2⁻⁵⁶, 2⁵⁶] the SIMD kernels scale the slice by a
//! power of two (exact) that brings it into [0.5, 1), accumulate in f32 lanes,
//! and unscale in f64; inside that range the scaling would change no bit, so
//! one pass does.
//!
//! Order: [`CHUNK`]-element chunks, two f32x8 accumulators per moment within
//! a chunk, lanes combined pairwise, chunk partials added in f64 in index
//! order: fixed by the length alone, never by threads. Each lane adds at most
//! CHUNK/16 = 256 terms, so the sums are within about 256·2⁻²⁴ ≈ 1.5e-5 of
//! exact (test `simd_moments_match_the_f64_reference`).
use super::reduce::max_abs_f32;
use wide::f32x8;

const CHUNK: usize = 4096;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    pub sum: f64,
    pub sum_sq: f64,
    pub sum_abs: f64,
    pub max_abs: f64,
}

// ---------------------------------------------------------------- references

/// The f64 reference, in index order. Non-finite elements make the sums non-finite.
pub fn moments(x: &[f32]) -> Moments {
    x.iter().fold(Moments::default(), |m, &v| {
        let v = f64::from(v);
        Moments {
            sum: m.sum + v,
            sum_sq: m.sum_sq + v * v,
            sum_abs: m.sum_abs + v.abs(),
            max_abs: if v.is_nan() { f64::NAN } else { m.max_abs.max(v.abs()) },
        }
    })
}

/// Σ(aᵢ − bᵢ)² in f64, the reference.
pub fn diff_sq(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum()
}

/// How many elements lie below `lo` or above `hi`.
pub fn count_outside(x: &[f32], lo: f32, hi: f32) -> usize {
    x.iter().filter(|&&v| v < lo || v > hi).count()
}

// ---------------------------------------------------------------- f32 SIMD

/// The power of two that brings `max` into [0.5, 1), clamped to what f32 holds.
fn scale_for(max: f32) -> f32 {
    let exponent = ((max.to_bits() >> 23) & 0xff) as i32 - 127; // −127 for subnormals
    let e = (-exponent - 1).clamp(-126, 127);
    f32::from_bits(((e + 127) as u32) << 23)
}

#[inline(always)]
fn load(s: &[f32]) -> f32x8 {
    f32x8::new(s.try_into().expect("block of 8"))
}

/// Σ(s·x), Σ(s·x)², Σ|s·x| and max |x| over one chunk.
#[inline(always)]
fn chunk_moments(x: &[f32], s: f32x8) -> ([f64; 3], f32) {
    let z = f32x8::ZERO;
    let (mut sum, mut sq, mut abs, mut max) = ([z; 2], [z; 2], [z; 2], [z; 2]);
    let mut pairs = x.chunks_exact(16);
    for p in &mut pairs {
        for k in 0..2 {
            let v = load(&p[8 * k..8 * k + 8]) * s;
            let a = v.abs();
            sum[k] += v;
            sq[k] = v.mul_add(v, sq[k]);
            abs[k] += a;
            max[k] = max[k].max(a);
        }
    }
    let mut blocks = pairs.remainder().chunks_exact(8);
    for b in &mut blocks {
        let v = load(b) * s;
        sum[0] += v;
        sq[0] = v.mul_add(v, sq[0]);
        abs[0] += v.abs();
        max[0] = max[0].max(v.abs());
    }
    let lanes = |a: [f32x8; 2]| (a[0] + a[1]).to_array().iter().map(|&v| f64::from(v)).sum::<f64>();
    let mut out = [lanes(sum), lanes(sq), lanes(abs)];
    let mut m = max[0].max(max[1]).to_array().into_iter().fold(0.0f32, f32::max);
    let s0 = s.to_array()[0];
    for &v in blocks.remainder() {
        m = m.max((v * s0).abs());
        let v = f64::from(v * s0);
        out[0] += v;
        out[1] += v * v;
        out[2] += v.abs();
    }
    (out, m / s0)
}

fn scaled_pass(x: &[f32], s: f32) -> ([f64; 3], f32) {
    let mut acc = [0.0f64; 3];
    let mut max = 0.0f32;
    for c in x.chunks(CHUNK) {
        let (part, m) = chunk_moments(c, f32x8::splat(s));
        acc.iter_mut().zip(part).for_each(|(a, p)| *a += p);
        max = max.max(m);
    }
    (acc, max)
}

/// Where the unscaled squares are safe: max² and 256 of them stay normal
/// and finite in f32, so scaling by a power of two would change no bit.
const SAFE_MAX: std::ops::RangeInclusive<f32> = 1.0 / (1u64 << 56) as f32..=(1u64 << 56) as f32;

/// [`moments`] in SIMD; for finite slices (the caller checks), else the reference.
/// One pass when max |x| is in a safe range (the common case), a second,
/// rescaled pass when it is not.
pub fn moments_f32(x: &[f32]) -> Moments {
    let (acc, max) = scaled_pass(x, 1.0);
    if !acc.iter().all(|a| a.is_finite()) || !max.is_finite() {
        let m = max_abs_f32(x);
        if !m.is_finite() {
            return moments(x);
        }
    }
    if max == 0.0 {
        return Moments::default();
    }
    let (acc, s) = if SAFE_MAX.contains(&max) && acc.iter().all(|a| a.is_finite()) {
        (acc, 1.0)
    } else {
        let s = scale_for(max_abs_f32(x));
        (scaled_pass(x, s).0, s)
    };
    let inv = 1.0 / f64::from(s);
    Moments { sum: acc[0] * inv, sum_sq: acc[1] * inv * inv, sum_abs: acc[2] * inv, max_abs: f64::from(max) }
}

/// Σ(aᵢ − bᵢ)² in SIMD, scaled as [`moments_f32`] is.
pub fn diff_sq_f32(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "diff_sq: lengths differ");
    let mut max = f32x8::ZERO;
    let (mut ac, mut bc) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ac).zip(&mut bc) {
        max = max.max((load(x) - load(y)).abs());
    }
    let tail = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| (x - y).abs());
    let max = tail.fold(max.to_array().into_iter().fold(0.0f32, f32::max), f32::max);
    if !max.is_finite() {
        return diff_sq(a, b);
    }
    if max == 0.0 {
        return 0.0;
    }
    let s = scale_for(max);
    let sv = f32x8::splat(s);
    let mut total = 0.0f64;
    for (ca, cb) in a.chunks(CHUNK).zip(b.chunks(CHUNK)) {
        let mut acc = [f32x8::ZERO; 2];
        let (mut pa, mut pb) = (ca.chunks_exact(16), cb.chunks_exact(16));
        for (x, y) in (&mut pa).zip(&mut pb) {
            for k in 0..2 {
                let d = (load(&x[8 * k..8 * k + 8]) - load(&y[8 * k..8 * k + 8])) * sv;
                acc[k] = d.mul_add(d, acc[k]);
            }
        }
        let (mut ra, mut rb) = (pa.remainder().chunks_exact(8), pb.remainder().chunks_exact(8));
        for (x, y) in (&mut ra).zip(&mut rb) {
            let d = (load(x) - load(y)) * sv;
            acc[0] = d.mul_add(d, acc[0]);
        }
        total += (acc[0] + acc[1]).to_array().iter().map(|&v| f64::from(v)).sum::<f64>();
        for (&x, &y) in ra.remainder().iter().zip(rb.remainder()) {
            total += f64::from((x - y) * s).powi(2);
        }
    }
    total / (f64::from(s) * f64::from(s))
}

/// (Σ(aᵢ − bᵢ)², Σbᵢ²) in one SIMD pass: an update's size and the size of
/// the weights it moved. When max |a − b| or max |b| leaves the safe range,
/// that sum is recomputed with rescaling, so the result is always range-safe.
pub fn diff_and_norm_sq_f32(a: &[f32], b: &[f32]) -> (f64, f64) {
    assert_eq!(a.len(), b.len(), "diff_and_norm_sq: lengths differ");
    let (mut d_total, mut b_total) = (0.0f64, 0.0f64);
    let (mut d_max, mut b_max) = (f32x8::ZERO, f32x8::ZERO);
    let lanes = |v: f32x8| v.to_array().iter().map(|&x| f64::from(x)).sum::<f64>();
    for (ca, cb) in a.chunks(CHUNK).zip(b.chunks(CHUNK)) {
        let (mut dq, mut bq) = (f32x8::ZERO, f32x8::ZERO);
        let (mut pa, mut pb) = (ca.chunks_exact(8), cb.chunks_exact(8));
        for (x, y) in (&mut pa).zip(&mut pb) {
            let (x, y) = (load(x), load(y));
            let d = x - y;
            dq = d.mul_add(d, dq);
            bq = y.mul_add(y, bq);
            d_max = d_max.max(d.abs());
            b_max = b_max.max(y.abs());
        }
        d_total += lanes(dq);
        b_total += lanes(bq);
        for (&x, &y) in pa.remainder().iter().zip(pb.remainder()) {
            d_total += f64::from(x - y).powi(2);
            b_total += f64::from(y).powi(2);
        }
    }
    let tail_max = |v: f32x8, t: &mut dyn Iterator<Item = f32>| {
        t.fold(v.to_array().into_iter().fold(0.0f32, f32::max), f32::max)
    };
    let rest = a.len() / 8 * 8;
    let d_max = tail_max(d_max, &mut a[rest..].iter().zip(&b[rest..]).map(|(x, y)| (x - y).abs()));
    let b_max = tail_max(b_max, &mut b[rest..].iter().map(|y| y.abs()));
    let safe = |m: f32, total: f64| m == 0.0 || (SAFE_MAX.contains(&m) && total.is_finite());
    let d = if safe(d_max, d_total) { d_total } else { diff_sq_f32(a, b) };
    let n = if safe(b_max, b_total) { b_total } else { moments_f32(b).sum_sq };
    (d, n)
}

/// [`count_outside`] in SIMD.
pub fn count_outside_f32(x: &[f32], lo: f32, hi: f32) -> usize {
    let (lov, hiv, one) = (f32x8::splat(lo), f32x8::splat(hi), f32x8::ONE);
    // Per-lane counts stay exact in f32 up to 2^24 per lane; chunking keeps them far below.
    let mut n = 0usize;
    for c in x.chunks(CHUNK) {
        let mut acc = f32x8::ZERO;
        let mut blocks = c.chunks_exact(8);
        for b in &mut blocks {
            let v = load(b);
            acc += (v.simd_lt(lov) | v.simd_gt(hiv)) & one;
        }
        n += acc.to_array().iter().sum::<f32>() as usize + count_outside(blocks.remainder(), lo, hi);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(f64::MIN_POSITIVE)
    }

    proptest! {
        #[test]
        fn simd_moments_match_the_f64_reference(
            v in prop::collection::vec(-1.0f32..1.0, 0..9000),
            exp in -40i32..38,
        ) {
            // Scaled to 1e-40..1e37: the squares leave the f32 range at both ends.
            let k = 10f64.powi(exp) as f32;
            let x: Vec<f32> = v.iter().map(|&a| a * k).collect();
            let (r, s) = (moments(&x), moments_f32(&x));
            prop_assert!(close(s.sum_sq, r.sum_sq, 3e-5), "{s:?} vs {r:?}");
            prop_assert!(close(s.sum_abs, r.sum_abs, 3e-5), "{s:?} vs {r:?}");
            // Σx cancels: bound it by Σ|x| instead of by itself.
            prop_assert!((s.sum - r.sum).abs() <= 3e-5 * r.sum_abs + f64::MIN_POSITIVE, "{s:?} vs {r:?}");
            prop_assert_eq!(s.max_abs, r.max_abs);
            let y: Vec<f32> = x.iter().rev().copied().collect();
            prop_assert!(close(diff_sq_f32(&x, &y), diff_sq(&x, &y), 3e-5));
            let (d, n) = diff_and_norm_sq_f32(&x, &y);
            prop_assert!(close(d, diff_sq(&x, &y), 3e-5), "{d} vs {}", diff_sq(&x, &y));
            prop_assert!(close(n, moments(&y).sum_sq, 3e-5), "{n} vs {}", moments(&y).sum_sq);
            // A small update of finite weights: the update's size survives whatever the scale.
            let z: Vec<f32> = y.iter().map(|&v| v + v * 1e-3).collect();
            let (d, _) = diff_and_norm_sq_f32(&z, &y);
            prop_assert!(close(d, diff_sq(&z, &y), 1e-3), "{d} vs {}", diff_sq(&z, &y));
        }

        #[test]
        fn simd_count_matches_reference(v in prop::collection::vec(-0.1f32..1.1, 0..9000)) {
            prop_assert_eq!(count_outside_f32(&v, 0.01, 0.99), count_outside(&v, 0.01, 0.99));
        }
    }

    #[test]
    fn tiny_and_huge_gradients_keep_their_norm() {
        // In plain f32 the squares of 1e-25 underflow to 0 and those of 1e25 overflow to inf.
        for v in [1e-25f32, 1e25, 1e-40] {
            let x = vec![v; 1000];
            let norm = moments_f32(&x).sum_sq.sqrt();
            let want = f64::from(v) * 1000f64.sqrt();
            assert!(close(norm, want, 1e-5), "{v}: {norm} vs {want}");
        }
        assert_eq!(moments_f32(&[]), Moments::default());
        assert!(moments_f32(&[1.0, f32::NAN]).sum.is_nan());
    }
}

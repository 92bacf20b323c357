//! The engine's few random-number primitives, built on a generator's raw
//! `u64` output so that every stream is fixed by this code (not by a
//! distribution crate's version): uniform, normal, bounded integers, shuffles.
//!
//! Every function reads a whole number of `next_u64` calls, listed in its doc,
//! so a stream can be reproduced by hand. The maths uses the `libm` crate
//! (pure Rust) rather than the platform's `ln`/`cos`, so the values are the
//! same bits on every platform. Initialisers, dropout and the data generators
//! all draw from here; keep this set small and its streams stable, since
//! changing one changes every experiment.
use rand_core::Rng;

/// Uniform on `[0, 1)`: the top 53 bits of one `next_u64`, times 2⁻⁵³.
/// Every representable multiple of 2⁻⁵³ in the range is equally likely.
#[inline]
pub fn uniform01<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    uniform01_of(rng.next_u64())
}

/// [`uniform01`] of an already drawn `next_u64` value, for a caller that
/// draws a block of them at once ([`fill_u64`]).
#[inline]
pub fn uniform01_of(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Fills `out` with the values `out.len()` calls of `next_u64` would return,
/// in one bulk read of the generator's stream: the block generators (ChaCha)
/// build a `u64` from two consecutive little-endian `u32` words, which is how
/// `fill_bytes` lays out the same words, so the stream and the generator's
/// state afterwards are those of the calls (checked in the tests).
pub fn fill_u64<R: Rng + ?Sized>(rng: &mut R, out: &mut [u64]) {
    rng.fill_bytes(wide::bytemuck::cast_slice_mut(out));
    for v in out.iter_mut() {
        *v = u64::from_le(*v);
    }
}

/// Uniform on `[lo, hi)` (one `next_u64`): `lo + (hi − lo)·u` with `u` from
/// [`uniform01`]. With `lo == hi` it returns `lo`.
#[inline]
pub fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * uniform01(rng)
}

/// Standard normal N(0, 1) by the Box–Muller transform (two `next_u64`):
/// with `u1 = 1 − uniform01` in `(0, 1]` (so the log is finite) and
/// `u2 = uniform01`, returns `sqrt(−2·ln u1)·cos(2π·u2)`.
///
/// The sine partner is discarded so that each call is self-contained (no
/// hidden cached value): a caller's stream depends only on how many normals
/// it drew. The largest magnitude it can return is `sqrt(2·53·ln 2) ≈ 8.57`.
#[inline]
pub fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = 1.0 - uniform01(rng);
    let u2 = uniform01(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

/// Standard normal truncated to `[−bound, bound]` by redrawing (Keras'
/// `truncated_normal` with `bound = 2`): [`normal`] until `|z| ≤ bound`, so
/// a call reads two `next_u64` per draw it makes (1.05 draws on average at 2).
/// `bound` must be positive, or the loop would never end.
#[inline]
pub fn truncated_normal<R: Rng + ?Sized>(rng: &mut R, bound: f64) -> f64 {
    assert!(bound > 0.0, "truncated_normal: bound {bound} must be positive");
    loop {
        let z = normal(rng);
        if z.abs() <= bound {
            return z;
        }
    }
}

/// Uniform integer in `0..n`, without modulo bias (Lemire's multiply-shift
/// with rejection): usually one `next_u64`, rarely more. Returns 0 when `n`
/// is 0 or 1 (and then draws nothing).
#[inline]
pub fn below<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let n = n as u64;
    // 2⁶⁴ mod n: products whose low half falls below it would over-weight
    // some outputs, so they are drawn again.
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}

/// Fisher–Yates shuffle in place: for `i` from the last index down to 1,
/// swaps `items[i]` with `items[below(rng, i + 1)]`.
pub fn shuffle<T, R: Rng + ?Sized>(rng: &mut R, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i + 1);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    /// The bulk read is the calls it replaces: the same values and the same
    /// state after, from any position in a block (odd word offsets and block
    /// ends included) and for any length.
    #[test]
    fn fill_u64_is_repeated_next_u64() {
        for seed in [1, 2, 99] {
            for skip in [0usize, 1, 2, 3, 15, 16, 31] {
                for len in [0usize, 1, 2, 7, 8, 9, 16, 17, 33, 100, 1000] {
                    let mut a = ChaCha8Rng::seed_from_u64(seed);
                    let mut b = ChaCha8Rng::seed_from_u64(seed);
                    for _ in 0..skip {
                        a.next_u32();
                        b.next_u32();
                    }
                    let calls: Vec<u64> = (0..len).map(|_| a.next_u64()).collect();
                    let mut bulk = vec![0u64; len];
                    fill_u64(&mut b, &mut bulk);
                    assert_eq!(bulk, calls, "seed {seed}, skip {skip}, len {len}");
                    assert_eq!(
                        a.next_u64(),
                        b.next_u64(),
                        "state after: seed {seed}, skip {skip}, len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn normal_is_box_muller_of_the_raw_stream() {
        // Recompute the documented formula from the raw u64s with std's maths.
        let mut a = ChaCha8Rng::seed_from_u64(7);
        let mut b = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..1000 {
            let z = normal(&mut a);
            let u1 = 1.0 - (b.next_u64() >> 11) as f64 / 9007199254740992.0;
            let u2 = (b.next_u64() >> 11) as f64 / 9007199254740992.0;
            let want = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            assert!((z - want).abs() < 1e-12, "{z} vs {want}");
        }
    }

    #[test]
    fn normal_moments_and_one_sigma_mass() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 200_000;
        let (mut s, mut s2, mut within, mut s4) = (0.0, 0.0, 0usize, 0.0);
        for _ in 0..n {
            let z = normal(&mut rng);
            assert!(z.is_finite());
            s += z;
            s2 += z * z;
            s4 += z * z * z * z;
            within += usize::from(z.abs() < 1.0);
        }
        let nf = n as f64;
        let mean = s / nf;
        let var = s2 / nf - mean * mean;
        // Standard errors: mean 0.0022, variance 0.0032, kurtosis ~0.011, mass 0.001.
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
        assert!((s4 / nf - 3.0).abs() < 0.06, "fourth moment {}", s4 / nf);
        assert!((within as f64 / nf - 0.682_689).abs() < 0.005, "1-sigma mass {}", within as f64 / nf);
    }

    #[test]
    fn truncated_normal_stays_in_bounds_with_the_truncated_moments() {
        // Reference: a unit normal truncated to ±2 has stddev 0.879 625 661
        // (1 − 2·2·φ(2)/(Φ(2) − Φ(−2)), then √); to ±1 it has 0.539 560.
        for (bound, want, seed) in [(2.0, 0.879_625_661, 9), (1.0, 0.539_560_09, 10)] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let n = 200_000;
            let (mut s, mut s2) = (0.0, 0.0);
            for _ in 0..n {
                let z = truncated_normal(&mut rng, bound);
                assert!(z.abs() <= bound, "{z} beyond ±{bound}");
                s += z;
                s2 += z * z;
            }
            let (mean, sd) = (s / n as f64, (s2 / n as f64).sqrt());
            // Standard errors at 200 000 draws: mean 0.002, stddev about 0.0012.
            assert!(mean.abs() < 0.01, "±{bound}: mean {mean}");
            assert!((sd - want).abs() < 0.005, "±{bound}: stddev {sd}, want {want}");
        }
        // The stream is `normal`'s with the rejected draws skipped.
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(11), ChaCha8Rng::seed_from_u64(11));
        for _ in 0..1000 {
            let want = loop {
                let z = normal(&mut b);
                if z.abs() <= 1.5 {
                    break z;
                }
            };
            assert_eq!(truncated_normal(&mut a, 1.5).to_bits(), want.to_bits());
        }
    }

    #[test]
    fn uniform_stays_in_range_and_is_flat() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut bins = [0usize; 10];
        for _ in 0..100_000 {
            let u = uniform(&mut rng, -2.0, 3.0);
            assert!((-2.0..3.0).contains(&u), "{u}");
            bins[((u + 2.0) * 2.0) as usize] += 1;
        }
        for (i, &c) in bins.iter().enumerate() {
            // Expected 10 000 per bin, standard deviation ~95.
            assert!((9_600..10_400).contains(&c), "bin {i}: {c}");
        }
        assert_eq!(uniform(&mut rng, 4.0, 4.0), 4.0);
    }

    #[test]
    fn below_is_unbiased_and_in_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = [0usize; 7];
        for _ in 0..70_000 {
            counts[below(&mut rng, 7)] += 1;
        }
        for (i, &c) in counts.iter().enumerate() {
            assert!((9_650..10_350).contains(&c), "value {i}: {c}");
        }
        assert_eq!(below(&mut rng, 0), 0);
        assert_eq!(below(&mut rng, 1), 0);
        let big = usize::MAX / 3 * 2;
        for _ in 0..100 {
            assert!(below(&mut rng, big) < big);
        }
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut v: Vec<usize> = (0..100).collect();
        shuffle(&mut ChaCha8Rng::seed_from_u64(4), &mut v);
        let mut w: Vec<usize> = (0..100).collect();
        shuffle(&mut ChaCha8Rng::seed_from_u64(4), &mut w);
        assert_eq!(v, w, "same seed, same order");
        assert_ne!(v, (0..100).collect::<Vec<_>>(), "it moved something");
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>(), "a permutation");
        let mut u: Vec<usize> = (0..100).collect();
        shuffle(&mut ChaCha8Rng::seed_from_u64(5), &mut u);
        assert_ne!(u, v, "another seed, another order");
        // Every position receives every value about equally often.
        let mut first = [0usize; 4];
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for _ in 0..40_000 {
            let mut s = [0, 1, 2, 3];
            shuffle(&mut rng, &mut s);
            first[s[0]] += 1;
        }
        assert!(first.iter().all(|&c| (9_600..10_400).contains(&c)), "{first:?}");
    }
}

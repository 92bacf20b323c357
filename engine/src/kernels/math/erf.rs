//! The standard normal CDF `Φ(x) = ½(1 + erf(x/√2))` and density, for exact
//! GELU. Two fits of our own (weighted least squares on Chebyshev nodes against
//! 40-digit mpmath values, coefficients rounded to f32):
//! - |z| < 1: `erf(z) = z·P(z²)`, P of degree 5, relative error ≤ 9e-8;
//! - z ≥ ½: `erfc(z) = e^(−z²)·G(t)`, `t = 1/(1 + z/2)`, G of degree 9 fitted on
//!   z in [0.5, 10.1] (beyond, erfc underflows f32), relative error ≤ 1e-8.
//!
//! Φ uses the first below z = ½ and the second above, so `½ − ½·erf` never
//! cancels by more than a factor of two.
//!
//! The tail is computed as erfc (never `1 − erf`), with `e^(−z²) = e^(−x²/2)`
//! taken from `x` by [`gauss`], so Φ(x) keeps its relative accuracy for very
//! negative x, where GELU's value and gradient live.
use super::exp::gauss;
use super::lane::Lane;

// The leading coefficient is the fit's, one ulp from 2/√π, not that constant.
#[allow(clippy::approx_constant)]
const ERF_P: [f32; 6] =
    [1.128_379_1, -0.376_123_9, 0.112_805_784, -0.026_720_876, 0.004_927_396, -0.000_566_788_2];
const ERFC_G: [f32; 10] = [
    3.959072e-06,
    0.28197366,
    0.28371435,
    0.23438495,
    0.2370855,
    -0.11221309,
    0.41292217,
    -0.6175214,
    0.35496953,
    -0.075329244,
];
/// 1/√(2π): the normal density's constant.
pub const INV_SQRT_2PI: f32 = 0.398_942_3;

#[inline(always)]
fn horner<L: Lane, const N: usize>(c: &[f32; N], t: L) -> L {
    let mut p = L::splat(c[N - 1]);
    for &ci in c[..N - 1].iter().rev() {
        p = p.mul_add(t, L::splat(ci));
    }
    p
}

/// `(Φ(x), φ(x))`: the normal CDF and density at x.
#[inline(always)]
pub fn phi_pdf<L: Lane>(x: L) -> (L, L) {
    let half = L::splat(0.5);
    let z = x.abs() * L::splat(std::f32::consts::FRAC_1_SQRT_2);
    let erf_z = z * horner(&ERF_P, z * z);
    let signed_half = L::select(x.lt(L::splat(0.0)), -half, half);
    let central = signed_half.mul_add(erf_z, half);
    let g = gauss(x);
    let t = L::splat(1.0) / half.mul_add(z, L::splat(1.0));
    // c = Φ(−|x|) = ½·erfc(|x|/√2)
    let c = half * g * horner(&ERFC_G, t);
    let tail = L::select(x.lt(L::splat(0.0)), c, L::splat(1.0) - c);
    let cdf = L::select(z.lt(L::splat(0.5)), central, tail);
    (cdf, g * L::splat(INV_SQRT_2PI))
}

/// `erf(z)`, from the same two fits (odd in z).
#[inline(always)]
pub fn erf<L: Lane>(z: L) -> L {
    let x = z * L::splat(std::f32::consts::SQRT_2);
    let (cdf, _) = phi_pdf(x);
    let a = z.abs();
    let small = z * horner(&ERF_P, z * z);
    // For |z| ≥ 1, erf = 2Φ(z√2) − 1 loses nothing: Φ is at least 0.92 there.
    let y = L::select(a.lt(L::splat(1.0)), small, cdf.mul_add(L::splat(2.0), L::splat(-1.0)));
    L::select(z.is_nan(), z, y)
}

//! Natural log for f32 lanes: `x = m·2^e` with m in [√½, √2), then
//! `ln m = ln(1+f) = 2·atanh(s)`, `s = f/(2+f)` (|s| ≤ 0.172), written as
//! `f − (f²/2 − s·(f²/2 + R(s²)))` so the leading term `f` is exact and only the
//! small correction carries rounding; R is the atanh Taylor series to s⁹.
use super::exp::{LN2_HI, LN2_LO};
use super::lane::Lane;

/// 2^23: lifts subnormal inputs into the normal range before splitting.
const SUBNORMAL_SCALE: f32 = 8_388_608.0;

#[inline(always)]
pub fn ln<L: Lane>(x: L) -> L {
    let tiny = x.lt(L::splat(f32::MIN_POSITIVE));
    let xs = L::select(tiny, x * L::splat(SUBNORMAL_SCALE), x);
    let (m, e) = xs.split_exp();
    let e = L::select(tiny, e - L::splat(23.0), e);
    let big = m.gt(L::splat(std::f32::consts::SQRT_2));
    let m = L::select(big, m * L::splat(0.5), m);
    let e = L::select(big, e + L::splat(1.0), e);
    // Exact: m and 1 are within a factor of two of each other.
    let f = m - L::splat(1.0);
    let s = f / (L::splat(2.0) + f);
    let z = s * s;
    // R(z) = 2z/3 + 2z²/5 + 2z³/7 + 2z⁴/9; the next term is under 1e-9 relative.
    let r = L::splat(2.0 / 9.0).mul_add(z, L::splat(2.0 / 7.0));
    let r = r.mul_add(z, L::splat(2.0 / 5.0));
    let r = r.mul_add(z, L::splat(2.0 / 3.0)) * z;
    let hfsq = L::splat(0.5) * f * f;
    let corr = s.mul_add(hfsq + r, e * L::splat(LN2_LO));
    let y = e.mul_add(L::splat(LN2_HI), -((hfsq - corr) - f));
    let y = L::select(x.eq(L::splat(0.0)), L::splat(f32::NEG_INFINITY), y);
    let y = L::select(x.eq(L::splat(f32::INFINITY)), x, y);
    L::select(x.lt(L::splat(0.0)) | x.is_nan(), L::splat(f32::NAN), y)
}

/// `ln(1 + u)` for u ≥ 0 (softplus passes `e^-|x|`): `w = 1 + u` rounds, and
/// `(w − 1 − u)/w` undoes that rounding to first order.
#[inline(always)]
pub fn ln_1p<L: Lane>(u: L) -> L {
    let w = L::splat(1.0) + u;
    let fix = ((w - L::splat(1.0)) - u) / w;
    let y = ln(w) - fix;
    // ln(1) is exactly 0, so tiny u returns u itself.
    L::select(w.eq(L::splat(1.0)), u, y)
}

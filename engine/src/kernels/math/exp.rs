//! `exp` and `expm1` for f32 lanes: Cody–Waite range reduction
//! `x = n·ln2 + r`, |r| ≤ ln2/2, then a degree-7 Taylor polynomial for `e^r`
//! (truncation below 0.05 ulp there) and a scale by `2^n`.
use super::lane::Lane;

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that `n·LN2_HI` is exact for |n| < 2^15 (9 significant bits).
pub(crate) const LN2_HI: f32 = 0.693_359_4;
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
/// Below this `e^x` rounds to 0 in f32 (half the smallest subnormal is e^-103.97).
const EXP_MIN: f32 = -104.0;
/// Above this `e^x` overflows to +inf (ln of f32::MAX is 88.7228).
const EXP_MAX: f32 = 89.0;

/// Taylor coefficients 1/k! for k = 2..=7, highest first.
const C7: f32 = 1.0 / 5040.0;
const C6: f32 = 1.0 / 720.0;
const C5: f32 = 1.0 / 120.0;
const C4: f32 = 1.0 / 24.0;
const C3: f32 = 1.0 / 6.0;
const C2: f32 = 0.5;

/// `(e^r − 1 − r) / r²` by Horner.
#[inline(always)]
fn poly<L: Lane>(r: L) -> L {
    let p = L::splat(C7).mul_add(r, L::splat(C6));
    let p = p.mul_add(r, L::splat(C5));
    let p = p.mul_add(r, L::splat(C4));
    let p = p.mul_add(r, L::splat(C3));
    p.mul_add(r, L::splat(C2))
}

/// `n` and `r` with `a + b = n·ln2 + r` (b a small correction, may be 0).
#[inline(always)]
fn reduce<L: Lane>(a: L, b: L) -> (L, L) {
    let n = (a * L::splat(LOG2E)).round_even();
    // a − n·LN2_HI is exact (Sterbenz); the low part and b add one rounding each.
    let r = (-n).mul_add(L::splat(LN2_HI), a);
    let r = (-n).mul_add(L::splat(LN2_LO), r) + b;
    (n, r)
}

/// `e^(a + b)` for a correction `|b| ≪ 1` carried separately from `a` (so the
/// rounding of `a + b` costs nothing); `exp(x)` is `exp2parts(x, 0)`.
#[inline(always)]
pub fn exp2parts<L: Lane>(a: L, b: L) -> L {
    let ac = a.max(L::splat(EXP_MIN)).min(L::splat(EXP_MAX));
    let (n, r) = reduce(ac, b);
    let p = (r * r).mul_add(poly(r), r) + L::splat(1.0);
    // 2^n in two normal factors, so n in [-150, 128] needs no special case:
    // p·2^n1 is exact, and the second product rounds once, to a subnormal,
    // a normal or +inf as f32 would.
    let n1 = (n * L::splat(0.5)).round_even();
    let n2 = n - n1;
    let y = p * L::pow2i(n1) * L::pow2i(n2);
    L::select(a.is_nan(), a, y)
}

#[inline(always)]
pub fn exp<L: Lane>(x: L) -> L {
    exp2parts(x, L::splat(0.0))
}

/// `e^x − 1` without cancellation near 0, for x ≤ 80 (callers pass x ≤ 0).
/// Below −20 it is −1 (|e^x| is under half an ulp of 1 there).
#[inline(always)]
pub fn expm1<L: Lane>(x: L) -> L {
    let xc = x.max(L::splat(-20.0)).min(L::splat(80.0));
    let (n, r) = reduce(xc, L::splat(0.0));
    let q = (r * r).mul_add(poly(r), r);
    let t = L::pow2i(n);
    // e^x − 1 = t·(1 + q) − 1 = t·q + (t − 1); t − 1 is exact for n ≥ −24.
    let y = t.mul_add(q, t - L::splat(1.0));
    let y = L::select(x.lt(L::splat(-20.0)), L::splat(-1.0), y);
    L::select(x.is_nan(), x, y)
}

/// `e^(−x²/2)` with the rounding of `x²` removed: `x = h + l` with `h²` exact,
/// so `−x²/2 = −h²/2 − l·(x + h)/2` is carried in two parts.
#[inline(always)]
pub fn gauss<L: Lane>(x: L) -> L {
    // e^(−x²/2) is 0 in f32 beyond |x| ≈ 14.4; clamping keeps x² finite.
    let a = x.abs().min(L::splat(20.0));
    let h = a.high_half();
    let hi = -(h * h) * L::splat(0.5);
    let lo = -((a - h) * (a + h)) * L::splat(0.5);
    let y = exp2parts(hi, lo);
    L::select(x.is_nan(), x, y)
}

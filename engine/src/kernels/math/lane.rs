//! [`Lane`]: the few operations our f32 approximations need, implemented for
//! `wide::f32x8` (the SIMD body of every loop) and for plain `f32` (its scalar
//! tail), so each approximation is written once and a value gets the same bits
//! whether it falls in a SIMD block or in the tail.
use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};
use wide::{bytemuck::cast, f32x8, i32x8};
#[cfg(target_feature = "avx512f")]
use wide::{f32x16, i32x16};

pub trait Lane:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    type Mask: Copy + BitAnd<Output = Self::Mask> + BitOr<Output = Self::Mask> + Not<Output = Self::Mask>;

    fn splat(v: f32) -> Self;
    /// `self·a + b`, fused exactly where `wide` fuses it (see `kernels::fmadd`),
    /// so that the scalar tail rounds like the SIMD lanes.
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn round_even(self) -> Self;
    fn abs(self) -> Self;
    /// Which operand a NaN yields is unspecified: callers restore NaN explicitly.
    fn min(self, o: Self) -> Self;
    /// Which operand a NaN yields is unspecified: callers restore NaN explicitly.
    fn max(self, o: Self) -> Self;
    fn lt(self, o: Self) -> Self::Mask;
    fn gt(self, o: Self) -> Self::Mask;
    fn eq(self, o: Self) -> Self::Mask;
    fn is_nan(self) -> Self::Mask;
    fn select(m: Self::Mask, t: Self, f: Self) -> Self;
    /// `2^n` for integral `n` in [-126, 127] (built from the exponent bits).
    fn pow2i(n: Self) -> Self;
    /// For a positive normal finite value: `(m, e)` with `self = m·2^e`, m in [1, 2).
    fn split_exp(self) -> (Self, Self);
    /// The value with the low 12 mantissa bits cleared: its square is exact.
    fn high_half(self) -> Self;
}

impl Lane for f32 {
    type Mask = bool;
    #[inline(always)]
    fn splat(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        crate::kernels::fmadd(self, a, b)
    }
    #[inline(always)]
    fn round_even(self) -> Self {
        self.round_ties_even()
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        if self < o { self } else { o }
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        if self > o { self } else { o }
    }
    #[inline(always)]
    fn lt(self, o: Self) -> bool {
        self < o
    }
    #[inline(always)]
    fn gt(self, o: Self) -> bool {
        self > o
    }
    #[inline(always)]
    fn eq(self, o: Self) -> bool {
        self == o
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    #[inline(always)]
    fn select(m: bool, t: Self, f: Self) -> Self {
        if m { t } else { f }
    }
    #[inline(always)]
    fn pow2i(n: Self) -> Self {
        f32::from_bits(((n as i32 + 127) as u32) << 23)
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        let b = self.to_bits();
        let e = (b >> 23) as i32 - 127;
        (f32::from_bits((b & 0x007f_ffff) | 0x3f80_0000), e as f32)
    }
    #[inline(always)]
    fn high_half(self) -> Self {
        f32::from_bits(self.to_bits() & 0xffff_f000)
    }
}

/// One `Lane` impl per `wide` vector width: every method is the same one instruction lane by lane,
/// so a value gets the same bits in either width.
macro_rules! simd_lane {
    ($f:ident, $i:ident, $from_i:ident) => {
        impl Lane for $f {
            type Mask = $f;
            #[inline(always)]
            fn splat(v: f32) -> Self {
                $f::splat(v)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                $f::mul_add(self, a, b)
            }
            #[inline(always)]
            fn round_even(self) -> Self {
                self.round_ties_even()
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $f::abs(self)
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                self.fast_min(o)
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                self.fast_max(o)
            }
            #[inline(always)]
            fn lt(self, o: Self) -> Self {
                self.simd_lt(o)
            }
            #[inline(always)]
            fn gt(self, o: Self) -> Self {
                self.simd_gt(o)
            }
            #[inline(always)]
            fn eq(self, o: Self) -> Self {
                self.simd_eq(o)
            }
            #[inline(always)]
            fn is_nan(self) -> Self {
                $f::is_nan(self)
            }
            #[inline(always)]
            fn select(m: Self, t: Self, f: Self) -> Self {
                m.select(t, f)
            }
            #[inline(always)]
            fn pow2i(n: Self) -> Self {
                let e = n.fast_round_int() + $i::splat(127);
                cast(e << 23)
            }
            #[inline(always)]
            fn split_exp(self) -> (Self, Self) {
                let b: $i = cast(self);
                let e = (b >> 23) - $i::splat(127);
                let m = (b & $i::splat(0x007f_ffff)) | $i::splat(0x3f80_0000);
                (cast(m), $f::$from_i(e))
            }
            #[inline(always)]
            fn high_half(self) -> Self {
                let b: $i = cast(self);
                cast(b & $i::splat(0xffff_f000_u32 as i32))
            }
        }
    };
}

simd_lane!(f32x8, i32x8, from_i32x8);
// The 16-lane body where the build has AVX-512.
#[cfg(target_feature = "avx512f")]
simd_lane!(f32x16, i32x16, from_i32x16);

/// Applies `f` to `x` into `y`: f32x16 blocks where the build has AVX-512,
/// then f32x8 blocks, then a scalar tail.
#[inline(always)]
pub fn map<F: Fn8>(f: &F, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "map: input and output lengths differ");
    #[cfg(target_feature = "avx512f")]
    let (x, y) = {
        let mut xc = x.chunks_exact(16);
        let mut yc = y.chunks_exact_mut(16);
        for (xb, yb) in (&mut xc).zip(&mut yc) {
            let v = f32x16::new(xb.try_into().expect("chunk of 16"));
            yb.copy_from_slice(&f.apply(v).to_array());
        }
        (xc.remainder(), yc.into_remainder())
    };
    let mut xc = x.chunks_exact(8);
    let mut yc = y.chunks_exact_mut(8);
    for (xb, yb) in (&mut xc).zip(&mut yc) {
        let v = f32x8::new(xb.try_into().expect("chunk of 8"));
        yb.copy_from_slice(&f.apply(v).to_array());
    }
    for (yi, &xi) in yc.into_remainder().iter_mut().zip(xc.remainder()) {
        *yi = f.apply(xi);
    }
}

/// An element-wise function written once for both lane types.
pub trait Fn8 {
    fn apply<L: Lane>(&self, x: L) -> L;
}

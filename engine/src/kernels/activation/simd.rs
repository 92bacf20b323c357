//! f32 SIMD activations: each one's `f` and `df` written once over [`Lane`]
//! (f32x8 blocks, then a scalar tail computing the same bits), on our own
//! exp/expm1/ln_1p/Φ from `kernels::math`.
use super::Activation;
use crate::kernels::math::erf::phi_pdf;
use crate::kernels::math::exp::{exp, expm1};
use crate::kernels::math::lane::{Fn8, Lane, map};
use crate::kernels::math::log::ln_1p;
use wide::f32x8;

/// An activation's value and derivative; `df` may use `y = f(x)`.
trait Act {
    fn f<L: Lane>(&self, x: L) -> L;
    fn df<L: Lane>(&self, x: L, y: L) -> L;
}

struct Forward<'a, A>(&'a A);
impl<A: Act> Fn8 for Forward<'_, A> {
    #[inline(always)]
    fn apply<L: Lane>(&self, x: L) -> L {
        self.0.f(x)
    }
}

struct Sigmoid;
impl Act for Sigmoid {
    #[inline(always)]
    fn f<L: Lane>(&self, x: L) -> L {
        // e = e^(−|x|) never overflows; σ(−|x|) = e·σ(|x|) keeps tiny values.
        let e = exp(-x.abs());
        let s = L::splat(1.0) / (L::splat(1.0) + e);
        L::select(x.lt(L::splat(0.0)), e * s, s)
    }
    #[inline(always)]
    fn df<L: Lane>(&self, _x: L, y: L) -> L {
        // 1 − y is exact for y ≥ ½, where σ' is smallest relative to y.
        y * (L::splat(1.0) - y)
    }
}

struct Tanh;
impl Act for Tanh {
    #[inline(always)]
    fn f<L: Lane>(&self, x: L) -> L {
        // tanh|x| = −m/(2 + m), m = e^(−2|x|) − 1 in (−1, 0]: no cancellation
        // near 0, exactly 1 once m rounds to −1.
        let m = expm1(L::splat(-2.0) * x.abs());
        let t = -m / (L::splat(2.0) + m);
        L::select(x.lt(L::splat(0.0)), -t, t)
    }
    #[inline(always)]
    fn df<L: Lane>(&self, _x: L, y: L) -> L {
        (-y).mul_add(y, L::splat(1.0))
    }
}

struct Relu;
impl Act for Relu {
    #[inline(always)]
    fn f<L: Lane>(&self, x: L) -> L {
        // NaN < 0 is false: NaN passes through, as in the reference.
        L::select(x.lt(L::splat(0.0)), L::splat(0.0), x)
    }
    #[inline(always)]
    fn df<L: Lane>(&self, x: L, _y: L) -> L {
        L::select(x.gt(L::splat(0.0)), L::splat(1.0), L::splat(0.0))
    }
}

struct LeakyRelu(f32);
impl Act for LeakyRelu {
    #[inline(always)]
    fn f<L: Lane>(&self, x: L) -> L {
        L::select(x.gt(L::splat(0.0)), x, L::splat(self.0) * x)
    }
    #[inline(always)]
    fn df<L: Lane>(&self, x: L, _y: L) -> L {
        L::select(x.gt(L::splat(0.0)), L::splat(1.0), L::splat(self.0))
    }
}

struct Elu(f32);
impl Act for Elu {
    #[inline(always)]
    fn f<L: Lane>(&self, x: L) -> L {
        let neg = L::splat(self.0) * expm1(x.min(L::splat(0.0)));
        let neg = L::select(x.is_nan(), x, neg);
        L::select(x.gt(L::splat(0.0)), x, neg)
    }
    #[inline(always)]
    fn df<L: Lane>(&self, x: L, y: L) -> L {
        // d/dx α(eˣ−1) = αeˣ = y + α
        L::select(x.gt(L::splat(0.0)), L::splat(1.0), y + L::splat(self.0))
    }
}

struct Gelu;
impl Act for Gelu {
    #[inline(always)]
    fn f<L: Lane>(&self, x: L) -> L {
        // Below −20 Φ is 0 in f32; the clamp keeps −inf·0 from making NaN.
        let (cdf, _) = phi_pdf(x);
        x.max(L::splat(-20.0)) * cdf
    }
    #[inline(always)]
    fn df<L: Lane>(&self, x: L, _y: L) -> L {
        // Φ(x) + x·φ(x); φ is 0 in f32 beyond |x| = 20, so clamping x there is exact.
        let (cdf, pdf) = phi_pdf(x);
        x.max(L::splat(-20.0)).min(L::splat(20.0)).mul_add(pdf, cdf)
    }
}

struct Softplus;
impl Act for Softplus {
    #[inline(always)]
    fn f<L: Lane>(&self, x: L) -> L {
        // log(1 + eˣ) = max(x, 0) + log1p(e^−|x|)
        let l = ln_1p(exp(-x.abs()));
        let y = x.max(L::splat(0.0)) + l;
        L::select(x.is_nan(), x, y)
    }
    #[inline(always)]
    fn df<L: Lane>(&self, x: L, _y: L) -> L {
        Sigmoid.f(x)
    }
}

fn forward_with<A: Act>(a: &A, x: &[f32], y: &mut [f32]) {
    map(&Forward(a), x, y);
}

/// `gx += df(x, y)·gy`: f32x8 blocks, then the scalar tail.
fn backward_with<A: Act>(a: &A, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    backward_blocks::<A, true>(a, x, y, gy, gx);
}

/// `gx = df(x, y)·gy + 0`: [`backward_with`] into zeros, without reading them.
fn backward_write_with<A: Act>(a: &A, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    backward_blocks::<A, false>(a, x, y, gy, gx);
}

/// `gx = df(x, y)·gy + (gx or 0)` as one fused multiply-add per element:
/// f32x16 blocks where the build has AVX-512, f32x8 blocks, a scalar tail.
#[inline(always)]
fn backward_blocks<A: Act, const ACC: bool>(a: &A, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    let n = x.len();
    assert!(y.len() == n && gy.len() == n && gx.len() == n, "activation backward: slice lengths differ");
    #[cfg(not(target_feature = "avx512f"))]
    let done = 0;
    #[cfg(target_feature = "avx512f")]
    let done = {
        use wide::f32x16;
        let v = |s: &[f32]| f32x16::new(s.try_into().expect("block of 16"));
        let blocks = x.chunks_exact(16).zip(y.chunks_exact(16)).zip(gy.chunks_exact(16));
        for (((xb, yb), gb), gxb) in blocks.zip(gx.chunks_exact_mut(16)) {
            let base = if ACC { v(gxb) } else { f32x16::ZERO };
            let g = a.df(v(xb), v(yb)).mul_add(v(gb), base);
            gxb.copy_from_slice(&g.to_array());
        }
        n / 16 * 16
    };
    let v = |s: &[f32]| f32x8::new(s.try_into().expect("block of 8"));
    let (x, y, gy) = (&x[done..], &y[done..], &gy[done..]);
    let gx = &mut gx[done..];
    let n = n - done;
    let blocks = x.chunks_exact(8).zip(y.chunks_exact(8)).zip(gy.chunks_exact(8));
    for (((xb, yb), gb), gxb) in blocks.zip(gx.chunks_exact_mut(8)) {
        let base = if ACC { v(gxb) } else { f32x8::ZERO };
        let g = a.df(v(xb), v(yb)).mul_add(v(gb), base);
        gxb.copy_from_slice(&g.to_array());
    }
    for i in n / 8 * 8..n {
        let base = if ACC { gx[i] } else { 0.0 };
        gx[i] = Lane::mul_add(a.df(x[i], y[i]), gy[i], base);
    }
}

pub fn forward(act: Activation, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "activation forward: input and output lengths differ");
    match act {
        Activation::Linear => y.copy_from_slice(x),
        Activation::Sigmoid => forward_with(&Sigmoid, x, y),
        Activation::Tanh => forward_with(&Tanh, x, y),
        Activation::Relu => forward_with(&Relu, x, y),
        Activation::LeakyRelu { alpha } => forward_with(&LeakyRelu(alpha as f32), x, y),
        Activation::Elu { alpha } => forward_with(&Elu(alpha as f32), x, y),
        Activation::Gelu => forward_with(&Gelu, x, y),
        Activation::Softplus => forward_with(&Softplus, x, y),
    }
}

pub fn backward(act: Activation, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    match act {
        Activation::Linear => {
            assert!(x.len() == y.len() && y.len() == gy.len(), "activation backward: slice lengths differ");
            crate::kernels::elementwise::axpy_f32(1.0, gy, gx)
        }
        Activation::Sigmoid => backward_with(&Sigmoid, x, y, gy, gx),
        Activation::Tanh => backward_with(&Tanh, x, y, gy, gx),
        Activation::Relu => backward_with(&Relu, x, y, gy, gx),
        Activation::LeakyRelu { alpha } => backward_with(&LeakyRelu(alpha as f32), x, y, gy, gx),
        Activation::Elu { alpha } => backward_with(&Elu(alpha as f32), x, y, gy, gx),
        Activation::Gelu => backward_with(&Gelu, x, y, gy, gx),
        Activation::Softplus => backward_with(&Softplus, x, y, gy, gx),
    }
}

/// [`backward`] into a buffer that holds nothing yet: `gx = f'(x)·gy + 0`,
/// bit for bit what [`backward`] leaves in a zeroed `gx`.
pub fn backward_write(act: Activation, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
    match act {
        Activation::Linear => {
            assert!(
                x.len() == y.len() && y.len() == gy.len() && gy.len() == gx.len(),
                "activation backward: slice lengths differ"
            );
            gx.iter_mut().zip(gy).for_each(|(o, &g)| *o = g + 0.0);
        }
        Activation::Sigmoid => backward_write_with(&Sigmoid, x, y, gy, gx),
        Activation::Tanh => backward_write_with(&Tanh, x, y, gy, gx),
        Activation::Relu => backward_write_with(&Relu, x, y, gy, gx),
        Activation::LeakyRelu { alpha } => backward_write_with(&LeakyRelu(alpha as f32), x, y, gy, gx),
        Activation::Elu { alpha } => backward_write_with(&Elu(alpha as f32), x, y, gy, gx),
        Activation::Gelu => backward_write_with(&Gelu, x, y, gy, gx),
        Activation::Softplus => backward_write_with(&Softplus, x, y, gy, gx),
    }
}

//! [`Real`]: the float types the tape runs on. Each op's forward and backward
//! rule is written once, generic over `Real`; the kernels behind it are
//! dispatched here. `f32` gets the SIMD kernels (training, benchmarks), `f64`
//! the scalar references (gradient checks with tight tolerances).
use crate::kernels::{self, Activation, Gemm};
use num_traits::{Float, FromPrimitive};
use std::fmt::{Debug, Display};

pub trait Real: Float + FromPrimitive + Default + Debug + Display + Send + Sync + 'static {
    const NAME: &'static str;

    /// Converts a constant; panics only if a finite `f64` cannot be represented,
    /// which cannot happen for f32/f64.
    #[inline]
    fn c(v: f64) -> Self {
        <Self as num_traits::NumCast>::from(v).expect("f64 constant converts")
    }

    #[inline]
    fn as_f64(self) -> f64 {
        num_traits::ToPrimitive::to_f64(&self).unwrap_or(f64::NAN)
    }

    fn gemm(g: &Gemm, a: &[Self], b: &[Self], c: &mut [Self]);
    fn act_forward(act: Activation, x: &[Self], y: &mut [Self]);
    /// `gx += f'(x)·gy`, given `y = f(x)`.
    fn act_backward(act: Activation, x: &[Self], y: &[Self], gy: &[Self], gx: &mut [Self]);
    /// `gx = 0 + f'(x)·gy`: [`Real::act_backward`] into zeros, bit for bit,
    /// without zeroing `gx` first.
    fn act_backward_write(act: Activation, x: &[Self], y: &[Self], gy: &[Self], gx: &mut [Self]);
    fn softmax_rows(cols: usize, x: &[Self], y: &mut [Self]);
    fn log_softmax_rows(cols: usize, x: &[Self], y: &mut [Self]);
    fn exp_slice(x: &[Self], y: &mut [Self]);
    fn ln_slice(x: &[Self], y: &mut [Self]);
    fn sum_slice(x: &[Self]) -> Self;
    fn sum_sq_slice(x: &[Self]) -> Self;
    fn max_abs_slice(x: &[Self]) -> Self;
    /// `y += alpha·x`.
    fn axpy(alpha: Self, x: &[Self], y: &mut [Self]);
}

impl Real for f32 {
    const NAME: &'static str = "f32";
    fn gemm(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
        kernels::matmul::sgemm(g, a, b, c)
    }
    fn act_forward(act: Activation, x: &[f32], y: &mut [f32]) {
        kernels::activation::forward_f32(act, x, y)
    }
    fn act_backward(act: Activation, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
        kernels::activation::backward_f32(act, x, y, gy, gx)
    }
    fn act_backward_write(act: Activation, x: &[f32], y: &[f32], gy: &[f32], gx: &mut [f32]) {
        kernels::activation::backward_write_f32(act, x, y, gy, gx)
    }
    fn softmax_rows(cols: usize, x: &[f32], y: &mut [f32]) {
        kernels::softmax::softmax_rows_f32(cols, x, y)
    }
    fn log_softmax_rows(cols: usize, x: &[f32], y: &mut [f32]) {
        kernels::softmax::log_softmax_rows_f32(cols, x, y)
    }
    fn exp_slice(x: &[f32], y: &mut [f32]) {
        kernels::math::exp_f32(x, y)
    }
    fn ln_slice(x: &[f32], y: &mut [f32]) {
        kernels::math::ln_f32(x, y)
    }
    fn sum_slice(x: &[f32]) -> f32 {
        kernels::reduce::sum_f32(x)
    }
    fn sum_sq_slice(x: &[f32]) -> f32 {
        kernels::reduce::sum_sq_f32(x)
    }
    fn max_abs_slice(x: &[f32]) -> f32 {
        kernels::reduce::max_abs_f32(x)
    }
    fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
        kernels::elementwise::axpy_f32(alpha, x, y)
    }
}

impl Real for f64 {
    const NAME: &'static str = "f64";
    fn gemm(g: &Gemm, a: &[f64], b: &[f64], c: &mut [f64]) {
        kernels::matmul::reference::gemm(g, a, b, c)
    }
    fn act_forward(act: Activation, x: &[f64], y: &mut [f64]) {
        kernels::activation::reference::forward(act, x, y)
    }
    fn act_backward(act: Activation, x: &[f64], y: &[f64], gy: &[f64], gx: &mut [f64]) {
        kernels::activation::reference::backward(act, x, y, gy, gx)
    }
    fn act_backward_write(act: Activation, x: &[f64], y: &[f64], gy: &[f64], gx: &mut [f64]) {
        kernels::activation::reference::backward_write(act, x, y, gy, gx)
    }
    fn softmax_rows(cols: usize, x: &[f64], y: &mut [f64]) {
        kernels::softmax::softmax_rows(cols, x, y)
    }
    fn log_softmax_rows(cols: usize, x: &[f64], y: &mut [f64]) {
        kernels::softmax::log_softmax_rows(cols, x, y)
    }
    fn exp_slice(x: &[f64], y: &mut [f64]) {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi = xi.exp();
        }
    }
    fn ln_slice(x: &[f64], y: &mut [f64]) {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi = xi.ln();
        }
    }
    fn sum_slice(x: &[f64]) -> f64 {
        kernels::reduce::sum(x)
    }
    fn sum_sq_slice(x: &[f64]) -> f64 {
        kernels::reduce::sum_sq(x)
    }
    fn max_abs_slice(x: &[f64]) -> f64 {
        kernels::reduce::max_abs(x)
    }
    fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
        kernels::elementwise::axpy(alpha, x, y)
    }
}

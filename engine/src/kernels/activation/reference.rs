//! Scalar reference activations, generic over the float type.
use super::Activation;
use num_traits::Float;

#[inline]
fn c<T: Float>(v: f64) -> T {
    T::from(v).expect("constant fits the float type")
}

/// `f(x)` for one value.
pub fn f<T: Float>(act: Activation, x: T) -> T {
    match act {
        Activation::Linear => x,
        Activation::Sigmoid => {
            // Two branches so exp never overflows.
            if x >= T::zero() {
                T::one() / (T::one() + (-x).exp())
            } else {
                let e = x.exp();
                e / (T::one() + e)
            }
        }
        Activation::Tanh => x.tanh(),
        // Float::max would turn NaN into 0 and hide a blow-up from the monitors.
        Activation::Relu => {
            if x < T::zero() {
                T::zero()
            } else {
                x
            }
        }
        Activation::LeakyRelu { alpha } => {
            if x > T::zero() {
                x
            } else {
                c::<T>(alpha) * x
            }
        }
        Activation::Elu { alpha } => {
            if x > T::zero() {
                x
            } else {
                c::<T>(alpha) * x.exp_m1()
            }
        }
        Activation::Gelu => x * phi(x),
        Activation::Softplus => {
            // log(1 + e^x) = max(x, 0) + log1p(e^{-|x|})
            x.max(T::zero()) + (-x.abs()).exp().ln_1p()
        }
    }
}

/// `f'(x)` for one value, given `y = f(x)`.
pub fn df<T: Float>(act: Activation, x: T, y: T) -> T {
    match act {
        Activation::Linear => T::one(),
        Activation::Sigmoid => y * (T::one() - y),
        Activation::Tanh => T::one() - y * y,
        Activation::Relu => {
            if x > T::zero() {
                T::one()
            } else {
                T::zero()
            }
        }
        Activation::LeakyRelu { alpha } => {
            if x > T::zero() {
                T::one()
            } else {
                c(alpha)
            }
        }
        Activation::Elu { alpha } => {
            if x > T::zero() {
                T::one()
            } else {
                // d/dx α(eˣ−1) = αeˣ = y + α
                y + c(alpha)
            }
        }
        Activation::Gelu => {
            let pdf = (-(x * x) * c::<T>(0.5)).exp() * c::<T>(0.398_942_280_401_432_7);
            phi(x) + x * pdf
        }
        Activation::Softplus => f(Activation::Sigmoid, x),
    }
}

/// Φ(x) = ½·erfc(−x/√2): erfc, not 1 + erf, which cancels to 0 below x ≈ −8
/// even in f64 and made GELU and its gradient vanish there.
fn phi<T: Float>(x: T) -> T {
    let xd = x.to_f64().expect("float converts to f64");
    c(0.5 * libm::erfc(-xd * std::f64::consts::FRAC_1_SQRT_2))
}

pub fn forward<T: Float>(act: Activation, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len());
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = f(act, xi);
    }
}

pub fn backward<T: Float>(act: Activation, x: &[T], y: &[T], gy: &[T], gx: &mut [T]) {
    assert!(x.len() == y.len() && y.len() == gy.len() && gy.len() == gx.len());
    for i in 0..x.len() {
        gx[i] = gx[i] + df(act, x[i], y[i]) * gy[i];
    }
}

/// [`backward`] into a buffer that holds nothing yet: `gx = 0 + f'(x)·gy`.
pub fn backward_write<T: Float>(act: Activation, x: &[T], y: &[T], gy: &[T], gx: &mut [T]) {
    assert!(x.len() == y.len() && y.len() == gy.len() && gy.len() == gx.len());
    for i in 0..x.len() {
        gx[i] = T::zero() + df(act, x[i], y[i]) * gy[i];
    }
}

//! Numerical kernels: slices and dimensions in, slices out. They know nothing
//! of the tape. Every SIMD (`wide`) kernel sits next to a plain scalar
//! reference of the same signature, generic over the float type, which the
//! tests compare against and which serves as the f64 path for gradient checks.
pub mod activation;
pub mod elementwise;
pub mod math;
pub mod matmul;
pub mod moments;
pub mod reduce;
pub mod softmax;

pub use activation::Activation;
pub use matmul::Gemm;

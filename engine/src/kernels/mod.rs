//! Numerical kernels: slices and dimensions in, slices out. They know nothing
//! of the tape. Every SIMD (`wide`) kernel sits next to a plain scalar
//! reference of the same signature, generic over the float type, which the
//! tests compare against and which serves as the f64 path for gradient checks.
pub mod activation;
pub mod elementwise;
pub mod hot_pool;
pub mod math;
pub mod matmul;
pub mod moments;
pub mod reduce;
pub mod softmax;

pub use activation::Activation;
pub use matmul::Gemm;

/// Whether `wide`'s vector `mul_add` is one fused operation in this build: on x86 only where FMA
/// is enabled (`target-cpu=native` on any recent CPU, not the x86-64 baseline), always on aarch64.
pub const SIMD_FUSES: bool =
    cfg!(any(target_feature = "fma", all(target_arch = "aarch64", target_feature = "neon")));

/// `a·b + c` rounded as the vector kernels round it: fused where they fuse ([`SIMD_FUSES`]), two
/// roundings where they do not. Scalar tails and the references that tests compare bit for bit use
/// it, so that an element gets the same bits in a SIMD block as in the tail, in every build (a
/// plain `mul_add` is always fused, in software where the CPU lacks FMA).
#[inline(always)]
pub fn fmadd<T: num_traits::Float>(a: T, b: T, c: T) -> T {
    if SIMD_FUSES { a.mul_add(b, c) } else { a * b + c }
}

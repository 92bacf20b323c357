//! Element-wise exp and natural log over slices. (The SIMD polynomial versions
//! replace the scalar loops for f32.)

pub fn exp_f32(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len());
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = xi.exp();
    }
}

pub fn ln_f32(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len());
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = xi.ln();
    }
}

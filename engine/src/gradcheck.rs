//! Finite-difference gradient checking (the design of JAX's `check_vjp`):
//! compare the analytic gradient of a scalar function with central
//! differences, every coordinate for small inputs and along random
//! directions for any size, in f64 with a stated tolerance.
//!
//! (Filled in with the op property tests.)

//! Shared pieces of the op property tests: proptest strategies for shapes
//! (1..=9 rows and columns, so 1 and sizes off multiples of 8 both appear) and
//! values kept away from kinks and domain edges, and a runner that turns a
//! gradient-check failure into a proptest failure carrying its message.
use super::{CheckOptions, check_tape};
use crate::error::Result;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError};

/// Cases per property: enough to hit 1-sized and odd shapes, small enough
/// that the whole suite stays fast in release mode.
pub(crate) const CASES: u32 = 24;

/// Closest any generated value gets to a kink (0 for relu/leaky/elu) or a
/// domain edge; a hundred times the step `h`, so `x ± h` never crosses it.
pub(crate) const MARGIN: f64 = 1e-3;

/// Seed of every property's case generator: the suite explores the same
/// cases on every run and machine.
pub(crate) const SEED: u64 = 0x6752_4144;

/// [`CASES`] cases from the fixed [`SEED`]; no regression files, since a
/// fixed seed already replays a failure.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        rng_seed: RngSeed::Fixed(SEED),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A dimension from 1 to 9.
pub(crate) fn dim() -> impl Strategy<Value = usize> {
    1usize..=9
}

/// `len` values uniform in `[lo, hi)`.
pub(crate) fn values(len: usize, lo: f64, hi: f64) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(lo..hi, len)
}

/// `len` values in `[-hi, hi)` with `|x| ≥ MARGIN`: values inside the margin
/// are pushed out to it, keeping their sign.
pub(crate) fn values_off_zero(len: usize, hi: f64) -> impl Strategy<Value = Vec<f64>> {
    values(len, -hi, hi).prop_map(|v| v.into_iter().map(off_zero).collect())
}

pub(crate) fn off_zero(x: f64) -> f64 {
    if x.abs() >= MARGIN { x } else { MARGIN.copysign(x) }
}

/// Runs [`check_tape`] with the default options; a failure becomes a
/// proptest failure with the checker's message (op, input, worst coordinate).
pub(crate) fn verify(
    name: &str,
    inputs: &[(Shape, Vec<f64>)],
    build: impl Fn(&mut Tape<f64>, &[NodeId]) -> Result<NodeId>,
) -> std::result::Result<(), TestCaseError> {
    check_tape(name, inputs, build, &CheckOptions::default())
        .map(|_| ())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

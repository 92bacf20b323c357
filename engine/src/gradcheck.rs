//! Finite-difference gradient checking (the design of JAX's `check_vjp`):
//! compare the analytic gradient of a scalar function with central
//! differences, every coordinate for small inputs and along random
//! directions for any size, in f64 with a stated tolerance.
//!
//! Two levels:
//! - [`check`] takes a scalar function and a claimed gradient as plain
//!   closures, so a test can hand it a deliberately wrong rule and watch it fail.
//! - [`check_tape`] records a graph on a [`Tape<f64>`] (f64 runs the scalar
//!   reference kernels), scalarises a non-scalar output with a fixed random
//!   cotangent `c` (`f(x) = Σᵢ cᵢ·yᵢ(x)`, so the whole vector-Jacobian product
//!   `cᵀJ` is tested, not only one column of it) and checks the gradient that
//!   [`Tape::backward_with_seed`] produces.
//!
//! # Tolerance
//! A pair (analytic `a`, numeric `n`) passes when
//! `|a − n| ≤ rel_tol·max(|a|, |n|) + abs_tol·max(1, S)`,
//! with `rel_tol = 1e-6` and `abs_tol = 1e-8` by default, and step `h = 1e-5`.
//! `S` is the size of the numbers summed into `f`: `|f(x)|` for a plain
//! function, `Σ|cᵢ·yᵢ|` for a scalarised tape output.
//!
//! Why `h = 1e-5`: the central difference `(f(x+h) − f(x−h))/2h` has
//! truncation error `h²/6·|f‴| ≈ 1.7e-11·|f‴|`, under `1e-9` relative for
//! the smooth ops here (their third derivatives are of the order of their
//! first), three orders below `rel_tol`. Its rounding error is about
//! `κ·ε·S/(2h) ≈ κ·1.1e-11·S`, where `ε = 2.2e-16` and `κ` (how many
//! roundings reach `f`, under ~200 for the small graphs the tests build)
//! amplifies the unit roundoff: at most ~2e-9·S, under the `1e-8·S` floor.
//! A smaller `h` trades truncation for rounding (the optimum for `κ ≈ 1` is
//! `∛(3ε) ≈ 9e-6`). Measured over the op property suite (1392 checks), the
//! worst error was 1.2% of its tolerance.
use crate::error::Error;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::fmt;

/// Step, tolerances and how much to check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Central-difference step.
    pub h: f64,
    /// Relative tolerance on each compared derivative.
    pub rel_tol: f64,
    /// Absolute floor, multiplied by `max(1, |f(x)|)`.
    pub abs_tol: f64,
    /// Check every coordinate when the inputs hold at most this many values in total.
    pub max_coordinates: usize,
    /// Random directions checked (for inputs of any size).
    pub directions: usize,
    /// Seed of the cotangent and the directions.
    pub seed: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { h: 1e-5, rel_tol: 1e-6, abs_tol: 1e-8, max_coordinates: 512, directions: 3, seed: 7 }
    }
}

/// What a passing check covered and how close it came to its tolerance.
#[derive(Clone, Debug)]
pub struct CheckReport {
    pub name: String,
    pub coordinates: usize,
    pub directions: usize,
    /// Largest `|analytic − numeric|` seen.
    pub max_abs_err: f64,
    /// Largest error as a fraction of its tolerance (below 1 on success).
    pub worst_ratio: f64,
}

/// Where a compared derivative came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    /// `∂f/∂x[input][index]`, at `(row, col)` of that input.
    Coordinate { input: usize, shape: Shape, index: usize, row: usize, col: usize },
    /// `v·∇f` along random direction number `index`.
    Direction { index: usize },
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Coordinate { input, shape, index, row, col } => {
                write!(f, "input {input} {shape}, coordinate {index} (row {row}, col {col})")
            }
            Probe::Direction { index } => write!(f, "random direction {index} over all inputs"),
        }
    }
}

/// The worst derivative of a failed check, and how many failed.
#[derive(Clone, Debug)]
pub struct Mismatch {
    pub name: String,
    /// The worst failing coordinate, or the worst direction when no coordinate failed.
    pub worst: Probe,
    pub analytic: f64,
    pub numeric: f64,
    pub error: f64,
    pub tolerance: f64,
    /// Largest `|analytic − numeric|` over every compared derivative.
    pub max_abs_err: f64,
    pub failed: usize,
    pub checked: usize,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck `{}`: gradient mismatch at {}: analytic {:.9e} vs numeric {:.9e} (error {:.3e}, \
             tolerance {:.3e}); largest error {:.3e}, {} of {} derivatives out of tolerance",
            self.name,
            self.worst,
            self.analytic,
            self.numeric,
            self.error,
            self.tolerance,
            self.max_abs_err,
            self.failed,
            self.checked
        )
    }
}

/// Why a check did not pass.
#[derive(Debug, thiserror::Error)]
pub enum GradCheckFailure {
    /// Boxed: the details are large and a failure is the cold path.
    #[error("{0}")]
    Mismatch(Box<Mismatch>),
    #[error("gradcheck `{name}`: recording the graph failed: {source}")]
    Build {
        name: String,
        #[source]
        source: Error,
    },
    #[error("gradcheck `{name}`: {msg}")]
    Invalid { name: String, msg: String },
}

/// The function under test: a value and its claimed gradient, both fallible.
trait Objective {
    fn value(&mut self, x: &[Vec<f64>]) -> Result<f64, GradCheckFailure>;
    /// The magnitude that rounding in `f(x)` is relative to: `|f(x)|` for a
    /// plain function, `Σ|cᵢ·yᵢ|` for a scalarised output, whose terms may
    /// cancel to a small `f` while each still carries its own rounding.
    fn scale(&mut self, x: &[Vec<f64>]) -> Result<f64, GradCheckFailure> {
        Ok(self.value(x)?.abs())
    }
    fn grad(&mut self, x: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, GradCheckFailure>;
}

struct Closures<F, G> {
    f: F,
    g: G,
}

impl<F, G> Objective for Closures<F, G>
where
    F: FnMut(&[Vec<f64>]) -> f64,
    G: FnMut(&[Vec<f64>]) -> Vec<Vec<f64>>,
{
    fn value(&mut self, x: &[Vec<f64>]) -> Result<f64, GradCheckFailure> {
        Ok((self.f)(x))
    }
    fn grad(&mut self, x: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, GradCheckFailure> {
        Ok((self.g)(x))
    }
}

/// Checks `grad` against central differences of the scalar function `f` at
/// `inputs` (each a shape and its row-major values).
pub fn check(
    name: &str,
    inputs: &[(Shape, Vec<f64>)],
    f: impl FnMut(&[Vec<f64>]) -> f64,
    grad: impl FnMut(&[Vec<f64>]) -> Vec<Vec<f64>>,
    opts: &CheckOptions,
) -> Result<CheckReport, GradCheckFailure> {
    run(name, inputs, &mut Closures { f, g: grad }, opts)
}

/// Records `build` on a fresh [`Tape<f64>`] with every input as a parameter
/// and checks the tape's gradient of `Σ cᵢ·outᵢ` (a fixed random cotangent
/// `c`; `c = 1` for a 1 × 1 output) wrt every input.
pub fn check_tape(
    name: &str,
    inputs: &[(Shape, Vec<f64>)],
    build: impl Fn(&mut Tape<f64>, &[NodeId]) -> crate::Result<NodeId>,
    opts: &CheckOptions,
) -> Result<CheckReport, GradCheckFailure> {
    let shapes: Vec<Shape> = inputs.iter().map(|(s, _)| *s).collect();
    let mut obj = TapeObjective {
        name,
        shapes,
        build,
        tape: Tape::new(),
        ids: Vec::new(),
        cotangent: Vec::new(),
        seed: opts.seed ^ 0xC07A_4E57,
    };
    run(name, inputs, &mut obj, opts)
}

struct TapeObjective<'n, B> {
    name: &'n str,
    shapes: Vec<Shape>,
    build: B,
    tape: Tape<f64>,
    ids: Vec<NodeId>,
    cotangent: Vec<f64>,
    seed: u64,
}

impl<B> TapeObjective<'_, B>
where
    B: Fn(&mut Tape<f64>, &[NodeId]) -> crate::Result<NodeId>,
{
    /// Records the graph at `x`; returns the output, `f = Σ cᵢ·outᵢ` and `Σ|cᵢ·outᵢ|`.
    fn record(&mut self, x: &[Vec<f64>]) -> Result<(NodeId, f64, f64), GradCheckFailure> {
        let build_err = |source| GradCheckFailure::Build { name: self.name.to_string(), source };
        self.tape.clear();
        self.ids.clear();
        for (shape, data) in self.shapes.iter().zip(x) {
            self.ids.push(self.tape.param(*shape, data).map_err(build_err)?);
        }
        let out = (self.build)(&mut self.tape, &self.ids).map_err(build_err)?;
        let y = self.tape.value(out);
        if self.cotangent.len() != y.len() {
            self.cotangent = if y.len() == 1 {
                vec![1.0]
            } else {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                (0..y.len()).map(|_| uniform(&mut rng, -1.0, 1.0)).collect()
            };
        }
        let terms = y.iter().zip(&self.cotangent).map(|(a, b)| a * b);
        let (f, scale) = terms.fold((0.0, 0.0), |(f, s), t| (f + t, s + f64::abs(t)));
        Ok((out, f, scale))
    }
}

impl<B> Objective for TapeObjective<'_, B>
where
    B: Fn(&mut Tape<f64>, &[NodeId]) -> crate::Result<NodeId>,
{
    fn value(&mut self, x: &[Vec<f64>]) -> Result<f64, GradCheckFailure> {
        Ok(self.record(x)?.1)
    }

    fn scale(&mut self, x: &[Vec<f64>]) -> Result<f64, GradCheckFailure> {
        Ok(self.record(x)?.2)
    }

    fn grad(&mut self, x: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, GradCheckFailure> {
        let (out, ..) = self.record(x)?;
        let name = self.name;
        self.tape
            .backward_with_seed(out, &self.cotangent)
            .map_err(|source| GradCheckFailure::Build { name: name.to_string(), source })?;
        Ok(self.ids.iter().map(|&id| self.tape.grad(id).map_or_else(Vec::new, <[f64]>::to_vec)).collect())
    }
}

/// A uniform draw in `[lo, hi)` from the top 53 bits.
fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    lo + (hi - lo) * u
}

/// A compared derivative: the probe, analytic, numeric, error, tolerance.
type Compared = (Probe, f64, f64, f64, f64);

/// Running comparison. The worst coordinate and the worst direction are kept
/// apart: a failure names a coordinate whenever one failed, since that is
/// where to look, and falls back to a direction only when none did.
struct Tally {
    checked: usize,
    failed_coordinates: usize,
    failed_directions: usize,
    max_abs_err: f64,
    worst_ratio: f64,
    worst_coordinate: Option<(f64, Compared)>,
    worst_direction: Option<(f64, Compared)>,
}

impl Tally {
    fn compare(&mut self, probe: Probe, analytic: f64, numeric: f64, f_scale: f64, opts: &CheckOptions) {
        let error = (analytic - numeric).abs();
        let tolerance = opts.rel_tol * analytic.abs().max(numeric.abs()) + opts.abs_tol * f_scale.max(1.0);
        // A NaN on either side must fail, so compare with `!(<=)` and rank NaN as infinite.
        let ratio = if error.is_finite() { error / tolerance } else { f64::INFINITY };
        let is_coordinate = matches!(probe, Probe::Coordinate { .. });
        self.checked += 1;
        let pass = error <= tolerance;
        if !pass {
            *(if is_coordinate { &mut self.failed_coordinates } else { &mut self.failed_directions }) += 1;
        }
        self.max_abs_err = self.max_abs_err.max(if error.is_nan() { f64::INFINITY } else { error });
        self.worst_ratio = self.worst_ratio.max(ratio);
        let slot = if is_coordinate { &mut self.worst_coordinate } else { &mut self.worst_direction };
        if slot.as_ref().is_none_or(|(r, _)| ratio > *r) {
            *slot = Some((ratio, (probe, analytic, numeric, error, tolerance)));
        }
    }

    fn failure(self, name: &str) -> Option<GradCheckFailure> {
        let worst = if self.failed_coordinates > 0 {
            self.worst_coordinate
        } else if self.failed_directions > 0 {
            self.worst_direction
        } else {
            return None;
        };
        let (_, (worst, analytic, numeric, error, tolerance)) = worst.expect("a failed probe was recorded");
        Some(GradCheckFailure::Mismatch(Box::new(Mismatch {
            name: name.to_string(),
            worst,
            analytic,
            numeric,
            error,
            tolerance,
            max_abs_err: self.max_abs_err,
            failed: self.failed_coordinates + self.failed_directions,
            checked: self.checked,
        })))
    }
}

fn run(
    name: &str,
    inputs: &[(Shape, Vec<f64>)],
    obj: &mut dyn Objective,
    opts: &CheckOptions,
) -> Result<CheckReport, GradCheckFailure> {
    let invalid = |msg: String| GradCheckFailure::Invalid { name: name.to_string(), msg };
    for (i, (shape, data)) in inputs.iter().enumerate() {
        if shape.len() != data.len() {
            return Err(invalid(format!(
                "input {i} {shape} needs {} values, got {}",
                shape.len(),
                data.len()
            )));
        }
        if let Some(j) = data.iter().position(|v| !v.is_finite()) {
            return Err(invalid(format!("input {i} holds a non-finite value at {j}")));
        }
    }
    let mut x: Vec<Vec<f64>> = inputs.iter().map(|(_, d)| d.clone()).collect();
    let f0 = obj.value(&x)?;
    if !f0.is_finite() {
        return Err(invalid(format!("f(x) = {f0} is not finite")));
    }
    let f_scale = obj.scale(&x)?;
    let grad = obj.grad(&x)?;
    let shapes_ok = grad.len() == x.len() && grad.iter().zip(&x).all(|(g, xi)| g.len() == xi.len());
    if !shapes_ok {
        let got: Vec<usize> = grad.iter().map(Vec::len).collect();
        let want: Vec<usize> = x.iter().map(Vec::len).collect();
        return Err(invalid(format!("gradient has lengths {got:?}, inputs {want:?}")));
    }
    let h = opts.h;
    let mut tally = Tally {
        checked: 0,
        failed_coordinates: 0,
        failed_directions: 0,
        max_abs_err: 0.0,
        worst_ratio: 0.0,
        worst_coordinate: None,
        worst_direction: None,
    };
    let total: usize = x.iter().map(Vec::len).sum();
    let mut coordinates = 0;
    if total <= opts.max_coordinates {
        for (input, (shape, _)) in inputs.iter().enumerate() {
            for index in 0..shape.len() {
                let orig = x[input][index];
                x[input][index] = orig + h;
                let fp = obj.value(&x)?;
                x[input][index] = orig - h;
                let fm = obj.value(&x)?;
                x[input][index] = orig;
                let numeric = (fp - fm) / (2.0 * h);
                let (row, col) = (index / shape.cols.max(1), index % shape.cols.max(1));
                let probe = Probe::Coordinate { input, shape: *shape, index, row, col };
                tally.compare(probe, grad[input][index], numeric, f_scale, opts);
                coordinates += 1;
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut dir: Vec<Vec<f64>> = x.iter().map(|xi| vec![0.0; xi.len()]).collect();
    let mut shifted = x.clone();
    for index in 0..opts.directions {
        // A unit vector over all inputs, so each coordinate moves by at most h.
        dir.iter_mut().flatten().for_each(|v| *v = uniform(&mut rng, -1.0, 1.0));
        let norm = dir.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 {
            break;
        }
        dir.iter_mut().flatten().for_each(|v| *v /= norm);
        let analytic: f64 = dir.iter().flatten().zip(grad.iter().flatten()).map(|(v, g)| v * g).sum();
        let mut eval = |sign: f64| {
            for ((s, xi), di) in shifted.iter_mut().zip(&x).zip(&dir) {
                for ((sv, &xv), &dv) in s.iter_mut().zip(xi).zip(di) {
                    *sv = xv + sign * h * dv;
                }
            }
            obj.value(&shifted)
        };
        let (fp, fm) = (eval(1.0)?, eval(-1.0)?);
        tally.compare(Probe::Direction { index }, analytic, (fp - fm) / (2.0 * h), f_scale, opts);
    }
    let (checked, max_abs_err, worst_ratio) = (tally.checked, tally.max_abs_err, tally.worst_ratio);
    if let Some(failure) = tally.failure(name) {
        return Err(failure);
    }
    Ok(CheckReport {
        name: name.to_string(),
        coordinates,
        directions: checked - coordinates,
        max_abs_err,
        worst_ratio,
    })
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;

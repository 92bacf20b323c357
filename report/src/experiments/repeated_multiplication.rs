//! `repeated_multiplication`: the lecture toy g_L = f^L, measured as a real backward pass. Each variant is
//! a chain of `layers` one-unit linear layers whose weights all equal its factor f; the tape's backward
//! sweep from the top gives dy/dh_k = f^(L−k) at every depth at once. The chain runs in float64 (the
//! source's numpy) and in float32 (what training uses), which shows where float32 underflows to zero.
//! The source's own loop is also replayed as written, to measure its off-by-one.
use super::{engine_err, variant_error};
use crate::error::Result;
use crate::run::{KeyFigure, Output, Recorder, RunOptions, Runner};
use crate::scenario::Scenario;
use engine::{Real, Shape, Tape};
use serde::Deserialize;

pub const RUNNER: Runner = Runner {
    kind: "repeated_multiplication",
    about: "gradient through a chain of scalar layers with one repeated factor",
    check,
    run,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    /// Depth the source prints (20).
    layers: u32,
    /// A deeper chain, to show that any factor below 1 vanishes eventually.
    deep_layers: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params { layers: 20, deep_layers: 100 }
    }
}

fn check(s: &Scenario) -> Result<()> {
    let p: Params = s.params()?;
    if p.layers == 0 || p.deep_layers < p.layers {
        return Err(s.error(format!("[params] need 1 <= layers <= deep_layers; got {p:?}")));
    }
    if s.spec.variants.is_empty() {
        return Err(s.error("repeated_multiplication needs at least one variant"));
    }
    for (i, v) in s.variants().enumerate() {
        if v.factor.is_none() {
            return Err(variant_error(s, i, format!("variant `{}` needs a `factor`", v.name)));
        }
    }
    Ok(())
}

/// `out[L]` = d(top)/d(h_{depth−L}) = f^L for L = 0..=depth, from one backward sweep on the tape.
fn chain_gradients<T: Real>(factor: f64, depth: u32) -> engine::Result<Vec<f64>> {
    let mut tape = Tape::<T>::new();
    let w = tape.input(Shape::SCALAR, &[T::c(factor)])?;
    let mut h = vec![tape.param(Shape::SCALAR, &[T::one()])?];
    for k in 0..depth as usize {
        let next = tape.mul(h[k], w)?;
        h.push(next);
    }
    tape.backward(h[depth as usize])?;
    let grad = |id| tape.grad(id).expect("every h_k requires a gradient")[0].as_f64();
    Ok((0..=depth as usize).map(|l| grad(h[depth as usize - l])).collect())
}

/// The source's loop, exactly: `value = gradient; for i in range(layers): value *= gradient`, printing
/// "After layer {i+1}" beside the value; returns what it prints at its last line.
fn source_loop(gradient: f64, layers: u32) -> f64 {
    let mut value = gradient;
    for _ in 0..layers {
        value *= gradient;
    }
    value
}

fn run(s: &Scenario, opts: &RunOptions) -> Result<Output> {
    let p: Params = s.params()?;
    let mut rec = Recorder::new(s);
    let mut figures = Vec::new();
    let seeds = opts.seeds(s);
    for (vi, v) in s.variants().enumerate() {
        let f = v.factor.ok_or_else(|| variant_error(s, vi, "needs a `factor`"))?;
        let g64 = chain_gradients::<f64>(f, p.deep_layers).map_err(engine_err(s))?;
        let g32 = chain_gradients::<f32>(f, p.deep_layers).map_err(engine_err(s))?;
        // No randomness here: every seed records the same chain, so the seed column stays meaningful.
        for &seed in &seeds {
            for (l, (&a, &b)) in g64.iter().zip(&g32).enumerate() {
                rec.push(&v.name, seed, 0, Some(l as u32), "g", a);
                rec.push(&v.name, seed, 0, Some(l as u32), "g_f32", b);
            }
        }
        let (n, l, d) = (&v.name, p.layers as usize, p.deep_layers as usize);
        figures.push(fig(format!("g{l}.{n}"), format!("factor {n}: gradient after {l} layers"), g64[l]));
        figures.push(fig(format!("g{d}.{n}"), format!("factor {n}: gradient after {d} layers"), g64[d]));
        figures.push(fig(
            format!("source_printed_{l}.{n}"),
            format!("factor {n}: what the source prints as \"after layer {l}\""),
            source_loop(f, p.layers),
        ));
        if let Some(z) = g32.iter().position(|&g| g != 0.0 && g.abs() < f32::MIN_POSITIVE as f64) {
            figures.push(fig(
                format!("f32_subnormal_layer.{n}"),
                format!("factor {n}: first depth where the float32 gradient is subnormal"),
                z as f64,
            ));
        }
        if let Some(z) = g32.iter().position(|&g| g == 0.0) {
            figures.push(fig(
                format!("f32_zero_layer.{n}"),
                format!("factor {n}: first depth where the float32 gradient is exactly 0"),
                z as f64,
            ));
        }
    }
    Ok(Output { records: rec.records, key_figures: figures })
}

fn fig(key: String, label: String, value: f64) -> KeyFigure {
    KeyFigure { key, label, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_through_the_chain_is_the_power() {
        let g = chain_gradients::<f64>(0.9, 20).unwrap();
        assert_eq!(g[0], 1.0);
        assert!((g[20] - 0.9f64.powi(20)).abs() < 1e-15);
        // The source's loop prints f^(layers+1) beside "After layer {layers}".
        assert!((source_loop(0.9, 20) - 0.9f64.powi(21)).abs() < 1e-15);
    }

    #[test]
    fn float32_underflows_where_float64_does_not() {
        let g32 = chain_gradients::<f32>(0.01, 30).unwrap();
        let g64 = chain_gradients::<f64>(0.01, 30).unwrap();
        assert_eq!(g32[30], 0.0);
        assert!(g64[30] > 0.0);
        // The page's prose states these two depths; they are properties of float32 arithmetic.
        let subnormal = g32.iter().position(|&g| g != 0.0 && g.abs() < f32::MIN_POSITIVE as f64);
        assert_eq!(subnormal, Some(19));
        assert_eq!(g32.iter().position(|&g| g == 0.0), Some(23));
    }
}

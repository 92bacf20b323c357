//! `repeated_multiplication`: the lecture toy g_L = f^L, measured as a real backward pass. Each variant is
//! a chain of `layers` one-unit linear layers whose weights all equal its factor f; the tape's backward
//! sweep from the top gives dy/dh_k = f^(L−k) at every depth at once. The chain runs in float64 (the
//! source's numpy) and in float32 (what training uses), which shows where float32 underflows to zero.
//! The source's own loop is also replayed as written, to measure its off-by-one.
//!
//! Beside the toy, the truth: variants with a `model` instead of a `factor` are real deep dense networks
//! (see [`measure_real`]), whose per-layer gradient ratio is measured from one backward pass at initialisation and
//! recorded under the same metric, so both stand on one chart.
use crate::error::{ReportError, Result};
use crate::experiments::runner::{Experiment, RunOptions, Runner, engine_err};
use crate::record::{GLOBAL, KeyFigure, Output, Recorder, point};
use crate::scenario::{Scenario, Variant};
use crate::stats::median;
use engine::data::MatrixView;
use engine::data::synthetic::gaussian_classes;
use engine::model::{Data, LayerSpec, Loss, Model, ModelSpec};
use engine::monitor::layer_name;
use engine::{Real, Shape, Tape};
use serde::Deserialize;

pub const RUNNER: Runner = Runner {
    kind: "repeated_multiplication",
    about: "gradient through a chain of scalar layers with one repeated factor",
    prepare,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Depth the source prints (20).
    layers: u32,
    /// A deeper chain, to show that any factor below 1 vanishes eventually.
    deep_layers: u32,
    /// Real networks: rows of the batch their gradient is measured on, and the task (two Gaussian
    /// clusters of `model.inputs` features, `separation` apart).
    samples: usize,
    separation: f64,
}

/// What a variant measures: the toy chain with its factor, or a real dense network (its `model`).
#[derive(Debug, Clone, Copy)]
enum Chain<'s> {
    Toy(f64),
    Real(&'s ModelSpec),
}

struct Plan<'s> {
    s: &'s Scenario,
    p: Params,
    seeds: Vec<u64>,
    variants: Vec<(&'s Variant, Chain<'s>)>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    at.ensure(p.layers >= 1, &["layers"], "at least 1")?;
    at.ensure(p.deep_layers >= p.layers, &["deep_layers"], format!("at least layers ({})", p.layers))?;
    at.ensure(p.samples >= 2, &["samples"], "at least 2")?;
    at.ensure(p.separation >= 0.0, &["separation"], "a distance of 0 or more")?;
    if s.spec.variants.is_empty() {
        return Err(s.error("repeated_multiplication needs at least one variant"));
    }
    let mut variants = Vec::new();
    for (i, v) in s.variants().enumerate() {
        let chain = match (v.factor, &v.model) {
            (Some(f), None) => Chain::Toy(f),
            (None, Some(m)) => {
                check_real(s, i, v, m, p.layers)?;
                Chain::Real(m)
            }
            _ => {
                return Err(s.variant_error(
                    i,
                    &["factor"],
                    "needs either a `factor` (the toy) or a `model` (a real net), not both",
                ));
            }
        };
        variants.push((v, chain));
    }
    let plan = Plan { s, p, seeds: opts.seeds(s), variants };
    Ok(Box::new(move || run(&plan)))
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

fn run(plan: &Plan<'_>) -> Result<Output> {
    let Plan { s, p, seeds, variants } = plan;
    let mut rec = Recorder::new(&s.name);
    let mut figures = Vec::new();
    for &(v, chain) in variants {
        let f = match chain {
            Chain::Toy(f) => f,
            Chain::Real(m) => {
                measure_real(s, v, m, p, seeds, &mut rec, &mut figures)?;
                continue;
            }
        };
        let g64 = chain_gradients::<f64>(f, p.deep_layers).map_err(engine_err(s))?;
        let g32 = chain_gradients::<f32>(f, p.deep_layers).map_err(engine_err(s))?;
        // No randomness here: every seed records the same chain, so the seed column stays meaningful.
        for &seed in seeds {
            let run = rec.run(&v.name, seed);
            // L, the number of layers multiplied, is a coordinate of the chain, not a layer of a network.
            for (l, (&a, &b)) in g64.iter().zip(&g32).enumerate() {
                let at = point(&[("L", l as f64)]);
                run.push_named_at(0, GLOBAL, &at, "g", a);
                run.push_named_at(0, GLOBAL, &at, "g_f32", b);
                if (1..=p.layers as usize).contains(&l) {
                    // The toy's per-layer factor, constant by construction, beside the measured ones.
                    run.push_named_at(0, GLOBAL, &at, "factor", a / g64[l - 1]);
                }
            }
        }
        let (n, l, d) = (&v.name, p.layers as usize, p.deep_layers as usize);
        figures.push(KeyFigure::new(
            format!("g{l}.{n}"),
            format!("factor {n}: gradient after {l} layers"),
            g64[l],
        ));
        figures.push(KeyFigure::new(
            format!("g{d}.{n}"),
            format!("factor {n}: gradient after {d} layers"),
            g64[d],
        ));
        figures.push(KeyFigure::new(
            format!("source_printed_{l}.{n}"),
            format!("factor {n}: what the source prints as \"after layer {l}\""),
            source_loop(f, p.layers),
        ));
        if let Some(z) = g32.iter().position(|&g| g != 0.0 && g.abs() < f32::MIN_POSITIVE as f64) {
            figures.push(KeyFigure::new(
                format!("f32_subnormal_layer.{n}"),
                format!("factor {n}: first depth where the float32 gradient is subnormal"),
                z as f64,
            ));
        }
        if let Some(z) = g32.iter().position(|&g| g == 0.0) {
            figures.push(KeyFigure::new(
                format!("f32_zero_layer.{n}"),
                format!("factor {n}: first depth where the float32 gradient is exactly 0"),
                z as f64,
            ));
        }
    }
    Ok(Output { records: rec.runs, key_figures: figures, steps: 0 })
}

/// A real variant: a stack of dense layers (the last one is the output) with more hidden layers than the
/// toy's depth, so g_L exists for every L the toy shows.
fn check_real(s: &Scenario, i: usize, v: &Variant, m: &ModelSpec, layers: u32) -> Result<()> {
    if let Some(k) = m.layers.iter().position(|l| !matches!(l, LayerSpec::Dense(_))) {
        let kind = m.layers[k].kind();
        let k = k.to_string();
        let key = ["model", "layers", k.as_str()];
        return Err(s.variant_error(
            i,
            &key,
            format!("real networks here are dense stacks; got a {kind} layer"),
        ));
    }
    let hidden = hidden_layers(m);
    if hidden <= layers as usize {
        return Err(s.variant_error(
            i,
            &["model", "layers"],
            format!("needs more than {layers} hidden dense layers (before the output), got {hidden}"),
        ));
    }
    if v.loss.is_some_and(|l| l != Loss::BinaryCrossentropy) {
        return Err(s.variant_error(
            i,
            &["loss"],
            "the two-cluster task takes `loss = \"binary_crossentropy\"`",
        ));
    }
    Ok(())
}

/// Dense layers before the output layer.
fn hidden_layers(m: &ModelSpec) -> usize {
    m.expanded().count() - 1
}

fn build_real(m: &ModelSpec, seed: u64) -> engine::Result<Model<f64>> {
    m.build(seed)
}

/// ‖dL/dh_k‖ for every hidden layer k = 1..=H at initialisation, in float64 (as the toy's chain), on one
/// batch of the two-cluster task.
fn hidden_gradients(m: &ModelSpec, p: &Params, seed: u64) -> engine::Result<(Vec<String>, Vec<f64>)> {
    let inputs = m.inputs;
    let data = gaussian_classes(p.samples, 2, inputs, p.separation, seed)?;
    let x: Vec<f64> = data.x.iter().map(|&a| f64::from(a)).collect();
    let engine::data::Targets::Classes { labels, .. } = &data.targets else {
        return Err(engine::Error::InvalidArgument { op: "gaussian_classes", msg: "expected labels".into() });
    };
    let mut model = build_real(m, seed)?;
    let batch = Data::labels(MatrixView::new(&x, inputs)?, labels, 2);
    model.gradients(&batch, Loss::BinaryCrossentropy)?;
    let tape = model.tape();
    let hidden = &model.layers()[..model.layers().len() - 1];
    let names = hidden.iter().enumerate().map(|(k, l)| layer_name(&[k + 1], l.as_ref())).collect();
    let norms = hidden
        .iter()
        .map(|l| {
            let h = l.recorded().output.ok_or_else(|| engine::Error::InvalidArgument {
                op: "repeated_multiplication report",
                msg: "a dense layer recorded no output".into(),
            })?;
            Ok(tape.grad(h).map_or(0.0, |g| g.iter().map(|x| x * x).sum::<f64>().sqrt()))
        })
        .collect::<engine::Result<_>>()?;
    Ok((names, norms))
}

/// Records, per seed, g_L = ‖dL/dh_(H−L)‖ / ‖dL/dh_H‖ (the toy's g_L, measured), the local factor
/// g_L / g_(L−1), and the absolute ‖dL/dh_k‖; key figures are medians over the seeds.
fn measure_real(
    s: &Scenario,
    v: &Variant,
    m: &ModelSpec,
    p: &Params,
    seeds: &[u64],
    rec: &mut Recorder,
    figures: &mut Vec<KeyFigure>,
) -> Result<()> {
    let (n, l) = (&v.name, p.layers as usize);
    let (mut g_l, mut bottom, mut top) = (Vec::new(), Vec::new(), Vec::new());
    for &seed in seeds {
        let (names, norms) = hidden_gradients(m, p, seed).map_err(engine_err(s))?;
        let h = norms.len();
        if norms.iter().any(|g| !g.is_finite() || *g <= 0.0) {
            return Err(ReportError::run(
                &s.name,
                format!("variant `{n}`: a hidden gradient is 0 or not finite"),
            ));
        }
        let run = rec.run(n, seed);
        for (name, &g) in names.iter().zip(&norms) {
            run.push_named(0, name, "grad_h", g);
        }
        for back in 0..h {
            let g = norms[h - 1 - back] / norms[h - 1];
            let at = point(&[("L", back as f64)]);
            run.push_named_at(0, GLOBAL, &at, "g", g);
            if back >= 1 {
                run.push_named_at(0, GLOBAL, &at, "factor", norms[h - 1 - back] / norms[h - back]);
            }
        }
        g_l.push(norms[h - 1 - l] / norms[h - 1]);
        bottom.push(norms[0]);
        top.push(norms[h - 1]);
    }
    let g = median(&g_l);
    figures.push(KeyFigure::new(
        format!("g{l}.{n}"),
        format!("{n}: measured gradient ratio after {l} layers (median)"),
        g,
    ));
    figures.push(KeyFigure::new(
        format!("factor.{n}"),
        format!("{n}: per-layer factor, (g_{l})^(1/{l}) (median)"),
        g.powf(1.0 / l as f64),
    ));
    figures.push(KeyFigure::new(
        format!("grad_top.{n}"),
        format!("{n}: ‖dL/dh‖ at the last hidden layer (median)"),
        median(&top),
    ));
    figures.push(KeyFigure::new(
        format!("grad_bottom.{n}"),
        format!("{n}: ‖dL/dh‖ at the first hidden layer (median)"),
        median(&bottom),
    ));
    Ok(())
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

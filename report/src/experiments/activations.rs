//! `activation_curves`: each variant's activation f and its derivative f' over a grid, both measured by
//! the engine: f by the forward kernel, f' by the tape's backward sweep of sum(f(x)) (each x_i only
//! touches its own output, so d/dx_i Σ f(x_j) = f'(x_i)). A float64 central difference of the same
//! forward kernel checks the derivative away from kinks.
use crate::error::Result;
use crate::experiments::runner::{Experiment, RunOptions, Runner, engine_err};
use crate::record::{GLOBAL, KeyFigure, Output, Recorder, point};
use crate::scenario::{Scenario, Variant};
use engine::{Activation, Real, Shape, Tape};
use serde::Deserialize;

pub const RUNNER: Runner = Runner {
    kind: "activation_curves",
    about: "activation values and autodiff derivatives over a grid",
    prepare,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    x_min: f64,
    x_max: f64,
    /// Grid points, both ends included.
    points: usize,
    /// Depth L for the "max derivative to the power L" figure.
    depth: u32,
    /// A derivative below this counts as saturated.
    saturation: f64,
}

/// Step of the finite-difference check (float64; the error is O(h²) ≈ 1e-10 for smooth f).
const FD_STEP: f64 = 1e-5;

/// What runs: the grid and every variant's activation.
struct Plan<'s> {
    s: &'s Scenario,
    p: Params,
    seeds: Vec<u64>,
    variants: Vec<(&'s Variant, Activation)>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    at.ensure(p.x_min < p.x_max, &["x_max"], format!("a number above x_min ({})", p.x_min))?;
    at.ensure(p.points >= 2, &["points"], "at least 2 grid points")?;
    at.ensure(p.depth >= 1, &["depth"], "at least 1")?;
    at.ensure(p.saturation > 0.0, &["saturation"], "a derivative above 0")?;
    let plan = Plan { s, p, seeds: opts.seeds(s), variants: s.activation_variants()? };
    Ok(Box::new(move || run(&plan)))
}

fn grid(p: &Params) -> Vec<f32> {
    let n = p.points - 1;
    (0..=n).map(|i| (p.x_min + (p.x_max - p.x_min) * i as f64 / n as f64) as f32).collect()
}

/// f(x) and f'(x) on the tape, in the float type the engine trains with.
fn curves<T: Real>(act: Activation, xs: &[T]) -> engine::Result<(Vec<T>, Vec<T>)> {
    let mut tape = Tape::<T>::new();
    let x = tape.param(Shape::new(1, xs.len()), xs)?;
    let y = tape.act(x, act)?;
    let total = tape.sum(y)?;
    tape.backward(total)?;
    let df = tape.grad(x).expect("x requires a gradient").to_vec();
    Ok((tape.value(y).to_vec(), df))
}

/// Largest |autodiff − central difference| in float64 over grid points at least 2h from a kink.
fn fd_error(act: Activation, xs: &[f32]) -> engine::Result<f64> {
    let x64: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
    let (_, df) = curves::<f64>(act, &x64)?;
    let shifted = |d: f64| -> engine::Result<Vec<f64>> {
        let xs: Vec<f64> = x64.iter().map(|x| x + d).collect();
        Ok(curves::<f64>(act, &xs)?.0)
    };
    let (up, down) = (shifted(FD_STEP)?, shifted(-FD_STEP)?);
    let mut worst = 0.0f64;
    for i in 0..x64.len() {
        if act.kinks().iter().any(|k| (x64[i] - k).abs() < 2.0 * FD_STEP) {
            continue;
        }
        let fd = (up[i] - down[i]) / (2.0 * FD_STEP);
        worst = worst.max((fd - df[i]).abs());
    }
    Ok(worst)
}

fn run(plan: &Plan<'_>) -> Result<Output> {
    let Plan { s, p, seeds, variants } = plan;
    let xs = grid(p);
    let mut rec = Recorder::new(&s.name);
    let mut figures = Vec::new();
    let range = format!("[{}, {}]", p.x_min, p.x_max);
    for &seed in seeds {
        for &(v, act) in variants {
            let (f, df) = curves::<f32>(act, &xs).map_err(engine_err(s))?;
            let run = rec.run(&v.name, seed);
            for ((&x, &fx), &dfx) in xs.iter().zip(&f).zip(&df) {
                let at = point(&[("x", x as f64)]);
                run.push_named_at(0, GLOBAL, &at, "f", fx as f64);
                run.push_named_at(0, GLOBAL, &at, "df", dfx as f64);
            }
            // The runner is deterministic: every seed measures the same curves, so figures come once.
            if seed != seeds[0] {
                continue;
            }
            let (imax, max_df) = df
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &d)| if d > best.1 { (i, d) } else { best });
            let max_df = max_df as f64;
            let pow = max_df.powi(p.depth as i32);
            let at = point(&[("depth", f64::from(p.depth))]);
            rec.run(&v.name, seed).push_named_at(0, GLOBAL, &at, "max_df_pow_depth", pow);
            let saturated = df.iter().filter(|&&d| (d as f64).abs() < p.saturation).count();
            let fd = fd_error(act, &xs).map_err(engine_err(s))?;
            let n = &v.name;
            figures.extend([
                KeyFigure::new(format!("max_df.{n}"), format!("{n}: largest f'(x) on {range}"), max_df),
                KeyFigure::new(
                    format!("argmax_df.{n}"),
                    format!("{n}: x where f' is largest"),
                    xs[imax] as f64,
                ),
                KeyFigure::new(
                    format!("max_df_pow.{n}"),
                    format!("{n}: (largest f')^{} — {} layers", p.depth, p.depth),
                    pow,
                ),
                KeyFigure::new(
                    format!("saturated_share.{n}"),
                    format!("{n}: share of {range} where |f'| < {}", p.saturation),
                    saturated as f64 / xs.len() as f64,
                ),
                KeyFigure::new(
                    format!("fd_error.{n}"),
                    format!("{n}: max |autodiff − finite difference| (f64)"),
                    fd,
                ),
            ]);
        }
    }
    Ok(Output { records: rec.runs, key_figures: figures, steps: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_comes_from_backward_and_matches_known_peaks() {
        let xs = [-1.0f32, 0.0, 1.0];
        let (f, df) = curves::<f32>(Activation::Sigmoid, &xs).unwrap();
        assert!((f[1] - 0.5).abs() < 1e-6);
        assert!((df[1] - 0.25).abs() < 1e-6);
        assert!(df[0] < 0.25 && (df[0] - df[2]).abs() < 1e-7);
        let (_, df) = curves::<f32>(Activation::Relu, &xs).unwrap();
        assert_eq!(df, vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn grid_hits_both_ends_and_zero() {
        let p = Params { x_min: -6.0, x_max: 6.0, points: 241, depth: 10, saturation: 0.01 };
        let g = grid(&p);
        assert_eq!((g[0], g[120], g[240]), (-6.0, 0.0, 6.0));
    }
}

//! `init_distributions`: Xavier/Glorot and He initialisation, drawn by the engine's own initialisers, and
//! what each does to a real deep network at initialisation. Part one bins the draws of each variant's kernel
//! initialiser on a `kernel` shaped matrix (slide 7 uses 1000 × 1000) next to the density it should follow
//! (Keras' normal initialisers are truncated at two standard deviations and rescaled). Part two builds each
//! variant's model (a stack of square dense layers, `Sequential` in float32) and measures, per layer, the
//! pre-activation variance, the activation variance and ‖∂L/∂h_l‖ from one MSE backward pass, over several
//! seeds, beside mean field's variance trajectory and gradient factor.
use super::common::nets::{LayerStats, dense_stack};
use crate::error::Result;
use crate::experiments::runner::{Experiment, RunOptions, Runner, engine_err};
use crate::record::{GLOBAL, KeyFigure, Output, Recorder, layer, point};
use crate::scenario::{Scenario, Variant};
use crate::stats::median;
use engine::Shape;
use engine::init::{Initializer, TRUNCATED_STDDEV};
use engine::layers::dense::DenseAct;
use engine::model::LayerSpec;
use engine::theory::MeanField;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use rayon::prelude::*;
use serde::Deserialize;

pub const RUNNER: Runner = Runner {
    kind: "init_distributions",
    about: "Glorot and He weight draws vs their density, and activation variance and gradient norm with depth",
    prepare,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Shape of the matrix whose draws are binned (fan_in × fan_out).
    kernel: [usize; 2],
    bins: usize,
    batch: usize,
    outputs: usize,
    /// The networks' width in place of each variant's model width (the initialisers keep the σ_w² of the
    /// model's width); absent, each model runs as written. `[params.quick]` sets it for a fast look.
    #[serde(default)]
    width: Option<usize>,
}

/// What a variant's model is: `depth` square dense layers of `width` units.
struct Stack {
    act: engine::Activation,
    init: Initializer,
    width: usize,
    depth: usize,
    /// σ_w² of the initialiser on the model's square layers, and on the binned `kernel`.
    sw2: f64,
    kernel_sw2: f64,
}

/// The stack a variant's `model` describes, or the key (below the variant) that is wrong and why.
fn stack(v: &Variant, kernel: [usize; 2]) -> std::result::Result<Stack, (&'static [&'static str], String)> {
    const LAYER: &[&str] = &["model", "layers", "0"];
    let model = v.model.as_ref().ok_or((&[][..], "needs a `model`".to_string()))?;
    let [LayerSpec::Dense(d)] = model.layers.as_slice() else {
        let msg = "needs a model of exactly one layer entry (a dense layer with `repeat`)";
        return Err((&["model", "layers"], msg.into()));
    };
    let (Some(_), Some(_)) = (&d.activation, &d.kernel_initializer) else {
        return Err((LAYER, "the layer needs `units`, `activation` and `initializer`".into()));
    };
    let Ok(DenseAct::Elementwise(act)) = d.activation() else {
        return Err((LAYER, "the layer's activation must be element-wise (not softmax)".into()));
    };
    if d.units != model.inputs || d.repeat < 2 {
        return Err((LAYER, "the layer must be dense, as wide as the input, with `repeat` >= 2".into()));
    }
    let init = d.kernel().map_err(|m| (LAYER, m))?;
    let scale = |fan_in, fan_out| {
        init.sigma_w2(fan_in, fan_out).ok_or((
            &["model", "layers", "0", "initializer"][..],
            format!("the initializer needs a zero-mean scale on {fan_in} × {fan_out} kernels"),
        ))
    };
    let (sw2, kernel_sw2) = (scale(d.units, d.units)?, scale(kernel[0], kernel[1])?);
    Ok(Stack { act, init, width: d.units, depth: d.repeat, sw2, kernel_sw2 })
}

struct Plan<'s> {
    s: &'s Scenario,
    p: Params,
    seeds: Vec<u64>,
    variants: Vec<&'s Variant>,
    stacks: Vec<Stack>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    at.ensure(!p.kernel.contains(&0), &["kernel"], "a non-empty shape [fan_in, fan_out]")?;
    at.ensure(p.bins >= 2, &["bins"], "at least 2")?;
    at.ensure(p.batch >= 1, &["batch"], "at least 1")?;
    at.ensure(p.outputs >= 1, &["outputs"], "at least 1")?;
    at.ensure(p.width.is_none_or(|w| w >= 1), &["width"], "at least 1")?;
    if s.spec.variants.is_empty() {
        return Err(s.error("init_distributions needs at least one variant"));
    }
    let variants: Vec<&Variant> = s.variants().collect();
    let stacks = variants
        .iter()
        .enumerate()
        .map(|(i, v)| stack(v, p.kernel).map_err(|(key, m)| s.variant_error(i, key, m)))
        .collect::<Result<_>>()?;
    let plan = Plan { s, p, seeds: opts.seeds(s), variants, stacks };
    Ok(Box::new(move || run(&plan)))
}

/// The density the engine's draws follow: normal initialisers are N(0, σ²) truncated to ±2σ with
/// σ = nominal/0.8796 (Keras), uniform ones flat on ±√3·nominal.
fn density(init: &Initializer, nominal: f64, w: f64) -> f64 {
    match init {
        Initializer::GlorotUniform | Initializer::HeUniform | Initializer::LecunUniform => {
            let a = 3f64.sqrt() * nominal;
            if w.abs() <= a { 0.5 / a } else { 0.0 }
        }
        Initializer::RandomNormal { .. } => {
            (-0.5 * (w / nominal).powi(2)).exp() / (nominal * (2.0 * std::f64::consts::PI).sqrt())
        }
        _ => {
            let s = nominal / TRUNCATED_STDDEV;
            // P(|z| <= 2) for a standard normal.
            const MASS: f64 = 0.954_499_736_103_641_6;
            if w.abs() > 2.0 * s {
                0.0
            } else {
                (-0.5 * (w / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt() * MASS)
            }
        }
    }
}

fn run(plan: &Plan<'_>) -> Result<Output> {
    let Plan { s, p, seeds, variants, stacks } = plan;
    let kernel = p.kernel;
    let mut rec = Recorder::new(&s.name);
    let mut figures = Vec::new();
    let fig = |key: String, label: String, value: f64| KeyFigure { key, label, value };

    // Part one: the initialisers' draws, binned, against their density.
    for (v, st) in variants.iter().zip(stacks) {
        let (fan_in, fan_out) = (kernel[0], kernel[1]);
        let nominal = (st.kernel_sw2 / fan_in as f64).sqrt();
        let reach = 2.5 * nominal / TRUNCATED_STDDEV;
        let width = 2.0 * reach / p.bins as f64;
        // One matrix per variant (from the first seed), as slide 7 draws one: a million draws already pin
        // the density down to a few percent per bin.
        for &seed in &seeds[..1] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let w: Vec<f64> = st.init.sample(Shape::new(fan_in, fan_out), &mut rng).map_err(engine_err(s))?;
            let mut counts = vec![0usize; p.bins];
            for &x in &w {
                let k = ((x + reach) / width).floor();
                if (0.0..p.bins as f64).contains(&k) {
                    counts[k as usize] += 1;
                }
            }
            let run = rec.run(&v.name, seed);
            for (k, &c) in counts.iter().enumerate() {
                // Each bin at its centre.
                let centre = -reach + width * (k as f64 + 0.5);
                let at = point(&[("bin", centre)]);
                run.push_named_at(0, GLOBAL, &at, "weight_density", c as f64 / (w.len() as f64 * width));
                run.push_named_at(
                    0,
                    GLOBAL,
                    &at,
                    "weight_density_theory",
                    density(&st.init, nominal, centre),
                );
            }
            if seed == seeds[0] {
                let n = w.len() as f64;
                let std = (w.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
                let max = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                let label = v.label();
                figures.push(fig(
                    format!("weight_std.{}", v.name),
                    format!("{label}: std of the {fan_in}×{fan_out} draws (nominal {nominal:.5})"),
                    std,
                ));
                figures.push(fig(
                    format!("weight_max_over_std.{}", v.name),
                    format!("{label}: largest |w| / nominal std (a plain normal would reach ≈ 5)"),
                    max / nominal,
                ));
            }
        }
    }

    // Part two: real networks at initialisation, per layer.
    let jobs: Vec<(usize, u64)> =
        (0..stacks.len()).flat_map(|v| seeds.iter().map(move |&sd| (v, sd))).collect();
    // Independent jobs collected in order: the numbers do not depend on the thread count.
    let per_job = jobs
        .par_iter()
        .map(|&(vi, seed)| {
            let st = &stacks[vi];
            let width = p.width.unwrap_or(st.width);
            dense_stack(st.act, st.init, (width, st.depth, p.batch, p.outputs), seed)
        })
        .collect::<engine::Result<Vec<_>>>()
        .map_err(engine_err(s))?;
    for (vi, (v, st)) in variants.iter().zip(stacks).enumerate() {
        let mine: Vec<_> = jobs.iter().zip(&per_job).filter(|((j, _), _)| *j == vi).collect();
        let names: Vec<String> =
            (1..=st.depth).map(|l| layer(l, &format!("dense({})", st.act.name()))).collect();
        for ((_, seed), m) in &mine {
            let run = rec.run(&v.name, *seed);
            for (l, name) in names.iter().enumerate() {
                run.push_named(0, name, "q", m.q[l]);
                run.push_named(0, name, "activation_variance", m.act_var[l]);
                // ‖∂L/∂h_l‖ at the pre-activation: not the monitor's weight-gradient `grad_norm`.
                run.push_named(0, name, "grad_h", m.grad_norm[l]);
            }
        }
        // Mean field: q_l from q₁ = σ_w² (unit-normal inputs, no biases); the gradient norm predicted from
        // the measured top one (median of seeds) down through √χ₁(q_l) per layer.
        let sw2 = st.sw2;
        let mf = MeanField::new(st.act, sw2.sqrt(), 0.0).map_err(engine_err(s))?;
        let qs = mf.variance_trajectory(sw2, st.depth).map_err(engine_err(s))?;
        let med =
            |f: &dyn Fn(&LayerStats) -> f64| median(&mine.iter().map(|(_, m)| f(m)).collect::<Vec<_>>());
        let top = med(&|m| m.grad_norm[st.depth - 1]);
        let mut g = top;
        let mut predicted = vec![0.0; st.depth];
        for l in (0..st.depth).rev() {
            predicted[l] = g;
            g *= mf.chi1_at(qs[l.saturating_sub(1)]).sqrt();
        }
        let run = rec.run(&v.name, seeds[0]);
        for (l, name) in names.iter().enumerate() {
            run.push_named(0, name, "q_theory", qs[l]);
            run.push_named(0, name, "grad_h_theory", predicted[l]);
        }
        let (n, label, d) = (&v.name, v.label(), st.depth);
        let first = med(&|m| m.grad_norm[0]);
        figures.extend([
            fig(
                format!("act_var_ratio.{n}"),
                format!("{label}: activation variance, layer {d} / layer 1 (median of seeds)"),
                med(&|m| m.act_var[d - 1] / m.act_var[0]),
            ),
            fig(
                format!("grad_ratio.{n}"),
                format!("{label}: ‖∂L/∂h_1‖ / ‖∂L/∂h_{d}‖ (median of seeds)"),
                med(&|m| m.grad_norm[0] / m.grad_norm[d - 1]),
            ),
            fig(format!("grad_first.{n}"), format!("{label}: ‖∂L/∂h_1‖ (median)"), first),
            fig(format!("grad_last.{n}"), format!("{label}: ‖∂L/∂h_{d}‖ (median)"), top),
        ]);
    }
    Ok(Output { records: rec.runs, key_figures: figures, steps: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The densities integrate to 1, and the truncated normal's is zero beyond 2σ = 2·nominal/0.8796.
    #[test]
    fn densities_are_normalised() {
        for init in [
            Initializer::GlorotNormal,
            Initializer::HeUniform,
            Initializer::RandomNormal { mean: 0.0, stddev: 0.1 },
        ] {
            let (nominal, h) = (0.1, 1e-4);
            let total: f64 =
                (-100_000..100_000).map(|i| density(&init, nominal, (i as f64 + 0.5) * h) * h).sum();
            assert!((total - 1.0).abs() < 1e-3, "{init}: {total}");
        }
        let edge = 2.0 * 0.1 / TRUNCATED_STDDEV;
        assert!(density(&Initializer::HeNormal, 0.1, edge * 0.999) > 0.0);
        assert_eq!(density(&Initializer::HeNormal, 0.1, edge * 1.001), 0.0);
    }

    /// He keeps ReLU's activation variance flat with depth where random_normal(0.01) makes it collapse
    /// (issue 4's theory test), measured on real nets of width 256 and depth 16, median of 3 seeds. "Flat"
    /// allows a factor 2: at finite width log q drifts like a random walk (variance ≈ 5·depth/width).
    #[test]
    fn he_keeps_relu_variance_flat_and_tiny_init_collapses_it() {
        let act = engine::Activation::Relu;
        let ratio = |init| {
            let r: Vec<f64> = (0..3)
                .map(|seed| {
                    let st = dense_stack(act, init, (256, 16, 32, 4), seed).unwrap();
                    st.act_var[15] / st.act_var[0]
                })
                .collect();
            median(&r)
        };
        let he = ratio(Initializer::HeNormal);
        assert!((0.5..2.0).contains(&he), "He: {he}");
        let tiny = ratio(Initializer::RandomNormal { mean: 0.0, stddev: 0.01 });
        // σ_w² = 128·10⁻⁴: the variance shrinks by σ_w²/2 = 0.0064 per layer, 15 layers.
        assert!(tiny < 1e-20, "random_normal(0.01): {tiny}");
    }
}

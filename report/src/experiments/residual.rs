//! `residual`: slide 11's 50-block network, plain against residual, measured with real backward passes.
//! A block is `dense(relu) → dense(linear)` (the slide's `relu(x·W1)·W2`); the residual net adds the skip,
//! `x + F(x)`, with the engine's `Residual` layer. Each variant names its net in `[params.nets]`: skip or
//! not, the two layers' initialisers, and an optional normalisation in the branch. Per block the runner
//! records ‖dL/dh_b‖ (the gradient at the block's output, from the tape), ‖dL/dW1_b‖ (the gathered weight
//! gradient) and the mean forward norm ‖h_b‖ (what the slide plots), in float64 so that gradients far below
//! float32's range stay measurable; then a short float32 Adam run records the training loss.
use crate::error::{ReportError, Result};
use crate::experiments::runner::{Experiment, RunOptions, Runner, engine_err};
use crate::record::{GLOBAL, KeyFigure, Output, Recorder, point};
use crate::scenario::Scenario;
use crate::stats::median;
use engine::data::synthetic::gaussian_classes;
use engine::data::{Dataset, MatrixView};
use engine::layers::{Dense, Layer, LayerNormalization, Residual};
use engine::model::{Data, FitConfig, FnHook, Loss, Model, Sequential, StepView};
use engine::optim::{Adam, AdamConfig};
use engine::{Real, Tape};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;

pub const RUNNER: Runner = Runner {
    kind: "residual",
    about: "deep plain vs residual nets: per-block gradient norms and a short training run",
    prepare,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    blocks: usize,
    width: usize,
    /// Rows of the one batch the gradient profile is measured on.
    samples: usize,
    /// The task: Gaussian clusters of `width` features (`separation` between centres), softmax output.
    classes: usize,
    separation: f64,
    /// The short training run: Adam steps, each on a fresh batch.
    train_steps: usize,
    batch_size: usize,
    learning_rate: f64,
    /// Per variant name: which net it is.
    nets: BTreeMap<String, NetSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum Norm {
    #[default]
    None,
    /// Layer normalisation at the start of the branch (pre-norm: x + F(LN(x))).
    LayerNorm,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetSpec {
    /// A skip connection around every block.
    skip: bool,
    /// Kernel initialisers of the block's first (relu) and second (linear) dense layer, by the engine's
    /// names, e.g. `he_normal` or `random_normal(stddev=0.01)`.
    first: String,
    second: String,
    #[serde(default)]
    norm: Norm,
}

struct Plan<'s> {
    s: &'s Scenario,
    p: Params,
    seeds: Vec<u64>,
    names: Vec<&'s str>,
    /// Each variant's net, in variant order.
    nets: Vec<NetSpec>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    at.ensure(p.blocks >= 1, &["blocks"], "at least 1")?;
    at.ensure(p.width >= 1, &["width"], "at least 1")?;
    at.ensure(p.samples >= 2, &["samples"], "at least 2")?;
    at.ensure(p.classes >= 2, &["classes"], "at least 2")?;
    at.ensure(p.separation >= 0.0, &["separation"], "a distance of 0 or more")?;
    at.ensure(p.train_steps >= 1, &["train_steps"], "at least 1")?;
    at.ensure(p.batch_size >= 2, &["batch_size"], "at least 2")?;
    at.ensure(p.learning_rate > 0.0 && p.learning_rate.is_finite(), &["learning_rate"], "a positive number")?;
    if s.spec.variants.is_empty() {
        return Err(s.error("residual needs at least one variant"));
    }
    let mut nets = Vec::new();
    for (i, v) in s.variants().enumerate() {
        let Some(net) = p.nets.get(&v.name) else {
            return Err(s.variant_error(
                i,
                &["name"],
                format!(
                    "has no entry in [params.nets]; add `{} = {{ skip = ..., first = ..., second = ... }}`",
                    v.name
                ),
            ));
        };
        // Building a one-block copy validates the initialiser names with the engine's own parser.
        build::<f64>(net, 1, 2, 2, 0)
            .map_err(|e| at.error(&["nets", &v.name], format!("a net that builds: {e}")))?;
        nets.push(net.clone());
    }
    if let Some(extra) = p.nets.keys().find(|k| !s.variants().any(|v| &v.name == *k)) {
        return Err(at.error(&["nets", extra], "one entry per variant name; no variant has this name"));
    }
    let names = s.variants().map(|v| v.name.as_str()).collect();
    let plan = Plan { s, p, seeds: opts.seeds(s), names, nets };
    Ok(Box::new(move || run(&plan)))
}

/// `blocks` blocks of `width`, then a `dense(classes)` output (logits for the softmax cross-entropy).
fn build<T: Real>(
    net: &NetSpec,
    blocks: usize,
    width: usize,
    classes: usize,
    seed: u64,
) -> engine::Result<Model<T>> {
    let first = || Dense::new(width).activation("relu").kernel_initializer(net.first.as_str());
    let second = || Dense::new(width).kernel_initializer(net.second.as_str());
    let mut m = Sequential::<T>::new(width).seed(seed);
    for _ in 0..blocks {
        if net.skip {
            let mut branch = Residual::new();
            if net.norm == Norm::LayerNorm {
                branch = branch.add(LayerNormalization::new());
            }
            m = m.add(branch.add(first()).add(second()));
        } else {
            if net.norm == Norm::LayerNorm {
                m = m.add(LayerNormalization::new());
            }
            m = m.add(first()).add(second());
        }
    }
    m.add(Dense::new(classes)).build()
}

/// Per block, in order: (block output layer, its first dense layer), read off the built model.
fn blocks_of<T: Real>(model: &Model<T>) -> Vec<(&dyn Layer<T>, &dyn Layer<T>)> {
    let layers = model.layers();
    let body = &layers[..layers.len() - 1];
    if body.iter().any(|l| l.kind() == "residual") {
        body.iter()
            .map(|b| {
                let first =
                    b.children().iter().find(|c| c.kind() == "dense").expect("a block has a dense layer");
                (b.as_ref(), first.as_ref())
            })
            .collect()
    } else {
        let dense: Vec<&dyn Layer<T>> =
            body.iter().filter(|l| l.kind() == "dense").map(|l| l.as_ref()).collect();
        dense.chunks_exact(2).map(|pair| (pair[1], pair[0])).collect()
    }
}

fn frobenius<T: Real>(v: &[T]) -> f64 {
    v.iter().map(|x| x.as_f64().powi(2)).sum::<f64>().sqrt()
}

/// Per block: ‖dL/dh_b‖, ‖dL/dW1_b‖ and the mean over rows of ‖h_b‖, at initialisation.
struct Profile {
    grad_h: Vec<f64>,
    grad_w: Vec<f64>,
    act: Vec<f64>,
    loss: f64,
}

fn profile(model: &mut Model<f64>, data: &Dataset) -> engine::Result<Profile> {
    // The data sets are float32; the profile runs in float64, so the inputs are widened (exactly).
    let x: Vec<f64> = data.x.iter().map(|&v| f64::from(v)).collect();
    let engine::data::Targets::Classes { labels, classes } = &data.targets else {
        return Err(engine::Error::InvalidArgument {
            op: "residual report",
            msg: "expected class labels".into(),
        });
    };
    let data64 = Data::labels(MatrixView::new(&x, data.features)?, labels, *classes);
    let loss = model.gradients(&data64, Loss::SparseCategoricalCrossentropy)?;
    let tape: &Tape<f64> = model.tape();
    let mut out = Profile { grad_h: Vec::new(), grad_w: Vec::new(), act: Vec::new(), loss };
    for (block, first) in blocks_of(model) {
        let h = block.recorded().output.ok_or_else(|| engine::Error::InvalidArgument {
            op: "residual report",
            msg: "a block recorded no output".into(),
        })?;
        out.grad_h.push(tape.grad(h).map_or(0.0, frobenius));
        let w = first.params()[0];
        out.grad_w.push(frobenius(&model.params().get(w).grad));
        let cols = tape.shape(h).cols;
        let rows: Vec<f64> = tape.value(h).chunks_exact(cols).map(frobenius).collect();
        out.act.push(rows.iter().sum::<f64>() / rows.len() as f64);
    }
    Ok(out)
}

/// The training losses, step by step, and the step where the loss or a gradient stopped being finite.
fn train(p: &Params, net: &NetSpec, seed: u64) -> engine::Result<(Vec<f64>, Option<usize>)> {
    let data =
        gaussian_classes(p.train_steps * p.batch_size, p.classes, p.width, p.separation, seed ^ 0x7EA1)?;
    let mut model = build::<f32>(net, p.blocks, p.width, p.classes, seed)?;
    let adam = Adam::new(AdamConfig { learning_rate: p.learning_rate, ..AdamConfig::default() })?;
    let mut losses = Vec::new();
    let mut hook = FnHook(|v: &StepView<'_, f32>| {
        losses.push(v.loss);
        Ok(())
    });
    let mut cfg = FitConfig::new(Loss::SparseCategoricalCrossentropy)
        .optimizer(adam)
        .epochs(1)
        .batch_size(p.batch_size)
        .seed(seed)
        .hook(&mut hook);
    let fitted = model.fit(&Data::from(&data), &mut cfg);
    drop(cfg);
    match fitted {
        Ok(_) => Ok((losses, None)),
        // The hook has seen every step before the one that failed.
        Err(engine::Error::NonFinite { .. }) => {
            let at = losses.len();
            Ok((losses, Some(at)))
        }
        Err(e) => Err(e),
    }
}

struct RunResult {
    variant: usize,
    seed: u64,
    profile: Profile,
    losses: Vec<f64>,
    diverged: Option<usize>,
}

fn run(plan: &Plan<'_>) -> Result<Output> {
    let Plan { s, p, seeds, names, nets } = plan;
    let mut jobs = Vec::new();
    for vi in 0..names.len() {
        jobs.extend(seeds.iter().map(|&seed| (vi, seed)));
    }
    let err = engine_err(s);
    let results: Vec<RunResult> = jobs
        .par_iter()
        .map(|&(vi, seed)| {
            let net = &nets[vi];
            let data = gaussian_classes(p.samples, p.classes, p.width, p.separation, seed).map_err(&err)?;
            let mut model = build::<f64>(net, p.blocks, p.width, p.classes, seed).map_err(&err)?;
            let profile = profile(&mut model, &data).map_err(&err)?;
            let (losses, diverged) = train(p, net, seed).map_err(&err)?;
            Ok(RunResult { variant: vi, seed, profile, losses, diverged })
        })
        .collect::<Result<_>>()?;

    let mut rec = Recorder::new(&s.name);
    for r in &results {
        let run = rec.run(names[r.variant], r.seed);
        // A block spans several layers (two dense, a norm, the skip): its number is a coordinate.
        for (b, ((&g, &w), &a)) in
            r.profile.grad_h.iter().zip(&r.profile.grad_w).zip(&r.profile.act).enumerate()
        {
            let at = point(&[("block", (b + 1) as f64)]);
            run.push_named_at(0, GLOBAL, &at, "grad_h", g);
            run.push_named_at(0, GLOBAL, &at, "grad_w", w);
            run.push_named_at(0, GLOBAL, &at, "act_norm", a);
        }
        for (step, &l) in r.losses.iter().enumerate() {
            run.push_named(step as u64, GLOBAL, "train_loss", l);
        }
        if let Some(at) = r.diverged {
            run.push_named(at as u64, GLOBAL, "diverged", 1.0);
        }
    }

    let mut figures = Vec::new();
    let last = p.blocks;
    for (vi, n) in names.iter().enumerate() {
        let mine: Vec<&RunResult> = results.iter().filter(|r| r.variant == vi).collect();
        let med = |f: &dyn Fn(&RunResult) -> f64| median(&mine.iter().map(|r| f(r)).collect::<Vec<_>>());
        let fig =
            |key: String, what: String, v| KeyFigure::new(format!("{key}.{n}"), format!("{n}: {what}"), v);
        let grad_h = |b: usize| med(&|r| r.profile.grad_h[b - 1]);
        let finished = |r: &RunResult| match r.diverged {
            Some(_) => f64::NAN,
            None => *r.losses.last().unwrap_or(&f64::NAN),
        };
        figures.extend([
            fig("grad_h1".into(), "‖dL/dh‖ at block 1 (median)".into(), grad_h(1)),
            fig(format!("grad_h{last}"), format!("‖dL/dh‖ at block {last} (median)"), grad_h(last)),
            fig(
                "grad_ratio".into(),
                format!("‖dL/dh_1‖ / ‖dL/dh_{last}‖ (median)"),
                med(&|r| r.profile.grad_h[0] / r.profile.grad_h[last - 1]),
            ),
            fig(
                "grad_w1".into(),
                "‖dL/dW‖ of block 1's first layer (median)".into(),
                med(&|r| r.profile.grad_w[0]),
            ),
            fig(
                "act_ratio".into(),
                format!("forward ‖h_{last}‖ / ‖h_1‖ (median)"),
                med(&|r| r.profile.act[last - 1] / r.profile.act[0]),
            ),
            fig("loss_init".into(), "loss at initialisation (median)".into(), med(&|r| r.profile.loss)),
            fig(
                "loss_final".into(),
                "training loss at the last step (median; NaN if a seed diverged)".into(),
                med(&finished),
            ),
            fig(
                "diverged".into(),
                "seeds whose training hit a NaN/Inf".into(),
                mine.iter().filter(|r| r.diverged.is_some()).count() as f64,
            ),
        ]);
    }
    let ratio = |a: &str, b: &str| -> Option<f64> {
        let get = |k: String| figures.iter().find(|f| f.key == k).map(|f| f.value);
        Some(get(format!("grad_h1.{a}"))? / get(format!("grad_h1.{b}"))?)
    };
    if let (Some(std), Some(tiny)) = (ratio("res_std", "plain_std"), ratio("res_tiny", "plain_tiny")) {
        figures.push(KeyFigure::new("res_over_plain_std", "‖dL/dh_1‖ residual / plain, standard init", std));
        figures.push(KeyFigure::new(
            "res_over_plain_tiny",
            "‖dL/dh_1‖ residual / plain, the slide's init",
            tiny,
        ));
    }
    if figures.iter().any(|f| !f.value.is_finite() && !f.key.starts_with("loss_final")) {
        return Err(ReportError::run(
            &s.name,
            "a gradient profile is not finite; the float64 pass overflowed",
        ));
    }
    let steps = results.iter().map(|r| r.losses.len() as u64).sum();
    Ok(Output { records: rec.runs, key_figures: figures, steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(skip: bool, first: &str, second: &str) -> NetSpec {
        NetSpec { skip, first: first.into(), second: second.into(), norm: Norm::None }
    }

    fn grads(n: &NetSpec, blocks: usize) -> Profile {
        let data = gaussian_classes(16, 2, 16, 4.0, 1).unwrap();
        let mut m = build::<f64>(n, blocks, 16, 2, 3).unwrap();
        profile(&mut m, &data).unwrap()
    }

    #[test]
    fn one_record_per_block_for_plain_and_residual() {
        for skip in [false, true] {
            let p = grads(&net(skip, "he_normal", "glorot_normal"), 7);
            assert_eq!((p.grad_h.len(), p.grad_w.len(), p.act.len()), (7, 7, 7));
            assert!(p.grad_h.iter().chain(&p.grad_w).all(|g| g.is_finite() && *g > 0.0));
        }
    }

    /// With the slide's tiny init the plain stack's gradient shrinks by orders of magnitude per block, while
    /// the skip keeps it: the residual branch is nearly zero, so each block is close to the identity.
    #[test]
    fn skip_keeps_the_gradient_the_tiny_plain_stack_loses() {
        let tiny = "random_normal(stddev=0.01)";
        let plain = grads(&net(false, tiny, tiny), 10);
        let res = grads(&net(true, tiny, tiny), 10);
        assert!(plain.grad_h[0] < 1e-12 * plain.grad_h[9], "{:?}", plain.grad_h);
        let kept = res.grad_h[0] / res.grad_h[9];
        assert!((0.9..1.1).contains(&kept), "residual kept {kept}");
    }

    /// An un-normalised residual stack with a standard init grows the gradient with depth, a plain one does not.
    #[test]
    fn standard_init_residual_grows_plain_does_not() {
        let plain = grads(&net(false, "he_normal", "glorot_normal"), 20);
        let res = grads(&net(true, "he_normal", "glorot_normal"), 20);
        let grow = |p: &Profile| p.grad_h[0] / p.grad_h[19];
        assert!(grow(&res) > 100.0, "residual {}", grow(&res));
        assert!((0.1..10.0).contains(&grow(&plain)), "plain {}", grow(&plain));
    }
}

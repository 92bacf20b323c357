//! `jacobian_spectra`: singular values of the input–output Jacobian J = ∂x_L/∂x_0 of random deep nets at
//! initialisation (Pennington, Schoenholz & Ganguli 2017), Gaussian against orthogonal weights. Each net is
//! recorded once on the float64 tape with its input repeated on `width` rows; one backward pass seeded with
//! the identity at x_L then returns all of J at once (row b of the input gradient is row b of J, since the
//! rows do not interact). The depth-L Jacobians are those of the first L layers of the deepest net. The
//! SVD is nalgebra's (through `engine::theory::Jacobian`), and mean(s²) is held against mean field's
//! ∏ χ₁(q_l) along the variance trajectory.
use super::common::nets::record_net;
use crate::error::Result;
use crate::experiments::runner::{Experiment, RunOptions, Runner, engine_err};
use crate::record::{GLOBAL, KeyFigure, Output, Recorder, point};
use crate::scenario::{Scenario, Variant};
use crate::stats::median;
use engine::Tape;
use engine::theory::{Jacobian, MeanField, SpectrumStats, gaussian_matrix, orthogonal_matrix};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use rayon::prelude::*;
use serde::Deserialize;

pub const RUNNER: Runner = Runner {
    kind: "jacobian_spectra",
    about: "singular values of the input–output Jacobian at init, Gaussian vs orthogonal weights",
    prepare,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    width: usize,
    depths: Vec<usize>,
    /// Variants (by name) whose weights are orthogonal; the others (all when absent) are Gaussian.
    #[serde(default)]
    orthogonal: Vec<String>,
    /// Standard deviation of the input's entries: small keeps tanh near its linear regime, where its
    /// variance fixed point q* = 0 (σ_b = 0, σ_w = 1) lies.
    input_std: f64,
}

/// One variant's network.
#[derive(Debug, Clone, Copy)]
struct Net<'s> {
    v: &'s Variant,
    act: engine::Activation,
    sigma_w: f64,
    orthogonal: bool,
}

struct Plan<'s> {
    s: &'s Scenario,
    p: Params,
    seeds: Vec<u64>,
    nets: Vec<Net<'s>>,
    deepest: usize,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    at.ensure(p.width >= 2, &["width"], "at least 2")?;
    let deepest = p.depths.last().copied().unwrap_or(0);
    at.ensure(
        p.depths.first().is_some_and(|&d| d >= 1) && p.depths.windows(2).all(|w| w[0] < w[1]),
        &["depths"],
        "increasing depths of at least 1, e.g. [8, 32, 128]",
    )?;
    at.ensure(p.input_std > 0.0, &["input_std"], "a positive standard deviation")?;
    if let Some(o) = p.orthogonal.iter().find(|o| !s.variants().any(|v| &&v.name == o)) {
        return Err(at.error(&["orthogonal"], format!("variant names; `{o}` is not a variant")));
    }
    let mut nets = Vec::new();
    for (i, (v, act)) in s.activation_variants()?.into_iter().enumerate() {
        let sigma_w = match v.factor {
            Some(f) if f > 0.0 => f,
            _ => return Err(s.variant_error(i, &["factor"], "needs `factor` = σ_w > 0")),
        };
        nets.push(Net { v, act, sigma_w, orthogonal: p.orthogonal.contains(&v.name) });
    }
    let plan = Plan { s, p, seeds: opts.seeds(s), nets, deepest };
    Ok(Box::new(move || run(&plan)))
}

/// J = ∂x_L/∂x_0 for every L in `depths`, from one forward pass and one identity-seeded backward pass per
/// depth; `x0` is one input of `weights[0]`'s width.
pub(crate) fn jacobians(
    weights: &[Vec<f64>],
    act: engine::Activation,
    x0: &[f64],
    depths: &[usize],
) -> engine::Result<Vec<Jacobian>> {
    let n = x0.len();
    let x: Vec<f64> = (0..n).flat_map(|_| x0.iter().copied()).collect();
    let mut tape = Tape::<f64>::new();
    let deepest = *depths.last().ok_or_else(|| engine::Error::InvalidArgument {
        op: "jacobians",
        msg: "needs at least one depth".into(),
    })?;
    let net = record_net(&mut tape, &weights[..deepest], 1.0, act, &x, n)?;
    let mut eye = vec![0.0; n * n];
    for i in 0..n {
        eye[i * n + i] = 1.0;
    }
    depths
        .iter()
        .map(|&l| {
            tape.backward_with_seed(net.post[l - 1], &eye)?;
            let g = tape.grad(net.input).expect("the input leaf carries a gradient");
            Ok(Jacobian { rows: n, cols: n, data: g.to_vec() })
        })
        .collect()
}

/// What one (variant, seed) measured at each depth.
struct Spectra {
    /// Singular values, largest first, per depth.
    s: Vec<Vec<f64>>,
    stats: Vec<SpectrumStats>,
}

fn measure(
    p: &Params,
    act: engine::Activation,
    sigma_w: f64,
    orthogonal: bool,
    seed: u64,
) -> engine::Result<Spectra> {
    let n = p.width;
    // One stream per (seed, weight kind): tanh and ReLU see the same matrices and input.
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(2).wrapping_add(orthogonal as u64));
    let x0 = gaussian_matrix(1, n, p.input_std, &mut rng);
    // No depths means no weights, which `jacobians` reports.
    let deepest = p.depths.last().copied().unwrap_or(0);
    let weights: Vec<Vec<f64>> = (0..deepest)
        .map(|_| {
            if orthogonal {
                orthogonal_matrix(n, n, sigma_w, &mut rng)
            } else {
                Ok(gaussian_matrix(n, n, sigma_w / (n as f64).sqrt(), &mut rng))
            }
        })
        .collect::<engine::Result<_>>()?;
    let js = jacobians(&weights, act, &x0, &p.depths)?;
    let s: Vec<Vec<f64>> = js.iter().map(Jacobian::singular_values).collect();
    let stats = s.iter().map(|v| SpectrumStats::of(v)).collect::<engine::Result<_>>()?;
    Ok(Spectra { s, stats })
}

/// Mean field's mean(s²) = ‖J‖²_F / n = ∏_{l=1..L} χ₁(q_l), for every depth up to the deepest, from the
/// first layer's q₁ = σ_w²·E[x²] (no biases).
fn predicted_mean_sq(
    act: engine::Activation,
    sigma_w: f64,
    input_var: f64,
    deepest: usize,
) -> engine::Result<Vec<f64>> {
    let mf = MeanField::new(act, sigma_w, 0.0)?;
    let qs = mf.variance_trajectory(sigma_w * sigma_w * input_var, deepest)?;
    let mut acc = 1.0;
    Ok(qs
        .iter()
        .map(|&q| {
            acc *= mf.chi1_at(q);
            acc
        })
        .collect())
}

fn run(plan: &Plan<'_>) -> Result<Output> {
    let Plan { s, p, seeds, nets, deepest } = plan;
    let deepest = *deepest;
    let jobs: Vec<(usize, u64)> =
        (0..nets.len()).flat_map(|v| seeds.iter().map(move |&sd| (v, sd))).collect();
    // Independent jobs collected in order: the numbers do not depend on the thread count.
    let spectra: Vec<Spectra> = jobs
        .par_iter()
        .map(|&(vi, seed)| {
            let Net { act, sigma_w, orthogonal, .. } = nets[vi];
            measure(p, act, sigma_w, orthogonal, seed)
        })
        .collect::<engine::Result<_>>()
        .map_err(engine_err(s))?;
    let mut rec = Recorder::new(&s.name);
    let mut figures = Vec::new();
    let fig = |key: String, label: String, value: f64| KeyFigure { key, label, value };
    for (vi, &Net { v, act, sigma_w, .. }) in nets.iter().enumerate() {
        let name = &v.name;
        let theory =
            predicted_mean_sq(act, sigma_w, p.input_std * p.input_std, deepest).map_err(engine_err(s))?;
        let mine: Vec<&Spectra> =
            jobs.iter().zip(&spectra).filter(|((j, _), _)| *j == vi).map(|(_, sp)| sp).collect();
        for (di, &depth) in p.depths.iter().enumerate() {
            let at_depth = point(&[("depth", depth as f64)]);
            for (&seed, sp) in seeds.iter().zip(&mine) {
                let st = &sp.stats[di];
                let floor = (st.max * st.count as f64 * f64::EPSILON).max(f64::MIN_POSITIVE);
                let run = rec.run(name, seed);
                for (rank, &sv) in sp.s[di].iter().enumerate() {
                    let at = point(&[("depth", depth as f64), ("rank", (rank + 1) as f64)]);
                    run.push_named_at(0, GLOBAL, &at, "log10_s", sv.max(floor).log10());
                    if sv >= floor {
                        run.push_named_at(0, GLOBAL, &at, "log10_s_resolved", sv.log10());
                    }
                }
                run.push_named_at(0, GLOBAL, &at_depth, "mean_sq", st.mean_sq);
                run.push_named_at(0, GLOBAL, &at_depth, "log10_spread", st.log10_spread);
                run.push_named_at(0, GLOBAL, &at_depth, "log10_std", st.log10_std);
                let resolved = 1.0 - st.unresolved as f64 / st.count as f64;
                run.push_named_at(0, GLOBAL, &at_depth, "resolved_share", resolved);
            }
            let theory_at = theory[depth - 1];
            rec.run(name, seeds[0]).push_named_at(0, GLOBAL, &at_depth, "mean_sq_theory", theory_at);
            let med = |f: fn(&SpectrumStats) -> f64| {
                median(&mine.iter().map(|sp| f(&sp.stats[di])).collect::<Vec<_>>())
            };
            let label = v.label();
            // ‖J‖² is heavy-tailed for deep Gaussian nets, so its mean over seeds (not the median) is what
            // the mean-field expectation describes.
            let mean_sq = mine.iter().map(|sp| sp.stats[di].mean_sq).sum::<f64>() / mine.len() as f64;
            figures.extend([
                fig(
                    format!("log10_spread.{name}.{depth}"),
                    format!(
                        "{label}, depth {depth}: log10(s_max / s_min), s_min floored at the SVD's resolution"
                    ),
                    med(|st| st.log10_spread),
                ),
                fig(
                    format!("log10_std.{name}.{depth}"),
                    format!("{label}, depth {depth}: standard deviation of log10 s"),
                    med(|st| st.log10_std),
                ),
                fig(
                    format!("resolved_share.{name}.{depth}"),
                    format!("{label}, depth {depth}: share of singular values above the resolution floor"),
                    med(|st| 1.0 - st.unresolved as f64 / st.count as f64),
                ),
                fig(
                    format!("mean_sq_ratio.{name}.{depth}"),
                    format!(
                        "{label}, depth {depth}: measured mean(s²) (mean of seeds) / mean-field ∏ χ₁(q_l)"
                    ),
                    mean_sq / theory[depth - 1],
                ),
            ]);
        }
    }
    Ok(Output { records: rec.runs, key_figures: figures, steps: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::Activation;
    use engine::theory::DeepNet;

    /// The identity-seeded batch backward gives the same J as the engine's one-pass-per-output Jacobian.
    #[test]
    fn batched_jacobian_matches_the_engines() {
        let n = 6;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let weights: Vec<Vec<f64>> = (0..3).map(|_| gaussian_matrix(n, n, 0.6, &mut rng)).collect();
        let x0 = gaussian_matrix(1, n, 1.0, &mut rng);
        let js = jacobians(&weights, Activation::Tanh, &x0, &[1, 3]).unwrap();
        for (j, depth) in js.iter().zip([1, 3]) {
            let net = DeepNet::from_parts(
                &vec![n; depth + 1],
                Activation::Tanh,
                weights[..depth].to_vec(),
                vec![vec![0.0; n]; depth],
            )
            .unwrap();
            let want = net.jacobian(&x0).unwrap();
            let err = j.data.iter().zip(&want.data).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(err < 1e-13, "depth {depth}: max |ΔJ| = {err}");
        }
    }

    /// Dynamical isometry: orthogonal tanh at σ_w = 1 keeps every singular value near 1 at depth 32, Gaussian
    /// weights do not; ReLU's Jacobian has rank about n/2 (half the units are off at one input).
    #[test]
    fn orthogonal_tanh_is_isometric_and_relu_is_rank_deficient() {
        let p = Params { width: 32, depths: vec![32], orthogonal: Vec::new(), input_std: 0.1 };
        let orth = measure(&p, Activation::Tanh, 1.0, true, 0).unwrap().stats[0];
        let gauss = measure(&p, Activation::Tanh, 1.0, false, 0).unwrap().stats[0];
        assert!(orth.log10_spread < 0.5, "orthogonal tanh spread {}", orth.log10_spread);
        assert!(gauss.log10_spread > 2.0, "Gaussian tanh spread {}", gauss.log10_spread);
        let relu = measure(&p, Activation::Relu, 2f64.sqrt(), true, 0).unwrap().stats[0];
        let share = 1.0 - relu.unresolved as f64 / relu.count as f64;
        assert!((0.25..0.75).contains(&share), "ReLU resolved share {share}");
    }
}

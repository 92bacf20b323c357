//! `phase_diagram`: the order–chaos phase diagram of deep random networks, measured with the tape. Per seed
//! one set of standard normal matrices Z_l is drawn; for each activation (variant) and σ_w on a grid, the
//! network with weights W_l = σ_w·Z_l/√width (no biases) is recorded on the float32 tape with a batch of
//! N(0, 1) inputs, and one backward pass seeded at the top pre-activation with N(0, 1) gives ‖∂L/∂h_l‖ at
//! every layer. The network of depth L is the first L layers, so cell (L, σ_w) holds
//! log10(‖∂L/∂h_1‖ / ‖∂L/∂h_L‖) of that pass. Mean-field theory predicts ∏ √χ₁(q_k) along the variance
//! trajectory; its critical σ_w (χ₁ = 1) is drawn over the heatmap.
use super::common::nets::record_biased_net;
use crate::error::{ReportError, Result};
use crate::exact;
use crate::experiments::runner::{Experiment, Part, RunOptions, Runner, Unit, engine_err};
use crate::record::{GLOBAL, KeyFigure, Output, Recorder, point};
use crate::scenario::Scenario;
use crate::stats::median;
use engine::theory::{MeanField, critical_sigma_w, gaussian_matrix};
use engine::{Activation, Tape};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::Deserialize;
use std::sync::OnceLock;

pub const RUNNER: Runner = Runner {
    kind: "phase_diagram",
    about: "depth × σ_w map of the gradient ratio of random deep nets, with the mean-field critical line",
    prepare,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    width: usize,
    batch: usize,
    max_depth: usize,
    /// Depths drawn: depth_step, 2·depth_step, ..., max_depth.
    depth_step: usize,
    sigma_w_min: f64,
    sigma_w_max: f64,
    sigma_w_points: usize,
    /// Cells where the theory predicts |log10 ratio| at most this are compared with it.
    compare_within: f64,
    /// Standard deviation of the biases, `b_l ~ N(0, σ_b²)` (default 0: no biases).
    #[serde(default)]
    sigma_b: f64,
}

impl Params {
    fn sigma_ws(&self) -> Vec<f64> {
        let n = self.sigma_w_points - 1;
        (0..=n)
            .map(|i| self.sigma_w_min + (self.sigma_w_max - self.sigma_w_min) * i as f64 / n as f64)
            .collect()
    }

    fn depths(&self) -> Vec<usize> {
        (self.depth_step..=self.max_depth).step_by(self.depth_step).collect()
    }
}

struct Plan<'s> {
    s: &'s Scenario,
    p: Params,
    seeds: Vec<u64>,
    /// Each variant's name and activation.
    acts: Vec<(String, Activation)>,
    /// Each seed's draws, made by the first unit of that seed that runs in this process.
    draws: Vec<OnceLock<Draws>>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    at.ensure(p.width >= 1, &["width"], "at least 1")?;
    at.ensure(p.batch >= 1, &["batch"], "at least 1")?;
    at.ensure(p.depth_step >= 2, &["depth_step"], "at least 2")?;
    at.ensure(
        p.max_depth >= p.depth_step && p.max_depth.is_multiple_of(p.depth_step),
        &["max_depth"],
        format!("a multiple of depth_step ({})", p.depth_step),
    )?;
    at.ensure(p.sigma_w_min > 0.0, &["sigma_w_min"], "a positive σ_w")?;
    at.ensure(
        p.sigma_w_max > p.sigma_w_min,
        &["sigma_w_max"],
        format!("above sigma_w_min ({})", p.sigma_w_min),
    )?;
    at.ensure(p.sigma_w_points >= 2, &["sigma_w_points"], "at least 2")?;
    at.ensure(p.compare_within > 0.0, &["compare_within"], "a positive log10 distance")?;
    at.ensure(p.sigma_b >= 0.0 && p.sigma_b.is_finite(), &["sigma_b"], "a finite σ_b ≥ 0")?;
    let acts = s.activation_variants()?.into_iter().map(|(v, a)| (v.name.clone(), a)).collect();
    let seeds = opts.seeds(s);
    let draws = seeds.iter().map(|_| OnceLock::new()).collect();
    Ok(Box::new(Plan { s, p, seeds, acts, draws }))
}

/// One seed's random numbers: unit-normal weight matrices, inputs and the top seed, shared by every σ_w
/// and activation (common random numbers keep the diagram's cells comparable).
struct Draws {
    z: Vec<Vec<f32>>,
    x: Vec<f32>,
    g: Vec<f32>,
    /// Unit-normal bias rows, one per layer; drawn only when σ_b > 0, after the rest, so that a
    /// diagram without biases draws the same numbers as before biases existed.
    b: Vec<Vec<f32>>,
}

fn draws(p: &Params, seed: u64) -> Draws {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = p.width;
    let f32s = |v: Vec<f64>| -> Vec<f32> { v.into_iter().map(|x| x as f32).collect() };
    let z = (0..p.max_depth).map(|_| f32s(gaussian_matrix(n, n, 1.0, &mut rng))).collect();
    let x = f32s(gaussian_matrix(p.batch, n, 1.0, &mut rng));
    let g = f32s(gaussian_matrix(p.batch, n, 1.0, &mut rng));
    let b = if p.sigma_b > 0.0 {
        (0..p.max_depth).map(|_| f32s(gaussian_matrix(1, n, 1.0, &mut rng))).collect()
    } else {
        Vec::new()
    };
    Draws { z, x, g, b }
}

/// ‖∂L/∂h_l‖ for l = 1..=max_depth in one float32 backward pass of the net at σ_w, recorded on `tape`
/// (cleared first, so a worker reuses its memory from job to job).
fn gradient_norms(
    tape: &mut Tape<f32>,
    p: &Params,
    d: &Draws,
    act: Activation,
    sigma_w: f64,
) -> engine::Result<Vec<f64>> {
    tape.clear();
    let biases = (p.sigma_b > 0.0).then_some((d.b.as_slice(), p.sigma_b));
    let net = record_biased_net(tape, &d.z, sigma_w / (p.width as f64).sqrt(), biases, act, &d.x, p.batch)?;
    let top = *net.pre.last().ok_or_else(|| engine::Error::InvalidArgument {
        op: "phase_diagram",
        msg: "a net without layers has no gradient to measure".into(),
    })?;
    tape.backward_with_seed(top, &d.g)?;
    net.pre
        .iter()
        .map(|&h| {
            let g = tape.grad(h).expect("every pre-activation depends on the input leaf");
            Ok(g.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt())
        })
        .collect()
}

/// log10 of the predicted ‖∂L/∂h_1‖ / ‖∂L/∂h_L‖ for every depth L = 1..=max_depth, along the mean-field
/// variance trajectory from the first layer's q₁ = σ_w²·E[x²] + σ_b² = σ_w² + σ_b² (inputs are N(0, 1)).
fn predicted(p: &Params, act: Activation, sigma_w: f64) -> engine::Result<Vec<f64>> {
    let mf = MeanField::new(act, sigma_w, p.sigma_b)?;
    let q1 = sigma_w * sigma_w + p.sigma_b * p.sigma_b;
    let r = mf.gradient_norm_ratios(q1, p.max_depth)?;
    Ok(r.iter().map(|rl| (r[0] / rl).log10()).collect())
}

/// The x where `ys` first crosses zero upwards, by linear interpolation between grid points.
pub(crate) fn zero_crossing(xs: &[f64], ys: &[f64]) -> Option<f64> {
    xs.windows(2).zip(ys.windows(2)).find_map(|(x, y)| {
        (y[0] < 0.0 && y[1] >= 0.0).then(|| x[0] + (x[1] - x[0]) * (-y[0]) / (y[1] - y[0]))
    })
}

/// The diagram's units are its (seed, σ_w) points: every activation's backward pass at that σ_w on the
/// seed's draws. A unit's numbers depend on its seed and σ_w alone; the records and key figures need the
/// whole grid, so they are made in `finish`, from the units' norms.
impl Experiment for Plan<'_> {
    fn units(&self) -> Vec<Unit> {
        let p = &self.p;
        // Forward and backward through max_depth width² products, per activation.
        let cost = (2 * p.batch * p.width * p.width * p.max_depth * self.acts.len()) as f64;
        let sws = p.sigma_ws();
        self.seeds
            .iter()
            .flat_map(|seed| {
                sws.iter().map(move |sw| Unit { coords: format!("seed={seed} sigma_w={sw}"), cost })
            })
            .collect()
    }

    fn run_unit(&self, i: usize) -> Result<Part> {
        let (p, sws) = (&self.p, self.p.sigma_ws());
        let (si, k) = (i / sws.len(), i % sws.len());
        let d = self.draws[si].get_or_init(|| draws(p, self.seeds[si]));
        let mut tape = Tape::<f32>::new();
        let norms: Vec<Vec<f64>> = self
            .acts
            .iter()
            .map(|(_, act)| gradient_norms(&mut tape, p, d, *act, sws[k]))
            .collect::<engine::Result<_>>()
            .map_err(engine_err(self.s))?;
        let data = serde_json::Value::Array(norms.iter().map(|n| exact::vec(n)).collect());
        Ok(Part { data, ..Part::default() })
    }

    fn finish(&self, parts: Vec<Part>) -> Result<Output> {
        let n_sw = self.p.sigma_ws().len();
        // measured[variant][seed][σ_w index][l]
        let mut measured = vec![vec![vec![Vec::new(); n_sw]; self.seeds.len()]; self.acts.len()];
        for (i, part) in parts.iter().enumerate() {
            for (a, m) in measured.iter_mut().enumerate() {
                m[i / n_sw][i % n_sw] =
                    exact::get_vec(&part.data[a]).filter(|v| v.len() == self.p.max_depth).ok_or_else(
                        || ReportError::run(&self.s.name, format!("unit {i}: no norms for variant {a}")),
                    )?;
            }
        }
        finish(self, &measured)
    }
}

fn finish(plan: &Plan<'_>, measured: &[Vec<Vec<Vec<f64>>>]) -> Result<Output> {
    let Plan { s, p, seeds, acts, .. } = plan;
    let sws = p.sigma_ws();
    let depths = p.depths();
    let mut rec = Recorder::new(&s.name);
    let mut figures = Vec::new();
    let top = (p.batch * p.width) as f64;
    for (a, (name, act)) in acts.iter().enumerate() {
        let theory: Vec<Vec<f64>> = sws
            .iter()
            .map(|&sw| predicted(p, *act, sw))
            .collect::<engine::Result<_>>()
            .map_err(engine_err(s))?;
        let mut worst_dev: f64 = 0.0;
        let mut worst_spread: f64 = 0.0;
        let (mut deepest, mut deep_half) = (Vec::new(), Vec::new());
        let half = p.max_depth / 2;
        for (k, &sw) in sws.iter().enumerate() {
            // The per-layer factor past the transient: layers max_depth/2 ..= max_depth of the deepest net.
            let tail: Vec<f64> =
                measured[a].iter().map(|m| (m[k][half - 1] / m[k][p.max_depth - 1]).log10()).collect();
            deep_half.push(median(&tail));
            for &depth in &depths {
                let per_seed: Vec<f64> =
                    measured[a].iter().map(|m| (m[k][0] / m[k][depth - 1]).log10()).collect();
                let at = point(&[("depth", depth as f64), ("sigma_w", sw)]);
                for (si, &seed) in seeds.iter().enumerate() {
                    rec.run(name, seed).push_named_at(0, GLOBAL, &at, "log10_ratio", per_seed[si]);
                }
                let pred = theory[k][depth - 1];
                rec.run(name, seeds[0]).push_named_at(0, GLOBAL, &at, "log10_ratio_theory", pred);
                let med = median(&per_seed);
                if pred.abs() <= p.compare_within {
                    worst_dev = worst_dev.max((med - pred).abs());
                    let (lo, hi) =
                        per_seed.iter().fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                    worst_spread = worst_spread.max(hi - lo);
                }
                if depth == p.max_depth {
                    deepest.push(med);
                }
            }
        }
        let crit = critical_sigma_w(*act, p.sigma_b, p.sigma_w_min, p.sigma_w_max).map_err(engine_err(s))?;
        // The critical line, then (after a NaN break) where the theory predicts 10^-1 and 10^+1.
        let mut line = vec![(crit, depths[0] as f64), (crit, p.max_depth as f64), (f64::NAN, f64::NAN)];
        for target in [-1.0, 1.0] {
            for &depth in &depths {
                let ys: Vec<f64> = theory.iter().map(|t| t[depth - 1] - target).collect();
                if let Some(sw) = zero_crossing(&sws, &ys) {
                    line.push((sw, depth as f64));
                }
            }
            line.push((f64::NAN, f64::NAN));
        }
        // Vertex i of the lines at its σ_w (NaN at a break), the depth as the value.
        for &seed in seeds {
            let run = rec.run(name, seed);
            for (i, &(x, y)) in line.iter().enumerate() {
                run.push_named_at(
                    0,
                    GLOBAL,
                    &point(&[("sigma_w", x), ("vertex", i as f64)]),
                    "mean_field_lines",
                    y,
                );
            }
        }
        let l = p.max_depth;
        let fig = |key: String, label: String, value: f64| KeyFigure { key, label, value };
        if let Some(c) = zero_crossing(&sws, &deep_half) {
            figures.push(fig(
                format!("critical_measured.{name}"),
                format!(
                    "{name}: measured critical σ_w, where ‖∂L/∂h_{half}‖ / ‖∂L/∂h_{l}‖ crosses 1 (median of seeds)"
                ),
                c,
            ));
        }
        if let Some(c) = zero_crossing(&sws, &deepest) {
            figures.push(fig(
                format!("crossing_measured.{name}"),
                format!("{name}: measured σ_w where ‖∂L/∂h_1‖ / ‖∂L/∂h_{l}‖ crosses 1 (median of seeds)"),
                c,
            ));
        }
        figures.push(fig(
            format!("critical_theory.{name}"),
            format!("{name}: mean-field critical σ_w"),
            crit,
        ));
        let half_theory: Vec<f64> = theory.iter().map(|t| t[l - 1] - t[half - 1]).collect();
        let half_crossing = zero_crossing(&sws, &half_theory);
        if let Some(c) = half_crossing {
            figures.push(fig(
                format!("critical_trajectory.{name}"),
                format!("{name}: the same crossing predicted by mean field along the variance trajectory"),
                c,
            ));
        }
        if let (Some(m), Some(t)) = (zero_crossing(&sws, &deep_half), half_crossing) {
            figures.push(fig(
                format!("critical_gap.{name}"),
                format!("{name}: measured − predicted critical σ_w (layers {half}..{l})"),
                m - t,
            ));
        }
        let deepest_theory: Vec<f64> = theory.iter().map(|t| t[l - 1]).collect();
        if let Some(c) = zero_crossing(&sws, &deepest_theory) {
            figures.push(fig(
                format!("crossing_theory.{name}"),
                format!("{name}: σ_w where the mean-field trajectory predicts ratio 1 at depth {l}"),
                c,
            ));
        }
        figures.push(fig(
            format!("max_deviation.{name}"),
            format!(
                "{name}: largest |measured − predicted| log10 ratio where |predicted| ≤ {}",
                p.compare_within
            ),
            worst_dev,
        ));
        figures.push(fig(
            format!("seed_spread.{name}"),
            format!("{name}: largest max − min over seeds of a cell's log10 ratio, same cells"),
            worst_spread,
        ));
        let g1 = |k: usize| median(&measured[a].iter().map(|m| m[k][0]).collect::<Vec<_>>());
        let last = sws.len() - 1;
        figures.push(fig(
            format!("g1_small.{name}"),
            format!("{name}: ‖∂L/∂h_1‖ at σ_w = {}, depth {l} (the top one is ≈ {:.0})", sws[0], top.sqrt()),
            g1(0),
        ));
        figures.push(fig(
            format!("g1_large.{name}"),
            format!("{name}: ‖∂L/∂h_1‖ at σ_w = {}, depth {l}", sws[last]),
            g1(last),
        ));
    }
    Ok(Output { records: rec.runs, key_figures: figures, steps: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_crossing_interpolates_the_first_upward_crossing() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(zero_crossing(&xs, &[-2.0, -1.0, 1.0, 3.0]), Some(1.5));
        assert_eq!(zero_crossing(&xs, &[1.0, 2.0, 3.0, 4.0]), None);
    }

    /// The measured edge of chaos of real tape-differentiated networks, through the runner itself: the
    /// per-layer factor over the deep half crosses 1 where mean field (along the variance trajectory) says,
    /// within 0.05 in σ_w; that is near 1 for tanh (above it at finite depth) and at √2 for ReLU.
    #[test]
    fn measured_critical_sigma_w_matches_mean_field() {
        let text = r#"
title = "t"
source = "s"
experiment = "e"
kind = "phase_diagram"
seeds = [0, 1, 2]
[params]
width = 96
batch = 8
max_depth = 32
depth_step = 4
sigma_w_min = 0.5
sigma_w_max = 2.5
sigma_w_points = 21
compare_within = 3.0
[[variants]]
name = "tanh"
activation = "tanh"
[[variants]]
name = "relu"
activation = "relu"
"#;
        let s = Scenario::parse(std::path::Path::new("test.toml"), text.to_string()).unwrap();
        let out =
            crate::experiments::run_plan(prepare(&s, &RunOptions::default()).unwrap().as_ref()).unwrap();
        let get =
            |k: &str| out.key_figures.iter().find(|f| f.key == k).unwrap_or_else(|| panic!("{k}")).value;
        for act in ["tanh", "relu"] {
            let gap = get(&format!("critical_gap.{act}"));
            assert!(gap.abs() < 0.05, "{act}: measured − predicted critical σ_w = {gap}");
        }
        let tanh = get("critical_measured.tanh");
        assert!((1.0..1.15).contains(&tanh), "tanh: measured critical σ_w {tanh}");
        let relu = get("critical_measured.relu");
        assert!((relu - 2f64.sqrt()).abs() < 0.05, "ReLU: measured critical σ_w {relu}");
        assert!((get("critical_theory.tanh") - 1.0).abs() < 1e-6);
        assert!((get("critical_theory.relu") - 2f64.sqrt()).abs() < 1e-6);
    }
}

//! What a `train` scenario can measure besides the monitor's rows: a separate forward and backward pass
//! over the first `profile_batch` samples of the part `profile_on` names, in float32 or float64
//! (`precision`; training itself stays float32), before any update, and with `profile_after` once more on
//! the trained weights (rows `final_METRIC`).
//! - `profile`: per layer of the model's leading repeated entry (a dense stack, or `repeat` residual or
//!   plain blocks) `q` (its pre-activation's mean square; a block's F(x)), `activation_variance` (of its
//!   output), `grad_h` = ‖∂L/∂h_l‖ at the pre-activation, `out_grad` = ‖∂L/∂y_l‖ at the output, `out_norm`
//!   (the mean over samples of ‖y_l‖), `kernel_grad` (‖∂L/∂W‖ of its first dense kernel); per time step t
//!   of every recurrent layer (point `t=K`, from 0) `state_norm` (the mean over samples of ‖h_t‖) and
//!   `state_grad` (‖∂L/∂h_t‖ from the backward sweep through time); and the pass's loss as `profile_loss`;
//! - `mean_field` (a square dense stack): beside them the theory of a wide random net, `q_theory` (the
//!   variance map from q₁ = σ_w²·E[x²]) and `grad_h_theory` (the run's measured top gradient carried down
//!   by √χ₁(q_l) per layer), and whole-network rows `chi_measured` ((‖∂L/∂h_1‖² / ‖∂L/∂h_L‖²)^(1/(L−1))),
//!   `chi_predicted` (the geometric mean of χ₁(q_l), l < L), `chi_star` (χ₁ deep in an infinitely deep
//!   net), `sigma_w2` and `rel_error` (measured / predicted − 1);
//! - `kernel_draws` (a dense stack): its kernel initialiser drawn on a `shape` matrix and binned over ±2.5
//!   truncated standard deviations (`weight_density` at `bin=CENTRE`, beside `weight_density_theory`),
//!   with `weight_std` and `weight_max_over_std` (largest |w| over the nominal standard deviation).
use engine::data::{Dataset, MatrixView, Targets};
use engine::init::{Initializer, TRUNCATED_STDDEV};
use engine::layers::Layer;
use engine::layers::dense::DenseAct;
use engine::model::{Data, LayerSpec, Loss, Model, ModelSpec};
use engine::monitor::{GLOBAL, Records, layer_name, point};
use engine::theory::{MeanField, VarianceFixedPoint};
use engine::{Activation, Real, Shape};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelDraws {
    /// fan_in × fan_out of the drawn matrix.
    pub shape: [usize; 2],
    pub bins: usize,
}

/// The precision of the profile's pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// For gradients below float32's range (a deep net at a tiny initialisation).
    F64,
}

/// The part of the data a profile reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    #[default]
    Train,
    /// The held-out part (e.g. the same test sequences before and after training).
    Test,
}

/// One profile pass: its samples, loss, and where its rows go (the step, a prefix on every metric).
pub struct Pass<'a> {
    pub data: &'a Dataset,
    pub rows: usize,
    pub loss: Loss,
    pub step: u64,
    pub prefix: &'a str,
}

/// The repeated entry a model starts with.
#[derive(Debug, Clone)]
pub struct Stack {
    depth: usize,
    /// A dense stack's activation, kernel initialiser and σ_w² = fan_in·Var(W) (on square layers).
    dense: Option<(Activation, Initializer, Option<f64>)>,
}

impl Stack {
    /// The model's leading entry, repeated `repeat` times.
    pub fn of(m: &ModelSpec) -> Result<Stack, String> {
        let first = m.layers.first().ok_or("a profile needs a model with layers")?;
        let dense = match first {
            LayerSpec::Dense(d) => {
                let Ok(DenseAct::Elementwise(act)) = d.activation() else {
                    return Err(
                        "a profile needs an element-wise activation (not softmax) on a dense stack".into()
                    );
                };
                let init = d.kernel()?;
                Some((act, init, (d.units == m.inputs).then(|| init.sigma_w2(d.units, d.units)).flatten()))
            }
            _ => None,
        };
        Ok(Stack { depth: first.repeat(), dense })
    }

    /// Why mean field (or the kernel draws, with `draws`) cannot describe the stack, if it cannot.
    pub fn check_theory(&self, draws: bool) -> Result<(), String> {
        match (self.dense, self.depth) {
            (None, _) => {
                Err("mean field and kernel draws need a model that starts with a dense stack".into())
            }
            (Some((.., None)), _) if !draws => Err(
                "mean field needs square stack layers (units = inputs) and a zero-mean kernel initialiser"
                    .into(),
            ),
            (_, d) if d < 2 && !draws => {
                Err("mean field needs a stack of at least 2 layers (`repeat`)".into())
            }
            _ => Ok(()),
        }
    }
}

fn l2<T: Real>(v: &[T]) -> f64 {
    v.iter().map(|&a| a.as_f64() * a.as_f64()).sum::<f64>().sqrt()
}

fn mean_square<T: Real>(v: &[T]) -> f64 {
    l2(v).powi(2) / v.len().max(1) as f64
}

/// The first dense kernel of a layer or of its branch.
fn kernel<T: Real>(layer: &dyn Layer<T>) -> Option<engine::params::ParamId> {
    if layer.kind() == "dense" {
        return layer.params().first().copied();
    }
    layer.children().iter().find_map(|c| kernel(c.as_ref()))
}

/// The profile's pass on `model` (built from the training model's seed, or the trained model itself)
/// over the first `pass.rows` samples, and its rows (mean field beside them when asked).
pub fn measure<T: Real>(
    model: &mut Model<T>,
    st: &Stack,
    mean_field: bool,
    pass: Pass<'_>,
    r: &mut Records,
) -> engine::Result<()> {
    let missing = |what: &str| engine::Error::InvalidArgument { op: "layer profile", msg: what.into() };
    let Pass { data, rows, loss, step, prefix } = pass;
    let rows = rows.min(data.len());
    let widen = |v: &[f32]| -> Vec<T> { v.iter().map(|&a| T::c(f64::from(a))).collect() };
    let x = widen(&data.x[..rows * data.features]);
    let y = match &data.targets {
        Targets::Values { y, width } => widen(&y[..rows * width]),
        Targets::Classes { .. } => Vec::new(),
    };
    let xv = MatrixView::new(&x, data.features)?;
    let batch = match &data.targets {
        Targets::Classes { labels, classes } => Data::labels(xv, &labels[..rows], *classes),
        Targets::Values { width, .. } => Data::values(xv, MatrixView::new(&y, *width)?),
    };
    let mut push = |name: &str, at: &str, metric: &str, v: f64| {
        r.push_named_at(step, name, at, &format!("{prefix}{metric}"), v)
    };
    push(GLOBAL, "", "profile_loss", model.gradients(&batch, loss)?);
    let (tape, params) = (model.tape(), model.params());
    // Recurrent layers, per time step t (from 0, as the monitor counts): the mean over samples of
    // ‖h_t‖ and ‖∂L/∂h_t‖ over the batch, from the backward sweep through time.
    for (i, layer) in model.layers().iter().enumerate() {
        let name = layer_name(&[i + 1], layer.as_ref());
        for (t, &h) in layer.recorded().hidden.iter().enumerate() {
            let at = point(&[("t", t as f64)]);
            let norms: Vec<f64> = tape.value(h).chunks_exact(tape.shape(h).cols).map(l2).collect();
            push(&name, &at, "state_norm", norms.iter().sum::<f64>() / norms.len().max(1) as f64);
            let g = tape.grad(h).ok_or_else(|| missing("a hidden state off the path to the loss"))?;
            push(&name, &at, "state_grad", l2(g));
        }
    }
    let mut grads = Vec::with_capacity(st.depth);
    let mut names = Vec::with_capacity(st.depth);
    for (i, layer) in model.layers().iter().take(st.depth).enumerate() {
        let rec = layer.recorded();
        // A layer without a pre-activation (a recurrent one) has its per-step rows above.
        let (Some(h), Some(o)) = (rec.pre_activation, rec.output) else { continue };
        let g = tape.grad(h).ok_or_else(|| missing("a pre-activation off the path to the loss"))?;
        let name = layer_name(&[i + 1], layer.as_ref());
        let out = tape.value(o);
        let mean = out.iter().map(|a| a.as_f64()).sum::<f64>() / out.len().max(1) as f64;
        push(&name, "", "q", mean_square(tape.value(h)));
        push(&name, "", "activation_variance", mean_square(out) - mean * mean);
        push(&name, "", "grad_h", l2(g));
        if let Some(go) = tape.grad(o) {
            push(&name, "", "out_grad", l2(go));
        }
        let norms: Vec<f64> = out.chunks_exact(tape.shape(o).cols).map(l2).collect();
        push(&name, "", "out_norm", norms.iter().sum::<f64>() / norms.len().max(1) as f64);
        if let Some(w) = kernel(layer.as_ref()) {
            push(&name, "", "kernel_grad", l2(&params.get(w).grad));
        }
        grads.push(l2(g));
        names.push(name);
    }
    let (Some((act, _, Some(sw2))), true) = (st.dense, mean_field) else { return Ok(()) };
    let depth = st.depth;
    if grads.len() != depth {
        return Err(missing("mean field needs every stack layer's pre-activation"));
    }
    let mf = MeanField::new(act, sw2.sqrt(), 0.0)?;
    let qs = mf.variance_trajectory(sw2 * mean_square(&x), depth)?;
    // The measured top gradient carried down through √χ₁ per layer.
    let mut g = grads[depth - 1];
    for l in (0..depth).rev() {
        push(&names[l], "", "q_theory", qs[l]);
        push(&names[l], "", "grad_h_theory", g);
        g *= mf.chi1_at(qs[l.saturating_sub(1)]).sqrt();
    }
    let per_layer = 1.0 / (depth - 1) as f64;
    let measured = (grads[0] / grads[depth - 1]).powi(2).powf(per_layer);
    let predicted = (qs[..depth - 1].iter().map(|&q| mf.chi1_at(q).ln()).sum::<f64>() * per_layer).exp();
    let star = match mf.variance_fixed_point(1.0)? {
        VarianceFixedPoint::Finite { q_star, .. } => Some(mf.chi1_at(q_star)),
        // Marginal (ReLU at σ_w² = 2, where every q is a fixed point): χ₁ where the iteration stopped.
        VarianceFixedPoint::Divergent { layers: None, last_q } => Some(mf.chi1_at(last_q)),
        VarianceFixedPoint::Divergent { .. } => None,
    };
    push(GLOBAL, "", "sigma_w2", sw2);
    push(GLOBAL, "", "chi_measured", measured);
    push(GLOBAL, "", "chi_predicted", predicted);
    if let Some(c) = star {
        push(GLOBAL, "", "chi_star", c);
    }
    push(GLOBAL, "", "rel_error", measured / predicted - 1.0);
    Ok(())
}

/// The stack's kernel initialiser drawn once on `kd.shape` from `seed`, binned, beside its density.
pub fn record_draws(st: &Stack, kd: &KernelDraws, seed: u64, r: &mut Records) -> engine::Result<()> {
    let Some((_, init, _)) = &st.dense else { return Ok(()) };
    let [fan_in, fan_out] = kd.shape;
    let nominal = (init.sigma_w2(fan_in, fan_out).unwrap_or(f64::NAN) / fan_in as f64).sqrt();
    let reach = 2.5 * nominal / TRUNCATED_STDDEV;
    let width = 2.0 * reach / kd.bins as f64;
    let w: Vec<f64> = init.sample(Shape::new(fan_in, fan_out), &mut ChaCha8Rng::seed_from_u64(seed))?;
    let mut counts = vec![0usize; kd.bins];
    for &x in &w {
        let k = ((x + reach) / width).floor();
        if (0.0..kd.bins as f64).contains(&k) {
            counts[k as usize] += 1;
        }
    }
    for (k, &c) in counts.iter().enumerate() {
        let centre = -reach + width * (k as f64 + 0.5);
        let at = point(&[("bin", centre)]);
        r.push_named_at(0, GLOBAL, &at, "weight_density", c as f64 / (w.len() as f64 * width));
        r.push_named_at(0, GLOBAL, &at, "weight_density_theory", density(init, nominal, centre));
    }
    let std = (w.iter().map(|x| x * x).sum::<f64>() / w.len() as f64).sqrt();
    r.push_named(0, GLOBAL, "weight_std", std);
    r.push_named(0, GLOBAL, "weight_max_over_std", w.iter().fold(0.0f64, |m, x| m.max(x.abs())) / nominal);
    Ok(())
}

/// The density the engine's draws follow: normal initialisers are N(0, σ²) truncated to ±2σ with
/// σ = nominal/0.8796 (Keras), uniform ones flat on ±√3·nominal, `random_normal` not truncated.
fn density(init: &Initializer, nominal: f64, w: f64) -> f64 {
    let normal = |s: f64| (-0.5 * (w / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt());
    match init {
        Initializer::GlorotUniform | Initializer::HeUniform | Initializer::LecunUniform => {
            let a = 3f64.sqrt() * nominal;
            if w.abs() <= a { 0.5 / a } else { 0.0 }
        }
        Initializer::RandomNormal { .. } => normal(nominal),
        _ => {
            let s = nominal / TRUNCATED_STDDEV;
            // P(|z| <= 2) for a standard normal.
            const MASS: f64 = 0.954_499_736_103_641_6;
            if w.abs() > 2.0 * s { 0.0 } else { normal(s) / MASS }
        }
    }
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
}

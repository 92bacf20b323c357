//! The catalogue: for each failure verdict kind, the ordered list of concrete changes that address its
//! cause, most specific first. A change that does not apply to the network (its layers already have the
//! critical initialiser, it has no clipping to raise) is left out; the numbers a change sets come from
//! the failing runs' records ([`Measured`]), never from constants typed here.
use super::measure::{Measured, round2};
use engine::diagnose::{DiagnoseConfig, Kind, sci};
use engine::model::{LayerSpec, ModelSpec};
use serde::{Deserialize, Serialize};

/// One change to a variant, with the numbers it was derived from. Entries are indices into the
/// variant's `model.layers` as written (before `repeat` is expanded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Remedy {
    /// Each entry's kernel initialiser at its activation's critical point: `glorot_normal` for tanh,
    /// sigmoid and linear layers, `he_normal` for the ReLU family; a residual branch's He scale divided
    /// by the square root of the number of blocks, so the skip path's variance stays bounded.
    CriticalInit { entries: Vec<(usize, String)> },
    /// Saturating activations replaced by ReLU with `he_normal`.
    ReluHe { entries: Vec<usize> },
    /// ReLU or a saturating activation replaced by leaky ReLU, whose units neither die nor saturate, with an orthogonal kernel at leaky ReLU's
    /// critical gain ([`leaky_kernel`]): the pre-activations' norm kept exactly at every layer, not
    /// only on average over draws as `he_normal` keeps it, so a deep stack neither dies nor blows up on
    /// an unlucky seed.
    LeakyRelu { entries: Vec<usize>, kernel: String },
    /// Bias initialisers back to zeros.
    ZeroBias { entries: Vec<usize> },
    /// `dense(act)` split into `dense` → `batch_normalization` → `activation(act)`.
    BatchNorm { entries: Vec<usize> },
    /// A repeated dense stack turned into residual blocks of the same width and activation, each entry
    /// with its branches' initialiser ([`branch_init`]).
    Residual { entries: Vec<(usize, String)> },
    /// The learning rate scaled so the median update-to-weight ratio lands at the centre of the band.
    LearningRate { from: f64, to: f64, update_ratio: f64, target: f64 },
    /// Clip the global norm at the gradient's own scale before anything blew up.
    ClipGlobalNorm { threshold: f64 },
    /// A clipping threshold raised to the median unclipped norm.
    RaiseClip { from: f64, to: f64 },
    /// Clipping removed.
    RemoveClip { from: f64 },
    /// The data standardised (per-feature mean 0, std 1 on the training part), any input factor removed.
    Standardize { input_std: f64 },
    /// LSTM forget-gate bias so the cell path keeps the gradient over the sequence.
    ForgetBias { entries: Vec<usize>, bias: f64, steps: usize },
    /// Recurrent kernel orthogonal (gain 1): every singular value 1, the state's norm kept per step.
    OrthogonalRecurrent { entries: Vec<usize> },
    /// SimpleRNN or GRU replaced by an LSTM with the derived forget-gate bias and its default
    /// (orthogonal) recurrent kernel.
    ToLstm { entries: Vec<usize>, forget_bias: f64, steps: usize },
    /// A change that removed every verdict but left the loss flat, kept, with the critical initialiser
    /// of the layers that lack it: the network no longer has the problem, but is too far from the edge
    /// of chaos to learn ([`super::cure`] builds it from what a re-run measured).
    Bundle { parts: Vec<Remedy> },
}

/// What the catalogue needs to know about the failing variant.
pub struct Context<'a> {
    pub model: &'a ModelSpec,
    pub learning_rate: Option<f64>,
    pub clip_threshold: Option<f64>,
    pub measured: &'a Measured,
    pub cfg: &'a DiagnoseConfig,
    /// Model entries holding the layers the verdict names (all hidden entries when it names none).
    pub named: Vec<usize>,
}

/// The order in which failure kinds are treated when a run has several: a cause before what it
/// produces (unscaled inputs saturate and blow up the first layers, a step too large blows up the
/// weights and saturates or kills units, dead units make gradients vanish), whatever order the
/// diagnosis printed them in.
pub const TREATMENT_ORDER: [Kind; 10] = [
    Kind::InputScale,
    Kind::NonFinite,
    Kind::Exploding,
    Kind::UpdateRatioHigh,
    Kind::ClippingTooAggressive,
    Kind::DeadUnits,
    Kind::Vanishing,
    Kind::VanishingOverTime,
    Kind::UpdateRatioLow,
    Kind::Saturation,
];

/// The remedies for a failure kind, in the order they are tried.
pub fn remedies(kind: Kind, cx: &Context<'_>) -> Vec<Remedy> {
    let hidden = hidden_entries(cx.model);
    let named = alike(cx.model, &cx.named, &hidden);
    let candidates = match kind {
        Kind::Vanishing => {
            vec![
                critical_init(cx.model, &named),
                // A saturating activation replaced, and ReLU units pushed to the critical scale (which
                // can still die: a unit's pre-activations negative on every input), by leaky ReLU at
                // its critical kernel, which neither saturates nor dies: ReLU with he_normal left dead
                // units on some seed of deep stacks, where this did not.
                leaky(cx.model, &named),
                batch_norm(cx.model, &named),
                residual(cx.model, &named),
            ]
        }
        Kind::Saturation => {
            vec![critical_init(cx.model, &named), batch_norm(cx.model, &named), relu_he(cx.model, &named)]
        }
        Kind::Exploding | Kind::NonFinite => vec![
            critical_init(cx.model, &hidden),
            learning_rate(cx, false),
            clip(cx),
            batch_norm(cx.model, &hidden),
        ],
        Kind::DeadUnits => {
            vec![zero_bias(cx.model, &named), leaky(cx.model, &named), learning_rate(cx, false)]
        }
        Kind::UpdateRatioLow => vec![learning_rate(cx, true), critical_init(cx.model, &hidden)],
        Kind::UpdateRatioHigh => vec![learning_rate(cx, false), clip(cx)],
        Kind::ClippingTooAggressive => {
            vec![raise_clip(cx), cx.clip_threshold.map(|from| Remedy::RemoveClip { from })]
        }
        Kind::InputScale => vec![
            cx.measured.input_std.map(|input_std| Remedy::Standardize { input_std }),
            batch_norm(cx.model, &hidden[..hidden.len().min(1)]),
        ],
        Kind::VanishingOverTime => vec![forget_bias(cx), orthogonal(cx.model), to_lstm(cx)],
        _ => Vec::new(),
    };
    let mut out: Vec<Remedy> = Vec::new();
    for r in candidates.into_iter().flatten() {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// Entries with weights, every one but the output layer.
pub(super) fn hidden_entries(model: &ModelSpec) -> Vec<usize> {
    let n = model.layers.len();
    (0..n.saturating_sub(1))
        .filter(|&i| {
            matches!(
                model.layers[i],
                LayerSpec::Dense(_)
                    | LayerSpec::Residual(_)
                    | LayerSpec::SimpleRnn(_)
                    | LayerSpec::Lstm(_)
                    | LayerSpec::Gru(_)
            )
        })
        .collect()
}

/// The named entries and every hidden entry built like one of them (same type, activation and
/// initialiser): the same design has the same problem, whether the verdict's ratio test reached it or not.
fn alike(model: &ModelSpec, named: &[usize], hidden: &[usize]) -> Vec<usize> {
    let key = |i: usize| {
        let l = &model.layers[i];
        (l.kind(), activation_name(l), kernel_init(l))
    };
    // The output layer is the reference the ratios are taken against, not a layer to rebuild.
    let named: Vec<usize> = named.iter().copied().filter(|i| hidden.contains(i)).collect();
    if named.is_empty() {
        return hidden.to_vec();
    }
    let keys: Vec<_> = named.iter().map(|&i| key(i)).collect();
    hidden.iter().copied().filter(|&i| named.contains(&i) || keys.contains(&key(i))).collect()
}

pub(super) fn activation_name(l: &LayerSpec) -> String {
    let name = match l {
        LayerSpec::Dense(d) => d.activation.as_ref().map(|a| a.name.clone()),
        LayerSpec::Residual(r) => r.activation.as_ref().map(|a| a.name.clone()),
        LayerSpec::Activation(a) => Some(a.activation.name.clone()),
        _ => None,
    };
    name.unwrap_or_else(|| "linear".into())
}

fn kernel_init(l: &LayerSpec) -> String {
    let name = match l {
        LayerSpec::Dense(d) => d.kernel_initializer.as_ref().map(|i| i.name.clone()),
        LayerSpec::Residual(r) => r.kernel_initializer.as_ref().map(|i| i.name.clone()),
        LayerSpec::SimpleRnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r) => {
            r.recurrent_initializer.as_ref().map(|i| i.name.clone())
        }
        _ => None,
    };
    name.unwrap_or_default()
}

fn relu_family(act: &str) -> bool {
    ["relu", "leaky_relu", "elu"].iter().any(|p| act.starts_with(p))
}

fn saturating(act: &str) -> bool {
    ["tanh", "sigmoid", "hard_sigmoid", "softsign"].iter().any(|p| act.starts_with(p))
}

/// The critical initialiser of an entry, when it does not have it already.
fn critical_for(model: &ModelSpec, i: usize) -> Option<String> {
    let l = &model.layers[i];
    let act = activation_name(l);
    let init = kernel_init(l);
    match l {
        LayerSpec::Dense(_) if relu_family(&act) => (!init.starts_with("he_")).then(|| "he_normal".into()),
        // Sigmoid's slope at the origin is 1/4: Glorot's scale, critical for tanh (slope 1), shrinks the
        // signal and the gradient by 4 per layer. The gain 1/σ'(0) makes the small-signal Jacobian
        // norm-preserving (Glorot and Bengio's 4× for sigmoid). Not mean field's edge of chaos for
        // sigmoid, which sigmoid's mean of 1/2 pushes to a scale that saturates every unit.
        LayerSpec::Dense(_) if act == "sigmoid" => {
            let want =
                format!("orthogonal(gain={})", round2(1.0 / slope_at_origin(engine::Activation::Sigmoid)));
            (init != want).then_some(want)
        }
        LayerSpec::Dense(_) => {
            // Left out, the initialiser is glorot_uniform.
            let ok =
                init.is_empty() || ["glorot_", "lecun_", "orthogonal"].iter().any(|p| init.starts_with(p));
            (!ok).then(|| "glorot_normal".into())
        }
        LayerSpec::Residual(r) => {
            let blocks: usize = model
                .layers
                .iter()
                .filter(|l| matches!(l, LayerSpec::Residual(_)))
                .map(LayerSpec::repeat)
                .sum();
            let want = branch_init(&act, r.units?, blocks);
            (init != want).then_some(want)
        }
        _ => None,
    }
}

/// A residual branch's kernel initialiser: the activation's critical scale (He for the ReLU family,
/// Glorot's for the others, on a square layer of `units`) divided by the square root of the number of
/// blocks, so the variance the branches add along the skip path stays bounded (about e-fold) at any depth.
pub(super) fn branch_init(act: &str, units: usize, blocks: usize) -> String {
    let gain = if relu_family(act) { 2.0 } else { 1.0 };
    let std = round2((gain / units as f64).sqrt() / (blocks.max(1) as f64).sqrt());
    format!("random_normal(stddev={std})")
}

/// φ'(0), from the engine's own backward kernel.
fn slope_at_origin(act: engine::Activation) -> f64 {
    let (x, mut y, mut g) = ([0.0f32], [0.0f32], [0.0f32]);
    engine::kernels::activation::forward_f32(act, &x, &mut y);
    engine::kernels::activation::backward_f32(act, &x, &y, &[1.0], &mut g);
    f64::from(g[0])
}

/// The σ_w at the edge of chaos (χ₁ = 1 at the variance fixed point, no bias) by mean-field theory:
/// an orthogonal kernel with this gain keeps the gradient's norm from layer to layer.
fn critical_gain(act: engine::Activation) -> Option<f64> {
    engine::theory::critical_sigma_w(act, 0.0, 0.5, 16.0).ok()
}

pub(super) fn critical_init(model: &ModelSpec, entries: &[usize]) -> Option<Remedy> {
    let e: Vec<(usize, String)> =
        entries.iter().filter_map(|&i| Some((i, critical_for(model, i)?))).collect();
    (!e.is_empty()).then_some(Remedy::CriticalInit { entries: e })
}

/// The entries that `keep` accepts; `None` when it accepts none (the change would do nothing).
fn some_of(entries: impl IntoIterator<Item = usize>, keep: impl Fn(usize) -> bool) -> Option<Vec<usize>> {
    let e: Vec<usize> = entries.into_iter().filter(|&i| keep(i)).collect();
    (!e.is_empty()).then_some(e)
}

fn relu_he(model: &ModelSpec, entries: &[usize]) -> Option<Remedy> {
    let entries = some_of(entries.iter().copied(), |i| {
        matches!(model.layers[i], LayerSpec::Dense(_) | LayerSpec::Residual(_))
            && saturating(&activation_name(&model.layers[i]))
    })?;
    Some(Remedy::ReluHe { entries })
}

fn leaky(model: &ModelSpec, entries: &[usize]) -> Option<Remedy> {
    let entries = some_of(entries.iter().copied(), |i| {
        let act = activation_name(&model.layers[i]);
        matches!(model.layers[i], LayerSpec::Dense(_)) && (act == "relu" || saturating(&act))
    })?;
    Some(Remedy::LeakyRelu { entries, kernel: leaky_kernel()? })
}

/// Leaky ReLU's critical kernel: orthogonal with gain √(2/(1+α²)) (α the engine's default slope; the
/// mean-field edge of chaos). An orthogonal map keeps the input's norm, leaky ReLU keeps (1+α²)/2 of
/// its second moment, and the gain gives that back.
fn leaky_kernel() -> Option<String> {
    let act = engine::Activation::from_name("leaky_relu")?;
    Some(format!("orthogonal(gain={})", round2(critical_gain(act)?)))
}

fn zero_bias(model: &ModelSpec, entries: &[usize]) -> Option<Remedy> {
    let entries = some_of(entries.iter().copied(), |i| match &model.layers[i] {
        LayerSpec::Dense(d) => d.bias_initializer.as_ref().is_some_and(|b| b.name != "zeros"),
        _ => false,
    })?;
    Some(Remedy::ZeroBias { entries })
}

fn batch_norm(model: &ModelSpec, entries: &[usize]) -> Option<Remedy> {
    let entries = some_of(entries.iter().copied(), |i| {
        matches!(model.layers[i], LayerSpec::Dense(_))
            && activation_name(&model.layers[i]) != "linear"
            && !matches!(model.layers.get(i + 1), Some(LayerSpec::BatchNormalization(_)))
    })?;
    Some(Remedy::BatchNorm { entries })
}

fn residual(model: &ModelSpec, entries: &[usize]) -> Option<Remedy> {
    let e: Vec<(usize, String)> = entries
        .iter()
        .filter_map(|&i| match &model.layers[i] {
            LayerSpec::Dense(d) if d.repeat >= 3 => {
                Some((i, branch_init(&activation_name(&model.layers[i]), d.units, (d.repeat - 1) / 2)))
            }
            _ => None,
        })
        .collect();
    (!e.is_empty()).then_some(Remedy::Residual { entries: e })
}

/// The learning rate that puts the measured median update ratio at the band's centre (the geometric
/// mean of `update_low` and `update_high`): updates scale with the rate for SGD and Adam alike. Only in
/// the direction asked for (`raise`), so a lower rate is never offered for updates already small.
fn learning_rate(cx: &Context<'_>, raise: bool) -> Option<Remedy> {
    let (from, u) = (cx.learning_rate?, cx.measured.update_ratio?);
    let target = (cx.cfg.update_low * cx.cfg.update_high).sqrt();
    let to = round2(from * target / u);
    let moves = if raise { to > from } else { to < from };
    (moves && to > 0.0 && to.is_finite()).then_some(Remedy::LearningRate {
        from,
        to,
        update_ratio: u,
        target,
    })
}

fn clip(cx: &Context<'_>) -> Option<Remedy> {
    let threshold = round2(cx.measured.calm_norm?);
    (threshold > 0.0 && cx.clip_threshold.is_none_or(|t| t > threshold))
        .then_some(Remedy::ClipGlobalNorm { threshold })
}

fn raise_clip(cx: &Context<'_>) -> Option<Remedy> {
    let (from, to) = (cx.clip_threshold?, round2(cx.measured.unclipped_norm?));
    (to > from).then_some(Remedy::RaiseClip { from, to })
}

/// The forget-gate bias b with σ(b)^(T-1) = sqrt(time_ratio): the cell path then keeps the gradient
/// over the T recorded steps with the threshold's square root to spare; at least 1 (the usual default).
fn forget_bias_for(cx: &Context<'_>) -> Option<(f64, usize)> {
    let steps = cx.measured.time_steps.filter(|&t| t >= 2)?;
    let keep = cx.cfg.time_ratio.sqrt().powf(1.0 / (steps - 1) as f64);
    let b = (keep / (1.0 - keep)).ln();
    let b = (b * 10.0).ceil() / 10.0;
    b.is_finite().then_some((b.max(1.0), steps))
}

fn forget_bias(cx: &Context<'_>) -> Option<Remedy> {
    let (bias, steps) = forget_bias_for(cx)?;
    let entries = some_of(
        0..cx.model.layers.len(),
        |i| matches!(&cx.model.layers[i], LayerSpec::Lstm(r) if r.forget_bias.unwrap_or(1.0) < bias),
    )?;
    Some(Remedy::ForgetBias { entries, bias, steps })
}

fn orthogonal(model: &ModelSpec) -> Option<Remedy> {
    let entries = some_of(0..model.layers.len(), |i| {
        let init = kernel_init(&model.layers[i]);
        model.layers[i].is_recurrent() && !(init.is_empty() || init == "orthogonal")
    })?;
    Some(Remedy::OrthogonalRecurrent { entries })
}

fn to_lstm(cx: &Context<'_>) -> Option<Remedy> {
    let (forget_bias, steps) = forget_bias_for(cx)?;
    let entries = some_of(0..cx.model.layers.len(), |i| {
        matches!(cx.model.layers[i], LayerSpec::SimpleRnn(_) | LayerSpec::Gru(_))
    })?;
    Some(Remedy::ToLstm { entries, forget_bias, steps })
}

/// Layer positions (from 1, as the records name them) of each model entry, `repeat` expanded.
pub fn positions(model: &ModelSpec) -> Vec<(usize, usize)> {
    let mut at = 1;
    model
        .layers
        .iter()
        .map(|l| {
            let span = (at, at + l.repeat() - 1);
            at += l.repeat();
            span
        })
        .collect()
}

/// The entry holding the layer at `position` (from 1).
pub fn entry_of(model: &ModelSpec, position: usize) -> Option<usize> {
    positions(model).iter().position(|&(a, b)| (a..=b).contains(&position))
}

fn where_(model: &ModelSpec, entries: &[usize]) -> String {
    let p = positions(model);
    let spans: Vec<String> = entries
        .iter()
        .filter_map(|&i| p.get(i))
        .map(|&(a, b)| if a == b { format!("{a}") } else { format!("{a}-{b}") })
        .collect();
    let plural = entries.len() > 1 || p.get(entries[0]).is_some_and(|(a, b)| a != b);
    format!("layer{} {}", if plural { "s" } else { "" }, spans.join(", "))
}

impl Remedy {
    /// A short name of the change, for tables.
    pub fn name(&self) -> String {
        let name = match self {
            Remedy::CriticalInit { .. } => "critical initialiser",
            Remedy::ReluHe { .. } => "ReLU with he_normal",
            Remedy::LeakyRelu { .. } => "leaky ReLU",
            Remedy::ZeroBias { .. } => "zero biases",
            Remedy::BatchNorm { .. } => "batch normalisation",
            Remedy::Residual { .. } => "residual blocks",
            Remedy::LearningRate { .. } => "learning rate",
            Remedy::ClipGlobalNorm { .. } => "clip the global norm",
            Remedy::RaiseClip { .. } => "raise the clipping threshold",
            Remedy::RemoveClip { .. } => "remove clipping",
            Remedy::Standardize { .. } => "standardise the inputs",
            Remedy::ForgetBias { .. } => "forget-gate bias",
            Remedy::OrthogonalRecurrent { .. } => "orthogonal recurrent kernel",
            Remedy::ToLstm { .. } => "LSTM instead",
            Remedy::Bundle { parts } => {
                return parts.iter().map(Remedy::name).collect::<Vec<_>>().join(" + ");
            }
        };
        name.to_string()
    }

    /// The change in words, with the numbers it was derived from.
    pub fn describe(&self, model: &ModelSpec) -> String {
        match self {
            Remedy::CriticalInit { entries } => entries
                .iter()
                .map(|(i, init)| {
                    let act = activation_name(&model.layers[*i]);
                    format!(
                        "{}: kernel initialiser `{init}` (the critical one for {act})",
                        where_(model, &[*i])
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Remedy::ReluHe { entries } => {
                format!(
                    "{}: activation `relu` with `he_normal` instead of a saturating one",
                    where_(model, entries)
                )
            }
            Remedy::LeakyRelu { entries, kernel } => format!(
                "{}: `leaky_relu` instead of `{}`, so a unit can neither die nor saturate, with kernel initialiser `{kernel}` (its critical gain)",
                where_(model, entries),
                activation_name(&model.layers[entries[0]])
            ),
            Remedy::ZeroBias { entries } => {
                format!("{}: bias initialiser back to `zeros`", where_(model, entries))
            }
            Remedy::BatchNorm { entries } => format!(
                "{}: `batch_normalization` inserted between each dense layer and its activation",
                where_(model, entries)
            ),
            Remedy::Residual { entries } => entries
                .iter()
                .map(|(i, init)| {
                    format!(
                        "{}: the stack rebuilt as `residual` blocks of the same width, branches `{init}`",
                        where_(model, &[*i])
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            Remedy::LearningRate { from, to, update_ratio, target } => format!(
                "learning rate `{from}` → `{to}`: the median update-to-weight ratio was `{}`, the band's centre is `{}`",
                sci(*update_ratio),
                sci(*target)
            ),
            Remedy::ClipGlobalNorm { threshold } => format!(
                "clip the global gradient norm at `{threshold}`, the median norm measured before it blew up"
            ),
            Remedy::RaiseClip { from, to } => {
                format!("clipping threshold `{from}` → `{to}`, the median norm measured before clipping")
            }
            Remedy::RemoveClip { from } => format!("clipping at `{from}` removed"),
            Remedy::Standardize { input_std } => format!(
                "inputs standardised on the training part (`scale = \"standardize\"`, no `input_scale`): their measured standard deviation was `{}`",
                sci(*input_std)
            ),
            Remedy::ForgetBias { entries, bias, steps } => format!(
                "{}: `forget_bias = {bias}`, so the cell path keeps the gradient over the `{steps}` recorded time steps",
                where_(model, entries)
            ),
            Remedy::OrthogonalRecurrent { entries } => {
                format!("{}: recurrent initialiser `orthogonal`", where_(model, entries))
            }
            Remedy::ToLstm { entries, forget_bias, steps } => format!(
                "{}: an `lstm` with `forget_bias = {forget_bias}` (for `{steps}` time steps) and an orthogonal recurrent kernel instead",
                where_(model, entries)
            ),
            Remedy::Bundle { parts } => {
                parts.iter().map(|p| p.describe(model)).collect::<Vec<_>>().join("; together with it, ")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(layers: &str) -> ModelSpec {
        toml::from_str(&format!("inputs = 10\nlayers = [{layers}]")).unwrap()
    }

    fn cx<'a>(model: &'a ModelSpec, measured: &'a Measured, cfg: &'a DiagnoseConfig) -> Context<'a> {
        Context { model, learning_rate: Some(0.1), clip_threshold: None, measured, cfg, named: vec![0] }
    }

    const TANH: &str = r#"{ type = "dense", units = 16, activation = "tanh", kernel_initializer = "random_normal(stddev=0.1)", repeat = 4 },
                          { type = "dense", units = 1, activation = "sigmoid" }"#;

    #[test]
    fn vanishing_tanh_gets_its_critical_initialiser_first_and_the_output_layer_is_left_alone() {
        let (m, x, cfg) = (model(TANH), Measured::default(), DiagnoseConfig::default());
        let r = remedies(Kind::Vanishing, &Context { named: vec![0, 1], ..cx(&m, &x, &cfg) });
        assert_eq!(r[0], Remedy::CriticalInit { entries: vec![(0, "glorot_normal".into())] });
        assert_eq!(r[1], Remedy::LeakyRelu { entries: vec![0], kernel: "orthogonal(gain=1.4)".into() });
        assert!(matches!(&r[2], Remedy::BatchNorm { entries } if entries == &[0]));
        assert_eq!(positions(&m), [(1, 4), (5, 5)]);
        assert_eq!(entry_of(&m, 3), Some(0));
    }

    #[test]
    fn the_learning_rate_is_scaled_by_the_measured_update_ratio_in_the_direction_asked() {
        let (m, cfg) = (model(TANH), DiagnoseConfig::default());
        let x = Measured { update_ratio: Some(0.05), calm_norm: Some(1.234), ..Default::default() };
        let r = remedies(Kind::UpdateRatioHigh, &cx(&m, &x, &cfg));
        // 0.1 · 1e-3 / 0.05 = 2e-3, the band's centre being sqrt(1e-5 · 1e-1).
        assert_eq!(r[0], Remedy::LearningRate { from: 0.1, to: 0.002, update_ratio: 0.05, target: 1e-3 });
        assert_eq!(r[1], Remedy::ClipGlobalNorm { threshold: 1.2 });
        // Updates already small are never offered a lower rate.
        let low = Measured { update_ratio: Some(1e-4), ..Default::default() };
        assert!(
            !remedies(Kind::UpdateRatioHigh, &cx(&m, &low, &cfg))
                .iter()
                .any(|r| matches!(r, Remedy::LearningRate { .. }))
        );
    }

    #[test]
    fn the_forget_gate_bias_follows_the_recorded_sequence_length() {
        let m = model(
            r#"{ type = "lstm", units = 8, features = 2, forget_bias = 0.0 }, { type = "dense", units = 1 }"#,
        );
        let cfg = DiagnoseConfig::default();
        let bias = |t| {
            let x = Measured { time_steps: Some(t), ..Default::default() };
            match &remedies(Kind::VanishingOverTime, &cx(&m, &x, &cfg))[0] {
                Remedy::ForgetBias { bias, .. } => *bias,
                other => panic!("{other:?}"),
            }
        };
        // σ(b)^(T-1) = sqrt(1e-3): b = 2.7 over 50 steps, more over 200; never under 1.
        assert_eq!(bias(50), 2.7);
        assert!(bias(200) > 4.0);
        assert_eq!(bias(3), 1.0);
    }

    #[test]
    fn sigmoid_gets_the_gain_that_undoes_its_slope_and_leaky_relu_its_edge_of_chaos() {
        let m = model(
            r#"{ type = "dense", units = 16, activation = "sigmoid", kernel_initializer = "glorot_uniform", repeat = 3 },
               { type = "dense", units = 16, activation = "relu", repeat = 2 },
               { type = "dense", units = 1, activation = "sigmoid" }"#,
        );
        let (x, cfg) = (Measured::default(), DiagnoseConfig::default());
        let r = remedies(Kind::Vanishing, &Context { named: vec![0, 1], ..cx(&m, &x, &cfg) });
        // σ'(0) = 1/4; √(2/(1+0.3²)) = 1.35 (1.4 to two digits) for the engine's leaky slope 0.3.
        // The output layer is not rebuilt; a sigmoid layer already at its gain is left alone.
        let crit = vec![(0, "orthogonal(gain=4)".to_string()), (1, "he_normal".to_string())];
        assert_eq!(r[0], Remedy::CriticalInit { entries: crit });
        assert_eq!(r[1], Remedy::LeakyRelu { entries: vec![0, 1], kernel: "orthogonal(gain=1.4)".into() });
        let at = model(
            r#"{ type = "dense", units = 16, activation = "sigmoid", kernel_initializer = "orthogonal(gain=4)" },
               { type = "dense", units = 1 }"#,
        );
        assert_eq!(critical_for(&at, 0), None);
        assert_eq!(critical_for(&m, 2), Some("orthogonal(gain=4)".into()));
    }
}

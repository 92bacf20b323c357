//! Recurrent layers: forward against a plain-loop reference of the Keras
//! equations, every gradient coordinate (parameters, input, initial state)
//! against central finite differences in f64, configuration errors, the
//! gradient over 100 steps at initialisation, and the adding problem.
use gradlab::data::sequence::{ADDING_BASELINE_MSE, ADDING_WIDTH, adding_problem};
use gradlab::data::{Dataset, Targets};
use gradlab::init::Initializer;
use gradlab::layers::recurrent::{Gru, Lstm, RecurrentConfig, SimpleRnn};
use gradlab::layers::{Ctx, Layer};
use gradlab::optim::{Adam, AdamConfig, Optimizer};
use gradlab::params::{ParamId, ParamStore};
use gradlab::{NodeId, Real, Result, Shape, Tape};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Rnn,
    Lstm,
    Gru,
}

enum Net {
    Rnn(SimpleRnn),
    Lstm(Lstm),
    Gru(Gru),
}

impl Net {
    fn new<T: Real>(kind: Kind, store: &mut ParamStore<T>, cfg: RecurrentConfig, seed: u64) -> Result<Self> {
        let rng = &mut ChaCha8Rng::seed_from_u64(seed);
        Ok(match kind {
            Kind::Rnn => Net::Rnn(SimpleRnn::new(store, 0, cfg, rng)?),
            Kind::Lstm => Net::Lstm(Lstm::new(store, 0, cfg, rng)?),
            Kind::Gru => Net::Gru(Gru::new(store, 0, cfg, rng)?),
        })
    }

    fn layer<T: Real>(&mut self) -> &mut dyn Layer<T> {
        match self {
            Net::Rnn(l) => l,
            Net::Lstm(l) => l,
            Net::Gru(l) => l,
        }
    }

    /// Forward from `(h0, c0)` when given (`c0` only for the LSTM).
    fn forward<T: Real>(
        &mut self,
        ctx: &mut Ctx<'_, T>,
        x: NodeId,
        init: Option<(NodeId, NodeId)>,
    ) -> Result<NodeId> {
        match self {
            Net::Rnn(l) => l.forward_with_state(ctx, x, init.map(|s| s.0)),
            Net::Lstm(l) => l.forward_with_state(ctx, x, init),
            Net::Gru(l) => l.forward_with_state(ctx, x, init.map(|s| s.0)),
        }
    }
}

fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A layer whose input and initial state are entries of the same store as
/// its weights, so one finite-difference loop covers all of them.
struct Case {
    kind: Kind,
    cfg: RecurrentConfig,
    batch: usize,
    steps: usize,
    net: Net,
    store: ParamStore<f64>,
    x: ParamId,
    init: Option<(ParamId, ParamId)>,
    /// Loss weights: L = Σ out ⊙ r, so every output coordinate matters.
    r: Vec<f64>,
    tape: Tape<f64>,
}

impl Case {
    fn new(
        kind: Kind,
        cfg: RecurrentConfig,
        batch: usize,
        steps: usize,
        given_state: bool,
        seed: u64,
    ) -> Self {
        let mut store = ParamStore::new();
        let mut net = Net::new(kind, &mut store, cfg, seed).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        // Random biases too: zero biases would hide a wrong bias gradient's sign.
        for id in net.layer::<f64>().params() {
            if store.get(id).name.ends_with("bias") {
                store.get_mut(id).value.iter_mut().for_each(|b| *b += uniform(&mut rng, -0.5, 0.5));
            }
        }
        let mut draw = |n: usize| (0..n).map(|_| uniform(&mut rng, -1.0, 1.0)).collect::<Vec<f64>>();
        let (f, h) = (cfg.features, cfg.units);
        let x = store.add("input", Shape::new(batch, steps * f), draw(batch * steps * f)).unwrap();
        let init = given_state.then(|| {
            let h0 = store.add("h0", Shape::new(batch, h), draw(batch * h)).unwrap();
            let c0 = store.add("c0", Shape::new(batch, h), draw(batch * h)).unwrap();
            (h0, c0)
        });
        let out_width = if cfg.return_sequences { steps * h } else { h };
        let r = draw(batch * out_width);
        Case { kind, cfg, batch, steps, net, store, x, init, r, tape: Tape::new() }
    }

    /// Records the loss; returns its node and the layer's output node.
    fn loss(&mut self) -> (NodeId, NodeId) {
        self.tape.clear();
        self.store.unbind_all();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        self.tape.params_mut().clone_from(&self.store);
        let mut ctx = Ctx { tape: &mut self.tape, training: true, rng: &mut rng };
        let x = ctx.param(self.x).unwrap();
        let init = self.init.map(|(h, c)| (ctx.param(h).unwrap(), ctx.param(c).unwrap()));
        let out = self.net.forward(&mut ctx, x, init).unwrap();
        let r = ctx.tape.input(ctx.tape.shape(out), &self.r).unwrap();
        let weighted = ctx.tape.mul(out, r).unwrap();
        (ctx.tape.sum(weighted).unwrap(), out)
    }

    fn loss_value(&mut self) -> f64 {
        let (loss, _) = self.loss();
        self.tape.scalar(loss)
    }

    /// The tape's gradient of every store entry, in store order.
    fn analytic(&mut self) -> Vec<Vec<f64>> {
        let (loss, _) = self.loss();
        self.tape.backward(loss).unwrap();
        self.store.gather_grads(&self.tape);
        self.store.iter().map(|(_, p)| p.grad.clone()).collect()
    }

    /// Every coordinate of every store entry: `analytic` against the central
    /// difference with step 1e-6; the first mismatch is the error.
    fn compare(&mut self, analytic: &[Vec<f64>]) -> std::result::Result<(), String> {
        let ids: Vec<ParamId> = self.store.iter().map(|(id, _)| id).collect();
        let eps = 1e-6;
        for (id, grads) in ids.into_iter().zip(analytic) {
            for (i, &a) in grads.iter().enumerate() {
                let w = self.store.get(id).value[i];
                self.store.get_mut(id).value[i] = w + eps;
                let up = self.loss_value();
                self.store.get_mut(id).value[i] = w - eps;
                let down = self.loss_value();
                self.store.get_mut(id).value[i] = w;
                let numeric = (up - down) / (2.0 * eps);
                if (a - numeric).abs() > 1e-7 * (1.0 + a.abs().max(numeric.abs())) {
                    return Err(format!(
                        "{:?} {:?} batch {} steps {}: d/d {}[{i}] analytic {a:e} numeric {numeric:e}",
                        self.kind,
                        self.cfg,
                        self.batch,
                        self.steps,
                        self.store.get(id).name
                    ));
                }
            }
        }
        Ok(())
    }

    fn check(&mut self) -> std::result::Result<(), String> {
        let analytic = self.analytic();
        self.compare(&analytic)
    }
}

const KINDS: [Kind; 3] = [Kind::Rnn, Kind::Lstm, Kind::Gru];

#[test]
fn every_gradient_coordinate_matches_finite_differences() {
    for kind in KINDS {
        for steps in [3, 5] {
            for given_state in [false, true] {
                for return_sequences in [false, true] {
                    let cfg = RecurrentConfig::new(3, 2).return_sequences(return_sequences);
                    let mut case = Case::new(kind, cfg, 2, steps, given_state, 17 + steps as u64);
                    case.check().unwrap();
                }
            }
        }
    }
}

/// The checker is able to fail: a gradient off by 1e-5 in one coordinate
/// of the recurrent kernel (the shared weight BPTT sums over steps) is caught.
#[test]
fn gradient_check_rejects_a_wrong_gradient() {
    for kind in KINDS {
        let mut case = Case::new(kind, RecurrentConfig::new(2, 2), 2, 3, true, 5);
        let mut analytic = case.analytic();
        case.compare(&analytic).unwrap();
        analytic[1][1] += 1e-5;
        let err = case.compare(&analytic).unwrap_err();
        assert!(err.contains("recurrent_kernel[1]"), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn gradients_match_finite_differences_on_small_shapes(
        kind in prop::sample::select(KINDS.to_vec()),
        batch in 1usize..4,
        features in 1usize..4,
        units in 1usize..4,
        steps in 1usize..5,
        return_sequences in any::<bool>(),
        given_state in any::<bool>(),
        forget_bias in -2.0f64..2.0,
        random_bias in any::<bool>(),
        seed in 0u64..1000,
    ) {
        // Any forget bias, and biases drawn at random so every gate starts off zero.
        let bias = if random_bias { Initializer::RandomNormal { mean: 0.0, stddev: 0.5 } } else { Initializer::Zeros };
        let cfg = RecurrentConfig::new(units, features)
            .return_sequences(return_sequences)
            .forget_bias(Some(forget_bias))
            .bias_initializer(bias)
            .recurrent_initializer(Initializer::Orthogonal { gain: 0.5 });
        let mut case = Case::new(kind, cfg, batch, steps, given_state, seed);
        prop_assert!(case.check().is_ok(), "{}", case.check().unwrap_err());
    }
}

/// The Keras equations written as plain loops, one sample at a time:
/// the independent reference for the gate order and bias layout.
fn reference(case: &Case, sample: usize) -> Vec<Vec<f64>> {
    let (f, h) = (case.cfg.features, case.cfg.units);
    let p = |suffix: &str| {
        case.store.iter().find(|(_, p)| p.name.ends_with(suffix)).map(|(_, p)| p.value.clone()).unwrap()
    };
    let (w, u, b) = (p(".kernel"), p(".recurrent_kernel"), p(".bias"));
    let xs = &case.store.get(case.x).value;
    let row = |v: &[f64], width: usize| v[sample * width..(sample + 1) * width].to_vec();
    let (mut hs, mut cs) = match case.init {
        Some((h0, c0)) => (row(&case.store.get(h0).value, h), row(&case.store.get(c0).value, h)),
        None => (vec![0.0; h], vec![0.0; h]),
    };
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let gates = match case.kind {
        Kind::Rnn => 1,
        Kind::Lstm => 4,
        Kind::Gru => 3,
    };
    let n = gates * h;
    // xw[j] = Σ x·W[:, j], hu[j] = Σ h·U[:, j]
    let affine = |v: &[f64], m: &[f64]| -> Vec<f64> {
        (0..n).map(|j| v.iter().enumerate().map(|(k, a)| a * m[k * n + j]).sum()).collect()
    };
    let mut out = Vec::new();
    for t in 0..case.steps {
        let x = &xs[sample * case.steps * f + t * f..][..f];
        let xw = affine(x, &w);
        let hu = affine(&hs, &u);
        hs = match case.kind {
            Kind::Rnn => (0..h).map(|j| (xw[j] + hu[j] + b[j]).tanh()).collect(),
            Kind::Lstm => {
                let z: Vec<f64> = (0..n).map(|j| xw[j] + hu[j] + b[j]).collect();
                cs = (0..h).map(|j| sig(z[h + j]) * cs[j] + sig(z[j]) * z[2 * h + j].tanh()).collect();
                (0..h).map(|j| sig(z[3 * h + j]) * cs[j].tanh()).collect()
            }
            Kind::Gru => (0..h)
                .map(|j| {
                    let (bi, br) = (&b[..n], &b[n..]);
                    let z = sig(xw[j] + bi[j] + hu[j] + br[j]);
                    let r = sig(xw[h + j] + bi[h + j] + hu[h + j] + br[h + j]);
                    let cand = (xw[2 * h + j] + bi[2 * h + j] + r * (hu[2 * h + j] + br[2 * h + j])).tanh();
                    z * hs[j] + (1.0 - z) * cand
                })
                .collect(),
        };
        out.push(hs.clone());
    }
    out
}

#[test]
fn forward_matches_the_keras_equations() {
    for kind in KINDS {
        for given_state in [false, true] {
            let cfg = RecurrentConfig::new(3, 2).return_sequences(true);
            let mut case = Case::new(kind, cfg, 2, 4, given_state, 3);
            let (_, out) = case.loss();
            let got = case.tape.value(out).to_vec();
            let hidden = match &case.net {
                Net::Rnn(l) => Layer::<f64>::recorded(l).hidden.clone(),
                Net::Lstm(l) => Layer::<f64>::recorded(l).hidden.clone(),
                Net::Gru(l) => Layer::<f64>::recorded(l).hidden.clone(),
            };
            assert_eq!(hidden.len(), 4);
            for sample in 0..2 {
                for (t, want) in reference(&case, sample).iter().enumerate() {
                    let row = &got[sample * 12 + t * 3..][..3];
                    let rec = &case.tape.value(hidden[t])[sample * 3..][..3];
                    for j in 0..3 {
                        assert!((row[j] - want[j]).abs() < 1e-12, "{kind:?} t {t}: {row:?} vs {want:?}");
                        assert_eq!(row[j], rec[j]);
                    }
                }
            }
        }
    }
}

#[test]
fn last_state_output_is_the_last_step_of_the_sequence_output() {
    for kind in KINDS {
        let mut seq = Case::new(kind, RecurrentConfig::new(3, 2).return_sequences(true), 2, 4, true, 9);
        let mut last = Case::new(kind, RecurrentConfig::new(3, 2), 2, 4, true, 9);
        let (_, a) = seq.loss();
        let (_, b) = last.loss();
        assert_eq!(seq.tape.shape(a), Shape::new(2, 12));
        assert_eq!(last.tape.shape(b), Shape::new(2, 3));
        for sample in 0..2 {
            assert_eq!(
                &seq.tape.value(a)[sample * 12 + 9..sample * 12 + 12],
                &last.tape.value(b)[sample * 3..][..3]
            );
        }
    }
}

#[test]
fn parameters_are_named_and_shaped_like_keras() {
    let mut store = ParamStore::<f32>::new();
    let rng = &mut ChaCha8Rng::seed_from_u64(1);
    let lstm = Lstm::new(&mut store, 2, RecurrentConfig::new(4, 3), rng).unwrap();
    let gru = Gru::new(&mut store, 3, RecurrentConfig::new(4, 3), rng).unwrap();
    let rnn = SimpleRnn::new(&mut store, 4, RecurrentConfig::new(4, 3), rng).unwrap();
    let got: Vec<(String, Shape)> = store.iter().map(|(_, p)| (p.name.clone(), p.shape)).collect();
    let want = [
        ("layers.2.lstm.kernel", (3, 16)),
        ("layers.2.lstm.recurrent_kernel", (4, 16)),
        ("layers.2.lstm.bias", (1, 16)),
        ("layers.3.gru.kernel", (3, 12)),
        ("layers.3.gru.recurrent_kernel", (4, 12)),
        ("layers.3.gru.bias", (2, 12)),
        ("layers.4.simple_rnn.kernel", (3, 4)),
        ("layers.4.simple_rnn.recurrent_kernel", (4, 4)),
        ("layers.4.simple_rnn.bias", (1, 4)),
    ];
    for ((name, shape), (wn, (r, c))) in got.iter().zip(want) {
        assert_eq!((name.as_str(), *shape), (wn, Shape::new(r, c)));
    }
    assert_eq!(Layer::<f32>::params(&lstm).len() + Layer::<f32>::params(&gru).len(), 6);
    assert_eq!(Layer::<f32>::kind(&rnn), "simple_rnn");
    // Forget block of the LSTM bias is 1 by default, 0 when switched off.
    let bias = &store.get(Layer::<f32>::params(&lstm)[2]).value;
    assert_eq!(
        bias.iter().map(|&b| f64::from(b)).collect::<Vec<_>>(),
        [[0.0; 4], [1.0; 4], [0.0; 4], [0.0; 4]].concat()
    );
    let plain = Lstm::new(&mut store, 5, RecurrentConfig::new(4, 3).unit_forget_bias(false), rng).unwrap();
    assert!(store.get(Layer::<f32>::params(&plain)[2]).value.iter().all(|&b| b == 0.0));
    // Any forget bias; the other blocks come from the bias initialiser.
    let cfg =
        RecurrentConfig::new(4, 3).forget_bias(Some(-1.5)).bias_initializer(Initializer::Constant(0.25));
    let neg = Lstm::new(&mut store, 6, cfg, rng).unwrap();
    let bias = &store.get(Layer::<f32>::params(&neg)[2]).value;
    assert_eq!(
        bias.iter().map(|&b| f64::from(b)).collect::<Vec<_>>(),
        [[0.25; 4], [-1.5; 4], [0.25; 4], [0.25; 4]].concat()
    );
    let bad = RecurrentConfig::new(4, 3).forget_bias(Some(f64::NAN));
    let err = Lstm::new(&mut store, 7, bad, rng).err().unwrap().to_string();
    assert!(err.contains("layers.7.lstm") && err.contains("forget_bias"), "{err}");
}

#[test]
fn bad_configuration_is_an_error_naming_layer_and_value() {
    let mut store = ParamStore::<f64>::new();
    for kind in KINDS {
        let err = Net::new(kind, &mut store, RecurrentConfig::new(0, 2), 1).err().unwrap().to_string();
        assert!(err.contains("layers.0.") && err.contains("units") && err.contains('0'), "{err}");
        let err = Net::new(kind, &mut store, RecurrentConfig::new(2, 0), 1).err().unwrap().to_string();
        assert!(err.contains("features"), "{err}");
        let mut net = Net::new(kind, &mut store, RecurrentConfig::new(2, 3), 1).unwrap();
        let err = net.layer::<f64>().output_width(10).unwrap_err().to_string();
        assert!(err.contains("layers.0.") && err.contains("10") && err.contains('3'), "{err}");
        assert_eq!(net.layer::<f64>().output_width(12).unwrap(), 2);
        let mut tape = Tape::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let x = tape.input(Shape::new(2, 10), &[0.0; 20]).unwrap();
        tape.params_mut().clone_from(&store);
        let mut ctx = Ctx { tape: &mut tape, training: true, rng: &mut rng };
        let err = net.layer().forward(&mut ctx, x).unwrap_err().to_string();
        assert!(err.contains("input width 10"), "{err}");
        let x = ctx.tape.input(Shape::new(2, 6), &[0.0; 12]).unwrap();
        let bad = ctx.tape.input(Shape::new(3, 2), &[0.0; 6]).unwrap();
        let err = net.forward(&mut ctx, x, Some((bad, bad))).unwrap_err().to_string();
        assert!(err.contains("[3, 2]") && err.contains("[2, 2]"), "{err}");
    }
}

/// Samples `rows` of a data set as (x, y) row-major slices.
fn rows(d: &Dataset, range: std::ops::Range<usize>) -> (&[f32], &[f32]) {
    let Targets::Values { y, width } = &d.targets else { panic!("values") };
    (&d.x[range.start * d.features..range.end * d.features], &y[range.start * width..range.end * width])
}

/// A recurrent layer (last state) and a linear read-out `h·v + c`, trained on
/// the tape directly.
struct Regressor<T: Real> {
    net: Net,
    store: ParamStore<T>,
    readout: (ParamId, ParamId),
    tape: Tape<T>,
    rng: ChaCha8Rng,
}

impl<T: Real> Regressor<T> {
    fn new(kind: Kind, units: usize, seed: u64) -> Self {
        Self::new_f(kind, units, seed, ADDING_WIDTH)
    }

    fn new_f(kind: Kind, units: usize, seed: u64, features: usize) -> Self {
        let mut store = ParamStore::new();
        let net = Net::new(kind, &mut store, RecurrentConfig::new(units, features), seed).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
        let limit = (6.0 / (units + 1) as f64).sqrt();
        let v = (0..units).map(|_| T::c(uniform(&mut rng, -limit, limit))).collect();
        let readout = (
            store.add("layers.1.dense.weight", Shape::new(units, 1), v).unwrap(),
            store.add("layers.1.dense.bias", Shape::new(1, 1), vec![T::zero()]).unwrap(),
        );
        Regressor { net, store, readout, tape: Tape::new(), rng }
    }

    /// Records the MSE of a batch; returns the loss node.
    fn loss(&mut self, x: &[f32], y: &[f32], width: usize) -> NodeId {
        self.tape.clear();
        self.store.unbind_all();
        let n = y.len();
        let conv = |v: &[f32]| v.iter().map(|&a| T::c(f64::from(a))).collect::<Vec<T>>();
        self.tape.params_mut().clone_from(&self.store);
        let mut ctx = Ctx { tape: &mut self.tape, training: true, rng: &mut self.rng };
        let xs = ctx.tape.input(Shape::new(n, width), &conv(x)).unwrap();
        let h = self.net.forward(&mut ctx, xs, None).unwrap();
        let (v, c) = (ctx.param(self.readout.0).unwrap(), ctx.param(self.readout.1).unwrap());
        let hv = ctx.tape.matmul(h, v).unwrap();
        let pred = ctx.tape.add(hv, c).unwrap();
        let target = ctx.tape.input(Shape::new(n, 1), &conv(y)).unwrap();
        ctx.tape.mse(pred, target).unwrap()
    }

    fn hidden(&self) -> Vec<NodeId> {
        match &self.net {
            Net::Rnn(l) => Layer::<T>::recorded(l).hidden.clone(),
            Net::Lstm(l) => Layer::<T>::recorded(l).hidden.clone(),
            Net::Gru(l) => Layer::<T>::recorded(l).hidden.clone(),
        }
    }
}

/// ‖dL/dh_t‖ at initialisation for every step of a 100-step batch of 32
/// sequences, each step `features` values drawn by `draw`; L is the MSE of a
/// linear read-out of the last state against 1.
fn hidden_gradient_norms(kind: Kind, features: usize, draw: &mut dyn FnMut() -> f32) -> Vec<f64> {
    let (steps, batch) = (100, 32);
    let mut model = Regressor::<f64>::new_f(kind, 32, 21, features);
    let x: Vec<f32> = (0..batch * steps * features).map(|_| draw()).collect();
    let loss = model.loss(&x, &[1.0; 32], steps * features);
    model.tape.backward(loss).unwrap();
    model
        .hidden()
        .iter()
        .map(|&h| model.tape.grad(h).unwrap().iter().map(|g| g * g).sum::<f64>().sqrt())
        .collect()
}

fn next_of(values: &[f32]) -> impl FnMut() -> f32 + '_ {
    let mut it = values.iter().copied();
    move || it.next().expect("enough values")
}

/// Fraction of the gradient at the last step that survives to the first.
fn surviving(norms: &[f64]) -> f64 {
    assert_eq!(norms.len(), 100);
    assert!(norms.iter().all(|g| g.is_finite() && *g > 0.0), "{norms:?}");
    norms[0] / norms[99]
}

/// Standardised inputs (8 features, unit variance) drive the tanh RNN into
/// its saturating range, where every step multiplies the gradient by
/// `diag(1 − h²)·Uᵀ` with `1 − h²` well below 1; the LSTM's cell path only
/// by its forget gate (≈ σ(1) with the unit forget bias).
#[test]
fn lstm_gradient_decays_far_less_than_simple_rnn_over_100_steps() {
    let unit_variance = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        move || uniform(&mut rng, -3f64.sqrt(), 3f64.sqrt()) as f32
    };
    let rnn = surviving(&hidden_gradient_norms(Kind::Rnn, 8, &mut unit_variance(3)));
    let lstm = surviving(&hidden_gradient_norms(Kind::Lstm, 8, &mut unit_variance(3)));
    eprintln!("‖dL/dh_0‖/‖dL/dh_99‖ at init, unit-variance inputs: simple_rnn {rnn:e}, lstm {lstm:e}");
    assert!(lstm > 100.0 * rnn, "lstm {lstm:e} vs simple_rnn {rnn:e}");
}

/// The converse at initialisation, which the comparison above must not be
/// read without: on the adding problem's small inputs the orthogonal
/// recurrent kernel keeps the tanh RNN near its linear regime, where it
/// preserves gradient (exactly, for zero input), while the LSTM's gradient
/// still shrinks by its forget gates, ≈ σ(1)¹⁰⁰. The LSTM's advantage there
/// is what training makes of its gates, not its initial state.
#[test]
fn orthogonal_simple_rnn_keeps_more_gradient_at_init_on_small_inputs() {
    let data = adding_problem(32, 100, 4).unwrap();
    let rnn = surviving(&hidden_gradient_norms(Kind::Rnn, 2, &mut next_of(&data.x)));
    let lstm = surviving(&hidden_gradient_norms(Kind::Lstm, 2, &mut next_of(&data.x)));
    eprintln!("‖dL/dh_0‖/‖dL/dh_99‖ at init, adding-problem inputs: simple_rnn {rnn:e}, lstm {lstm:e}");
    assert!(rnn > 100.0 * lstm, "simple_rnn {rnn:e} vs lstm {lstm:e}");
}

/// Trains on the adding problem with Adam; returns the test MSE and, on the
/// test set, the surviving gradient fraction ‖dL/dh_0‖/‖dL/dh_{T−1}‖.
fn adding_problem_test_mse(
    kind: Kind,
    steps: usize,
    units: usize,
    batch: usize,
    iterations: usize,
    lr: f64,
) -> (f64, f64) {
    let train = adding_problem(batch * 200, steps, 100).unwrap();
    let test = adding_problem(1000, steps, 200).unwrap();
    let mut model = Regressor::<f32>::new(kind, units, env_or("GRADLAB_SEED", 7.0) as u64);
    let cfg = AdamConfig { learning_rate: lr, ..AdamConfig::default() };
    let mut adam = Adam::new(cfg).unwrap();
    let batches = train.len() / batch;
    for it in 0..iterations {
        let b = it % batches;
        let (x, y) = rows(&train, b * batch..(b + 1) * batch);
        let loss = model.loss(x, y, train.features);
        model.tape.backward(loss).unwrap();
        model.store.gather_grads(&model.tape);
        adam.step(&mut model.store).unwrap();
        if std::env::var_os("GRADLAB_VERBOSE").is_some() && it % 100 == 0 {
            eprintln!("{kind:?} it {it} loss {}", model.tape.scalar(loss));
        }
    }
    let (x, y) = rows(&test, 0..test.len());
    let loss = model.loss(x, y, test.features);
    model.tape.backward(loss).unwrap();
    let hidden = model.hidden();
    let norm = |h: NodeId| model.tape.grad(h).unwrap().iter().map(|g| g.as_f64().powi(2)).sum::<f64>().sqrt();
    (model.tape.scalar(loss).as_f64(), norm(hidden[0]) / norm(hidden[steps - 1]))
}

fn env_or(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn lstm_solves_the_adding_problem_where_simple_rnn_does_not() {
    let units = env_or("GRADLAB_UNITS", 16.0) as usize;
    let batch = env_or("GRADLAB_BATCH", 32.0) as usize;
    let iterations = env_or("GRADLAB_ITERS", 1000.0) as usize;
    let lr = env_or("GRADLAB_LR", 0.01);
    let start = std::time::Instant::now();
    let (lstm, lstm_flow) = adding_problem_test_mse(Kind::Lstm, 50, units, batch, iterations, lr);
    let t_lstm = start.elapsed().as_secs_f64();
    let (rnn, rnn_flow) = adding_problem_test_mse(Kind::Rnn, 50, units, batch, iterations, lr);
    eprintln!(
        "adding T=50: lstm test MSE {lstm:.4} ({t_lstm:.1} s), simple_rnn {rnn:.4} ({:.1} s); baseline {ADDING_BASELINE_MSE:.4}",
        start.elapsed().as_secs_f64() - t_lstm
    );
    eprintln!("after training, ‖dL/dh_0‖/‖dL/dh_49‖: lstm {lstm_flow:e}, simple_rnn {rnn_flow:e}");
    assert!(lstm < 0.05, "lstm test MSE {lstm}");
    assert!(rnn > 0.8 * ADDING_BASELINE_MSE, "simple_rnn test MSE {rnn}");
    // The trained flow ratio is printed, not asserted: seeds 1, 3 and 7 give the
    // LSTM 1e3–1e6 times the RNN's, but with seed 2 the failed RNN's is larger.
}

//! Layer tests: every-coordinate finite-difference gradient checks of each
//! layer (proptest over small shapes, f64), configuration errors, parameter
//! names, summary counts, batch-norm statistics, dropout masks, prediction
//! heads, the fit hook and non-finite stop, and checkpoint round trips.
use gradlab::data::MatrixView;
use gradlab::data::random::uniform;
use gradlab::error::Error;
use gradlab::layers::recurrent::Recurrent;
use gradlab::layers::{
    Activation, BatchNormalization, Builder, Ctx, Dense, Dropout, Layer, LayerConfig, LayerNormalization,
    Residual,
};
use gradlab::model::{Data, FitConfig, FnHook, Loss, Model, Sequential, Targets};
use gradlab::optim::{Adam, AdamConfig, Sgd, SgdConfig};
use gradlab::params::ParamStore;
use gradlab::{NodeId, Real, Shape, Tape};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

// ---------- a small central-difference checker ----------

const H: f64 = 1e-5;
const TOL: f64 = 1e-6;

/// A built layer with its parameters and one input batch.
struct Case {
    layer: Box<dyn Layer<f64>>,
    params: ParamStore<f64>,
    x: Vec<f64>,
    shape: Shape,
    training: bool,
    /// Seed of the generator the forward pass sees (dropout's mask).
    mask_seed: u64,
}

type Built = (Box<dyn Layer<f64>>, ParamStore<f64>);

fn build(cfg: &dyn LayerConfig<f64>, width: usize, seed: u64) -> Result<Built, Error> {
    let mut params = ParamStore::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let layer = cfg.build(&mut Builder::new(&mut params, &mut rng, 0), width)?;
    Ok((layer, params))
}

impl Case {
    fn new(cfg: &dyn LayerConfig<f64>, rows: usize, width: usize, seed: u64) -> Case {
        let (layer, params) = build(cfg, width, seed).expect("valid configuration");
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xABCD);
        let x = (0..rows * width).map(|_| uniform(&mut rng, -2.0, 2.0)).collect();
        Case { layer, params, x, shape: Shape::new(rows, width), training: true, mask_seed: seed }
    }

    /// Records the forward pass; returns (input node, output node).
    fn forward(&mut self, tape: &mut Tape<f64>) -> (NodeId, NodeId) {
        tape.clear();
        self.params.unbind_all();
        let xin = tape.leaf(self.shape, &self.x, true).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(self.mask_seed);
        tape.params_mut().clone_from(&self.params);
        let mut ctx = Ctx { tape, training: self.training, rng: &mut rng };
        let out = self.layer.forward(&mut ctx, xin).unwrap();
        (xin, out)
    }

    /// sum(output ⊙ r).
    fn objective(&mut self, tape: &mut Tape<f64>, r: &[f64]) -> f64 {
        let (_, out) = self.forward(tape);
        tape.value(out).iter().zip(r).map(|(a, b)| a * b).sum()
    }

    /// Smallest |pre-activation| of the last pass (distance to a kink).
    fn min_abs_pre(&mut self, tape: &mut Tape<f64>) -> f64 {
        self.forward(tape);
        let pre = self.layer.recorded().pre_activation.expect("layer records its pre-activation");
        tape.value(pre).iter().fold(f64::INFINITY, |m, v| m.min(v.abs()))
    }

    /// Compares d sum(output ⊙ r)/dθ for every parameter and input coordinate
    /// with central differences; `skew` scales the analytic gradient (a
    /// deliberately wrong rule must be rejected). Returns the worst mismatch.
    fn check(&mut self, seed: u64, skew: f64) -> Result<(), String> {
        let mut tape = Tape::new();
        let (xin, out) = self.forward(&mut tape);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let r: Vec<f64> = (0..tape.shape(out).len()).map(|_| uniform(&mut rng, -1.0, 1.0)).collect();
        let seed_grad: Vec<f64> = r.iter().map(|v| v * skew).collect();
        tape.backward_with_seed(out, &seed_grad).unwrap();
        self.params.gather_grads(&tape);
        let gx = tape.grad(xin).expect("input gradient").to_vec();
        let ids: Vec<_> = self.layer.params();
        let mut worst = (0.0, String::new());
        let mut compare = |what: String, analytic: f64, numeric: f64| {
            let err = (analytic - numeric).abs() / (1.0 + analytic.abs().max(numeric.abs()));
            if err > worst.0 {
                worst = (err, format!("{what}: analytic {analytic:e}, numeric {numeric:e}"));
            }
        };
        for &id in &ids {
            for k in 0..self.params.get(id).value.len() {
                let analytic = self.params.get(id).grad[k];
                let v0 = self.params.get(id).value[k];
                self.params.get_mut(id).value[k] = v0 + H;
                let fp = self.objective(&mut tape, &r);
                self.params.get_mut(id).value[k] = v0 - H;
                let fm = self.objective(&mut tape, &r);
                self.params.get_mut(id).value[k] = v0;
                compare(format!("{}[{k}]", self.params.get(id).name), analytic, (fp - fm) / (2.0 * H));
            }
        }
        for (k, &analytic) in gx.iter().enumerate() {
            let x0 = self.x[k];
            self.x[k] = x0 + H;
            let fp = self.objective(&mut tape, &r);
            self.x[k] = x0 - H;
            let fm = self.objective(&mut tape, &r);
            self.x[k] = x0;
            compare(format!("x[{k}]"), analytic, (fp - fm) / (2.0 * H));
        }
        if worst.0 > TOL { Err(format!("relative error {:e} at {}", worst.0, worst.1)) } else { Ok(()) }
    }
}

const ACTIVATIONS: [&str; 11] = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "leaky_relu(0.1)",
    "elu",
    "elu(0.7)",
    "gelu",
    "softplus",
    "softmax",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn dense_gradients_match_finite_differences(
        rows in 1usize..4, input in 1usize..4, units in 1usize..4, act in 0..ACTIVATIONS.len(), seed in any::<u64>(),
    ) {
        let cfg = Dense::new(units).activation(ACTIVATIONS[act]).bias_initializer("random_normal");
        let mut case = Case::new(&cfg, rows, input, seed);
        let mut tape = Tape::new();
        // Keep pre-activations away from the kinks of relu, leaky_relu and elu.
        prop_assume!(case.min_abs_pre(&mut tape) > 1e-3);
        prop_assert!(case.check(seed, 1.0).is_ok(), "{}: {:?}", ACTIVATIONS[act], case.check(seed, 1.0));
    }

    #[test]
    fn activation_layer_gradients_match_finite_differences(
        rows in 1usize..4, width in 1usize..5, act in 0..ACTIVATIONS.len(), seed in any::<u64>(),
    ) {
        let cfg = Activation::new(ACTIVATIONS[act]);
        let mut case = Case::new(&cfg, rows, width, seed);
        prop_assert!(case.layer.params().is_empty());
        let mut tape = Tape::new();
        // Keep inputs away from the kinks of relu, leaky_relu and elu.
        prop_assume!(case.min_abs_pre(&mut tape) > 1e-3);
        prop_assert!(case.check(seed, 1.0).is_ok(), "{}: {:?}", ACTIVATIONS[act], case.check(seed, 1.0));
    }

    #[test]
    fn dense_without_bias_gradients_match(rows in 1usize..4, input in 1usize..4, seed in any::<u64>()) {
        let cfg = Dense::new(3).activation("tanh").use_bias(false);
        let mut case = Case::new(&cfg, rows, input, seed);
        prop_assert_eq!(case.layer.params().len(), 1);
        prop_assert!(case.check(seed, 1.0).is_ok(), "{:?}", case.check(seed, 1.0));
    }

    #[test]
    fn batch_norm_training_gradients_match(rows in 2usize..5, width in 1usize..4, seed in any::<u64>()) {
        let cfg = BatchNormalization::new();
        let mut case = Case::new(&cfg, rows, width, seed);
        randomise_params(&mut case.params, seed);
        prop_assert!(case.check(seed, 1.0).is_ok(), "{:?}", case.check(seed, 1.0));
    }

    #[test]
    fn batch_norm_inference_gradients_match(rows in 1usize..4, width in 1usize..4, seed in any::<u64>()) {
        let cfg = BatchNormalization::new();
        let mut case = Case::new(&cfg, rows, width, seed);
        randomise_params(&mut case.params, seed);
        case.training = false;
        prop_assert!(case.check(seed, 1.0).is_ok(), "{:?}", case.check(seed, 1.0));
    }

    #[test]
    fn layer_norm_gradients_match(rows in 1usize..4, width in 2usize..5, seed in any::<u64>()) {
        let cfg = LayerNormalization::new();
        let mut case = Case::new(&cfg, rows, width, seed);
        randomise_params(&mut case.params, seed);
        prop_assert!(case.check(seed, 1.0).is_ok(), "{:?}", case.check(seed, 1.0));
    }

    #[test]
    fn dropout_with_a_fixed_mask_gradients_match(rows in 1usize..4, width in 1usize..5, seed in any::<u64>()) {
        let cfg = Dropout::new(0.4);
        let mut case = Case::new(&cfg, rows, width, seed);
        prop_assert!(case.check(seed, 1.0).is_ok(), "{:?}", case.check(seed, 1.0));
    }

    #[test]
    fn residual_same_width_gradients_match(rows in 1usize..4, width in 1usize..4, seed in any::<u64>()) {
        let cfg = Residual::new().add(Dense::new(3).activation("tanh")).add(Dense::new(width));
        let mut case = Case::new(&cfg, rows, width, seed);
        prop_assert!(case.check(seed, 1.0).is_ok(), "{:?}", case.check(seed, 1.0));
    }

    #[test]
    fn residual_projected_gradients_match(rows in 1usize..4, width in 1usize..4, out in 1usize..4, seed in any::<u64>()) {
        prop_assume!(out != width);
        let cfg = Residual::new()
            .add(Dense::new(3).activation("softplus"))
            .add(LayerNormalization::new())
            .add(Dense::new(out).activation("sigmoid"));
        let mut case = Case::new(&cfg, rows, width, seed);
        prop_assert!(case.check(seed, 1.0).is_ok(), "{:?}", case.check(seed, 1.0));
    }
}

/// γ and β away from their (1, 0) start, so their gradients are exercised in general position.
fn randomise_params(params: &mut ParamStore<f64>, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 77);
    for (_, p) in params.iter_mut() {
        p.value.iter_mut().for_each(|v| *v += uniform(&mut rng, -0.5, 0.5));
    }
}

#[test]
fn checker_rejects_a_wrong_gradient() {
    let act = Activation::new("tanh");
    for cfg in [&Dense::new(2).activation("tanh") as &dyn LayerConfig<f64>, &BatchNormalization::new(), &act]
    {
        let mut case = Case::new(cfg, 3, 2, 5);
        assert!(case.check(1, 1.0).is_ok());
        let err = case.check(1, 1.001).unwrap_err();
        assert!(err.contains("relative error"), "{err}");
    }
}

// ---------- configuration errors ----------

fn build_err(model: Sequential<f64>) -> String {
    match model.build() {
        Ok(_) => panic!("bad configuration accepted"),
        Err(e) => e.to_string(),
    }
}

fn contains_all(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "{msg:?} lacks {p:?}");
    }
}

#[test]
fn bad_configurations_name_the_layer_and_value() {
    let m = build_err(Sequential::new(4).add(Dense::new(3)).add(Dense::new(0)));
    contains_all(&m, &["layer 1 (dense)", "units", "0"]);
    let m = build_err(Sequential::new(4).add(Dense::new(3).activation("swish")));
    contains_all(&m, &["layer 0 (dense)", "\"swish\""]);
    let m = build_err(Sequential::new(4).add(Dense::new(3).activation("elu(abc)")));
    contains_all(&m, &["layer 0 (dense)", "abc"]);
    let m = build_err(Sequential::new(4).add(Dense::new(3).kernel_initializer("glorot")));
    contains_all(&m, &["layer 0 (dense)", "kernel_initializer", "\"glorot\""]);
    let neg = gradlab::init::Initializer::RandomNormal { mean: 0.0, stddev: -0.5 };
    let m = build_err(Sequential::new(4).add(Dense::new(2)).add(Dense::new(3).kernel_initializer(neg)));
    contains_all(&m, &["layer 1 (dense)", "stddev -0.5"]);
    let m = build_err(Sequential::new(4).add(Dense::new(2).kernel_initializer("random_normal(stddev=-2)")));
    contains_all(&m, &["layer 0 (dense)", "kernel_initializer", "stddev -2"]);
    for rate in [1.0, -0.1, 1.5] {
        let m = build_err(Sequential::new(4).add(Dense::new(3)).add(Dropout::new(rate)));
        contains_all(&m, &["layer 1 (dropout)", "rate", &rate.to_string()]);
    }
    let m = build_err(Sequential::new(4).add(BatchNormalization::new().momentum(1.5)));
    contains_all(&m, &["layer 0 (batch_normalization)", "1.5"]);
    let m = build_err(Sequential::new(4).add(LayerNormalization::new().epsilon(-1.0)));
    contains_all(&m, &["layer 0 (layer_normalization)", "-1"]);
    let m = build_err(Sequential::new(4).add(Dense::new(2)).add(Residual::new()));
    contains_all(&m, &["layer 1 (residual)", "at least one layer"]);
    let m = build_err(Sequential::new(4).add(Residual::new().add(Dense::new(2)).add(Dense::new(0))));
    contains_all(&m, &["layer 0 (residual) > layer 1 (dense)", "0"]);
    let m = build_err(Sequential::new(0).add(Dense::new(2)));
    contains_all(&m, &["input", "0"]);
}

#[test]
fn bad_arguments_of_activations_initialisers_and_blocks_name_the_layer() {
    let m = build_err(Sequential::new(4).add(Dense::new(3).bias_initializer("zero_ish")));
    contains_all(&m, &["layer 0 (dense)", "bias_initializer", "\"zero_ish\""]);
    let m = build_err(Sequential::new(4).add(Dense::new(3).activation("leaky_relu(inf)")));
    contains_all(&m, &["layer 0 (dense)", "leaky_relu(inf)", "not finite"]);
    let m = build_err(Sequential::new(4).add(Dense::new(2)).add(Dense::new(3).activation("relu(0.1)")));
    contains_all(&m, &["layer 1 (dense)", "\"relu(0.1)\""]);
    let m = build_err(Sequential::new(4).add(Dense::new(3).kernel_initializer("orthogonal(gain=inf)")));
    contains_all(&m, &["layer 0 (dense)", "kernel_initializer", "gain inf"]);
    let m = build_err(Sequential::new(4).add(Dense::new(3).kernel_initializer("random_uniform(1, -1)")));
    contains_all(&m, &["layer 0 (dense)", "min 1, max -1"]);
    let m =
        build_err(Sequential::new(4).add(Dense::new(3).kernel_initializer("truncated_normal(stddev=-1)")));
    contains_all(&m, &["layer 0 (dense)", "stddev -1"]);
    // A block that changes the width needs its projection; a bad projection
    // initialiser is the block's error. The same block at equal widths has no
    // projection, so the argument is never read.
    let widen = || Residual::new().add(Dense::new(6)).projection_initializer("identity");
    let m = build_err(Sequential::new(4).add(Dense::new(4)).add(widen()));
    contains_all(&m, &["layer 1 (residual)", "projection_initializer", "\"identity\""]);
    let same = Residual::new().add(Dense::new(4)).projection_initializer("identity");
    assert!(Sequential::<f64>::new(4).add(same).build().is_ok());
}

#[test]
fn a_residual_block_projects_exactly_when_the_width_changes() {
    let names = |model: &Model<f64>| -> Vec<(String, Shape)> {
        model.params().iter().map(|(_, p)| (p.name.clone(), p.shape)).collect()
    };
    let same = Sequential::<f64>::new(4).add(Residual::new().add(Dense::new(4))).build().unwrap();
    assert!(names(&same).iter().all(|(n, _)| !n.contains("projection")), "{:?}", names(&same));
    let wider = Sequential::<f64>::new(4).add(Residual::new().add(Dense::new(6))).build().unwrap();
    let projection = ("layers.0.residual.projection.weight".to_string(), Shape::new(4, 6));
    assert!(names(&wider).contains(&projection), "{:?}", names(&wider));
    assert_eq!(wider.output_width(), 6);
}

#[test]
fn a_recurrent_layer_in_a_stack_checks_its_input_width() {
    // LSTM over steps of 3 features after a Dense(4): 4 is not a whole number of steps.
    let m = build_err(Sequential::new(2).add(Dense::new(4)).add(Recurrent::lstm(5, 3)));
    contains_all(&m, &["layers.1.lstm", "input width 4", "3 features"]);
    let m = build_err(Sequential::new(6).add(Recurrent::gru(0, 3)));
    contains_all(&m, &["layers.0.gru", "units", "0"]);
    let model = Sequential::<f64>::new(2).add(Dense::new(6)).add(Recurrent::lstm(5, 3)).build().unwrap();
    assert_eq!(model.output_width(), 5);
}

#[test]
fn recurrent_layers_are_named_by_position_even_when_nested() {
    let model = Sequential::<f64>::new(12)
        .add(Recurrent::simple_rnn(3, 2).return_sequences(true))
        .add(Residual::new().add(Recurrent::gru(1, 3).return_sequences(true)))
        .add(Recurrent::lstm(4, 1))
        .build()
        .unwrap();
    let names: Vec<(&str, Shape)> = model.params().iter().map(|(_, p)| (p.name.as_str(), p.shape)).collect();
    assert_eq!(
        names,
        [
            ("layers.0.simple_rnn.kernel", Shape::new(2, 3)),
            ("layers.0.simple_rnn.recurrent_kernel", Shape::new(3, 3)),
            ("layers.0.simple_rnn.bias", Shape::new(1, 3)),
            ("layers.1.residual.layers.0.gru.kernel", Shape::new(3, 3)),
            ("layers.1.residual.layers.0.gru.recurrent_kernel", Shape::new(1, 3)),
            ("layers.1.residual.layers.0.gru.bias", Shape::new(2, 3)),
            ("layers.1.residual.projection.weight", Shape::new(18, 6)),
            ("layers.2.lstm.kernel", Shape::new(1, 16)),
            ("layers.2.lstm.recurrent_kernel", Shape::new(4, 16)),
            ("layers.2.lstm.bias", Shape::new(1, 16)),
        ]
    );
    assert_eq!(model.output_width(), 4);
}

#[test]
fn an_lstm_stack_learns_the_adding_problem_through_fit() {
    use gradlab::data::sequence::{ADDING_BASELINE_MSE, adding_problem};
    let (train, test) = (adding_problem(1024, 10, 1).unwrap(), adding_problem(256, 10, 2).unwrap());
    let mut model =
        Sequential::<f32>::new(20).add(Recurrent::lstm(12, 2)).add(Dense::new(1)).seed(3).build().unwrap();
    let cfg = || FitConfig::new(Loss::Mse).epochs(20).batch_size(32).seed(3);
    let mut adam = Adam::new(AdamConfig { learning_rate: 0.01, ..AdamConfig::default() }).unwrap();
    model.fit(&(&train).into(), &mut cfg().optimizer(&mut adam)).unwrap();
    let eval = model.evaluate(&(&test).into(), Loss::Mse, 256).unwrap();
    println!(
        "adding problem T=10, LSTM(12) via fit: test MSE {:.4} (baseline {ADDING_BASELINE_MSE:.4})",
        eval.loss
    );
    assert!(eval.loss < ADDING_BASELINE_MSE / 4.0, "test MSE {}", eval.loss);
}

#[test]
fn a_built_layer_rejects_another_input_width() {
    let (layer, _) = build(&Dense::new(3), 4, 0).unwrap();
    let m = layer.output_width(5).unwrap_err().to_string();
    contains_all(&m, &["layer 0 (dense)", "4", "5"]);
    let mut params = ParamStore::new();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut layer = Dense::new(3).build(&mut Builder::new(&mut params, &mut rng, 0), 4).unwrap();
    let mut tape = Tape::<f64>::new();
    let x = tape.input(Shape::new(2, 5), &[0.0; 10]).unwrap();
    tape.params_mut().clone_from(&params);
    let mut ctx = Ctx { tape: &mut tape, training: true, rng: &mut rng };
    assert!(layer.forward(&mut ctx, x).is_err());
}

// ---------- names, summary ----------

fn mixed_model(seed: u64) -> Model<f32> {
    Sequential::new(3)
        .add(Dense::new(4).activation("relu"))
        .add(BatchNormalization::new())
        .add(Residual::new().add(Dense::new(5).activation("tanh")).add(LayerNormalization::new()))
        .add(Dropout::new(0.2))
        .add(Dense::new(2).activation("softmax"))
        .seed(seed)
        .build()
        .unwrap()
}

#[test]
fn parameter_names_follow_positions() {
    let model = mixed_model(1);
    let names: Vec<&str> = model.params().iter().map(|(_, p)| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "layers.0.dense.weight",
            "layers.0.dense.bias",
            "layers.1.batch_normalization.gamma",
            "layers.1.batch_normalization.beta",
            "layers.2.residual.layers.0.dense.weight",
            "layers.2.residual.layers.0.dense.bias",
            "layers.2.residual.layers.1.layer_normalization.gamma",
            "layers.2.residual.layers.1.layer_normalization.beta",
            "layers.2.residual.projection.weight",
            "layers.4.dense.weight",
            "layers.4.dense.bias",
        ]
    );
    let shapes: Vec<Shape> = model.params().iter().map(|(_, p)| p.shape).collect();
    assert_eq!(shapes[0], Shape::new(3, 4));
    assert_eq!(shapes[8], Shape::new(4, 5));
    assert_eq!(shapes[9], Shape::new(5, 2));
}

#[test]
fn a_closure_config_adds_any_layer_to_a_stack() {
    let model = Sequential::<f32>::new(3)
        .add(gradlab::layers::from_fn("dense", |b, width| Dense::new(2).activation("tanh").build(b, width)))
        .add(Dense::new(1))
        .build()
        .unwrap();
    let names: Vec<&str> = model.params().iter().map(|(_, p)| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["layers.0.dense.weight", "layers.0.dense.bias", "layers.1.dense.weight", "layers.1.dense.bias"]
    );
    assert_eq!(model.params().get(model.layers()[0].params()[0]).shape, Shape::new(3, 2));
}

#[test]
fn summary_counts_parameters_per_layer() {
    let model = mixed_model(1);
    let rows = model.summary_rows();
    let counts: Vec<(usize, usize, usize)> =
        rows.iter().map(|r| (r.output_width, r.trainable, r.non_trainable)).collect();
    // dense 3·4+4; bn 2·4 (+2·4 moving); residual 4·5+5 + 2·5 + projection 4·5; dropout 0; dense 5·2+2.
    assert_eq!(counts, [(4, 16, 0), (4, 8, 8), (5, 55, 0), (5, 0, 0), (2, 12, 0)]);
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, ["dense", "batch_normalization", "residual", "dropout", "dense"]);
    let text = model.summary();
    contains_all(&text, &["layers.2 (residual)", "(None, 5)", "Total params: 99", "Trainable params: 91"]);
    assert_eq!(model.params().count(), 91);
}

// ---------- batch norm, dropout, heads ----------

#[test]
fn batch_norm_updates_moving_statistics_and_uses_them_at_inference() {
    let mut model = Sequential::<f64>::new(2).add(BatchNormalization::new().momentum(0.9)).build().unwrap();
    let x = [1.0, 10.0, 3.0, 20.0, 5.0, 60.0];
    model.forward(&x, true).unwrap();
    let (mean, var) = ([3.0, 30.0], [8.0 / 3.0, 1400.0 / 3.0]);
    let mut stats = Vec::new();
    model.layers()[0].visit_buffers(&mut |b| stats.push(b.value.clone()));
    for j in 0..2 {
        assert!((stats[0][j] - 0.1 * mean[j]).abs() < 1e-12, "moving mean {:?}", stats[0]);
        assert!((stats[1][j] - (0.9 + 0.1 * var[j])).abs() < 1e-9, "moving variance {:?}", stats[1]);
    }
    // Inference: (x − moving mean)/√(moving variance + ε), γ = 1, β = 0.
    let y = model.predict(&x).unwrap();
    for (k, &v) in y.iter().enumerate() {
        let j = k % 2;
        let want = (x[k] - stats[0][j]) / (stats[1][j] + 1e-3).sqrt();
        assert!((v - want).abs() < 1e-12, "y[{k}] = {v}, want {want}");
    }
    // Training output is standardised per feature by the batch statistics.
    let out = model.forward(&x, true).unwrap();
    let v = model.tape().value(out).to_vec();
    for j in 0..2 {
        let col: Vec<f64> = (0..3).map(|i| v[i * 2 + j]).collect();
        assert!(col.iter().sum::<f64>().abs() < 1e-12);
        let want = (0..3).map(|i| ((x[i * 2 + j] - mean[j]) / (var[j] + 1e-3).sqrt()).powi(2)).sum::<f64>();
        assert!((col.iter().map(|c| c * c).sum::<f64>() - want).abs() < 1e-9);
    }
}

#[test]
fn dropout_masks_are_seeded_scaled_and_off_at_inference() {
    let rate = 0.25;
    let mut model = Sequential::<f64>::new(1000).add(Dropout::new(rate)).build().unwrap();
    let x = vec![1.0; 4000];
    assert_eq!(model.predict(&x).unwrap(), x);
    let out = model.forward(&x, true).unwrap();
    let y = model.tape().value(out).to_vec();
    let keep = 1.0 / (1.0 - rate);
    assert!(y.iter().all(|&v| v == 0.0 || v == keep));
    let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    assert!((dropped - rate).abs() < 0.03, "dropped fraction {dropped}");
    // A second pass draws a fresh mask from the same stream.
    let out2 = model.forward(&x, true).unwrap();
    assert_ne!(model.tape().value(out2), &y[..]);
}

#[test]
fn predict_returns_probabilities_for_softmax_and_sigmoid_outputs() {
    let x: Vec<f32> = (0..12).map(|i| i as f32 * 0.3 - 1.5).collect();
    let mut soft =
        Sequential::<f32>::new(3).add(Dense::new(4).activation("softmax")).seed(3).build().unwrap();
    let logits = {
        let out = soft.forward(&x, false).unwrap();
        soft.tape().value(out).to_vec()
    };
    let p = soft.predict(&x).unwrap();
    for (row, lrow) in p.chunks(4).zip(logits.chunks(4)) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let max = lrow.iter().cloned().fold(f32::MIN, f32::max);
        let z: f32 = lrow.iter().map(|l| (l - max).exp()).sum();
        for (pi, li) in row.iter().zip(lrow) {
            assert!((pi - (li - max).exp() / z).abs() < 1e-6);
        }
    }
    let mut sig = Sequential::<f32>::new(3).add(Dense::new(1).activation("sigmoid")).seed(3).build().unwrap();
    let logits = {
        let out = sig.forward(&x, false).unwrap();
        sig.tape().value(out).to_vec()
    };
    let p = sig.predict(&x).unwrap();
    for (pi, li) in p.iter().zip(&logits) {
        assert!((pi - 1.0 / (1.0 + (-li).exp())).abs() < 1e-6);
    }
}

// ---------- fit: hook, errors ----------

/// The engine's plain SGD at rate `lr`.
fn sgd<T: Real>(lr: f64) -> Sgd<T> {
    Sgd::new(SgdConfig { learning_rate: lr, ..SgdConfig::default() }).unwrap()
}

#[test]
fn the_hook_sees_gathered_gradients_and_layer_outputs() {
    let mut model = Sequential::<f64>::new(2)
        .add(Dense::new(3).activation("tanh"))
        .add(Dense::new(1))
        .seed(2)
        .build()
        .unwrap();
    let x = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.5];
    let y = [1.0, 1.0, 0.0, 0.0, 0.5];
    let data = Data::values(view(&x, 2), view(&y, 1));
    let cfg = || FitConfig::new(Loss::Mse).epochs(3).batch_size(2);
    let mut seen = Vec::new();
    let mut hook = FnHook(|v: &gradlab::model::StepView<'_, f64>| {
        for (id, p) in v.params.iter() {
            let node = v.params.node(id).expect("bound this step");
            assert_eq!(v.tape.grad(node).unwrap(), &p.grad[..]);
        }
        let h = v.layers[0].recorded().output.unwrap();
        assert_eq!(v.tape.shape(h).cols, 3);
        assert!(v.tape.grad(h).unwrap().iter().any(|&g| g != 0.0));
        seen.push((v.step, v.epoch, v.batch, v.tape.shape(v.input).rows));
        Ok(())
    });
    let history = model.fit(&data, &mut cfg().optimizer(sgd(0.1)).hook(&mut hook)).unwrap();
    assert_eq!(history.epochs.len(), 3);
    let want: Vec<_> = (0..9).map(|s| (s, s / 3, s % 3, if s % 3 == 2 { 1 } else { 2 })).collect();
    assert_eq!(seen, want);
}

#[test]
fn probe_shows_one_step_to_the_hook_and_updates_nothing() {
    let mut model = Sequential::<f64>::new(2)
        .add(Dense::new(3).activation("tanh"))
        .add(Dense::new(1))
        .seed(4)
        .build()
        .unwrap();
    let x = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.5, 0.5];
    let y = [1.0, 1.0, 0.0, 0.5];
    let data = Data::values(view(&x, 2), view(&y, 1));
    let before: Vec<f64> = model.params().iter().flat_map(|(_, p)| p.value.clone()).collect();
    let mut seen = Vec::new();
    let mut hook = FnHook(|v: &gradlab::model::StepView<'_, f64>| {
        seen.push((v.step, v.epoch, v.batch, v.tape.shape(v.input).rows));
        Ok(())
    });
    // The first three rows only, as one batch.
    let loss = model.probe(&data.head(3), Loss::Mse, &mut hook).unwrap();
    assert_eq!(seen, vec![(0, 0, 0, 3)]);
    let probed: Vec<Vec<f64>> = model.params().iter().map(|(_, p)| p.grad.clone()).collect();
    assert_eq!(loss, model.gradients(&data.head(3), Loss::Mse).unwrap());
    let direct: Vec<Vec<f64>> = model.params().iter().map(|(_, p)| p.grad.clone()).collect();
    assert_eq!(probed, direct);
    assert!(direct.iter().flatten().any(|&g| g != 0.0));
    let after: Vec<f64> = model.params().iter().flat_map(|(_, p)| p.value.clone()).collect();
    assert_eq!(before, after, "a probe does not update");
}

#[test]
fn clipping_runs_before_the_optimiser() {
    let mut model = Sequential::<f64>::new(2).add(Dense::new(1)).seed(2).build().unwrap();
    let before: Vec<f64> = model.params().iter().flat_map(|(_, p)| p.value.clone()).collect();
    let x = [1.0, 2.0, 3.0, 4.0];
    let y = [5.0, 6.0];
    let data = Data::values(view(&x, 2), view(&y, 1));
    let zero = |p: &mut ParamStore<f64>| {
        p.iter_mut().for_each(|(_, p)| p.grad.iter_mut().for_each(|g| *g = 0.0));
        Ok(())
    };
    let cfg = || FitConfig::new(Loss::Mse).epochs(2).batch_size(2);
    model.fit(&data, &mut cfg().optimizer(sgd(0.1)).clip_with(zero)).unwrap();
    let after: Vec<f64> = model.params().iter().flat_map(|(_, p)| p.value.clone()).collect();
    assert_eq!(before, after);
    model.fit(&data, &mut cfg().optimizer(sgd(0.1))).unwrap();
    let trained: Vec<f64> = model.params().iter().flat_map(|(_, p)| p.value.clone()).collect();
    assert_ne!(before, trained);
}

#[test]
fn a_diverging_run_stops_with_an_error_naming_the_step() {
    let mut model = Sequential::<f32>::new(1).add(Dense::new(1)).seed(1).build().unwrap();
    let x: Vec<f32> = (0..8).map(|i| i as f32 + 1.0).collect();
    let y: Vec<f32> = x.iter().map(|v| 3.0 * v).collect();
    let data = Data::values(view(&x, 1), view(&y, 1));
    let cfg = || FitConfig::new(Loss::Mse).epochs(500).batch_size(4);
    let err = model.fit(&data, &mut cfg().optimizer(sgd(1.0))).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    let msg = err.to_string();
    contains_all(&msg, &["non-finite", "step ", "epoch "]);
    // The same data trains fine at a sane rate.
    let mut model = Sequential::<f32>::new(1).add(Dense::new(1)).seed(1).build().unwrap();
    model.fit(&data, &mut cfg().optimizer(sgd(0.005))).unwrap();
}

#[test]
fn fit_rejects_data_that_does_not_fit_the_model() {
    let mut model = Sequential::<f32>::new(2).add(Dense::new(3).activation("softmax")).build().unwrap();
    let x = [0.0f32; 8];
    let labels = [0usize, 1, 2, 3];
    let bad = [
        (Data::labels(view(&x, 4), &labels[..2], 3), "features"),
        (Data::labels(view(&x, 2), &labels, 3), "label 3 at row 3"),
        (Data::labels(view(&x, 2), &labels[..3], 3), "3 labels"),
        (Data::labels(view(&x, 2), &[0; 4], 5), "5 classes"),
    ];
    for (data, want) in bad {
        let cfg = || FitConfig::new(Loss::SparseCategoricalCrossentropy);
        let msg = model.fit(&data, &mut cfg().optimizer(sgd(0.1))).unwrap_err().to_string();
        assert!(msg.contains(want), "{msg:?} lacks {want:?}");
    }
    let data = Data::labels(view(&x, 2), &[0; 4], 3);
    let msg = model.fit(&data, &mut FitConfig::new(Loss::BinaryCrossentropy).optimizer(sgd(0.1)));
    assert!(msg.unwrap_err().to_string().contains("softmax"));
    assert!(Loss::from_name("hinge").unwrap_err().to_string().contains("\"hinge\""));
}

/// The whole fit path, loss heads included: the gradients the hook sees equal
/// central differences of `evaluate`'s loss, for every loss and output squash.
#[test]
fn model_loss_gradients_match_finite_differences_for_every_loss() {
    let x: Vec<f64> = (0..18).map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.3).collect();
    let labels2 = [0usize, 1, 1, 0, 1, 0];
    let labels3 = [0usize, 2, 1, 0, 2, 1];
    let soft: Vec<f64> = (0..12).map(|i| ((i * 5 % 7) as f64) / 7.0).collect();
    let cases: [(Loss, Dense, Targets<'_, f64>); 5] = [
        (Loss::Mse, Dense::new(2).activation("sigmoid"), Targets::Values(view(&soft, 2))),
        (
            Loss::BinaryCrossentropy,
            Dense::new(1).activation("sigmoid"),
            Targets::Labels { labels: &labels2, classes: 2 },
        ),
        (Loss::BinaryCrossentropy, Dense::new(2), Targets::Values(view(&soft, 2))),
        (
            Loss::CategoricalCrossentropy,
            Dense::new(3).activation("softmax"),
            Targets::Labels { labels: &labels3, classes: 3 },
        ),
        (
            Loss::SparseCategoricalCrossentropy,
            Dense::new(3).activation("softmax"),
            Targets::Labels { labels: &labels3, classes: 3 },
        ),
    ];
    for (loss, last, targets) in cases {
        let mut model = Sequential::<f64>::new(3)
            .add(Dense::new(4).activation("tanh").bias_initializer("random_normal"))
            .add(LayerNormalization::new())
            .add(last)
            .seed(21)
            .build()
            .unwrap();
        let data = Data { x: view(&x, 3), targets };
        let mut grads: Vec<Vec<f64>> = Vec::new();
        let mut hook = FnHook(|v: &gradlab::model::StepView<'_, f64>| {
            grads = v.params.iter().map(|(_, p)| p.grad.clone()).collect();
            Ok(())
        });
        let cfg = || FitConfig::new(loss).epochs(1).batch_size(6).shuffle(false);
        model.fit(&data, &mut cfg().optimizer(sgd(0.0)).hook(&mut hook)).unwrap();
        // `gradients` (no update) gathers the same numbers as a fit step.
        let loss_value = model.gradients(&data, loss).unwrap();
        assert!((loss_value - model.evaluate(&data, loss, 6).unwrap().loss).abs() < 1e-12);
        let direct: Vec<Vec<f64>> = model.params().iter().map(|(_, p)| p.grad.clone()).collect();
        assert_eq!(direct, grads, "{}", loss.name());
        let ids: Vec<_> = model.params().iter().map(|(id, _)| id).collect();
        let mut worst: f64 = 0.0;
        for (id, g) in ids.into_iter().zip(&grads) {
            for (k, &analytic) in g.iter().enumerate() {
                let v0 = model.params().get(id).value[k];
                model.params_mut().get_mut(id).value[k] = v0 + H;
                let fp = model.evaluate(&data, loss, 6).unwrap().loss;
                model.params_mut().get_mut(id).value[k] = v0 - H;
                let fm = model.evaluate(&data, loss, 6).unwrap().loss;
                model.params_mut().get_mut(id).value[k] = v0;
                let numeric = (fp - fm) / (2.0 * H);
                worst = worst.max((analytic - numeric).abs() / (1.0 + analytic.abs().max(numeric.abs())));
            }
        }
        assert!(worst < TOL, "{}: worst relative error {worst:e}", loss.name());
        assert!(grads.iter().flatten().any(|&g| g.abs() > 1e-3), "{}: gradients are all tiny", loss.name());
    }
}

// ---------- checkpoints ----------

#[test]
fn checkpoint_round_trip_is_exact() {
    let mut a = mixed_model(11);
    let x: Vec<f32> = (0..15).map(|i| (i as f32 * 0.37).sin()).collect();
    a.forward(&x, true).unwrap(); // move the batch-norm statistics off their start
    let bytes = a.to_safetensors(false).unwrap();
    let mut b = mixed_model(12);
    assert_ne!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
    b.load_safetensors_bytes(&bytes).unwrap();
    for ((_, pa), (_, pb)) in a.params().iter().zip(b.params().iter()) {
        assert_eq!(pa.value, pb.value, "{}", pa.name);
    }
    assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
    assert_eq!(bytes, b.to_safetensors(false).unwrap());

    let dir = std::env::temp_dir().join(format!("gradlab-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    a.save_safetensors(&path, true).unwrap();
    let mut c = mixed_model(13);
    c.load_safetensors(&path).unwrap();
    assert_eq!(a.predict(&x).unwrap(), c.predict(&x).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoint_layout_is_documented_names_shapes_and_le_bytes() {
    let mut model = Sequential::<f32>::new(2).add(Dense::new(3)).seed(4).build().unwrap();
    model
        .params_mut()
        .iter_mut()
        .for_each(|(_, p)| p.grad.iter_mut().enumerate().for_each(|(i, g)| *g = i as f32));
    let bytes = model.to_safetensors(true).unwrap();
    let st = gradlab::model::checkpoint::safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(
        names,
        [
            "layers.0.dense.bias",
            "layers.0.dense.bias.grad",
            "layers.0.dense.weight",
            "layers.0.dense.weight.grad"
        ]
    );
    let w = st.tensor("layers.0.dense.weight").unwrap();
    assert_eq!(w.shape(), [2, 3]);
    assert_eq!(w.dtype(), gradlab::model::checkpoint::safetensors::Dtype::F32);
    let first = f32::from_le_bytes(w.data()[4..8].try_into().unwrap());
    assert_eq!(first, model.params().iter().next().unwrap().1.value[1]);
    assert_eq!(st.tensor("layers.0.dense.bias").unwrap().shape(), [3]);
    let g = st.tensor("layers.0.dense.weight.grad").unwrap();
    assert_eq!(f32::from_le_bytes(g.data()[20..24].try_into().unwrap()), 5.0);
}

#[test]
fn loading_a_mismatched_checkpoint_fails_with_the_tensor_name() {
    let small = Sequential::<f32>::new(2).add(Dense::new(3)).build().unwrap();
    let bytes = small.to_safetensors(false).unwrap();
    let mut wide = Sequential::<f32>::new(2).add(Dense::new(4)).build().unwrap();
    let msg = wide.load_safetensors_bytes(&bytes).unwrap_err().to_string();
    contains_all(&msg, &["layers.0.dense.weight", "[2, 3]"]);
    let mut deeper = Sequential::<f32>::new(2).add(Dense::new(3)).add(Dense::new(1)).build().unwrap();
    let msg = deeper.load_safetensors_bytes(&bytes).unwrap_err().to_string();
    contains_all(&msg, &["layers.1.dense.weight", "missing"]);
    let two = Sequential::<f32>::new(2).add(Dense::new(3)).add(Dense::new(1)).build().unwrap();
    let mut one = Sequential::<f32>::new(2).add(Dense::new(3)).build().unwrap();
    let msg = one.load_safetensors_bytes(&two.to_safetensors(false).unwrap()).unwrap_err().to_string();
    contains_all(&msg, &["layers.1.dense.weight"]);
}

/// `values` as rows of `cols`.
fn view<T>(values: &[T], cols: usize) -> MatrixView<'_, T> {
    MatrixView::new(values, cols).expect("whole rows")
}

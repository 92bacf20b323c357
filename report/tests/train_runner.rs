//! Tests of the `train` runner on tiny scenarios written inline: it trains and records, bad model specs
//! are errors naming the file and line, a NaN stop is a result with its records kept, and the verdicts
//! and thresholds come through.
use report::error::{ReportError, Result};
use report::experiments::{RunOptions, run_plan, runner_for};
use report::record::Output;
use report::run::run_one;
use report::scenario::Scenario;
use std::path::Path;

const XOR: &str = r#"title = "t"
source = "004_52a98d029cfafbd9.txt"
experiment = "xor"
kind = "train"
seeds = [0, 1]

[params]
predict = [[0, 0], [0, 1], [1, 0], [1, 1]]
[params.data]
name = "xor"

[[variants]]
name = "relu"
loss = "binary_crossentropy"
epochs = 50
batch_size = 4
optimizer = { type = "adam", learning_rate = 0.05 }
[variants.model]
inputs = 2
layers = [
  { type = "dense", units = 8, activation = "relu", initializer = "he_normal" },
  { type = "dense", units = 1, activation = "sigmoid" },
]
"#;

/// Seed 003 part 3's exploding network next to a tame one (glorot_uniform), on pure-noise regression.
const EXPLODING: &str = r#"title = "t"
source = "003_329da3b06dde4f0f.txt"
experiment = "part 3"
kind = "train"
seeds = [0, 1]

[params.data]
name = "gaussian_regression"
samples = 100
signal = false

[[variants]]
name = "big"
loss = "mse"
epochs = 20
batch_size = 100
optimizer = { type = "sgd", learning_rate = 0.1 }
[variants.model]
inputs = 10
layers = [
  { type = "dense", units = 64, initializer = "random_normal", scale = 2.0 },
  { type = "dense", units = 64, activation = "relu", initializer = "random_normal", scale = 2.0 },
  { type = "dense", units = 1 },
]

[[variants]]
name = "tame"
loss = "mse"
epochs = 20
batch_size = 100
optimizer = { type = "sgd", learning_rate = 0.1 }
[variants.model]
inputs = 10
layers = [
  { type = "dense", units = 64 },
  { type = "dense", units = 64, activation = "relu" },
  { type = "dense", units = 1 },
]
"#;

fn parse(text: &str) -> Result<Scenario> {
    Scenario::parse(Path::new("scenarios/t.toml"), text.to_string())
}

/// Prepares and runs the scenario, as `report` does.
fn run(s: &Scenario, opts: &RunOptions) -> Result<Output> {
    run_plan((runner_for(s)?.prepare)(s, opts)?.as_ref())
}

fn check(s: &Scenario) -> Result<()> {
    (runner_for(s)?.prepare)(s, &RunOptions::default()).map(|_| ())
}

/// The (line, message) of the scenario error that parsing or checking `text` gives.
fn check_error(text: &str) -> (usize, String) {
    match parse(text).and_then(|s| check(&s)) {
        Err(ReportError::Scenario { path, line, msg, .. }) => {
            assert_eq!(path, Path::new("scenarios/t.toml"));
            (line, msg)
        }
        Err(other) => panic!("expected a scenario error, got {other}"),
        Ok(()) => panic!("expected an error"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect("needle in text")].matches('\n').count() + 1
}

fn figure(out: &Output, key: &str) -> f64 {
    out.key_figures.iter().find(|f| f.key == key).unwrap_or_else(|| panic!("no figure {key}")).value
}

#[test]
fn xor_trains_and_records_every_layer() {
    let s = parse(XOR).unwrap();
    check(&s).unwrap();
    let out = run(&s, &RunOptions::default()).unwrap();
    let rows = tidy(&out);
    let names: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.layer).collect();
    assert!(names.contains("1:dense(relu)") && names.contains("2:dense") && names.contains("*"), "{names:?}");
    // The layer column is the engine's name everywhere: a position prefix, or `*` for the whole network.
    assert!(rows.iter().all(|r| r.layer == "*" || engine::monitor::layer_position(r.layer).is_some()));
    let preds: Vec<_> = rows.iter().filter(|r| r.metric == "prediction").collect();
    assert_eq!(preds.len(), 8, "4 inputs × 2 seeds");
    assert!(preds.iter().all(|r| r.layer == "*"));
    let at: Vec<&str> = preds.iter().take(4).map(|r| r.point).collect();
    assert_eq!(at, vec!["row=0", "row=1", "row=2", "row=3"]);
    // 50 Adam steps at 0.05 learn XOR in these seeds: the loss falls well below ln 2.
    assert!(figure(&out, "final_loss.relu") < 0.5, "{}", figure(&out, "final_loss.relu"));
    let (lo, med, hi) = (
        figure(&out, "final_loss.relu.min"),
        figure(&out, "final_loss.relu"),
        figure(&out, "final_loss.relu.max"),
    );
    assert!(lo <= med && med <= hi);
    // Step-0 snapshots exist per layer, for charts over the layer index.
    assert_eq!(rows.iter().filter(|r| r.metric == "init_grad_norm").count(), 2 * 2);
}

fn tidy(out: &Output) -> Vec<engine::monitor::record::TidyRow<'_>> {
    out.records.iter().flat_map(|r| r.tidy()).collect()
}

#[test]
fn a_run_is_the_same_on_one_and_on_two_threads() {
    let s = parse(XOR).unwrap();
    let on = |n| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        pool.install(|| run(&s, &RunOptions::default()).unwrap())
    };
    let (a, b) = (on(1), on(2));
    assert_eq!(a.records, b.records);
    assert_eq!(a.key_figures, b.key_figures);
}

#[test]
fn model_inputs_that_do_not_fit_the_data_name_their_line() {
    let text = XOR.replace("inputs = 2", "inputs = 3");
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "inputs = 3"));
    assert!(msg.contains("inputs = 3") && msg.contains("2 features"), "{msg}");
}

#[test]
fn a_layer_that_cannot_be_built_names_its_own_line() {
    let text = XOR.replace(
        "{ type = \"dense\", units = 1, activation = \"sigmoid\" },",
        "{ type = \"lstm\", units = 4, features = 3 },\n  { type = \"dense\", units = 1, activation = \"sigmoid\" },",
    );
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "{ type = \"lstm\""));
    assert!(msg.contains("(lstm)") && msg.contains("steps of 3 features"), "{msg}");
    let text = XOR.replace(
        "units = 8, activation = \"relu\"",
        "units = 8, activation = \"relu\" },\n  { type = \"dropout\", rate = 0.1, activation = \"relu\"",
    );
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "{ type = \"dropout\""));
    assert!(msg.contains("unknown field `activation`") && msg.contains("rate"), "{msg}");
}

#[test]
fn outputs_that_do_not_fit_and_missing_training_settings_are_errors() {
    let text = XOR.replace("units = 1, activation = \"sigmoid\"", "units = 3, activation = \"sigmoid\"");
    let (_, msg) = check_error(&text);
    assert!(msg.contains("3 outputs"), "{msg}");
    let text = XOR.replace("epochs = 50\n", "");
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "[[variants]]"));
    assert!(msg.contains("`epochs`"), "{msg}");
    let text = XOR.replace("[params.data]\nname = \"xor\"", "[params.data]\nname = \"xor\"\nclasses = 3");
    let (_, msg) = check_error(&text);
    assert!(msg.contains("`classes` does not apply"), "{msg}");
}

#[test]
fn a_non_finite_stop_keeps_the_records_and_is_a_result() {
    let s = parse(EXPLODING).unwrap();
    check(&s).unwrap();
    let out = run(&s, &RunOptions::default()).expect("a NaN stop is a result, not an error");
    let rows = tidy(&out);
    let big: Vec<_> = rows.iter().filter(|r| r.variant == "big").collect();
    for seed in [0, 1] {
        let stop = big.iter().find(|r| r.seed == seed && r.metric == "stopped_non_finite").expect("stop row");
        // Everything recorded before the stop is still there, step 0 included.
        assert!(big.iter().any(|r| r.seed == seed && r.step == 0 && r.metric == "grad_norm"));
        assert!(
            big.iter().any(|r| r.seed == seed && r.step == stop.step && r.metric.starts_with("non_finite:"))
        );
        assert!(stop.step > 0 && stop.step < 20, "stopped at {}", stop.step);
    }
    assert_eq!(figure(&out, "nan_stops.big"), 2.0);
    assert_eq!(figure(&out, "nan_stops.tame"), 0.0);
    assert_eq!(figure(&out, "steps.tame"), 20.0);
    assert!(figure(&out, "first_explosion.big") == 0.0, "the source's first event is at initialisation");
}

#[test]
fn verdicts_come_out_per_variant_and_thresholds_follow_the_scenario() {
    let s = parse(EXPLODING).unwrap();
    let r = run_one(&s, &RunOptions::default()).unwrap();
    let kinds = |v: &str| -> Vec<String> {
        let d = r.diagnoses.iter().find(|d| d.variant == v).expect("a diagnosis per variant");
        assert_eq!(d.runs, 2);
        d.verdicts.iter().map(|x| x.kind.clone()).collect()
    };
    assert_eq!(kinds("big")[0], "exploding");
    let big = &r.diagnoses[0].verdicts[0];
    assert_eq!(big.seeds, vec![0, 1]);
    assert!(big.evidence.iter().any(|e| e.contains("non-finite")), "{:?}", big.evidence);
    assert_eq!(kinds("tame"), vec!["healthy".to_string()]);
    // The verdicts are part of the summary JSON the page is rendered from.
    let json: serde_json::Value = serde_json::from_str(&report::data::to_summary_json(&r)).unwrap();
    assert_eq!(json["diagnoses"][0]["verdicts"][0]["kind"], "exploding");

    // A [diagnose] threshold changes what counts as an explosion event.
    let text = format!("{EXPLODING}\n[diagnose]\nexplode_norm = 1e30\n");
    let out = run(&parse(&text).unwrap(), &RunOptions::default()).unwrap();
    assert_eq!(figure(&out, "explosions.big"), 0.0);
    let default = run(&s, &RunOptions::default()).unwrap();
    assert!(figure(&default, "explosions.big") >= 1.0);
}

#[test]
fn an_unknown_diagnose_threshold_names_its_line() {
    let text = format!("{EXPLODING}\n[diagnose]\nexplode_nrom = 5.0\n");
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "explode_nrom"));
    assert!(msg.contains("explode_nrom") && msg.contains("explode_norm"), "{msg}");
}

#[test]
fn quick_runs_take_their_sizes_from_the_quick_table_only() {
    let text = XOR.replace("[params.data]", "max_epochs = 3\n[params.quick]\nmax_epochs = 2\n[params.data]");
    let s = parse(&text).unwrap();
    let quick = run(&s, &RunOptions { quick: true, seed: Some(3) }).unwrap();
    assert_eq!(figure(&quick, "steps.relu"), 2.0, "[params.quick] max_epochs, one step each");
    assert!(quick.records.iter().all(|r| r.seed == 3));
    let full = run(&s, &RunOptions { quick: false, seed: Some(3) }).unwrap();
    assert_eq!(figure(&full, "steps.relu"), 3.0, "[params] max_epochs");
    // Without a quick table a quick run is the full run.
    let plain = parse(XOR).unwrap();
    let quick = run(&plain, &RunOptions { quick: true, seed: Some(3) }).unwrap();
    assert_eq!(figure(&quick, "steps.relu"), 50.0, "the variant's own epochs");
}

#[test]
fn a_bad_value_inside_params_data_names_its_line_and_column() {
    let text = XOR.replace("name = \"xor\"", "name = \"xor\"\ntest_fraction = 1.5");
    let s = parse(&text).unwrap();
    let Err(ReportError::Scenario { line, column, msg, .. }) = check(&s) else { panic!("expected an error") };
    assert_eq!((line, column), (line_of(&text, "test_fraction"), 17), "{msg}");
    assert!(msg.contains("data.test_fraction = 1.5") && msg.contains("[0, 1)"), "{msg}");
    // The same value in [params.quick] is found by a quick run, at its own place.
    let text = format!("{XOR}\n[params.quick]\ndata = {{ test_fraction = -0.5 }}\n");
    let s = parse(&text).unwrap();
    check(&s).unwrap();
    let Err(ReportError::Scenario { line, column, msg, .. }) =
        (runner_for(&s).unwrap().prepare)(&s, &RunOptions { quick: true, seed: None }).map(|_| ())
    else {
        panic!("expected an error in a quick run")
    };
    assert_eq!((line, column), (line_of(&text, "test_fraction = -0.5"), 26), "{msg}");
    assert!(msg.contains("[params.quick] data.test_fraction = -0.5"), "{msg}");
}

// ---------- the model language through the runner (fixtures in report/tests/fixtures/) ----------

const MODEL_LANGUAGE: &str = include_str!("fixtures/model_language.toml");
const LSTM_ADDING: &str = include_str!("fixtures/lstm_adding.toml");

/// Every row of `variant`'s runs, all seeds, in the order written.
fn rows<'a>(out: &'a Output, variant: &str) -> Vec<engine::monitor::record::TidyRow<'a>> {
    out.records.iter().filter(|r| r.variant == variant).flat_map(|r| r.tidy()).collect()
}

/// `metric` at step 0 of seed `seed` of `variant`, by the engine's layer name, in layer order.
fn at_step0(out: &Output, variant: &str, seed: u64, metric: &str) -> Vec<(String, f64)> {
    rows(out, variant)
        .into_iter()
        .filter(|r| r.seed == seed && r.step == 0 && r.metric == metric && r.point.is_empty())
        .filter(|r| r.layer != engine::monitor::GLOBAL)
        .map(|r| (r.layer.to_string(), r.value))
        .collect()
}

fn fixture(text: &str) -> (Output, report::run::ScenarioResult) {
    let s = parse(text).unwrap();
    check(&s).unwrap();
    (run(&s, &RunOptions::default()).unwrap(), run_one(&s, &RunOptions::default()).unwrap())
}

fn verdicts(r: &report::run::ScenarioResult, variant: &str) -> Vec<String> {
    let d = r.diagnoses.iter().find(|d| d.variant == variant).expect("a diagnosis per variant");
    assert_eq!(d.runs, 2, "{variant}: both seeds diagnosed");
    d.verdicts.iter().map(|v| v.kind.clone()).collect()
}

#[test]
fn an_orthogonal_half_gain_tanh_net_halves_the_backward_signal_per_layer() {
    let (out, result) = fixture(MODEL_LANGUAGE);
    for seed in [0, 1] {
        let g = at_step0(&out, "orthogonal_half_tanh", seed, "signal_norm");
        assert_eq!(g.len(), 9, "{g:?}");
        assert_eq!(g[0].0, "1:dense(tanh)");
        // Q·0.5 is an isometry times 0.5 and tanh' ≈ 1 near 0: dL/dh halves at every layer towards the input.
        for w in g[..8].windows(2) {
            let r = w[0].1 / w[1].1;
            assert!((r - 0.5).abs() < 0.03, "seed {seed}: {} / {} = {r}", w[0].0, w[1].0);
        }
    }
    assert_eq!(figure(&out, "steps.orthogonal_half_tanh"), 30.0, "2 epochs of 15 batches");
    assert!(!verdicts(&result, "orthogonal_half_tanh").is_empty());
}

#[test]
fn batch_norm_before_relu_feeds_the_relu_unit_normal_inputs_and_trains() {
    let (out, result) = fixture(MODEL_LANGUAGE);
    for seed in [0, 1] {
        let mean = at_step0(&out, "bn_before_relu", seed, "act_mean");
        let names: Vec<&str> = mean.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[..3],
            ["1:dense", "2:batch_normalization", "3:activation(relu)"],
            "the activation is a layer of its own"
        );
        // ReLU of N(0, 1): mean 1/√(2π) ≈ 0.399, std √(1/2 − 1/(2π)) ≈ 0.584.
        let std = at_step0(&out, "bn_before_relu", seed, "act_std");
        let (m, s) = (mean[2].1, std[2].1);
        assert!((m - 0.399).abs() < 0.04 && (s - 0.584).abs() < 0.05, "seed {seed}: mean {m}, std {s}");
    }
    let bn = rows(&out, "bn_before_relu");
    let first_loss = |seed| bn.iter().find(|r| r.seed == seed && r.metric == "loss").unwrap();
    for seed in [0, 1] {
        let trained = bn.iter().rfind(|r| r.seed == seed && r.metric == "epoch_loss").unwrap();
        assert!(
            trained.value < 0.8 * first_loss(seed).value,
            "{} vs {}",
            trained.value,
            first_loss(seed).value
        );
    }
    let v = verdicts(&result, "bn_before_relu");
    assert!(!v.iter().any(|k| k.contains("vanishing") || k.contains("exploding")), "{v:?}");
}

#[test]
fn a_constant_bias_and_the_at_initialisation_mode_work_in_a_train_scenario() {
    let (out, result) = fixture(MODEL_LANGUAGE);
    for seed in [0, 1] {
        let low = at_step0(&out, "sigmoid_bias_minus_1_5", seed, "act_mean");
        let zero = at_step0(&out, "sigmoid_bias_zero", seed, "act_mean");
        // σ(−1.5) ≈ 0.18: every hidden layer sits low; with zero biases they sit near 0.5.
        for ((n, a), (_, b)) in low[..3].iter().zip(&zero[..3]) {
            assert!(*a < 0.3 && *b > 0.4, "seed {seed}, {n}: {a} vs {b}");
        }
    }
    // epochs = 0: one monitored forward and backward pass, no step taken, nothing updated.
    for v in ["sigmoid_bias_minus_1_5", "sigmoid_bias_zero"] {
        let mine = rows(&out, v);
        assert!(mine.iter().any(|r| r.metric == "grad_norm"));
        assert!(mine.iter().filter(|r| r.metric == "grad_norm" || r.metric == "loss").all(|r| r.step == 0));
        assert!(!mine.iter().any(|r| r.metric == "update_ratio" || r.metric == "epoch_loss"));
        assert_eq!(figure(&out, &format!("steps.{v}")), 0.0);
        assert!(figure(&out, &format!("grad_ratio0.{v}")) > 0.0);
        verdicts(&result, v);
    }
}

#[test]
fn input_scale_reproduces_the_unscaled_input_mistake() {
    let scaled = MODEL_LANGUAGE.replace("samples = 600\n", "samples = 600\ninput_scale = 255.0\n");
    let (raw, _) = fixture(&scaled);
    let (out, _) = fixture(MODEL_LANGUAGE);
    for seed in [0, 1] {
        let sat = |o: &Output| at_step0(o, "sigmoid_bias_zero", seed, "saturated_frac")[0].1;
        // Pixels in [0, 1] keep the first sigmoid layer mostly unsaturated; ×255 saturates it.
        assert!(sat(&out) < 0.1 && sat(&raw) > 0.5, "seed {seed}: {} vs {}", sat(&out), sat(&raw));
    }
    let bad = MODEL_LANGUAGE.replace("samples = 600\n", "samples = 600\ninput_scale = -1.0\n");
    let (line, msg) = check_error(&bad);
    assert_eq!(line, line_of(&bad, "input_scale"));
    assert!(msg.contains("input_scale") && msg.contains("positive"), "{msg}");
}

#[test]
fn an_lstm_trains_and_is_diagnosed_on_the_adding_problem() {
    let (out, result) = fixture(LSTM_ADDING);
    for seed in [0, 1] {
        let h: Vec<_> = rows(&out, "lstm")
            .into_iter()
            .filter(|r| r.seed == seed && r.step == 0 && r.metric == "hidden_grad_norm")
            .collect();
        assert_eq!(h.len(), 20, "dL/dh_t for each of the 20 steps");
        // One layer, the time step in the point column.
        assert!(h.iter().all(|r| r.layer == "1:lstm" && r.point.starts_with("t=")), "{h:?}");
    }
    assert_eq!(figure(&out, "steps.lstm"), 96.0, "4 epochs of 24 batches");
    // The tanh RNN loses the early steps' gradient; the LSTM's cell path (forget bias 2) keeps it.
    assert!(verdicts(&result, "simple_rnn").contains(&"vanishing_over_time".to_string()));
    assert!(!verdicts(&result, "lstm").contains(&"vanishing_over_time".to_string()));
    // A sequence set needs the recurrent layer to be told its step width.
    let text = LSTM_ADDING.replace("units = 16, features = 2, forget_bias", "units = 16, forget_bias");
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "{ type = \"lstm\""));
    assert!(msg.contains("features = 2") && msg.contains("lstm"), "{msg}");
}

#[test]
fn the_copy_task_trains_a_recurrent_stack_whose_output_is_the_recall_window() {
    let text = r#"title = "t"
source = "none"
experiment = "copy"
kind = "train"
seeds = [0]

[params.data]
name = "copy"
length = 3
alphabet = 4
delay = 5
samples = 128

[[variants]]
name = "gru"
loss = "binary_crossentropy"
epochs = 2
batch_size = 32
optimizer = { type = "adam", learning_rate = 0.01 }
[variants.model]
inputs = 66
layers = [
  { type = "gru", units = 8, features = 6, return_sequences = true },
  { type = "lstm", units = 8 },
  { type = "dense", units = 12 },
]
"#;
    // 3 + 5 + 3 = 11 steps of 4 + 2 channels; targets are 3 one-hot rows of 4.
    let s = parse(text).unwrap();
    check(&s).unwrap();
    let out = run(&s, &RunOptions::default()).unwrap();
    assert_eq!(figure(&out, "steps.gru"), 8.0, "2 epochs of 4 batches");
    let rows = tidy(&out);
    let names: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.layer).collect();
    assert!(names.contains("1:gru") && names.contains("2:lstm"), "{names:?}");
    // The wrong width is found before anything runs: the inputs, or a head that is not the recall window.
    let (_, msg) = check_error(&text.replace("inputs = 66", "inputs = 60"));
    assert!(msg.contains("66 features"), "{msg}");
    let (_, msg) = check_error(&text.replace("units = 12", "units = 4"));
    assert!(msg.contains("4 outputs"), "{msg}");
}

/// `[[figures]]` read the records: a cell, a reduction over steps, a ratio of two layers, a ratio of two
/// variants' figures, each checked against a scan of the same records.
#[test]
fn declared_figures_read_the_records() {
    let text = format!(
        "{EXPLODING}
[[figures]]
key = \"sig_ratio\"
what = \"first/last layer signal norm at step 0\"
metric = \"signal_norm\"
step = \"first\"
layer = \"first\"
over = {{ layer = \"last\" }}

[[figures]]
key = \"loss_max\"
what = \"largest batch loss\"
metric = \"loss\"
reduce = \"max\"

[[figures]]
key = \"grad2_at5\"
what = \"layer 2's gradient norm at step 5\"
metric = \"grad_norm\"
step = 5
layer = 2

[[figures]]
key = \"big_over_tame\"
what = \"largest loss, big / tame\"
ratio_of = [\"loss_max.big\", \"loss_max.tame\"]
"
    );
    let s = parse(&text).unwrap();
    let out = run(&s, &RunOptions { seed: Some(0), ..RunOptions::default() }).unwrap();
    for (vi, r) in out.records.iter().enumerate() {
        let v = &r.variant;
        let series = |layer: &str, metric: &str| r.series(layer, metric);
        let sig = r.layers_with("signal_norm");
        let ratio = series(sig[0], "signal_norm")[0].1 / series(sig[sig.len() - 1], "signal_norm")[0].1;
        assert_eq!(figure(&out, &format!("sig_ratio.{v}")), ratio);
        let max = series("*", "loss").iter().map(|x| x.1).fold(f64::NAN, f64::max);
        assert_eq!(figure(&out, &format!("loss_max.{v}")), max, "variant {vi}");
        let at5 = series("2:dense(relu)", "grad_norm").iter().find(|x| x.0 == 5).map(|x| x.1);
        // The exploding net may stop before step 5; then the figure is absent.
        match at5 {
            Some(g) => assert_eq!(figure(&out, &format!("grad2_at5.{v}")), g),
            None => assert!(!out.key_figures.iter().any(|f| f.key == format!("grad2_at5.{v}"))),
        }
    }
    let ratio = figure(&out, "loss_max.big") / figure(&out, "loss_max.tame");
    assert_eq!(figure(&out, "big_over_tame"), ratio);
}

#[test]
fn a_figure_needs_a_metric_or_a_ratio() {
    let text = format!("{XOR}\n[[figures]]\nkey = \"x\"\nwhat = \"nothing\"\n");
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "[[figures]]"));
    assert!(msg.contains("needs a `metric`"), "{msg}");
    let text =
        format!("{XOR}\n[[figures]]\nkey = \"x\"\nwhat = \"w\"\nmetric = \"loss\"\nreduce = \"biggest\"\n");
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "reduce = "));
    assert!(msg.contains("count_above(X)"), "{msg}");
}

#[test]
fn figures_in_a_scenario_of_another_kind_are_an_error() {
    let fig = "\n[[figures]]\nkey = \"x\"\nwhat = \"w\"\nmetric = \"loss\"\n";
    let text = format!("{XOR}{fig}").replace("kind = \"train\"", "kind = \"activations\"");
    let Err(ReportError::Scenario { line, msg, .. }) = parse(&text) else { panic!("expected an error") };
    assert_eq!(line, line_of(&text, "[[figures]]"));
    assert!(msg.contains("`train` runner only"), "{msg}");
}

/// A dense stack profiled at initialisation: the measured per-layer factor of real nets matches mean
/// field (ReLU/He keeps χ₁ = 1, ReLU/Glorot halves the squared gradient per layer, tanh/Glorot sits just
/// below 1; width 64, 3 seeds, 10 %), He keeps ReLU's activation variance within a factor 2 over 8 layers
/// where random_normal(0.01) collapses it, the kernel draws have the initialiser's standard deviation, and
/// a figure `across` the variants reduces their medians.
#[test]
fn a_profiled_dense_stack_matches_mean_field_at_initialisation() {
    let mut text = String::from(
        r#"title = "t"
source = "s"
experiment = "e"
kind = "train"
seeds = [0, 1, 2]

[params]
data = { name = "gaussian_regression", signal = false, noise_std = 1.0, features = 64, samples = 32, outputs = 4 }
loss = "mse"
epochs = 0
profile = true
mean_field = true
built_in_figures = false
kernel_draws = { shape = [200, 100], bins = 20 }

[[figures]]
key = "chi"
what = "measured χ₁"
metric = "chi_measured"

[[figures]]
key = "worst"
what = "largest |measured / predicted − 1|"
metric = "rel_error"
across = "max_abs"

[[figures]]
key = "act_var_ratio"
what = "activation variance, last / first layer"
metric = "activation_variance"
layer = "last"
over = { layer = "first" }

[[figures]]
key = "weight_std"
what = "std of the draws"
metric = "weight_std"
"#,
    );
    let nets = [
        ("relu_he", "relu", "he_normal"),
        ("relu_glorot", "relu", "glorot_normal"),
        ("tanh_glorot", "tanh", "glorot_normal"),
        ("relu_tiny", "relu", "random_normal(stddev=0.01)"),
    ];
    for (name, act, init) in nets {
        text += &format!(
            "\n[[variants]]\nname = \"{name}\"\nmodel = {{ inputs = 64, layers = [{{ type = \"dense\", units = 64, \
             activation = \"{act}\", initializer = \"{init}\", repeat = 8 }}, {{ type = \"dense\", units = 4 }}] }}\n"
        );
    }
    let out = run(&parse(&text).unwrap(), &RunOptions::default()).unwrap();
    let global = |variant: &str, metric: &str| -> f64 {
        let r = out.records.iter().find(|r| r.variant == variant).unwrap();
        r.series("*", metric)[0].1
    };
    for (name, want) in [("relu_he", Some(1.0)), ("relu_glorot", Some(0.5)), ("tanh_glorot", None)] {
        let (chi, pred) = (figure(&out, &format!("chi.{name}")), global(name, "chi_predicted"));
        if let Some(w) = want {
            assert!((pred - w).abs() < 0.02, "{name}: theory {pred}");
        }
        assert!((chi / pred - 1.0).abs() < 0.1, "{name}: measured {chi}, predicted {pred}");
        let layers = out.records.iter().find(|r| r.variant == name).unwrap().layers_with("grad_h").len();
        assert_eq!(layers, 8, "{name}: the profile covers the stack only");
    }
    let he = figure(&out, "act_var_ratio.relu_he");
    assert!((0.5..2.0).contains(&he), "He: {he}");
    // σ_w² = 64·10⁻⁴: the variance shrinks by σ_w²/2 = 0.0032 per layer, 7 layers.
    assert!(figure(&out, "act_var_ratio.relu_tiny") < 1e-15);
    let std = figure(&out, "weight_std.relu_he");
    assert!((std / (2.0f64 / 200.0).sqrt() - 1.0).abs() < 0.01, "he_normal on 200 × 100: {std}");
    let worst = ["relu_he", "relu_glorot", "tanh_glorot", "relu_tiny"]
        .iter()
        .map(|v| {
            let f = |k: &str| out.key_figures.iter().find(|f| f.key == k).map(|f| f.value);
            let per_seed: Vec<f64> = out
                .records
                .iter()
                .filter(|r| r.variant == *v)
                .map(|r| r.series("*", "rel_error")[0].1)
                .collect();
            assert!(f(&format!("rel_error.{v}")).is_none(), "an `across` figure has no per-variant rows");
            report::stats::median(&per_seed).abs()
        })
        .fold(0.0, f64::max);
    assert_eq!(figure(&out, "worst"), worst);
}

#[test]
fn mean_field_needs_a_square_dense_stack() {
    let text = XOR.replace("[params]\n", "[params]\nmean_field = true\n");
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "{ type = \"dense\", units = 8"));
    assert!(msg.contains("square"), "{msg}");
}

/// Residual and plain blocks profiled in float64 before training: one row per block; with the slide's
/// tiny init the plain stack loses its gradient by orders of magnitude per block (far below float32's
/// range) while the skip keeps it; with a standard init an un-normalised residual stack grows the
/// gradient with depth and a plain one does not; the batch loss is recorded at every step.
#[test]
fn residual_and_plain_blocks_are_profiled_in_float64_before_training() {
    let mut text = String::from(
        r#"title = "t"
source = "s"
experiment = "e"
kind = "train"
seeds = [0]

[params]
data = { name = "gaussian_classification", samples = 32, classes = 2, features = 16, separation = 4.0 }
loss = "sparse_categorical_crossentropy"
epochs = 1
batch_size = 8
optimizer = { type = "adam", learning_rate = 0.001 }
profile = true
precision = "f64"
profile_batch = 16
batch_loss = true
built_in_figures = false
monitor = { every = 0 }

[[figures]]
key = "kept"
what = "‖dL/dy_1‖ / ‖dL/dy_20‖"
metric = "out_grad"
layer = "first"
over = { layer = "last" }
"#,
    );
    let tiny = "random_normal(stddev=0.01)";
    for (name, skip, first, second) in [
        ("plain_tiny", false, tiny, tiny),
        ("res_tiny", true, tiny, tiny),
        ("plain_std", false, "he_normal", "glorot_normal"),
        ("res_std", true, "he_normal", "glorot_normal"),
    ] {
        text += &format!(
            "\n[[variants]]\nname = \"{name}\"\n[variants.model]\ninputs = 16\nlayers = [\n  \
             {{ type = \"residual\", skip = {skip}, repeat = 20, layers = [\n    \
             {{ type = \"dense\", units = 16, activation = \"relu\", initializer = \"{first}\" }},\n    \
             {{ type = \"dense\", units = 16, initializer = \"{second}\" }},\n  ] }},\n  \
             {{ type = \"dense\", units = 2 }},\n]\n"
        );
    }
    let out = run(&parse(&text).unwrap(), &RunOptions::default()).unwrap();
    for r in &out.records {
        let blocks = r.layers_with("out_grad");
        assert_eq!(blocks.len(), 20, "{}: one row per block", r.variant);
        assert!(r.layers_with("kernel_grad").len() == 20 && r.layers_with("out_norm").len() == 20);
        assert_eq!(r.series("*", "batch_loss").len(), 4, "{}: 32 samples in batches of 8", r.variant);
        assert!(!r.tidy().any(|x| x.metric == "grad_norm"), "the monitor is off");
    }
    let plain_tiny = figure(&out, "kept.plain_tiny");
    assert!(plain_tiny > 0.0 && plain_tiny < 1e-40, "plain, tiny init: {plain_tiny:e}");
    let res_tiny = figure(&out, "kept.res_tiny");
    assert!((0.9..1.1).contains(&res_tiny), "residual kept {res_tiny}");
    let (res_std, plain_std) = (figure(&out, "kept.res_std"), figure(&out, "kept.plain_std"));
    assert!(res_std > 100.0 && plain_std < 10.0, "standard init: residual {res_std}, plain {plain_std}");
    assert!(res_std > 100.0 * plain_std);
}

/// A sequence-length sweep: the LSTM and the SimpleRNN trained on the adding problem at T = 4 and 8,
/// their inputs following the data; a trace variant at initialisation on N(0, 1) data of its own.
const SWEEP: &str = r#"title = "t"
source = "none"
experiment = "sweep"
kind = "train"
seeds = [0, 1]

[params]
loss = "mse"
epochs = 2
batch_size = 8
optimizer = { type = "adam", learning_rate = 0.02 }
built_in_figures = false
tolerance = 0.1
profile = true
profile_after = true
profile_on = "test"
profile_batch = 4
precision = "f64"
batch_loss = true
[params.data]
name = "adding"
samples = 64
test_fraction = 0.25
[params.monitor]
every = 0

[[variants]]
name = "lstm"
model = { layers = [{ type = "lstm", units = 6, features = 2 }, { type = "dense", units = 1 }] }
sweep = { coordinate = "T", param = "data.steps", values = [4, 8] }

[[variants]]
name = "rnn"
model = { layers = [{ type = "simple_rnn", units = 6, features = 2 }, { type = "dense", units = 1 }] }
sweep = { coordinate = "T", param = "data.steps", values = [4, 8] }

[[variants]]
name = "trace"
epochs = 0
params = { profile_on = "train", data = { name = "gaussian_regression", signal = false, features = 30, samples = 5, test_fraction = 0.0 } }
model = { inputs = 30, layers = [{ type = "simple_rnn", units = 6, features = 3 }, { type = "dense", units = 1 }] }

[[figures]]
key = "mse"
what = "test MSE"
metric = "final_test_loss"
per = "T"
variants = ["lstm", "rnn"]

[[figures]]
key = "surviving"
what = "dL/dh_0 / dL/dh_last at initialisation"
metric = "state_grad"
step = "first"
layer = "first"
reduce = "first_over_last"
per = "T"
variants = ["lstm", "rnn"]

[[figures]]
key = "surviving_trace"
what = "the same on the trace"
metric = "state_grad"
step = "first"
layer = "first"
reduce = "first_over_last"
variants = ["trace"]

[[figures]]
key = "lstm_over_rnn"
what = "surviving at T = 8, LSTM / SimpleRNN"
ratio_of = ["surviving_T8.lstm", "surviving_T8.rnn"]
"#;

/// The median over seeds of a figure, from `value(seed)` computed independently of the runner.
fn median_of(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.len() % 2 == 1 { v[v.len() / 2] } else { 0.5 * (v[v.len() / 2 - 1] + v[v.len() / 2]) }
}

#[test]
fn a_sweep_runs_each_value_with_its_coordinate_on_every_record() {
    let s = parse(SWEEP).unwrap();
    let out = run(&s, &RunOptions::default()).unwrap();
    // Two values × two seeds per swept variant, one run per seed for the trace.
    let tables = |v: &str| out.records.iter().filter(|r| r.variant == v).count();
    assert_eq!((tables("lstm"), tables("rnn"), tables("trace")), (4, 4, 2));
    for r in out.records.iter().filter(|r| r.variant != "trace") {
        let t: Vec<f64> = r.tidy().map(|row| engine::monitor::coordinate(row.point, "T").unwrap()).collect();
        assert!(t.iter().all(|&x| x == t[0]) && (t[0] == 4.0 || t[0] == 8.0), "one T per run: {t:?}");
        // The model's inputs followed the data: T steps of ‖dL/dh_t‖ at t = 0..T-1, before and after.
        for metric in ["state_grad", "state_norm", "final_state_grad"] {
            let steps: Vec<f64> = r
                .tidy()
                .filter(|row| row.metric == metric)
                .map(|row| engine::monitor::coordinate(row.point, "t").unwrap())
                .collect();
            assert_eq!(steps, (0..t[0] as usize).map(|k| k as f64).collect::<Vec<_>>(), "{metric}");
        }
        let within: Vec<f64> =
            r.tidy().filter(|row| row.metric == "final_test_within").map(|row| row.value).collect();
        assert!(within.len() == 1 && (0.0..=1.0).contains(&within[0]), "{within:?}");
    }
    assert!(
        out.records
            .iter()
            .filter(|r| r.variant == "trace")
            .all(|r| r.tidy().all(|row| !row.point.contains("T=")))
    );
    // `per = "T"`: one figure per value, each the median over seeds of that T's cells.
    for (v, t) in [("lstm", 4.0), ("lstm", 8.0), ("rnn", 4.0), ("rnn", 8.0)] {
        let per_seed: Vec<f64> = [0, 1]
            .iter()
            .map(|&seed| {
                let r = out.records.iter().find(|r| {
                    r.variant == v
                        && r.seed == seed
                        && r.tidy().next().and_then(|row| engine::monitor::coordinate(row.point, "T"))
                            == Some(t)
                });
                let g: Vec<f64> =
                    r.unwrap().tidy().filter(|row| row.metric == "state_grad").map(|row| row.value).collect();
                g[0] / g[g.len() - 1]
            })
            .collect();
        let key = format!("surviving_T{t}.{v}");
        assert_eq!(figure(&out, &key), median_of(per_seed), "{key}");
        assert!(figure(&out, &format!("mse_T{t}.{v}")).is_finite());
    }
    assert!(figure(&out, "surviving_trace.trace") > 0.0);
    // `variants` limits a figure: the trace has no MSE and the swept runs no trace figure.
    assert!(
        out.key_figures
            .iter()
            .all(|f| !f.key.starts_with("mse_T4.trace") && !f.key.starts_with("surviving_trace.lstm"))
    );
    let ratio = figure(&out, "surviving_T8.lstm") / figure(&out, "surviving_T8.rnn");
    assert_eq!(figure(&out, "lstm_over_rnn"), ratio);
    // The trace at initialisation trained nothing: no profile after training.
    assert!(
        out.records
            .iter()
            .filter(|r| r.variant == "trace")
            .all(|r| r.tidy().all(|row| row.metric != "final_state_grad"))
    );
}

#[test]
fn a_variants_own_params_and_sweep_values_are_checked_where_they_are_written() {
    // A bad value in a variant's own params table.
    let text = SWEEP.replace("samples = 5, test_fraction = 0.0", "samples = 5, test_fraction = 1.5");
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "test_fraction = 1.5"));
    assert!(msg.contains("test_fraction") && msg.contains("variant params"), "{msg}");
    // A sweep value the data cannot take, at the sweep.
    let text = SWEEP.replacen("values = [4, 8]", "values = [4, 1]", 1);
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "values = [4, 1]"));
    assert!(msg.contains("steps") && msg.contains("at least 2"), "{msg}");
    // A wrong type in a sweep value, at the value.
    let text = SWEEP.replacen("param = \"data.steps\"", "param = \"data.name\"", 1);
    let (line, _) = check_error(&text);
    assert_eq!(line, line_of(&text, "param = \"data.name\""));
    // A test-part profile needs a test part.
    let text = SWEEP.replace("profile_on = \"train\", ", "");
    let (line, msg) = check_error(&text);
    assert!(msg.contains("profile_on"), "{msg}");
    assert_eq!(line, line_of(&text, "profile_on = \"test\""));
    // A sweep coordinate that the rows already use.
    let text = SWEEP.replacen("coordinate = \"T\"", "coordinate = \"t\"", 1);
    assert!(check_error(&text).1.contains("sweep coordinate `t`"));
    // A figure over a variant that does not exist.
    let text = SWEEP.replacen("variants = [\"lstm\", \"rnn\"]", "variants = [\"lstm\", \"gru\"]", 1);
    assert!(check_error(&text).1.contains("`gru` is not a variant"));
}

#[test]
fn sweeps_and_variant_params_belong_to_the_train_runner() {
    let text = r#"title = "t"
source = "none"
experiment = "e"
kind = "activations"
seeds = [0]

[[variants]]
name = "a"
activation = "tanh"
sweep = { coordinate = "T", param = "x", values = [1] }
"#;
    let (line, msg) = check_error(text);
    assert_eq!(line, line_of(text, "sweep = "));
    assert!(msg.contains("train"), "{msg}");
}

/// Slide 13's trace as a train scenario: on N(0, 1) inputs the tanh RNN saturates and loses far more
/// gradient over 100 steps than the LSTM, whose cell path multiplies only by its forget gate.
#[test]
fn at_initialisation_the_simple_rnn_loses_more_gradient_over_time_than_the_lstm() {
    let text = r#"title = "t"
source = "none"
experiment = "trace"
kind = "train"
seeds = [0]

[params]
loss = "mse"
epochs = 0
built_in_figures = false
profile = true
precision = "f64"
profile_batch = 32
[params.data]
name = "gaussian_regression"
signal = false
features = 1000
samples = 32
[params.monitor]
every = 0

[[variants]]
name = "rnn"
model = { inputs = 1000, layers = [{ type = "simple_rnn", units = 20, features = 10 }, { type = "dense", units = 1 }] }

[[variants]]
name = "lstm"
model = { inputs = 1000, layers = [{ type = "lstm", units = 20, features = 10 }, { type = "dense", units = 1 }] }

[[figures]]
key = "surviving"
what = "dL/dh_0 / dL/dh_99"
metric = "state_grad"
step = "first"
layer = "first"
reduce = "first_over_last"
"#;
    let out = run(&parse(text).unwrap(), &RunOptions::default()).unwrap();
    let (rnn, lstm) = (figure(&out, "surviving.rnn"), figure(&out, "surviving.lstm"));
    assert!(lstm > 100.0 * rnn, "lstm {lstm:e} vs rnn {rnn:e}");
    // The forward pass shows nothing of it: ‖h_t‖ is bounded by √units for every cell.
    let norms: Vec<f64> = tidy(&out).iter().filter(|r| r.metric == "state_norm").map(|r| r.value).collect();
    assert_eq!(norms.len(), 200);
    assert!(norms.iter().all(|&h| h > 0.0 && h <= 20f64.sqrt()), "{norms:?}");
}

/// A swept run is diagnosed as a run of its own: its sweep coordinate is on every row, and the diagnosis
/// reads its per-layer rows without it (before, every rule saw no gradient series and called it healthy
/// on no evidence).
#[test]
fn a_swept_run_is_diagnosed_from_its_own_gradient_rows() {
    let s = parse(&SWEEP.replace("every = 0", "every = 1")).unwrap();
    let result = run_one(&s, &RunOptions::default()).unwrap();
    for v in ["lstm", "rnn"] {
        let d = result.diagnoses.iter().find(|d| d.variant == v).unwrap();
        assert_eq!(d.runs, 4, "two T values × two seeds");
        let evidence: Vec<&String> = d.verdicts.iter().flat_map(|x| &x.evidence).collect();
        assert!(evidence.iter().any(|e| e.contains("gradient norm")), "{v}: {evidence:?}");
    }
}

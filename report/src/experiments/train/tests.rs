//! Tests of the `train` runner on tiny scenarios written inline: it trains and records, bad model specs
//! are errors naming the file and line, a NaN stop is a result with its records kept, and the verdicts
//! and thresholds come through.
use super::*;
use crate::error::ReportError;
use crate::run::run_one;
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
    prepare(s, opts)?.run()
}

fn check(s: &Scenario) -> Result<()> {
    prepare(s, &RunOptions::default()).map(|_| ())
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
fn a_layer_the_runner_cannot_build_names_its_own_line() {
    let text = XOR.replace(
        "{ type = \"dense\", units = 1, activation = \"sigmoid\" },",
        "{ type = \"lstm\", units = 4 },\n  { type = \"dense\", units = 1, activation = \"sigmoid\" },",
    );
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "{ type = \"lstm\""));
    assert!(msg.contains("recurrent"), "{msg}");
    let text = XOR.replace(
        "units = 8, activation = \"relu\"",
        "units = 8, activation = \"relu\" },\n  { type = \"dropout\", rate = 0.1, activation = \"relu\"",
    );
    let (line, msg) = check_error(&text);
    assert_eq!(line, line_of(&text, "{ type = \"dropout\""));
    assert!(msg.contains("takes no `activation`"), "{msg}");
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
    let json: serde_json::Value = serde_json::from_str(&crate::data::to_summary_json(&r)).unwrap();
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
        prepare(&s, &RunOptions { quick: true, seed: None }).map(|_| ())
    else {
        panic!("expected an error in a quick run")
    };
    assert_eq!((line, column), (line_of(&text, "test_fraction = -0.5"), 26), "{msg}");
    assert!(msg.contains("[params.quick] data.test_fraction = -0.5"), "{msg}");
}

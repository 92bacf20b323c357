//! Scenario files that are wrong must say where (file, line, column) and what was expected.
mod common;

use report::error::ReportError;
use report::experiments::RunOptions;
use report::scenario::Scenario;
use std::path::Path;

const GOOD: &str = r#"title = "t"
source = "001_4c52fe2161f98c85.txt"
experiment = "slide 1"
kind = "activation_curves"
seeds = [0]

[[variants]]
name = "a"
activation = "sigmoid"
"#;

/// Parses `text` as if it were `scenarios/bad.toml` and returns (line, column, message) of the error.
fn error_of(text: &str) -> (usize, usize, String) {
    match Scenario::parse(Path::new("scenarios/bad.toml"), text.to_string()) {
        Err(ReportError::Scenario { path, line, column, msg }) => {
            assert_eq!(path, Path::new("scenarios/bad.toml"));
            let shown = ReportError::Scenario { path, line, column, msg: msg.clone() }.to_string();
            assert!(shown.starts_with(&format!("scenarios/bad.toml:{line}:{column}: ")), "{shown}");
            (line, column, msg)
        }
        Err(other) => panic!("expected a scenario error, got {other}"),
        Ok(_) => panic!("expected an error for:\n{text}"),
    }
}

#[test]
fn the_template_itself_parses() {
    let s = Scenario::parse(Path::new("scenarios/good.toml"), GOOD.into()).unwrap();
    assert_eq!(s.name, "good");
    assert_eq!(s.variants().next().unwrap().activation(), Some(engine::Activation::Sigmoid));
}

#[test]
fn unknown_top_level_field_names_its_place() {
    let (line, column, msg) = error_of(&GOOD.replace("seeds = [0]", "seeds = [0]\ncolour = \"red\""));
    assert_eq!((line, column), (6, 1));
    assert!(msg.contains("unknown field `colour`") && msg.contains("`title`"), "{msg}");
}

#[test]
fn unknown_field_in_a_variant_names_its_place() {
    let (line, column, msg) = error_of(&GOOD.replace("name = \"a\"", "name = \"a\"\nfactr = 0.9"));
    assert_eq!((line, column), (9, 1));
    assert!(msg.contains("unknown field `factr`") && msg.contains("`factor`"), "{msg}");
}

#[test]
fn wrong_type_names_its_place() {
    let (line, column, msg) = error_of(&GOOD.replace("seeds = [0]", "seeds = \"zero\""));
    assert_eq!((line, column), (5, 9));
    assert!(msg.contains("invalid type") && msg.contains("sequence"), "{msg}");
}

#[test]
fn unknown_activation_lists_the_valid_ones() {
    let (line, column, msg) = error_of(&GOOD.replace("\"sigmoid\"", "\"swish\""));
    assert_eq!((line, column), (9, 14));
    assert!(msg.contains("unknown activation `swish`"), "{msg}");
    for name in engine::Activation::ALL_NAMES {
        assert!(msg.contains(name), "{msg} should list {name}");
    }
}

#[test]
fn unknown_activation_inside_a_model_layer_is_found_too() {
    let model = "name = \"a\"\n[variants.model]\ninputs = 4\nlayers = [\n  { type = \"dense\", units = 8, activation = \"sigmod\" },\n]";
    let (line, _, msg) = error_of(&GOOD.replace("name = \"a\"\nactivation = \"sigmoid\"", model));
    assert_eq!(line, 12);
    assert!(msg.contains("unknown activation \"sigmod\"") && msg.contains("leaky_relu"), "{msg}");
}

#[test]
fn unknown_layer_type_and_missing_units_are_rejected() {
    let model = |layer: &str| {
        GOOD.replace(
            "name = \"a\"\nactivation = \"sigmoid\"",
            &format!("name = \"a\"\n[variants.model]\ninputs = 4\nlayers = [\n  {layer},\n]"),
        )
    };
    let (_, _, msg) = error_of(&model("{ type = \"dense2\", units = 8 }"));
    assert!(msg.contains("unknown variant `dense2`") && msg.contains("batch_normalization"), "{msg}");
    let (line, column, msg) = error_of(&model("{ type = \"dense\", activation = \"relu\" }"));
    assert!(msg.contains("missing field `units`"), "{msg}");
    assert_eq!((line, column), (12, 3), "points at the bad layer");
    // A key of another layer type is unknown here, and the error lists what a dropout layer takes.
    let (line, column, msg) = error_of(&model("{ type = \"dropout\", rate = 0.5, units = 4 }"));
    assert!(
        msg.contains("layers[0]") && msg.contains("unknown field `units`") && msg.contains("rate"),
        "{msg}"
    );
    assert_eq!((line, column), (12, 3));
    // A width that does not fit names the layer and points at it.
    let (line, _, msg) = error_of(&model("{ type = \"gru\", units = 4, features = 3 }"));
    assert!(msg.contains("layers[0] (gru)") && msg.contains("steps of 3 features"), "{msg}");
    assert_eq!(line, 12);
}

#[test]
fn semantic_errors_point_at_the_table() {
    let text = GOOD.replace("activation = \"sigmoid\"", "activation = \"tanh\"\nalpha = 0.1");
    let (line, _, msg) = error_of(&text);
    assert_eq!(line, 7);
    assert!(msg.contains("`alpha` applies to leaky_relu and elu only"), "{msg}");
    let dup = format!("{GOOD}\n[[variants]]\nname = \"a\"\nactivation = \"relu\"\n");
    let (line, _, msg) = error_of(&dup);
    assert_eq!(line, 11);
    assert!(msg.contains("duplicate variant name `a`"), "{msg}");
}

#[test]
fn unknown_kind_is_rejected_with_the_known_ones() {
    let s = Scenario::parse(Path::new("x.toml"), GOOD.replace("activation_curves", "activations")).unwrap();
    let err = report::experiments::runner_for(&s).err().expect("unknown kind");
    let ReportError::Scenario { line, column, msg, .. } = err else { panic!("{err}") };
    assert_eq!((line, column), (4, 8));
    assert!(msg.contains("activation_curves") && msg.contains("repeated_multiplication"), "{msg}");
}

#[test]
fn unknown_params_key_is_rejected_by_the_runner() {
    let text = format!("{GOOD}\n[params]\npoints = 11\nx_mn = -1.0\n");
    let s = Scenario::parse(Path::new("scenarios/p.toml"), text).unwrap();
    let err = report::run::run_one(&s, &Default::default()).expect_err("bad params");
    let ReportError::Scenario { line, column, msg, .. } = err else { panic!("{err}") };
    assert_eq!((line, column), (13, 1));
    assert!(msg.contains("unknown field `x_mn`") && msg.contains("`x_min`"), "{msg}");
}

/// The audit fields every claim needs (quote, the source's setting, the argument).
const AUDIT: &str = "quote = \"q\"\nsource_setting = \"s\"\nargument = \"a\"\n";

#[test]
fn a_claim_without_its_audit_is_an_error_at_the_field() {
    let claim = |audit: &str| format!("{GOOD}\n[[claims]]\nkey = \"max_df.a\"\nsource_says = \"x\"\n{audit}");
    let (line, _, msg) = error_of(&claim("quote = \"q\"\nargument = \"a\"\n"));
    assert_eq!(line, 11, "a missing field points at the claim's table");
    assert!(msg.contains("source_setting"), "{msg}");
    let (line, column, msg) = error_of(&claim("quote = \"q\"\nsource_setting = \"s\"\nargument = \" \"\n"));
    assert_eq!((line, column), (16, 1), "an empty one points at its own line");
    assert!(msg.contains("`argument` is empty") && msg.contains("max_df.a"), "{msg}");
    let (line, _, msg) = error_of(&claim("quote = \"x\"\nsource_setting = \"s\"\nargument = \"a\"\n"));
    assert_eq!(line, 14, "{msg}");
    assert!(msg.contains("repeats `source_says`"), "{msg}");
    let (line, _, msg) = error_of(&claim(&format!("{AUDIT}rel_tol = 0.1\n")));
    assert_eq!(line, 17, "{msg}");
    assert!(msg.contains("`rel_tol` needs an `expected`"), "{msg}");
}

#[test]
fn a_claim_about_an_unmeasured_figure_is_an_error() {
    let text = format!(
        "{GOOD}\n[[claims]]\nkey = \"max_df.b\"\nsource_says = \"x\"\n{AUDIT}expected = 0.25\n{PARAMS}"
    );
    let s = Scenario::parse(Path::new("c.toml"), text).unwrap();
    let err = report::run::run_one(&s, &Default::default()).expect_err("unknown key");
    let ReportError::Scenario { line, msg, .. } = err else { panic!("{err}") };
    assert_eq!(line, 11, "points at the [[claims]] table");
    assert!(msg.contains("`max_df.b`") && msg.contains("max_df.a,"), "{msg}");
}

#[test]
fn every_shipped_scenario_parses_and_prepares_full_and_quick() {
    let all = report::scenario::discover(&common::scenarios_dir()).unwrap();
    assert!(all.len() >= 2);
    for quick in [false, true] {
        if let Err(e) = report::run::prepare_all(&all, &RunOptions { quick, seed: None }) {
            panic!("quick = {quick}: {e}");
        }
    }
}

#[test]
fn a_sequential_model_variant_parses_into_typed_layers() {
    use engine::clip::ClipKind;
    use engine::init::Initializer;
    use engine::layers::dense::DenseAct;
    use engine::model::{LayerSpec, Loss};
    use engine::optim::OptimizerKind;
    let model = r#"name = "relu_he"
loss = "sparse_categorical_crossentropy"
epochs = 20
batch_size = 32
optimizer = { type = "adam", learning_rate = 1e-3 }
clipping = { type = "global_norm", threshold = 1.0 }
[variants.model]
inputs = 64
layers = [
  { type = "dense", units = 100, activation = "relu", initializer = "he_normal", repeat = 8 },
  { type = "dropout", rate = 0.2 },
  { type = "lstm", units = 16, features = 10, forget_bias = -1.5, recurrent_initializer = "orthogonal(gain=0.5)" },
  { type = "dense", units = 10 },
]"#;
    let text = GOOD.replace("name = \"a\"\nactivation = \"sigmoid\"", model);
    let s = Scenario::parse(Path::new("m.toml"), text).unwrap();
    let v = s.variants().next().unwrap();
    assert_eq!(v.loss, Some(Loss::SparseCategoricalCrossentropy));
    assert_eq!(v.optimizer.as_ref().unwrap().kind, OptimizerKind::Adam);
    assert_eq!(v.clipping.as_ref().unwrap().kind, ClipKind::GlobalNorm);
    let m = v.model.as_ref().unwrap();
    let LayerSpec::Dense(d) = &m.layers[0] else { panic!("{:?}", m.layers[0]) };
    assert_eq!(d.activation(), Ok(DenseAct::Elementwise(engine::Activation::Relu)));
    assert_eq!(d.kernel(), Ok(Initializer::HeNormal));
    assert_eq!(d.repeat, 8);
    assert!(matches!(&m.layers[1], LayerSpec::Dropout(d) if d.rate == 0.2));
    let LayerSpec::Lstm(r) = &m.layers[2] else { panic!("{:?}", m.layers[2]) };
    assert_eq!(r.forget_bias, Some(-1.5));
    assert_eq!(r.recurrent_initializer.as_ref().unwrap().init, Initializer::Orthogonal { gain: 0.5 });
    let bad =
        GOOD.replace("name = \"a\"\nactivation = \"sigmoid\"", &model.replace("rate = 0.2", "rate = 1.5"));
    let (_, _, msg) = error_of(&bad);
    assert!(msg.contains("layers[1] (dropout)") && msg.contains("`rate` must lie in [0, 1)"), "{msg}");
}

/// `[params]` of an `activation_curves` scenario, every key given.
const PARAMS: &str = "\n[params]\nx_min = -6.0\nx_max = 6.0\npoints = 241\ndepth = 10\nsaturation = 0.01\n";

/// (line, column) of the value in the first `key = value` text of `needle` inside `text`.
fn value_place(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in the text"));
    let at = at + needle.find("= ").expect("a `key = value` needle") + 2;
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// Parses and prepares `text` (as `report` does before running anything) and returns its error's place
/// and message.
fn prepare_error(text: &str, quick: bool) -> (usize, usize, String) {
    let opts = RunOptions { quick, seed: None };
    let parsed = Scenario::parse(Path::new("scenarios/bad.toml"), text.to_string());
    match parsed.and_then(|s| report::run::prepare(&s, &opts).map(|_| ())) {
        Err(ReportError::Scenario { path, line, column, msg }) => {
            assert_eq!(path, Path::new("scenarios/bad.toml"));
            (line, column, msg)
        }
        Err(other) => panic!("expected a scenario error, got {other}"),
        Ok(()) => panic!("expected an error for:\n{text}"),
    }
}

fn prepares(text: &str, quick: bool) {
    let s = Scenario::parse(Path::new("scenarios/good.toml"), text.to_string()).unwrap();
    if let Err(e) = report::run::prepare(&s, &RunOptions { quick, seed: None }) {
        panic!("{e}");
    }
}

#[test]
fn a_failed_check_in_params_points_at_the_value_and_names_the_key() {
    let good = format!("{GOOD}{PARAMS}");
    prepares(&good, false);
    let text = good.replace("points = 241", "points = 1");
    let (line, column, msg) = prepare_error(&text, false);
    assert_eq!((line, column), value_place(&text, "points = 1"), "{msg}");
    assert!(msg.contains("[params] points = 1: expected at least 2"), "{msg}");
    // A rule between two keys names the second and the first's value.
    let text = good.replace("x_max = 6.0", "x_max = -7.0");
    let (line, column, msg) = prepare_error(&text, false);
    assert_eq!((line, column), value_place(&text, "x_max = -7.0"), "{msg}");
    assert!(msg.contains("x_max = -7.0") && msg.contains("x_min (-6)"), "{msg}");
}

#[test]
fn a_missing_params_key_is_named() {
    let text = format!("{GOOD}{PARAMS}").replace("depth = 10\n", "");
    let (line, _, msg) = prepare_error(&text, false);
    assert!(msg.contains("missing field `depth`"), "{msg}");
    assert_eq!(line, value_place(&text, "x_min = -6.0").0 - 1, "at the [params] table");
}

#[test]
fn a_wrong_type_nested_in_params_points_at_the_element() {
    let text = std::fs::read_to_string(common::scenarios_dir().join("recurrent.toml")).unwrap();
    prepares(&text, false);
    // A sweep value is read as `[params] data.steps` for its run: a wrong type and a failed check point
    // at the element.
    let values = "values = [10, 25, 50, 100]";
    let bad = text.replacen(values, "values = [10, 25, \"fifty\", 100]", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    let (l, c) = value_place(&bad, "values = [10, 25, \"fifty\"");
    assert_eq!((line, column), (l, c + "[10, 25, ".len()), "{msg}");
    assert!(msg.contains("invalid type") && msg.contains("fifty"), "{msg}");
    let bad = text.replacen(values, "values = [10, 1]", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    let (l, c) = value_place(&bad, "values = [10, 1]");
    assert_eq!((line, column), (l, c + "[10, ".len()), "{msg}");
    assert!(msg.contains("data.steps = 1: expected") && msg.contains("at least 2"), "{msg}");
}

#[test]
fn a_failed_check_inside_a_params_subtable_points_at_its_entry() {
    let text = std::fs::read_to_string(common::scenarios_dir().join("residual.toml")).unwrap();
    prepares(&text, false);
    let bad = text.replace("samples = 480", "samples = 0");
    let (line, column, msg) = prepare_error(&bad, false);
    assert_eq!((line, column), value_place(&bad, "samples = 0"), "{msg}");
    assert!(msg.contains("[params] data.samples = 0") && msg.contains("at least 1"), "{msg}");
}

#[test]
fn a_failed_check_in_a_variant_points_at_its_key() {
    // jacobian_spectra: σ_w must be positive.
    let text = std::fs::read_to_string(common::scenarios_dir().join("jacobian_spectra.toml")).unwrap();
    prepares(&text, false);
    let bad = text.replacen("factor = 1.0", "factor = -1.0", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    assert_eq!((line, column), value_place(&bad, "factor = -1.0"), "{msg}");
    assert!(msg.contains("variant `tanh_gaussian`") && msg.contains("σ_w > 0"), "{msg}");
    // recurrent: a layer inside the variant's inline model table that does not fit its inputs (1000
    // values are not a whole number of steps of 7); any forget bias is fine.
    let text = std::fs::read_to_string(common::scenarios_dir().join("recurrent.toml")).unwrap();
    prepares(&text.replace("forget_bias = 0.0", "forget_bias = -1.5"), false);
    let layer = "{ type = \"lstm\", units = 20, features = 10, forget_bias = 0.0 }";
    let bad = text.replacen(layer, "{ type = \"lstm\", units = 20, features = 7, forget_bias = 0.0 }", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    let (l, c) = value_place(&bad, "layers = [{ type = \"lstm\", units = 20, features = 7");
    assert_eq!((line, column), (l, c + 1), "at the layer: {msg}");
    assert!(msg.contains("variant `lstm_no_forget_bias`") && msg.contains("7"), "{msg}");
    // repeated_multiplication: a real network's loss.
    let text = std::fs::read_to_string(common::scenarios_dir().join("repeated_multiplication.toml")).unwrap();
    prepares(&text, false);
    let bad = text.replacen("loss = \"binary_crossentropy\"", "loss = \"mse\"", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    assert_eq!((line, column), value_place(&bad, "loss = \"mse\""), "{msg}");
    assert!(msg.contains("binary_crossentropy"), "{msg}");
}

#[test]
fn a_bad_quick_value_is_found_by_a_quick_run_at_its_own_place() {
    let text = std::fs::read_to_string(common::scenarios_dir().join("phase_diagram.toml")).unwrap();
    prepares(&text, true);
    let bad = text.replace("[params.quick]\nwidth = 64", "[params.quick]\nwidth = 0");
    prepares(&bad, false);
    let (line, column, msg) = prepare_error(&bad, true);
    assert_eq!((line, column), value_place(&bad, "width = 0"), "{msg}");
    assert!(msg.contains("[params.quick] width = 0: expected at least 1"), "{msg}");
    let bad = text.replace("[params.quick]\nwidth = 64", "[params.quick]\nwidht = 64");
    let (line, column, msg) = prepare_error(&bad, true);
    assert_eq!((line, column), (value_place(&bad, "widht = 64").0, 1), "{msg}");
    assert!(msg.contains("unknown field `widht`"), "{msg}");
}

#[test]
fn a_quick_value_is_used_by_quick_runs_only() {
    let text = format!("{GOOD}{PARAMS}\n[params.quick]\npoints = 11\n");
    let s = Scenario::parse(Path::new("q.toml"), text).unwrap();
    let points = |quick| {
        let r = report::run::run_one(&s, &RunOptions { quick, seed: None }).unwrap();
        r.records.iter().flat_map(|t| t.tidy()).filter(|r| r.metric == "f").count()
    };
    assert_eq!(points(false), 241);
    assert_eq!(points(true), 11);
}

#[test]
fn a_bad_toy_loss_range_points_at_the_variants_entry() {
    // toy_loss: each variant's gradient range is `[params] gradient.NAME`, checked at its value.
    let text = std::fs::read_to_string(common::scenarios_dir().join("loss_toy.toml")).unwrap();
    prepares(&text, false);
    let bad = text.replacen("exploding = [10.0, 100.0]", "exploding = [100.0, 10.0]", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    assert_eq!((line, column), value_place(&bad, "exploding = [100.0, 10.0]"), "{msg}");
    assert!(msg.contains("gradient.exploding = [100.0, 10.0]") && msg.contains("lo < hi"), "{msg}");
    // A range for a variant that does not exist, and a variant without a range.
    let bad =
        text.replacen("exploding = [10.0, 100.0]", "exploding = [10.0, 100.0], explodng = [1.0, 2.0]", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    assert_eq!((line, column), value_place(&bad, "explodng = [1.0, 2.0]"), "{msg}");
    assert!(msg.contains("a variant's name (vanishing, exploding)"), "{msg}");
    let bad = text.replacen(", exploding = [10.0, 100.0]", "", 1);
    let (_, _, msg) = prepare_error(&bad, false);
    assert!(msg.contains("range for variant `exploding`"), "{msg}");
    let bad = text.replacen("\nlearning_rate = 0.1\n", "\nlearning_rate = -0.1\n", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    assert_eq!((line, column), value_place(&bad, "learning_rate = -0.1"), "{msg}");
    assert!(msg.contains("above 0"), "{msg}");
    // A trained runner's key on a toy variant is refused, not silently ignored.
    let bad = text.replacen("name = \"exploding\"\n", "name = \"exploding\"\nfactor = 0.9\n", 1);
    let (line, column, msg) = prepare_error(&bad, false);
    assert_eq!((line, column), value_place(&bad, "factor = 0.9"), "{msg}");
    assert!(msg.contains("variant `exploding`") && msg.contains("`factor`"), "{msg}");
}

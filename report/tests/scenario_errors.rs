//! Scenario files that are wrong must say where (file, line, column) and what was expected.
mod common;

use report::error::ReportError;
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
    assert!(msg.contains("unknown activation `sigmod`"), "{msg}");
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
    let (line, _, msg) = error_of(&model("{ type = \"dense\", activation = \"relu\" }"));
    assert!(msg.contains("needs `units`"), "{msg}");
    assert_eq!(line, 7, "points at the variant that holds the bad layer");
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

#[test]
fn a_claim_about_an_unmeasured_figure_is_an_error() {
    let text = format!("{GOOD}\n[[claims]]\nkey = \"max_df.b\"\nsource_says = \"x\"\nexpected = 0.25\n");
    let s = Scenario::parse(Path::new("c.toml"), text).unwrap();
    let err = report::run::run_one(&s, &Default::default()).expect_err("unknown key");
    let ReportError::Scenario { line, msg, .. } = err else { panic!("{err}") };
    assert_eq!(line, 11, "points at the [[claims]] table");
    assert!(msg.contains("`max_df.b`") && msg.contains("max_df.a,"), "{msg}");
}

#[test]
fn every_shipped_scenario_parses_and_checks() {
    let all = report::scenario::discover(&common::scenarios_dir()).unwrap();
    assert!(all.len() >= 2);
    report::experiments::check_all(&all).unwrap();
}

#[test]
fn a_sequential_model_variant_parses_into_typed_layers() {
    use report::scenario::{ClipKind, Initializer, LayerKind, LossKind, OptimizerKind};
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
  { type = "lstm", units = 16, forget_bias = 1.0 },
  { type = "dense", units = 10 },
]"#;
    let text = GOOD.replace("name = \"a\"\nactivation = \"sigmoid\"", model);
    let s = Scenario::parse(Path::new("m.toml"), text).unwrap();
    let v = s.variants().next().unwrap();
    assert_eq!(v.loss, Some(LossKind::SparseCategoricalCrossentropy));
    assert_eq!(v.optimizer.as_ref().unwrap().kind, OptimizerKind::Adam);
    assert_eq!(v.clipping.as_ref().unwrap().kind, ClipKind::GlobalNorm);
    let m = v.model.as_ref().unwrap();
    let layers: Vec<_> = m.layers.iter().map(|l| l.get_ref()).collect();
    assert_eq!(layers[0].kind, LayerKind::Dense);
    assert_eq!(layers[0].activation(), Some(engine::Activation::Relu));
    assert_eq!(layers[0].initializer, Some(Initializer::HeNormal));
    assert_eq!(layers[0].repeat, Some(8));
    assert_eq!(layers[1].rate, Some(0.2));
    assert_eq!(layers[2].forget_bias, Some(1.0));
    let bad =
        GOOD.replace("name = \"a\"\nactivation = \"sigmoid\"", &model.replace("rate = 0.2", "rate = 1.5"));
    let (_, _, msg) = error_of(&bad);
    assert!(msg.contains("dropout needs a `rate` in [0, 1)"), "{msg}");
}

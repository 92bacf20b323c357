//! Tests of the `train` runner on tiny scenarios written inline.
use super::*;
use std::path::Path;

pub(crate) const XOR: &str = r#"title = "t"
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

fn parse(text: &str) -> Result<Scenario> {
    Scenario::parse(Path::new("scenarios/t.toml"), text.to_string())
}

#[test]
fn xor_trains_and_records_every_layer() {
    let s = parse(XOR).unwrap();
    check(&s).unwrap();
    let out = run(&s, &RunOptions::default()).unwrap();
    let names: std::collections::BTreeSet<&str> =
        out.records.iter().filter_map(|r| r.layer_name.as_deref()).collect();
    assert!(names.contains("1:dense(relu)") && names.contains("*"), "{names:?}");
    let preds: Vec<_> = out.records.iter().filter(|r| r.metric == "prediction").collect();
    assert_eq!(preds.len(), 8, "4 inputs × 2 seeds");
    assert!(out.key_figures.iter().any(|f| f.key == "final_loss.relu"));
}

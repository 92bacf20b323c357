//! What the shipped scenarios measure, read from the JSON the report writes (not from the page).
mod common;

use report::experiments::RunOptions;
use serde_json::Value;

fn summary(name: &str) -> Value {
    let all = report::scenario::discover(&common::scenarios_dir()).unwrap();
    let s = all.iter().find(|s| s.name == name).unwrap();
    let r = report::run::run_one(s, &RunOptions::default()).unwrap();
    let (_, text) =
        report::data::scenario_files(&r).into_iter().find(|(p, _)| p.ends_with(".summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn figure(v: &Value, key: &str) -> f64 {
    v["key_figures"].as_array().unwrap().iter().find(|f| f["key"] == key).unwrap_or_else(|| panic!("{key}"))["value"]
        .as_f64()
        .unwrap()
}

fn verdicts(v: &Value) -> Vec<(String, String)> {
    v["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["key"].as_str().unwrap().to_string(), c["verdict"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn activation_derivatives_from_backward_have_the_known_peaks() {
    let v = summary("activations");
    // float32 kernels (SIMD approximations of exp/tanh included) agree with the textbook to ~1e-6.
    assert!((figure(&v, "max_df.sigmoid") - 0.25).abs() < 1e-6);
    assert_eq!(figure(&v, "argmax_df.sigmoid"), 0.0);
    assert!((figure(&v, "max_df.tanh") - 1.0).abs() < 1e-6);
    assert_eq!(figure(&v, "max_df.relu"), 1.0);
    assert!((figure(&v, "max_df_pow.sigmoid") / 0.25f64.powi(10) - 1.0).abs() < 1e-4);
    // GELU's derivative peaks above 1, at x = sqrt(2) (on the 0.05 grid: 1.40).
    assert!((figure(&v, "max_df.gelu") - 1.1289).abs() < 1e-3);
    assert!((figure(&v, "argmax_df.gelu") - 2f64.sqrt()).abs() < 0.06);
    for act in ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus"] {
        assert!(
            figure(&v, &format!("fd_error.{act}")) < 1e-8,
            "{act}: autodiff disagrees with finite differences"
        );
    }
    let got = verdicts(&v);
    let expect = [
        ("max_df.sigmoid", "agrees"),
        ("max_df_pow.sigmoid", "agrees"),
        ("max_df.tanh", "contradicted"),
        ("saturated_share.tanh", "agrees"),
        ("max_df.relu", "contradicted"),
        ("max_df.leaky_relu", "agrees"),
    ];
    assert_eq!(got, expect.map(|(a, b)| (a.to_string(), b.to_string())).to_vec());
}

#[test]
fn repeated_multiplication_measures_the_errata() {
    let v = summary("repeated_multiplication");
    assert!((figure(&v, "g20.0.9") - 0.9f64.powi(20)).abs() < 1e-15);
    assert!((figure(&v, "source_printed_20.0.9") - 0.9f64.powi(21)).abs() < 1e-15);
    assert!((figure(&v, "g100.0.9") - 2.656e-5).abs() < 1e-8);
    assert!((figure(&v, "g20.1.5") - 3325.2567).abs() < 1e-3);
    assert_eq!(figure(&v, "g20.1.0"), 1.0);
    assert_eq!(figure(&v, "f32_subnormal_layer.0.01"), 19.0);
    assert_eq!(figure(&v, "f32_zero_layer.0.01"), 23.0);
    // The real networks beside the toy: ReLU + He keeps a per-layer factor near 1, the other three vanish.
    assert!((figure(&v, "factor.relu_he_normal") - 1.0).abs() < 0.1);
    for net in ["sigmoid_random_normal", "sigmoid_he_normal", "relu_random_normal"] {
        assert!(figure(&v, &format!("factor.{net}")) < 0.5, "{net}");
    }
    assert!(figure(&v, "factor.sigmoid_random_normal") < figure(&v, "factor.sigmoid_he_normal"));
    let got: Vec<String> = verdicts(&v).into_iter().map(|(_, verdict)| verdict).collect();
    let toy = ["contradicted", "contradicted", "contradicted", "agrees", "agrees"];
    let real = ["agrees", "agrees", "contradicted", "contradicted"];
    assert_eq!(got, [toy.as_slice(), real.as_slice()].concat());
}

use super::*;

fn parse(json: &str) -> std::result::Result<ModelSpec, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

fn model(json: &str) -> Model<f64> {
    parse(json).unwrap().build(3).unwrap()
}

#[test]
fn every_layer_type_builds_with_its_keras_name() {
    let m = model(
        r#"{"inputs": 4, "layers": [
            {"type": "dense", "units": 6, "kernel_initializer": "he_normal", "use_bias": false},
            {"type": "batch_normalization", "momentum": 0.9},
            {"type": "activation", "activation": "leaky_relu", "alpha": 0.2},
            {"type": "layer_normalization"},
            {"type": "dropout", "rate": 0.1},
            {"type": "residual", "units": 6, "activation": "tanh", "repeat": 2},
            {"type": "dense", "units": 3, "activation": "softmax"}
        ]}"#,
    );
    let kinds: Vec<&str> = m.layers().iter().map(|l| l.kind()).collect();
    assert_eq!(
        kinds,
        [
            "dense",
            "batch_normalization",
            "activation",
            "layer_normalization",
            "dropout",
            "residual",
            "residual",
            "dense"
        ]
    );
    assert_eq!(m.layers()[2].unit_activation(), Some(Act::LeakyRelu { alpha: 0.2 }));
    assert_eq!(m.output_width(), 3);
    // use_bias = false: the first dense layer has its kernel only.
    assert_eq!(m.layers()[0].params().len(), 1);
}

#[test]
fn initialisers_take_their_parameters() {
    let m = model(
        r#"{"inputs": 8, "layers": [
            {"type": "dense", "units": 8, "activation": "tanh", "kernel_initializer": "orthogonal(gain=0.5)",
             "bias_initializer": "constant(-1.5)"}
        ]}"#,
    );
    let p = m.params();
    let w = &p.iter().find(|(_, t)| t.name.ends_with("weight")).unwrap().1.value;
    let b = &p.iter().find(|(_, t)| t.name.ends_with("bias")).unwrap().1.value;
    assert!(b.iter().all(|&v| v == -1.5));
    // gain·Q with Q orthogonal: WᵀW = 0.25·I.
    for i in 0..8 {
        for j in 0..8 {
            let dot: f64 = (0..8).map(|k| w[k * 8 + i] * w[k * 8 + j]).sum();
            assert!((dot - if i == j { 0.25 } else { 0.0 }).abs() < 1e-12, "{i},{j}: {dot}");
        }
    }
}

#[test]
fn the_old_initializer_and_scale_keys_still_mean_the_kernel() {
    let spec = parse(
        r#"{"inputs": 2, "layers": [{"type": "dense", "units": 3, "initializer": "random_normal", "scale": 0.5}]}"#,
    )
    .unwrap();
    let LayerSpec::Dense(d) = &spec.layers[0] else { panic!() };
    assert_eq!(d.kernel().unwrap(), Initializer::RandomNormal { mean: 0.0, stddev: 0.5 });
    let spec = parse(
        r#"{"inputs": 2, "layers": [{"type": "dense", "units": 3, "initializer": "random_uniform", "scale": 0.2}]}"#,
    )
    .unwrap();
    let LayerSpec::Dense(d) = &spec.layers[0] else { panic!() };
    assert_eq!(d.kernel().unwrap(), Initializer::RandomUniform { min: -0.2, max: 0.2 });
}

#[test]
fn recurrent_layers_take_initialisers_and_any_forget_bias() {
    let m = model(
        r#"{"inputs": 12, "layers": [
            {"type": "lstm", "units": 4, "features": 3, "forget_bias": -1.5, "return_sequences": true,
             "recurrent_initializer": "orthogonal(gain=0.5)", "kernel_initializer": "zeros"},
            {"type": "gru", "units": 2},
            {"type": "dense", "units": 1}
        ]}"#,
    );
    assert_eq!(m.layers()[0].kind(), "lstm");
    assert_eq!(m.layers()[1].kind(), "gru");
    let p = m.params();
    let get = |name: &str| &p.iter().find(|(_, t)| t.name == name).unwrap().1.value;
    assert!(get("layers.0.lstm.kernel").iter().all(|&v| v == 0.0));
    let bias = get("layers.0.lstm.bias");
    assert_eq!(bias[4..8], [-1.5; 4]);
    assert!(bias[..4].iter().chain(&bias[8..]).all(|&v| v == 0.0));
    let u = get("layers.0.lstm.recurrent_kernel");
    let row0: f64 = u[..16].iter().map(|v| v * v).sum();
    assert!((row0 - 0.25).abs() < 1e-12, "{row0}");
    // The GRU reads 4 steps of the LSTM's 4 units.
    assert_eq!(get("layers.1.gru.kernel").len(), 4 * 6);
    // Without `features` after a non-recurrent layer, the whole row is one step.
    let one = model(r#"{"inputs": 6, "layers": [{"type": "simple_rnn", "units": 2}]}"#);
    assert_eq!(one.params().iter().find(|(_, t)| t.name.ends_with(".kernel")).unwrap().1.shape.rows, 6);
}

#[test]
fn unknown_keys_and_names_say_what_was_expected() {
    let err = parse(r#"{"inputs": 2, "layers": [{"type": "dense", "units": 3, "rate": 0.5}]}"#).unwrap_err();
    assert!(err.contains("unknown field `rate`") && err.contains("kernel_initializer"), "{err}");
    let err = parse(r#"{"inputs": 2, "layers": [{"type": "conv2d", "units": 3}]}"#).unwrap_err();
    assert!(err.contains("conv2d") && err.contains("batch_normalization"), "{err}");
    let err = parse(r#"{"inputs": 2, "layers": [{"type": "dense", "units": 3, "initializer": "glorot"}]}"#)
        .unwrap_err();
    assert!(err.contains("glorot") && err.contains("he_normal"), "{err}");
    let err = parse(r#"{"inputs": 2, "layers": [{"type": "dense", "units": 3, "activation": "swish"}]}"#)
        .unwrap_err();
    assert!(err.contains("swish") && err.contains("relu"), "{err}");
    let err = parse(r#"{"inputs": 2, "layers": [{"type": "dense", "units": 3}], "seed": 1}"#).unwrap_err();
    assert!(err.contains("unknown field `seed`"), "{err}");
}

#[test]
fn validation_names_the_entry_and_the_value() {
    let cases = [
        (r#"{"type": "dense", "units": 0}"#, "layers[1] (dense)", "units"),
        (r#"{"type": "dropout", "rate": 1.5}"#, "layers[1] (dropout)", "rate"),
        (
            r#"{"type": "dense", "units": 3, "initializer": "he_normal", "scale": 0.1}"#,
            "layers[1] (dense)",
            "scale",
        ),
        (
            r#"{"type": "dense", "units": 3, "activation": "relu", "alpha": 0.1}"#,
            "layers[1] (dense)",
            "alpha",
        ),
        (
            r#"{"type": "gru", "units": 3, "forget_bias": 1.0, "features": 2}"#,
            "layers[1] (gru)",
            "forget_bias",
        ),
        (r#"{"type": "lstm", "units": 3, "features": 5}"#, "layers[1] (lstm)", "steps of 5"),
        (r#"{"type": "dense", "units": 3, "repeat": 0}"#, "layers[1] (dense)", "repeat"),
    ];
    for (layer, place, what) in cases {
        let json = format!(r#"{{"inputs": 4, "layers": [{{"type": "dense", "units": 4}}, {layer}]}}"#);
        let err = parse(&json).unwrap().build::<f64>(0).err().unwrap_or_else(|| panic!("{layer} built"));
        let msg = err.to_string();
        assert!(msg.contains(place) && msg.contains(what), "{layer}: {msg}");
    }
}

#[test]
fn the_spec_builds_what_the_builder_builds() {
    use crate::layers::Dense as D;
    let spec = parse(
        r#"{"inputs": 5, "layers": [{"type": "dense", "units": 7, "activation": "relu", "repeat": 3},
                                    {"type": "dense", "units": 2}]}"#,
    )
    .unwrap();
    let a: Model<f64> = spec.build(11).unwrap();
    let mut seq = Sequential::new(5);
    for _ in 0..3 {
        seq = seq.add(D::new(7).activation("relu"));
    }
    let b: Model<f64> = seq.add(D::new(2)).seed(11).build().unwrap();
    let values = |m: &Model<f64>| m.params().iter().flat_map(|(_, p)| p.value.clone()).collect::<Vec<_>>();
    assert_eq!(values(&a), values(&b));
    assert_eq!(spec.expanded().count(), 4);
}

#[test]
fn a_residual_branch_can_be_any_layers() {
    use crate::layers::{Dense as D, LayerNormalization as Ln, Residual as R};
    // Pre-norm x + F(LN(x)) with its own initialisers per layer, and a projected block.
    let spec = parse(
        r#"{"inputs": 6, "layers": [
            {"type": "residual", "repeat": 2, "layers": [
                {"type": "layer_normalization"},
                {"type": "dense", "units": 6, "activation": "relu", "kernel_initializer": "he_normal"},
                {"type": "dense", "units": 6, "kernel_initializer": "random_normal(stddev=0.01)"}
            ]},
            {"type": "residual", "layers": [{"type": "dense", "units": 3}], "projection_initializer": "zeros"}
        ]}"#,
    )
    .unwrap();
    let a: Model<f64> = spec.build(5).unwrap();
    let block = || {
        R::new()
            .add(Ln::new())
            .add(D::new(6).activation("relu").kernel_initializer("he_normal"))
            .add(D::new(6).kernel_initializer("random_normal(stddev=0.01)"))
    };
    let b: Model<f64> = Sequential::new(6)
        .add(block())
        .add(block())
        .add(R::new().add(D::new(3)).projection_initializer("zeros"))
        .seed(5)
        .build()
        .unwrap();
    let named = |m: &Model<f64>| {
        m.params().iter().map(|(_, p)| (p.name.clone(), p.value.clone())).collect::<Vec<_>>()
    };
    assert_eq!(named(&a), named(&b));
    assert_eq!(a.output_width(), 3);
    let proj = a.params().iter().find(|(_, p)| p.name.contains("projection")).unwrap().1;
    assert!(proj.value.iter().all(|&v| v == 0.0));
}

#[test]
fn a_residual_block_is_one_form_or_the_other() {
    let build = |layer: &str| {
        let json = format!(r#"{{"inputs": 4, "layers": [{layer}]}}"#);
        parse(&json).unwrap().build::<f64>(0).err().map(|e| e.to_string())
    };
    let both =
        build(r#"{"type": "residual", "units": 4, "layers": [{"type": "dense", "units": 4}]}"#).unwrap();
    assert!(both.contains("layers[0] (residual)") && both.contains("not both"), "{both}");
    let keys =
        build(r#"{"type": "residual", "activation": "relu", "layers": [{"type": "dense", "units": 4}]}"#);
    assert!(keys.unwrap().contains("belong to those layers"));
    let inner = build(r#"{"type": "residual", "layers": [{"type": "dropout", "rate": 2.0}]}"#).unwrap();
    assert!(inner.contains("in its layers[0] (dropout)") && inner.contains("rate"), "{inner}");
    assert!(build(r#"{"type": "residual", "units": 4, "activation": "tanh"}"#).is_none());
}

#[test]
fn a_layer_over_the_memory_budget_is_an_error_naming_it_and_the_bytes() {
    // 10^8 units on 16 inputs: 1.6·10^9 weights, 1.28·10^10 bytes with their gradients in f32.
    let spec = parse(
        r#"{"inputs": 10, "layers": [{"type": "dense", "units": 16}, {"type": "dense", "units": 100000000}]}"#,
    )
    .unwrap();
    let e = spec.build::<f32>(0).err().expect("over the budget").to_string();
    assert!(e.contains("layer 1 (dense)") && e.contains("12800000000 bytes"), "{e}");
    assert!(e.contains(&crate::layers::PARAM_BUDGET_BYTES.to_string()), "{e}");
    // Under the budget the same layer kind builds.
    let spec = parse(r#"{"inputs": 10, "layers": [{"type": "dense", "units": 1000}]}"#).unwrap();
    assert!(spec.build::<f32>(0).is_ok());
}

#[test]
fn a_block_without_skip_is_its_branch_alone() {
    // A zero branch: with the skip the block passes x through, without it the output is F(x) = 0.
    let net = |skip: bool| {
        let json = format!(
            r#"{{"inputs": 3, "layers": [{{"type": "residual", "skip": {skip}, "repeat": 2, "layers": [
                {{"type": "dense", "units": 3, "activation": "tanh", "kernel_initializer": "zeros"}}]}}]}}"#
        );
        let mut m: Model<f64> = parse(&json).unwrap().build(1).unwrap();
        let kinds: Vec<&str> = m.layers().iter().map(|l| l.kind()).collect();
        (m.predict(&[1.0, -2.0, 0.5]).unwrap(), kinds)
    };
    assert_eq!(net(true), (vec![1.0, -2.0, 0.5], vec!["residual", "residual"]));
    assert_eq!(net(false), (vec![0.0, 0.0, 0.0], vec!["block", "block"]));
}

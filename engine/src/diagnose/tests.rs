//! Rule tests on hand-made records; the table of real networks built to
//! show each failure lives in the workspace tests.
use super::*;
use crate::monitor::record::{GLOBAL, metric as m, point};

/// Records of `steps` steps where layer l (1-based) has gradient norm
/// `norm(step, l)`, plus the global norm.
fn run(layers: usize, steps: u64, norm: impl Fn(u64, usize) -> f64) -> Records {
    let mut r = Records::new("s", "v", 1);
    for s in 0..steps {
        let mut g = 0.0;
        for l in 1..=layers {
            let n = norm(s, l);
            let name = format!("{l}:dense");
            r.push_named(s, &name, m::GRAD_NORM, n);
            r.push_named(s, &name, m::GRAD_RMS, n / 32.0);
            g += n * n;
        }
        r.push_named(s, GLOBAL, m::GLOBAL_GRAD_NORM, g.sqrt());
    }
    r
}

fn kinds(v: &[Verdict]) -> Vec<Kind> {
    v.iter().map(|v| v.kind).collect()
}

#[test]
fn empty_run_is_not_enough_data() {
    let cfg = DiagnoseConfig::default();
    assert_eq!(kinds(&diagnose(&Records::new("s", "v", 0), &cfg)), vec![Kind::NotEnoughData]);
    let mut only_loss = Records::new("s", "v", 0);
    only_loss.push_named(0, GLOBAL, m::LOSS, 0.7);
    assert_eq!(kinds(&diagnose(&only_loss, &cfg)), vec![Kind::NotEnoughData]);
}

#[test]
fn too_little_to_judge_the_depth_is_not_called_healthy() {
    let cfg = DiagnoseConfig::default();
    let mut one_layer = Records::new("s", "v", 0);
    one_layer.push_named(0, "1:linear(sigmoid)", m::GRAD_NORM, 4.5e-5);
    let v = diagnose(&one_layer, &cfg);
    assert_eq!(kinds(&v), vec![Kind::NotEnoughData]);
    assert!(v[0].evidence[0].contains("gradient norms of 1 layer(s)"), "{}", v[0]);
    let mut global_only = Records::new("s", "v", 0);
    for s in 0..5 {
        global_only.push_named(s, GLOBAL, m::GLOBAL_GRAD_NORM, 0.5);
    }
    assert_eq!(kinds(&diagnose(&global_only, &cfg)), vec![Kind::NotEnoughData]);
    // A failure the records do show is still reported.
    for s in 5..10 {
        global_only.push_named(s, GLOBAL, m::GLOBAL_GRAD_NORM, 1e4 * s as f64);
    }
    assert_eq!(kinds(&diagnose(&global_only, &cfg)), vec![Kind::Exploding]);
}

#[test]
fn flat_gradients_are_healthy() {
    let r = run(5, 10, |_, l| 0.1 * (1.0 + 0.1 * l as f64));
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::Healthy]);
    assert!(v[0].evidence[0].contains("within a factor"), "{}", v[0]);
}

#[test]
fn geometric_decay_towards_the_input_is_vanishing_in_the_early_layers() {
    // Each layer back loses a factor 10: layer 1 is 1e-7 of layer 8.
    let r = run(8, 10, |_, l| 10f64.powi(l as i32 - 8));
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::Vanishing]);
    assert_eq!(layer_span(&v[0].layers), "layers 1-4"); // layer 5 sits exactly at the 1e-3 threshold
    assert!(v[0].to_string().contains("first/last weight-gradient ratio 1e-7"), "{}", v[0]);
}

#[test]
fn tiny_everywhere_is_vanishing_even_with_a_healthy_ratio() {
    let r = run(4, 5, |_, _| 3e-8);
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::Vanishing]);
    assert!(v[0].suggestion.contains("init scale"), "{}", v[0]);
}

#[test]
fn growth_to_nan_is_one_exploding_verdict_naming_the_non_finite_step() {
    let mut r = run(3, 6, |s, _| 10f64.powi(s as i32 * 2));
    r.push_named(6, "2:dense", "non_finite:backward:layers.1.dense.weight", f64::NAN);
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::Exploding]);
    let text = v[0].to_string();
    assert!(text.contains("step 6, layer 2:dense, layers.1.dense.weight, backward pass"), "{text}");
}

#[test]
fn a_lone_nan_is_non_finite() {
    let mut r = run(3, 4, |_, _| 0.5);
    r.push_named(2, GLOBAL, m::LOSS, f64::NAN);
    assert_eq!(kinds(&diagnose(&r, &DiagnoseConfig::default())), vec![Kind::NonFinite]);
}

/// Layer 2's dead fraction: 0.2 before `died`, 0.9 from then on.
fn with_deaths(mut r: Records, steps: u64, died: u64) -> Records {
    for s in 0..steps {
        r.push_named(s, "2:dense", m::DEAD_FRAC, if s < died { 0.2 } else { 0.9 });
    }
    r
}

#[test]
fn dead_units_explain_the_vanishing_they_cause() {
    // Layer 1's gradient vanishes when the units above it die, at step 3.
    let r = with_deaths(run(3, 10, |s, l| if l == 1 && s >= 3 { 1e-9 } else { 0.5 }), 10, 3);
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::DeadUnits]);
    let text = v[0].to_string();
    assert!(text.contains("since step 3") && text.contains("ratio 2e-9"), "{text}");
}

#[test]
fn units_that_die_after_the_gradients_vanished_are_evidence_of_the_vanishing() {
    // Tiny gradients everywhere from step 0 (a too-small init), units dead only from step 3.
    let r = with_deaths(run(3, 10, |_, _| 3e-8), 10, 3);
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::Vanishing]);
    let text = v[0].to_string();
    assert!(text.contains("dead for the whole batch since step 3") && text.contains("init scale"), "{text}");
}

#[test]
fn units_killed_by_an_explosion_are_evidence_of_it() {
    let r = with_deaths(run(3, 6, |s, _| 10f64.powi(s as i32 * 2)), 6, 2);
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::Exploding]);
    assert!(v[0].to_string().contains("dead for the whole batch since step 2"), "{}", v[0]);
    // Units dead from the start are a cause of their own.
    let r = with_deaths(run(3, 6, |s, _| 10f64.powi(s as i32 * 2)), 6, 0);
    assert_eq!(kinds(&diagnose(&r, &DiagnoseConfig::default())), vec![Kind::Exploding, Kind::DeadUnits]);
}

#[test]
fn clipping_far_below_the_gradient_scale_is_too_aggressive() {
    let mut r = run(2, 10, |_, _| 2.0);
    for s in 0..10 {
        r.push_named(s, GLOBAL, m::CLIP_NORM_BEFORE, 3.2);
        r.push_named(s, GLOBAL, m::CLIP_NORM_AFTER, 0.01);
        r.push_named(s, GLOBAL, m::CLIP_ACTED, 1.0);
    }
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::ClippingTooAggressive]);
    assert!(v[0].to_string().contains("acted on 100% of steps"), "{}", v[0]);
}

#[test]
fn recurrent_gradient_lost_over_time_is_reported_per_layer() {
    let mut r = Records::new("s", "v", 1);
    for t in 0..50u32 {
        let at = point(&[("t", f64::from(t))]);
        r.push_named_at(9, "1:simple_rnn", &at, m::HIDDEN_GRAD_NORM, 0.5f64.powi(49 - t as i32));
        r.push_named_at(9, "2:lstm", &at, m::HIDDEN_GRAD_NORM, 0.99f64.powi(49 - t as i32));
    }
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::VanishingOverTime]);
    assert_eq!(v[0].layers, vec!["1:simple_rnn".to_string()]);
}

#[test]
fn thresholds_can_be_overridden() {
    let r = run(8, 10, |_, l| 10f64.powi(l as i32 - 8));
    let lenient = DiagnoseConfig { vanish_ratio: 1e-9, vanish_rms: 1e-10, ..Default::default() };
    assert_eq!(kinds(&diagnose(&r, &lenient)), vec![Kind::Healthy]);
}

#[test]
fn tiny_non_zero_gradients_everywhere_are_the_scale_even_with_dead_units_from_the_start() {
    // Dead units zero what passes through them; they cannot make every layer uniformly tiny.
    let r = with_deaths(run(3, 10, |_, _| 3e-8), 10, 0);
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::Vanishing]);
    assert!(v[0].to_string().contains("dead for the whole batch since step 0"), "{}", v[0]);
}

#[test]
fn exact_zero_gradients_with_dead_units_are_the_dead_units() {
    // Every gradient exactly zero (first/last ratio 0/0): the signature of units that emit zeros.
    let r = with_deaths(run(3, 10, |_, _| 0.0), 10, 0);
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::DeadUnits]);
    assert!(v[0].to_string().contains("undefined (both norms are zero)"), "{}", v[0]);
}

/// Rows of layer `1:NAME` at points `t=K` for 10 time steps at each of `steps` training steps, decaying by `rate(step)` per
/// time step towards the start.
fn recurrent_run(name: &str, steps: u64, rate: impl Fn(u64) -> f64) -> Records {
    let mut r = Records::new("s", "v", 1);
    for s in 0..steps {
        for t in 0..10u32 {
            let at = point(&[("t", f64::from(t))]);
            r.push_named_at(s, &format!("1:{name}"), &at, m::HIDDEN_GRAD_NORM, rate(s).powi(9 - t as i32));
        }
    }
    r
}

#[test]
fn one_noisy_step_of_lost_gradient_is_no_verdict() {
    // 0.3^9 = 2e-5 at one step of five, 0.9^9 = 0.39 at the others.
    let r = recurrent_run("simple_rnn(tanh)", 5, |s| if s == 4 { 0.3 } else { 0.9 });
    assert_eq!(kinds(&diagnose(&r, &DiagnoseConfig::default())), vec![Kind::Healthy]);
    let r = recurrent_run("simple_rnn(tanh)", 5, |s| if s >= 2 { 0.3 } else { 0.9 });
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::VanishingOverTime]);
    assert!(v[0].to_string().contains("under 1e-3 at 3"), "{}", v[0]);
}

#[test]
fn a_gated_layer_that_forgets_is_told_to_learn_to_keep_state_not_to_become_an_lstm() {
    let r = recurrent_run("lstm", 4, |_| 0.2);
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::VanishingOverTime]);
    assert!(v[0].suggestion.contains("forget-gate bias higher"), "{}", v[0]);
}

#[test]
fn updates_shrunk_by_aggressive_clipping_are_its_evidence() {
    let mut r = run(2, 10, |_, _| 2.0);
    for s in 0..10 {
        r.push_named(s, GLOBAL, m::CLIP_NORM_BEFORE, 3.2);
        r.push_named(s, GLOBAL, m::CLIP_NORM_AFTER, 0.01);
        r.push_named(s, GLOBAL, m::CLIP_ACTED, 1.0);
        for l in ["1:dense", "2:dense"] {
            r.push_named(s, l, m::UPDATE_RATIO, 2e-7);
        }
    }
    let v = diagnose(&r, &DiagnoseConfig::default());
    assert_eq!(kinds(&v), vec![Kind::ClippingTooAggressive]);
    assert!(v[0].to_string().contains("median update-to-weight ratio 2e-7"), "{}", v[0]);
    // Without clipping, the same updates are a verdict of their own.
    let mut r = run(2, 10, |_, _| 2.0);
    for s in 0..10 {
        for l in ["1:dense", "2:dense"] {
            r.push_named(s, l, m::UPDATE_RATIO, 2e-7);
        }
    }
    assert_eq!(kinds(&diagnose(&r, &DiagnoseConfig::default())), vec![Kind::UpdateRatioLow]);
}

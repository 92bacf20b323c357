//! The monitor attached to real training runs (release mode): what it records
//! per layer and per step, the vanishing it shows in a deep sigmoid network,
//! and the clean stop on the first NaN or infinity, which must name the step,
//! layer, tensor and pass where the value really appeared.
use gradlab::data::MatrixView;
use gradlab::data::random::normal;
use gradlab::layers::{Ctx, Dense, Layer, Recorded, from_fn};
use gradlab::model::{Data, FitConfig, Loss, Sequential};
use gradlab::monitor::{MonitorConfig, MonitorHook, Records, coordinate, metric as m};
use gradlab::optim::{Sgd, SgdConfig};
use gradlab::params::{ParamId, ParamStore};
use gradlab::{Error, NodeId, Result};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

fn regression(rows: usize, features: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f32> = (0..rows * features).map(|_| normal(&mut rng) as f32).collect();
    let y = x.chunks(features).map(|r| r.iter().sum::<f32>() / features as f32).collect();
    (x, y)
}

fn sgd(lr: f64) -> Sgd<f32> {
    Sgd::new(SgdConfig { learning_rate: lr, ..SgdConfig::default() }).unwrap()
}

fn deep_sigmoid(depth: usize) -> Sequential<f32> {
    let mut s = Sequential::new(10).seed(3);
    for _ in 0..depth {
        s = s.add(Dense::new(64).activation("sigmoid"));
    }
    s.add(Dense::new(1))
}

#[test]
fn records_every_layer_every_step_and_shows_vanishing() {
    let (x, y) = regression(256, 10, 1);
    let data = Data::values(view(&x, 10), view(&y, 1));
    let mut model = deep_sigmoid(10).build().unwrap();
    let mut hook = MonitorHook::new(&model, MonitorConfig::default(), Records::new("t", "sigmoid", 3));
    let cfg = || FitConfig::new(Loss::Mse).epochs(2).batch_size(32).seed(5);
    model.fit(&data, &mut cfg().optimizer(sgd(0.1)).hook(&mut hook)).unwrap();
    let r = hook.into_records();

    let layers = r.layers_with(m::GRAD_NORM);
    assert_eq!(layers.len(), 11, "10 hidden layers and the output: {layers:?}");
    assert_eq!(layers[0], "1:dense(sigmoid)");
    assert_eq!(layers[10], "11:dense");
    let steps = r.series_steps(m::LOSS);
    assert_eq!(steps, (0..16).collect::<Vec<u64>>(), "2 epochs of 8 batches");
    // Every monitored step, including the last, has its update ratio.
    assert_eq!(r.series("1:dense(sigmoid)", m::UPDATE_RATIO).len(), 16);
    // The sigmoid derivative (at most 1/4) shrinks the gradient layer after layer.
    let first = r.series("1:dense(sigmoid)", m::GRAD_NORM)[0].1;
    let last_hidden = r.series("10:dense(sigmoid)", m::GRAD_NORM)[0].1;
    assert!(first < last_hidden * 1e-3, "layer 1 {first:e} vs layer 10 {last_hidden:e}");
    let s1 = r.series("1:dense(sigmoid)", m::SIGNAL_NORM)[0].1;
    let s10 = r.series("10:dense(sigmoid)", m::SIGNAL_NORM)[0].1;
    assert!(s1 < s10 * 1e-3, "dL/dh: layer 1 {s1:e} vs layer 10 {s10:e}");
    // Sigmoid outputs are bounded: a saturation fraction is recorded; ReLU-only dead counts are not.
    assert!(!r.series("5:dense(sigmoid)", m::SATURATED_FRAC).is_empty());
    assert!(r.series("5:dense(sigmoid)", m::DEAD_FRAC).is_empty());
    // The global norm covers every layer's weights and biases.
    let global = r.series(gradlab::monitor::GLOBAL, m::GLOBAL_GRAD_NORM)[0].1;
    let sum_sq: f64 = (1..=11)
        .map(|l| {
            let name = if l == 11 { "11:dense".to_string() } else { format!("{l}:dense(sigmoid)") };
            r.series(&name, m::GRAD_NORM)[0].1.powi(2) + r.series(&name, m::BIAS_GRAD_NORM)[0].1.powi(2)
        })
        .sum();
    assert!((global - sum_sq.sqrt()).abs() <= 1e-9 * global, "{global} vs {}", sum_sq.sqrt());
}

#[test]
fn every_n_steps_records_only_those_steps() {
    let (x, y) = regression(128, 10, 2);
    let data = Data::values(view(&x, 10), view(&y, 1));
    let mut model = deep_sigmoid(3).build().unwrap();
    let config = MonitorConfig { every: 3, histograms: true };
    let mut hook = MonitorHook::new(&model, config, Records::new("t", "every3", 0));
    let cfg = || FitConfig::new(Loss::Mse).epochs(2).batch_size(16).seed(1);
    model.fit(&data, &mut cfg().optimizer(sgd(0.1)).hook(&mut hook)).unwrap();
    let r = hook.into_records();
    assert_eq!(r.series_steps(m::LOSS), vec![0, 3, 6, 9, 12, 15]);
    assert_eq!(r.series("2:dense(sigmoid)", m::UPDATE_RATIO).len(), 6);
    // The histogram of layer 1's weight gradient counts each of its 10 × 64 entries once.
    let hist: f64 = r
        .tidy()
        .filter(|t| t.step == 0 && t.layer == "1:dense(sigmoid)" && t.metric == m::GRAD_LOG10_HIST)
        .map(|t| t.value)
        .sum();
    assert_eq!(hist, 640.0);
    // The activation histogram counts each of the batch's 16 × 64 outputs once,
    // all of them in the bins covering sigmoid's (0, 1).
    let act: Vec<(f64, f64)> = r
        .tidy()
        .filter(|t| t.step == 0 && t.layer == "1:dense(sigmoid)" && t.metric == m::ACT_HIST)
        .map(|t| (coordinate(t.point, "bin").unwrap(), t.value))
        .collect();
    assert_eq!(act.iter().map(|a| a.1).sum::<f64>(), 1024.0);
    assert!(act.iter().all(|&(lo, n)| n == 0.0 || (0.0..1.0).contains(&lo)), "{act:?}");
}

/// A forward pass that turns a finite weight into an infinite output: at
/// step 3 the clip function (which runs after the hook, before the update)
/// plants an infinity in layer 2's kernel, so step 4's forward pass is the
/// first to carry it, out of layer 2.
#[test]
fn non_finite_forward_stops_at_the_layer_that_produced_it() {
    let (x, y) = regression(128, 10, 3);
    let data = Data::values(view(&x, 10), view(&y, 1));
    let mut model = Sequential::new(10)
        .seed(1)
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(1))
        .build()
        .unwrap();
    let mut hook = MonitorHook::new(&model, MonitorConfig::default(), Records::new("t", "inf", 0));
    let mut calls = 0;
    let plant = |p: &mut ParamStore<f32>| -> Result<()> {
        if calls == 3 {
            let id = p.iter().find(|(_, t)| t.name == "layers.1.dense.weight").unwrap().0;
            p.get_mut(id).value.iter_mut().for_each(|w| *w = f32::INFINITY);
        }
        calls += 1;
        Ok(())
    };
    let cfg = || FitConfig::new(Loss::Mse).epochs(3).batch_size(16).seed(2);
    let err = model.fit(&data, &mut cfg().optimizer(sgd(0.01)).hook(&mut hook).clip_with(plant)).unwrap_err();
    let Error::NonFinite { pass, place } = &err else { panic!("expected NonFinite, got {err}") };
    assert_eq!(*pass, "forward");
    assert!(place.contains("step 4") && place.contains("2:dense(relu)"), "{place}");
    let event = hook.first_non_finite().unwrap().clone();
    assert_eq!((event.step, event.layer.as_str(), event.tensor.as_str()), (4, "2:dense(relu)", "output"));
    // The records up to the stop are kept, and the stop itself is a row.
    let r = hook.into_records();
    assert_eq!(r.series_steps(m::LOSS), vec![0, 1, 2, 3]);
    assert!(r.metrics.iter().any(|m| m == "non_finite:forward:output"));
    let verdicts = gradlab::diagnose::diagnose(&r, &Default::default());
    let text = verdicts.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n");
    assert!(text.contains("step 4, layer 2:dense(relu), output, forward pass"), "{text}");
}

/// A layer that takes the square root of its input: finite forward, but
/// d sqrt(x)/dx is infinite at x = 0, where a ReLU below it sends its zeros.
struct Sqrt(Recorded);

impl Layer<f32> for Sqrt {
    fn kind(&self) -> &'static str {
        "sqrt"
    }
    fn output_width(&self, input_width: usize) -> Result<usize> {
        Ok(input_width)
    }
    fn forward(&mut self, ctx: &mut Ctx<'_, f32>, x: NodeId) -> Result<NodeId> {
        let y = ctx.tape.sqrt(x)?;
        self.0.output = Some(y);
        Ok(y)
    }
    fn params(&self) -> Vec<ParamId> {
        Vec::new()
    }
    fn recorded(&self) -> &Recorded {
        &self.0
    }
}

#[test]
fn non_finite_backward_names_the_layer_whose_signal_broke() {
    let (x, y) = regression(64, 10, 4);
    let data = Data::values(view(&x, 10), view(&y, 1));
    let mut model = Sequential::new(10)
        .seed(7)
        .add(Dense::new(8).activation("relu"))
        .add(from_fn("sqrt", |_, _| Ok(Box::new(Sqrt(Recorded::default())) as Box<dyn Layer<f32>>)))
        .add(Dense::new(1))
        .build()
        .unwrap();
    let mut hook = MonitorHook::new(&model, MonitorConfig::default(), Records::new("t", "sqrt", 0));
    let cfg = || FitConfig::new(Loss::Mse).epochs(1).batch_size(64).seed(0);
    let err = model.fit(&data, &mut cfg().optimizer(sgd(0.01)).hook(&mut hook)).unwrap_err();
    assert!(matches!(err, Error::NonFinite { pass: "backward", .. }), "{err}");
    let event = hook.first_non_finite().unwrap();
    // The sweep runs from the top: the output layer and the sqrt's own
    // output gradient are finite; the ReLU layer's dL/d(output) is not.
    assert_eq!(
        (event.step, event.layer.as_str(), event.tensor.as_str()),
        (0, "1:dense(relu)", "dL/d(output)")
    );
    assert!(hook.records().series_steps(m::LOSS).is_empty(), "nothing recorded for the broken step");
}

/// Without a monitor the step's own check stops the fit before the update,
/// naming the first parameter in store order whose gradient is not finite.
#[test]
fn non_finite_gradient_stops_the_step_naming_the_parameter() {
    let (x, y) = regression(64, 10, 4);
    let data = Data::values(view(&x, 10), view(&y, 1));
    let mut model = Sequential::new(10)
        .seed(7)
        .add(Dense::new(8).activation("relu"))
        .add(from_fn("sqrt", |_, _| Ok(Box::new(Sqrt(Recorded::default())) as Box<dyn Layer<f32>>)))
        .add(Dense::new(1))
        .build()
        .unwrap();
    let before: Vec<Vec<f32>> = model.params().iter().map(|(_, p)| p.value.clone()).collect();
    let cfg = FitConfig::new(Loss::Mse).epochs(1).batch_size(64).seed(0);
    let err = model.fit(&data, &mut cfg.optimizer(sgd(0.01))).unwrap_err();
    assert!(matches!(err, Error::NonFinite { pass: "backward", .. }), "{err}");
    assert!(err.to_string().contains("gradient of layers.0.dense.weight at step 0"), "{err}");
    let after: Vec<Vec<f32>> = model.params().iter().map(|(_, p)| p.value.clone()).collect();
    assert_eq!(before, after, "no update after a non-finite gradient");
}

#[test]
fn residual_blocks_probe_their_nested_layers_once() {
    use gradlab::layers::Residual;
    let (x, y) = regression(32, 8, 5);
    let data = Data::values(view(&x, 8), view(&y, 1));
    let block = Residual::new().add(Dense::new(8).activation("relu")).add(Dense::new(8));
    let mut model = Sequential::new(8).seed(2).add(block).add(Dense::new(1)).build().unwrap();
    let mut hook = MonitorHook::new(&model, MonitorConfig::default(), Records::new("t", "res", 0));
    let cfg = || FitConfig::new(Loss::Mse).epochs(1).batch_size(32);
    model.fit(&data, &mut cfg().optimizer(sgd(0.01)).hook(&mut hook)).unwrap();
    let r = hook.into_records();
    let names = r.layers_with(m::SIGNAL_NORM);
    assert_eq!(names, vec!["1:residual", "1.1:dense(relu)", "1.2:dense", "2:dense"]);
    // Without a projection the block owns no parameters of its own.
    assert!(r.series("1:residual", m::GRAD_NORM).is_empty());
    assert_eq!(r.layers_with(m::GRAD_NORM), vec!["1.1:dense(relu)", "1.2:dense", "2:dense"]);
}

/// `values` as rows of `cols`.
fn view<T>(values: &[T], cols: usize) -> MatrixView<'_, T> {
    MatrixView::new(values, cols).expect("whole rows")
}

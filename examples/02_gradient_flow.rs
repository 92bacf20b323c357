//! The gradient-flow table of seed 003, part 2: a 10-layer sigmoid network
//! (input 10, width 64) trained for a few epochs with the monitor attached,
//! then the per-layer diagnostics at the first and the last step, the
//! mean-field prediction beside them, and the diagnosis.
//!
//! `cargo run --release --example 02_gradient_flow [relu]` — with `relu`, the
//! same network with ReLU and He initialisation, for comparison.
use gradlab::data::MatrixView;
use gradlab::data::random::normal;
use gradlab::diagnose::{DiagnoseConfig, diagnose};
use gradlab::layers::Dense;
use gradlab::model::{Data, FitConfig, Loss, Sequential};
use gradlab::monitor::{GLOBAL, MonitorConfig, MonitorHook, Records, metric as m};
use gradlab::optim::{Sgd, SgdConfig};
use gradlab::theory::meanfield::MeanField;
use gradlab::{Activation, Result};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

const DEPTH: usize = 10;
const WIDTH: usize = 64;

fn main() -> Result<()> {
    let relu = std::env::args().nth(1).as_deref() == Some("relu");
    let (act, init) = if relu { ("relu", "he_normal") } else { ("sigmoid", "glorot_uniform") };

    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let rows = 512;
    let x: Vec<f32> = (0..rows * 10).map(|_| normal(&mut rng) as f32).collect();
    let y: Vec<f32> = x.chunks(10).map(|r| (r[0] * r[1] + r[2]).tanh()).collect();
    let data = Data::values(MatrixView::new(&x, 10)?, MatrixView::new(&y, 1)?);

    let mut net = Sequential::new(10).seed(42);
    for _ in 0..DEPTH {
        net = net.add(Dense::new(WIDTH).activation(act).kernel_initializer(init));
    }
    let mut model = net.add(Dense::new(1)).build()?;
    let mut hook = MonitorHook::new(&model, MonitorConfig::default(), Records::new("example", act, 42));
    // ReLU with He keeps every layer's gradient near the top layer's, so it takes
    // the smaller step; at 0.1 it diverges by step 3 (the monitor names where).
    let lr = if relu { 0.01 } else { 0.1 };
    let opt = Sgd::new(SgdConfig { learning_rate: lr, ..SgdConfig::default() })?;
    let mut cfg = FitConfig::new(Loss::Mse).optimizer(opt).epochs(5).batch_size(32).seed(1).hook(&mut hook);
    let fitted = model.fit(&data, &mut cfg);
    drop(cfg);
    let records = hook.into_records();
    let final_loss = match fitted {
        Ok(history) => history.epochs.last().map_or(f64::NAN, |e| e.loss),
        // A NaN stop is a result: show what was recorded up to it.
        Err(e @ gradlab::Error::NonFinite { .. }) => {
            println!("training stopped: {e}");
            f64::NAN
        }
        Err(e) => return Err(e),
    };

    let last = *records.series_steps(m::LOSS).last().expect("at least one step");
    println!(
        "{DEPTH}-layer {act} network ({init}), width {WIDTH}, SGD lr {lr}, {} steps; loss {:.4} -> {:.4}\n",
        last + 1,
        records.series(GLOBAL, m::LOSS)[0].1,
        final_loss
    );
    let at = |layer: &str, metric: &str, step: u64| {
        records.series(layer, metric).iter().find(|(s, _)| *s == step).map_or(f64::NAN, |&(_, v)| v)
    };
    // Mean field: sigma_w^2 = fan_in * Var(w) is 1 for glorot at equal widths and
    // 2 for He; the first layer's pre-activation variance comes from 10 unit inputs.
    let (activation, sigma_w2, q1) =
        if relu { (Activation::Relu, 2.0, 2.0) } else { (Activation::Sigmoid, 1.0, 10.0 * 2.0 / 74.0) };
    let predicted_ratios =
        MeanField::new(activation, f64::sqrt(sigma_w2), 0.0)?.gradient_norm_ratios(q1, DEPTH)?;
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10} {:>10}",
        "layer", "|dW| step0", "|dW| last", "rms step0", "|dL/dh|", "pred", "sat/dead", "upd ratio"
    );
    let layers = records.layers_with(m::GRAD_NORM);
    let top = layers.len() - 1;
    let top_signal = at(layers[top - 1], m::SIGNAL_NORM, 0);
    for (l, name) in layers.iter().enumerate() {
        let sat = at(name, m::SATURATED_FRAC, 0);
        let dead = at(name, m::DEAD_FRAC, 0);
        let units = if sat.is_nan() { dead } else { sat };
        // Mean field: ||dL/dh_l|| / ||dL/dh_L|| over the hidden stack.
        let predicted = if l < top { top_signal * predicted_ratios[l] } else { f64::NAN };
        let opt = |v: f64, w: usize| if v.is_nan() { format!("{:>w$}", "-") } else { format!("{v:>w$.1e}") };
        let pct = if units.is_nan() { format!("{:>10}", "-") } else { format!("{:>9.0}%", units * 100.0) };
        println!(
            "{name:<18} {:>10.2e} {:>10.2e} {:>10.2e} {:>10.2e} {} {pct} {}",
            at(name, m::GRAD_NORM, 0),
            at(name, m::GRAD_NORM, last),
            at(name, m::GRAD_RMS, 0),
            at(name, m::SIGNAL_NORM, 0),
            opt(predicted, 9),
            opt(at(name, m::UPDATE_RATIO, 0), 10),
        );
    }
    println!(
        "\n|dL/dh|: the backpropagated signal at the layer's output; pred: the mean-field prediction of it, \
         from the top hidden layer's; saturated: {} at step 0.\n",
        if relu { "ReLU units dead for the whole batch" } else { "sigmoid outputs within 1% of 0 or 1" }
    );
    for v in diagnose(&records, &DiagnoseConfig::default()) {
        println!("{v}\n");
    }
    Ok(())
}

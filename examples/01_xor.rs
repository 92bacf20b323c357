//! XOR on a 2-8-8-1 ReLU network: build, train, predict, and print each
//! layer's gradient norm at the first and the last step.
//!
//! cargo run --release --example 01_xor
use gradlab::layers::Dense;
use gradlab::model::{Data, FitConfig, FnHook, Loss, Sequential, StepView, Targets};
use gradlab::optim::Optimizer;
use gradlab::params::ParamStore;

/// Plain SGD with momentum, enough for XOR (the optimiser module has the full set).
struct Momentum {
    lr: f32,
    velocity: Vec<Vec<f32>>,
}

impl Optimizer<f32> for Momentum {
    fn step(&mut self, params: &mut ParamStore<f32>) -> gradlab::Result<()> {
        self.velocity.resize_with(params.len(), Vec::new);
        for ((_, p), v) in params.iter_mut().zip(&mut self.velocity) {
            v.resize(p.value.len(), 0.0);
            for ((w, g), vi) in p.value.iter_mut().zip(&p.grad).zip(v.iter_mut()) {
                *vi = 0.9 * *vi - self.lr * g;
                *w += *vi;
            }
        }
        Ok(())
    }
    fn learning_rate(&self) -> f64 {
        self.lr as f64
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr as f32;
    }
}

fn main() -> gradlab::Result<()> {
    let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let y = [0.0, 1.0, 1.0, 0.0];
    let mut model = Sequential::new(2)
        .add(Dense::new(8).activation("relu"))
        .add(Dense::new(8).activation("relu"))
        .add(Dense::new(1).activation("sigmoid"))
        .seed(7)
        .build()?;
    print!("{}", model.summary());

    let data = Data { x: &x, features: 2, targets: Targets::Values { y: &y, width: 1 } };
    let cfg = FitConfig::new(Loss::BinaryCrossentropy).epochs(500).batch_size(4).seed(7);
    let last = cfg.epochs - 1;
    // The hook reads every gradient after backward: L2 norm per layer.
    let mut hook = FnHook(|v: &StepView<'_, f32>| {
        if v.step == 0 || v.step == last {
            println!("step {:>3}  loss {:.4}", v.step, v.loss);
            for (i, layer) in v.layers.iter().enumerate() {
                let sq: f32 =
                    layer.params().iter().flat_map(|&id| &v.params.get(id).grad).map(|g| g * g).sum();
                println!("  layers.{i} ({})  |dL/dθ| = {:.3e}", layer.kind(), sq.sqrt());
            }
        }
        Ok(())
    });
    let history =
        model.fit(&data, &cfg, &mut Momentum { lr: 0.05, velocity: Vec::new() }, &mut hook, None)?;
    let final_epoch = history.epochs.last().expect("500 epochs ran");
    println!("final loss {:.4}, accuracy {}", final_epoch.loss, final_epoch.accuracy);
    for (row, p) in x.chunks(2).zip(model.predict(&x)?) {
        println!("{row:?} -> {p:.3}");
    }
    Ok(())
}

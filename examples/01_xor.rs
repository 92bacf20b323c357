//! XOR on a 2-8-8-1 ReLU network with a sigmoid output, trained with Adam on
//! binary cross-entropy: build, train, print the loss as it falls, each
//! layer's gradient norm at the first and the last step, and the prediction
//! for each of the four inputs.
//!
//! cargo run --release --example 01_xor
use gradlab::data::Matrix;
use gradlab::layers::Dense;
use gradlab::model::{Data, FitConfig, FnHook, Loss, Sequential, StepView};
use gradlab::optim::{Adam, AdamConfig};

fn main() -> gradlab::Result<()> {
    let x = Matrix::from_rows(&[[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])?;
    let y = Matrix::from_rows(&[[0.0], [1.0], [1.0], [0.0]])?;
    let mut model = Sequential::new(2)
        .add(Dense::new(8).activation("relu"))
        .add(Dense::new(8).activation("relu"))
        .add(Dense::new(1).activation("sigmoid"))
        .seed(7)
        .build()?;
    print!("{}", model.summary());

    let data = Data::values(x.view(), y.view());
    let epochs = 500;
    let last = epochs - 1;
    // The hook reads every gradient after backward: L2 norm per layer.
    let hook = FnHook(|v: &StepView<'_, f32>| {
        if v.step.is_multiple_of(50) || v.step == last {
            println!("step {:>3}  loss {:.4}", v.step, v.loss);
        }
        if v.step == 0 || v.step == last {
            for (i, layer) in v.layers.iter().enumerate() {
                let sq: f32 =
                    layer.params().iter().flat_map(|&id| &v.params.get(id).grad).map(|g| g * g).sum();
                println!("  layers.{i} ({})  |dL/dθ| = {:.3e}", layer.kind(), sq.sqrt());
            }
        }
        Ok(())
    });
    let adam = Adam::new(AdamConfig { learning_rate: 0.01, ..AdamConfig::default() })?;
    let mut cfg = FitConfig::new(Loss::BinaryCrossentropy)
        .optimizer(adam)
        .epochs(epochs)
        .batch_size(4)
        .seed(7)
        .hook(hook);
    let history = model.fit(&data, &mut cfg)?;
    let final_epoch = history.epochs.last().expect("500 epochs ran");
    println!("final loss {:.4}, accuracy {}", final_epoch.loss, final_epoch.accuracy);
    for ((row, p), t) in x.values().chunks(2).zip(model.predict(x.values())?).zip(y.values()) {
        println!("{row:?} -> {p:.3} (target {t})");
    }
    Ok(())
}

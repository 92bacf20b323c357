//! The README's "Using the engine" snippet, compiled and run: batch norm
//! between a dense layer's product and its ReLU, trained on the shipped
//! digits with the monitor attached, then diagnosed. `tests/readme.rs`
//! checks that the README shows exactly these lines.
//!
//! cargo run --release --example 03_readme
fn main() -> gradlab::Result<()> {
    use gradlab::data::{data_dir, digits};
    use gradlab::layers::{Activation, BatchNormalization, Dense};
    use gradlab::model::{Data, FitConfig, Loss, Sequential};
    use gradlab::monitor::{MonitorConfig, MonitorHook, Records};
    use gradlab::optim::{Adam, AdamConfig};

    let digits = digits(data_dir())?; // 1797 rows of 64 pixels, 10 classes
    let mut model = Sequential::new(64)
        .seed(7)
        .add(Dense::new(128).kernel_initializer("he_normal"))
        .add(BatchNormalization::new())
        .add(Activation::new("relu"))
        .add(Dense::new(10).activation("softmax"))
        .build()?;
    let mut monitor = MonitorHook::new(&model, MonitorConfig::default(), Records::new("mine", "bn_relu", 7));
    let history = model.fit(
        &Data::from(&digits),
        &mut FitConfig::new(Loss::SparseCategoricalCrossentropy)
            .optimizer(Adam::new(AdamConfig::default())?)
            .epochs(3)
            .batch_size(32)
            .seed(1)
            .hook(&mut monitor),
    )?;
    let verdicts = gradlab::diagnose::diagnose(monitor.records(), &Default::default());

    let last = history.epochs.last().expect("3 epochs ran");
    println!("loss {:.3}, accuracy {:.3}", last.loss, last.accuracy);
    for v in &verdicts {
        println!("{v:?}");
    }
    Ok(())
}

//! Training and evaluation. One step of [`Model::fit`]:
//! tape.clear (which unbinds the parameters), forward, loss, backward (the
//! gradients land in the [`ParamStore`] the tape holds), the [`StepHook`] (read-only: the monitor reads every
//! gradient and dL/dh here), the non-finite check, optional clipping, the
//! optimiser step. A batch's inputs are gathered straight into the tape's
//! input node and its targets into buffers the model keeps, so a
//! steady-state step allocates nothing.
use super::{Data, Loss, Model, Targets, record_forward_with};
use crate::clip::{ClipReport, ClipSpec};
use crate::error::{Error, Result};
use crate::kernels::hot_pool::{self, Parts};
use crate::layers::{Layer, OutputAct};
use crate::optim::Optimizer;
use crate::params::ParamStore;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};
use rand_chacha::ChaCha8Rng;

/// Values below which a batch is gathered whole on the calling thread.
const GATHER_MIN_PART: usize = 8192;
use rand_core::{Rng, SeedableRng};

/// Mixed into the fit seed so dropout masks and shuffling draw from separate streams.
const DROPOUT_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;

/// One training run's settings (Keras' `compile` and `fit` arguments in
/// one place): loss, optimiser, epochs, batch size, shuffling, seed,
/// optional validation data, clipping and hook. The optimiser and the hook
/// may be owned or borrowed (`.optimizer(&mut adam)` keeps its state with
/// the caller); the optimiser's state persists across fits with one config.
pub struct FitConfig<'a, T: Real> {
    pub loss: Loss,
    pub epochs: usize,
    pub batch_size: usize,
    /// Reshuffle the samples at the start of each epoch.
    pub shuffle: bool,
    /// Seed of the shuffling and dropout generators.
    pub seed: u64,
    /// Evaluated at each epoch's end (inference mode); does not change the run.
    pub validation: Option<Data<'a, T>>,
    optimizer: Option<Box<dyn Optimizer<T> + 'a>>,
    clip: Option<Clip<'a, T>>,
    hook: Box<dyn StepHook<T> + 'a>,
}

/// A function of the gathered gradients that runs where clipping runs.
type GradFn<'a, T> = Box<dyn FnMut(&mut ParamStore<T>) -> Result<()> + 'a>;

/// A clipping spec (its report goes to the hook), or any function of the
/// gathered gradients that runs where clipping runs.
enum Clip<'a, T: Real> {
    Spec { spec: ClipSpec, norms: Vec<f64> },
    With(GradFn<'a, T>),
}

impl<'a, T: Real> FitConfig<'a, T> {
    /// Keras defaults: one epoch, batch 32, shuffled, seed 0, no validation,
    /// no clipping, [`NoHook`]; the optimiser must be set.
    pub fn new(loss: Loss) -> Self {
        FitConfig {
            loss,
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            validation: None,
            optimizer: None,
            clip: None,
            hook: Box::new(NoHook),
        }
    }

    /// The optimiser, owned (`Adam::new(..)?`, a `Box<dyn Optimizer>`) or borrowed (`&mut adam`).
    pub fn optimizer(mut self, opt: impl Optimizer<T> + 'a) -> Self {
        self.optimizer = Some(Box::new(opt));
        self
    }

    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }

    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn validation(mut self, data: Data<'a, T>) -> Self {
        self.validation = Some(data);
        self
    }

    /// Clips the gathered gradients before each update; each step's
    /// [`ClipReport`] goes to [`StepHook::on_clip`].
    pub fn clip(mut self, spec: ClipSpec) -> Self {
        self.clip = Some(Clip::Spec { spec, norms: Vec::new() });
        self
    }

    /// Runs `f` on the gathered gradients where clipping runs (after the
    /// hook, before the update), e.g. a custom clipping.
    pub fn clip_with(mut self, f: impl FnMut(&mut ParamStore<T>) -> Result<()> + 'a) -> Self {
        self.clip = Some(Clip::With(Box::new(f)));
        self
    }

    /// The step hook, owned or borrowed (`&mut monitor`, read after the fit).
    pub fn hook(mut self, hook: impl StepHook<T> + 'a) -> Self {
        self.hook = Box::new(hook);
        self
    }

    /// Clips as configured and tells the hook.
    fn apply_clip(&mut self, params: &mut ParamStore<T>, step: usize) -> Result<()> {
        match &mut self.clip {
            None => Ok(()),
            Some(Clip::With(f)) => f(params),
            Some(Clip::Spec { spec, norms }) => {
                let report = spec.apply(params, norms)?;
                self.hook.on_clip(step, &report)
            }
        }
    }
}

/// What the hook sees after backward: the tape (every node's value and
/// gradient, dL/dh included), the layers' recorded nodes and the gathered
/// parameter gradients, all read-only.
pub struct StepView<'a, T: Real> {
    /// Global step index, counted from 0 across epochs.
    pub step: usize,
    pub epoch: usize,
    pub batch: usize,
    pub loss: f64,
    pub tape: &'a Tape<T>,
    pub layers: &'a [Box<dyn Layer<T>>],
    pub params: &'a ParamStore<T>,
    pub input: NodeId,
    pub output: NodeId,
    pub loss_node: NodeId,
}

/// Called at each step's hook point and at each epoch's end.
pub trait StepHook<T: Real> {
    fn on_step(&mut self, view: &StepView<'_, T>) -> Result<()>;
    /// Called instead of [`StepHook::on_step`] when the forward pass gave a
    /// non-finite loss, before training stops: the tape holds the forward
    /// values only (no gradients). An error returned here replaces the
    /// model's own, so a monitor can say in which layer the value appeared.
    fn on_non_finite(&mut self, _view: &StepView<'_, T>) -> Result<()> {
        Ok(())
    }
    fn on_epoch_end(&mut self, _log: &EpochLog) -> Result<()> {
        Ok(())
    }
    /// The report of the configured clipping at `step`, after the step's
    /// [`StepHook::on_step`] and before its update (the hook reads the
    /// unclipped gradients).
    fn on_clip(&mut self, _step: usize, _report: &ClipReport) -> Result<()> {
        Ok(())
    }
    /// Called once when `fit` ends, by success or by error, with the
    /// parameters as training left them (after the last update).
    fn on_fit_end(&mut self, _params: &ParamStore<T>) -> Result<()> {
        Ok(())
    }
}

/// A borrowed hook works as the hook, so the caller reads it after `fit`.
impl<T: Real, H: StepHook<T> + ?Sized> StepHook<T> for &mut H {
    fn on_step(&mut self, view: &StepView<'_, T>) -> Result<()> {
        (**self).on_step(view)
    }
    fn on_non_finite(&mut self, view: &StepView<'_, T>) -> Result<()> {
        (**self).on_non_finite(view)
    }
    fn on_epoch_end(&mut self, log: &EpochLog) -> Result<()> {
        (**self).on_epoch_end(log)
    }
    fn on_clip(&mut self, step: usize, report: &ClipReport) -> Result<()> {
        (**self).on_clip(step, report)
    }
    fn on_fit_end(&mut self, params: &ParamStore<T>) -> Result<()> {
        (**self).on_fit_end(params)
    }
}

/// A hook that does nothing.
pub struct NoHook;

impl<T: Real> StepHook<T> for NoHook {
    fn on_step(&mut self, _: &StepView<'_, T>) -> Result<()> {
        Ok(())
    }
}

/// A closure as a step hook.
pub struct FnHook<F>(pub F);

impl<T: Real, F: FnMut(&StepView<'_, T>) -> Result<()>> StepHook<T> for FnHook<F> {
    fn on_step(&mut self, view: &StepView<'_, T>) -> Result<()> {
        (self.0)(view)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct EpochLog {
    pub epoch: usize,
    /// Mean training loss over the epoch's samples.
    pub loss: f64,
    /// Training accuracy over the epoch (argmax for several outputs, a 0.5
    /// probability threshold for one).
    pub accuracy: f64,
    pub steps: usize,
    /// Loss and accuracy on the validation data at the epoch's end (inference mode).
    pub validation: Option<Evaluation>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub epochs: Vec<EpochLog>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
}

impl<T: Real> Model<T> {
    /// Trains on `data` as `cfg` says; see the module doc for one step's
    /// order. Stops with [`Error::NonFinite`] naming the step when the loss
    /// or a gradient is not finite. The hook's [`StepHook::on_fit_end`] runs
    /// however the fit ends.
    pub fn fit(&mut self, data: &Data<'_, T>, cfg: &mut FitConfig<'_, T>) -> Result<History> {
        // Many small steps in a row: a parallel product must not pay to wake a sleeping worker.
        let result = crate::kernels::hot_pool::with_hot_pool(|| self.fit_epochs(data, cfg));
        let end = cfg.hook.on_fit_end(self.tape.params());
        let history = result?;
        end.map(|_| history)
    }

    fn fit_epochs(&mut self, data: &Data<'_, T>, cfg: &mut FitConfig<'_, T>) -> Result<History> {
        let rows = self.check_data(data, cfg.loss, cfg.batch_size)?;
        if let Some(v) = &cfg.validation {
            self.check_data(v, cfg.loss, cfg.batch_size)?;
        }
        if let Some(Clip::Spec { spec, .. }) = &cfg.clip {
            spec.validate()?;
        }
        let Some(mut opt) = cfg.optimizer.take() else {
            return Err(Error::invalid(
                "fit",
                "the config has no optimizer; set one, e.g. FitConfig::new(loss).optimizer(Adam::new(..)?)",
            ));
        };
        let result = self.run_epochs(data, rows, cfg, opt.as_mut());
        cfg.optimizer = Some(opt);
        result
    }

    fn run_epochs(
        &mut self,
        data: &Data<'_, T>,
        rows: usize,
        cfg: &mut FitConfig<'_, T>,
        opt: &mut dyn Optimizer<T>,
    ) -> Result<History> {
        let mut shuffle_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        self.rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ DROPOUT_STREAM);
        let mut history = History { epochs: Vec::with_capacity(cfg.epochs) };
        let mut step = 0;
        for epoch in 0..cfg.epochs {
            // A fresh permutation of the identity each epoch, so nothing else
            // that uses the order buffer (validation) changes the run.
            self.order.clear();
            self.order.extend(0..rows);
            if cfg.shuffle {
                shuffle(&mut self.order, &mut shuffle_rng);
            }
            let (mut loss_sum, mut correct, mut steps) = (0.0, 0, 0);
            for (batch, start) in (0..rows).step_by(cfg.batch_size).enumerate() {
                let n = cfg.batch_size.min(rows - start);
                self.load_batch(data, cfg.loss, start, n);
                let out = self.forward_batch(data, start, n, true)?;
                let loss_node = self.record_loss(out, cfg.loss, n)?;
                let loss = self.tape.scalar(loss_node).as_f64();
                let place = || format!("step {step} (epoch {epoch}, batch {batch})");
                if !loss.is_finite() {
                    let view = self.step_view([step, epoch, batch], loss, out, loss_node);
                    cfg.hook.on_non_finite(&view)?;
                    return Err(Error::NonFinite {
                        pass: "forward",
                        place: format!("loss = {loss} at {}", place()),
                    });
                }
                correct += self.count_correct(out, cfg.loss, n);
                self.tape.backward(loss_node)?;
                let view = self.step_view([step, epoch, batch], loss, out, loss_node);
                cfg.hook.on_step(&view)?;
                // The sweep checked each gradient as it finished it (the hook only reads).
                let finite = self.tape.param_grads_finite();
                if let Some(((_, p), _)) = self.tape.params().iter().zip(finite).find(|(_, ok)| !**ok) {
                    let place = format!("gradient of {} at {}", p.name, place());
                    return Err(Error::NonFinite { pass: "backward", place });
                }
                cfg.apply_clip(self.tape.params_mut(), step)?;
                opt.step(self.tape.params_mut())?;
                loss_sum += loss * n as f64;
                step += 1;
                steps += 1;
            }
            let log = EpochLog {
                epoch,
                loss: loss_sum / rows as f64,
                accuracy: correct as f64 / rows as f64,
                steps,
                validation: match &cfg.validation {
                    Some(v) => Some(self.evaluate(v, cfg.loss, cfg.batch_size)?),
                    None => None,
                },
            };
            cfg.hook.on_epoch_end(&log)?;
            history.epochs.push(log);
        }
        Ok(history)
    }

    /// Records the forward pass of the batch of `n` rows at `start` of the
    /// order, gathered from `data` straight into the tape's input node.
    fn forward_batch(
        &mut self,
        data: &Data<'_, T>,
        start: usize,
        n: usize,
        training: bool,
    ) -> Result<NodeId> {
        let shape = Shape::new(n, self.input_width);
        let (order, w) = (&self.order[start..start + n], self.input_width);
        // Cut into the hot run's parts like the first product that reads the rows (by rows), so
        // each thread copies the rows it multiplies (kernels::hot_pool); a copy changes no bit.
        let fill = |out: &mut [T]| {
            let (len, w) = (out.len(), w.max(1));
            let out = Parts::new(out);
            hot_pool::for_parts(len, w, GATHER_MIN_PART, &|e| {
                let order = &order[e.start / w..e.end / w];
                // SAFETY: for_parts hands out disjoint ranges.
                for (row, &i) in unsafe { out.range(e) }.chunks_exact_mut(w).zip(order) {
                    row.copy_from_slice(data.x.row(i));
                }
            });
        };
        record_forward_with(&mut self.tape, &mut self.layers, &mut self.rng, shape, training, fill)
    }

    /// What the hook sees of the step at `[step, epoch, batch]`.
    fn step_view(&self, at: [usize; 3], loss: f64, output: NodeId, loss_node: NodeId) -> StepView<'_, T> {
        let [step, epoch, batch] = at;
        StepView {
            step,
            epoch,
            batch,
            loss,
            tape: &self.tape,
            layers: &self.layers,
            params: self.tape.params(),
            input: NodeId(0),
            output,
            loss_node,
        }
    }

    /// One forward and backward pass over all of `data` as a single batch in
    /// training mode, without an update: the gradients are gathered into the
    /// parameter store and the tape keeps every node's value and dL/d(node)
    /// (read them through [`Model::tape`] and the layers' recorded nodes).
    /// Returns the loss. For gradients at initialisation, or between fits.
    pub fn gradients(&mut self, data: &Data<'_, T>, loss: Loss) -> Result<f64> {
        let rows = self.check_data(data, loss, 1)?;
        self.order.clear();
        self.order.extend(0..rows);
        self.load_batch(data, loss, 0, rows);
        let out = self.forward_batch(data, 0, rows, true)?;
        let node = self.record_loss(out, loss, rows)?;
        self.tape.backward(node)?;
        Ok(self.tape.scalar(node).as_f64())
    }

    /// One forward and backward pass over all of `data` as a single batch
    /// in training mode, shown to `hook` as step 0 of epoch 0 (its
    /// `on_step`, or `on_non_finite` when the loss is not finite, which is
    /// then an error), and no update: the gradients the network has at this
    /// point, e.g. at initialisation, through the same hook a fit uses.
    /// Returns the loss.
    pub fn probe(&mut self, data: &Data<'_, T>, loss: Loss, hook: &mut dyn StepHook<T>) -> Result<f64> {
        let rows = self.check_data(data, loss, 1)?;
        self.order.clear();
        self.order.extend(0..rows);
        self.load_batch(data, loss, 0, rows);
        let out = self.forward_batch(data, 0, rows, true)?;
        let node = self.record_loss(out, loss, rows)?;
        let value = self.tape.scalar(node).as_f64();
        if !value.is_finite() {
            hook.on_non_finite(&self.step_view([0, 0, 0], value, out, node))?;
            return Err(Error::NonFinite { pass: "forward", place: format!("loss = {value} at the probe") });
        }
        self.tape.backward(node)?;
        hook.on_step(&self.step_view([0, 0, 0], value, out, node))?;
        Ok(value)
    }

    /// Mean loss and accuracy over `data` in inference mode, in batches.
    pub fn evaluate(&mut self, data: &Data<'_, T>, loss: Loss, batch_size: usize) -> Result<Evaluation> {
        let rows = self.check_data(data, loss, batch_size)?;
        self.order.clear();
        self.order.extend(0..rows);
        let (mut loss_sum, mut correct) = (0.0, 0);
        for start in (0..rows).step_by(batch_size) {
            let n = batch_size.min(rows - start);
            self.load_batch(data, loss, start, n);
            let out = self.forward_batch(data, start, n, false)?;
            let node = self.record_loss(out, loss, n)?;
            loss_sum += self.tape.scalar(node).as_f64() * n as f64;
            correct += self.count_correct(out, loss, n);
        }
        Ok(Evaluation { loss: loss_sum / rows as f64, accuracy: correct as f64 / rows as f64 })
    }

    /// Checks the data against the model and the loss; returns the row count.
    fn check_data(&self, data: &Data<'_, T>, loss: Loss, batch_size: usize) -> Result<usize> {
        let bad = |msg: String| Err(Error::invalid("fit", msg));
        if batch_size == 0 {
            return bad("batch size must be positive, got 0".into());
        }
        let (rows, features) = (data.x.rows(), data.x.cols());
        if !data.x.is_whole() || rows == 0 {
            return bad(format!(
                "{} values are not a positive number of rows of {features}",
                data.x.values().len()
            ));
        }
        if features != self.input_width {
            return bad(format!(
                "data has {features} features, the model's input width is {}",
                self.input_width
            ));
        }
        let w = self.output_width;
        match data.targets {
            Targets::Values(y) => {
                let width = y.cols();
                if width != w || !y.is_whole() || y.rows() != rows {
                    return bad(format!(
                        "{} target values of width {width} for {rows} rows of output width {w}",
                        y.values().len()
                    ));
                }
                if loss == Loss::SparseCategoricalCrossentropy {
                    return bad("sparse_categorical_crossentropy needs class labels, got value rows".into());
                }
            }
            Targets::Labels { labels, classes } => {
                if labels.len() != rows {
                    return bad(format!("{} labels for {rows} rows", labels.len()));
                }
                if let Some((row, l)) = labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
                    return bad(format!("label {l} at row {row} is not below {classes} classes"));
                }
                let fits = match loss {
                    Loss::SparseCategoricalCrossentropy | Loss::CategoricalCrossentropy => classes == w,
                    Loss::BinaryCrossentropy | Loss::Mse => (w == 1 && classes <= 2) || classes == w,
                };
                if !fits {
                    return bad(format!(
                        "{classes} classes do not fit output width {w} under {}",
                        loss.name()
                    ));
                }
            }
        }
        let clash = match (loss, self.head) {
            (Loss::BinaryCrossentropy, OutputAct::Softmax) => Some("softmax"),
            (Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy, OutputAct::Sigmoid) => {
                Some("sigmoid")
            }
            _ => None,
        };
        if let Some(act) = clash {
            return bad(format!("{} does not apply to a {act} output", loss.name()));
        }
        Ok(rows)
    }

    /// Copies the targets of rows `order[start..start + n]` into the batch
    /// buffers (one-hot rows when labels meet a loss that wants value rows);
    /// [`Self::forward_batch`] gathers their inputs.
    fn load_batch(&mut self, data: &Data<'_, T>, loss: Loss, start: usize, n: usize) {
        let w = self.output_width;
        self.yb.clear();
        self.lb.clear();
        for &i in &self.order[start..start + n] {
            match data.targets {
                Targets::Values(y) => self.yb.extend_from_slice(y.row(i)),
                Targets::Labels { labels, .. } => {
                    let l = labels[i];
                    self.lb.push(l);
                    if loss != Loss::SparseCategoricalCrossentropy {
                        if w == 1 {
                            self.yb.push(T::c(l as f64));
                        } else {
                            self.yb.extend((0..w).map(|j| if j == l { T::one() } else { T::zero() }));
                        }
                    }
                }
            }
        }
    }

    fn record_loss(&mut self, out: NodeId, loss: Loss, n: usize) -> Result<NodeId> {
        let shape = Shape::new(n, self.output_width);
        match loss {
            Loss::SparseCategoricalCrossentropy => self.tape.sparse_softmax_cross_entropy(out, &self.lb),
            Loss::Mse => {
                let pred = self.apply_head(out)?;
                let t = self.tape.input(shape, &self.yb)?;
                self.tape.mse(pred, t)
            }
            Loss::BinaryCrossentropy => {
                let t = self.tape.input(shape, &self.yb)?;
                self.tape.bce_with_logits(out, t)
            }
            Loss::CategoricalCrossentropy => {
                let t = self.tape.input(shape, &self.yb)?;
                self.tape.softmax_cross_entropy(out, t)
            }
        }
    }

    fn count_correct(&self, out: NodeId, loss: Loss, n: usize) -> usize {
        let (o, w) = (self.tape.value(out), self.output_width);
        let sparse = loss == Loss::SparseCategoricalCrossentropy;
        if w == 1 {
            // Logits cross zero where probabilities cross 0.5.
            let logits = self.head == OutputAct::Sigmoid || loss == Loss::BinaryCrossentropy;
            let thr = if logits { 0.0 } else { 0.5 };
            (0..n)
                .filter(|&r| {
                    let target = if sparse { self.lb[r] as f64 } else { self.yb[r].as_f64() };
                    (o[r].as_f64() > thr) == (target > 0.5)
                })
                .count()
        } else {
            (0..n)
                .filter(|&r| {
                    let want = if sparse { self.lb[r] } else { argmax(&self.yb[r * w..(r + 1) * w]) };
                    argmax(&o[r * w..(r + 1) * w]) == want
                })
                .count()
        }
    }
}

fn argmax<T: Real>(row: &[T]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, T::neg_infinity()), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) })
        .0
}

/// Fisher–Yates with a multiply-shift index draw (bias below 2⁻⁶⁰ for our sizes).
fn shuffle(order: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..order.len()).rev() {
        let j = ((rng.next_u64() as u128 * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
}

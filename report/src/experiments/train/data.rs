//! The training data of a `train` scenario (`[params.data]`): a shipped data set by name with a
//! stratified train/test split drawn from the run's seed, or a seeded generator (the sequence tasks
//! included); optional standardisation fitted on the training part only, then an optional factor on
//! every input (`input_scale = 255` undoes the pixels' [0, 1] scaling, the unscaled-input mistake).
use engine::data::random::normal;
use engine::data::sequence::{ADDING_WIDTH, CopyTask, adding_problem};
use engine::data::{Dataset, Standardizer, Targets, digits, mnist_5k, synthetic};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// UCI optical digits, 1797 × 64, pixels in [0, 1].
    Digits,
    /// The shipped 5000-sample MNIST subset, 784 pixels in [0, 1].
    Mnist,
    /// The four XOR points, `repeats` times, with `noise_std` input noise.
    Xor,
    /// Gaussian clusters: `samples`, `classes`, `features`, `separation`.
    GaussianClassification,
    /// Gaussian inputs; targets `x·w + noise_std·e` (`signal = true`) or pure noise `noise_std·e`.
    GaussianRegression,
    /// The adding problem: `samples` sequences of `steps` steps of [value, marker]; the target is the sum
    /// of the two marked values.
    Adding,
    /// The delayed copy task: `length` symbols of `alphabet`, recalled after `delay` steps; one-hot
    /// targets of width `length·alphabet`.
    Copy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// As loaded (pixels are already in [0, 1]).
    #[default]
    None,
    /// Per feature (x − mean) / std, fitted on the training part.
    Standardize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub name: Source,
    /// Share of the samples held out for testing (stratified by class); 0, the default, trains on
    /// everything.
    #[serde(default)]
    pub test_fraction: f64,
    /// Generators: how many samples (1000 for gaussian_classification, adding and copy, 100 for
    /// gaussian_regression);
    /// shipped sets: keep a stratified subset of this size (all samples when absent).
    pub samples: Option<usize>,
    /// Generators: input width (10).
    pub features: Option<usize>,
    /// gaussian_classification: clusters (2).
    pub classes: Option<usize>,
    /// gaussian_classification: distance between cluster centres (3.0).
    pub separation: Option<f64>,
    /// xor: input noise (0); gaussian_regression: target noise (0.1, or 1.0 without `signal`).
    pub noise_std: Option<f64>,
    /// xor: copies of the four points (1).
    pub repeats: Option<usize>,
    /// Regression without signal: targets per sample (1).
    pub outputs: Option<usize>,
    /// Regression only: whether the targets depend on the inputs (true).
    #[serde(default = "crate::scenario::yes")]
    pub signal: bool,
    /// Regression without signal: the targets' mean (0; seed 003 part 2 trains towards 1.0).
    pub target_mean: Option<f64>,
    /// Input scaling (none).
    #[serde(default)]
    pub scale: Scaling,
    /// Every input multiplied by this after `scale`, e.g. 255 to feed raw pixel values (none).
    pub input_scale: Option<f64>,
    /// adding: steps per sequence (50).
    pub steps: Option<usize>,
    /// copy: symbols to remember (5).
    pub length: Option<usize>,
    /// copy: alphabet size (8).
    pub alphabet: Option<usize>,
    /// copy: steps between the symbols and the recall (10).
    pub delay: Option<usize>,
}

/// Defaults of the sequence tasks.
const ADDING_STEPS: usize = 50;
const COPY: CopyTask = CopyTask { length: 5, alphabet: 8, delay: 10 };

impl DataSpec {
    /// Input width of the samples, known before loading (checked against each model's `inputs`).
    pub fn features(&self) -> usize {
        match self.name {
            Source::Digits => 64,
            Source::Mnist => 784,
            Source::Xor => 2,
            Source::GaussianClassification | Source::GaussianRegression => self.features.unwrap_or(10),
            Source::Adding => self.steps.unwrap_or(ADDING_STEPS) * ADDING_WIDTH,
            Source::Copy => self.copy_task().steps() * self.copy_task().width(),
        }
    }

    /// Values per step of a sequence task (`None` for data that is not a sequence).
    pub fn step_width(&self) -> Option<usize> {
        match self.name {
            Source::Adding => Some(ADDING_WIDTH),
            Source::Copy => Some(self.copy_task().width()),
            _ => None,
        }
    }

    fn copy_task(&self) -> CopyTask {
        CopyTask {
            length: self.length.unwrap_or(COPY.length),
            alphabet: self.alphabet.unwrap_or(COPY.alphabet),
            delay: self.delay.unwrap_or(COPY.delay),
        }
    }

    /// Clusters of gaussian_classification.
    fn classes(&self) -> usize {
        self.classes.unwrap_or(2)
    }

    /// Whether a model with `width` outputs fits the targets: one per class, or a single (sigmoid) output
    /// for two classes and for real values.
    pub fn fits_outputs(&self, width: usize) -> bool {
        match self.name {
            Source::Digits | Source::Mnist => width == 10,
            Source::Xor | Source::Adding => width == 1,
            Source::GaussianRegression => width == self.outputs.unwrap_or(1),
            Source::Copy => {
                let t = self.copy_task();
                width == t.length * t.alphabet
            }
            Source::GaussianClassification => {
                let c = self.classes();
                width == c || (c == 2 && width == 1)
            }
        }
    }

    /// Whether the targets are real values (not classes).
    pub fn real_valued(&self) -> bool {
        matches!(self.name, Source::GaussianRegression | Source::Adding)
    }

    /// Why the description does not hold together: the key at fault (below `[params.data]`) and what
    /// was expected of it.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(0.0..1.0).contains(&self.test_fraction) {
            return Err(("test_fraction", "a share in [0, 1)".into()));
        }
        let generator = matches!(self.name, Source::GaussianClassification | Source::GaussianRegression);
        let only = |set: bool, what: &'static str, ok: bool| {
            if set && !ok {
                Err((what, format!("no such key (`{what}` does not apply to {:?})", self.name)))
            } else {
                Ok(())
            }
        };
        only(self.features.is_some(), "features", generator)?;
        only(self.classes.is_some(), "classes", self.name == Source::GaussianClassification)?;
        only(self.separation.is_some(), "separation", self.name == Source::GaussianClassification)?;
        only(self.repeats.is_some(), "repeats", self.name == Source::Xor)?;
        only(self.steps.is_some(), "steps", self.name == Source::Adding)?;
        only(self.length.is_some(), "length", self.name == Source::Copy)?;
        only(self.alphabet.is_some(), "alphabet", self.name == Source::Copy)?;
        only(self.delay.is_some(), "delay", self.name == Source::Copy)?;
        if let Some(f) = self.input_scale
            && !(f.is_finite() && f > 0.0)
        {
            return Err(("input_scale", format!("a positive, finite factor, got {f}")));
        }
        if self.steps.is_some_and(|t| t < 2) {
            return Err(("steps", "at least 2 (the adding problem marks two of them)".into()));
        }
        if self.alphabet.is_some_and(|a| a < 2) {
            return Err(("alphabet", "at least 2".into()));
        }
        only(
            self.noise_std.is_some(),
            "noise_std",
            matches!(self.name, Source::Xor | Source::GaussianRegression),
        )?;
        only(!self.signal, "signal", self.name == Source::GaussianRegression)?;
        only(self.outputs.is_some(), "outputs", self.name == Source::GaussianRegression && !self.signal)?;
        only(
            self.target_mean.is_some(),
            "target_mean",
            self.name == Source::GaussianRegression && !self.signal,
        )?;
        let counts = [
            ("samples", self.samples),
            ("features", self.features),
            ("outputs", self.outputs),
            ("repeats", self.repeats),
            ("length", self.length),
            ("delay", self.delay),
        ];
        for (what, n) in counts {
            if n == Some(0) {
                return Err((what, "at least 1".into()));
            }
        }
        Ok(())
    }

    /// Loads the shipped set once per scenario (generators return `None`: they draw per seed).
    pub fn load_shipped(&self) -> engine::Result<Option<Dataset>> {
        let dir = engine::data::data_dir();
        match self.name {
            Source::Digits => digits(&dir).map(Some),
            Source::Mnist => mnist_5k(&dir).map(Some),
            _ => Ok(None),
        }
    }

    /// The (train, test) parts for one run; `test` is `None` when `test_fraction` is 0.
    pub fn make(&self, shipped: Option<&Dataset>, seed: u64) -> engine::Result<(Dataset, Option<Dataset>)> {
        let mut all = match (self.name, shipped) {
            (Source::Digits | Source::Mnist, Some(ds)) => {
                let keep = self.samples.unwrap_or(ds.len()).min(ds.len());
                if keep < ds.len() {
                    // A stratified subset: the "train" part of a split that holds out the rest.
                    ds.train_test(1.0 - keep as f64 / ds.len() as f64, seed ^ SUBSET_STREAM)?.0
                } else {
                    ds.clone()
                }
            }
            (Source::Digits | Source::Mnist, None) => {
                return Err(engine::Error::InvalidArgument {
                    op: "train data",
                    msg: "shipped data set not loaded".into(),
                });
            }
            (Source::Xor, _) => {
                synthetic::xor(self.repeats.unwrap_or(1), self.noise_std.unwrap_or(0.0), seed)?
            }
            (Source::GaussianClassification, _) => synthetic::gaussian_classes(
                self.samples.unwrap_or(1000),
                self.classes(),
                self.features(),
                self.separation.unwrap_or(3.0),
                seed,
            )?,
            (Source::Adding, _) => {
                adding_problem(self.samples.unwrap_or(1000), self.steps.unwrap_or(ADDING_STEPS), seed)?
            }
            (Source::Copy, _) => self.copy_task().generate(self.samples.unwrap_or(1000), seed)?,
            (Source::GaussianRegression, _) => {
                let n = self.samples.unwrap_or(100);
                let noise = self.noise_std.unwrap_or(if self.signal { 0.1 } else { 1.0 });
                if self.signal {
                    synthetic::regression(n, self.features(), noise, seed)?.0
                } else {
                    let (mean, outputs) = (self.target_mean.unwrap_or(0.0), self.outputs.unwrap_or(1));
                    noise_targets(n, (self.features(), outputs), mean, noise, seed)
                }
            }
        };
        let (mut train, mut test) = if self.test_fraction > 0.0 {
            let (a, b) = all.train_test(self.test_fraction, seed ^ SPLIT_STREAM)?;
            (a, Some(b))
        } else {
            all.name = format!("{}/train", all.name);
            (all, None)
        };
        if self.scale == Scaling::Standardize {
            let s = Standardizer::fit(&train.x, train.features)?;
            s.apply(&mut train.x)?;
            if let Some(t) = test.as_mut() {
                s.apply(&mut t.x)?;
            }
        }
        if let Some(f) = self.input_scale {
            for d in std::iter::once(&mut train).chain(test.as_mut()) {
                d.x.iter_mut().for_each(|x| *x = (f64::from(*x) * f) as f32);
            }
        }
        Ok((train, test))
    }
}

/// Mixed into the seed so the subset, the split and the generator draw from separate streams.
const SUBSET_STREAM: u64 = 0x5EED_0001_D1A7_A5E7;
const SPLIT_STREAM: u64 = 0x5EED_0002_5B11_7000;

/// The sources' `X = N(0, 1)` with targets independent of it (seed 003: `y = N(0, 1)` in part 3, `y = 1`
/// in part 2): rows of `features` normals, then each target `mean + noise_std·e`, all from one generator
/// in that order.
fn noise_targets(
    n: usize,
    (features, width): (usize, usize),
    mean: f64,
    noise_std: f64,
    seed: u64,
) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f32> = (0..n * features).map(|_| normal(&mut rng) as f32).collect();
    let y: Vec<f32> = (0..n * width).map(|_| (mean + noise_std * normal(&mut rng)) as f32).collect();
    Dataset { name: "gaussian_noise".into(), features, x, targets: Targets::Values { y, width } }
}

//! Sequence tasks for recurrent networks, at any length, from a seeded
//! `ChaCha8Rng`: the adding problem and a delayed copy task. Each sample is
//! one row of `steps × width` values, step-major (step `t` occupies columns
//! `t·width .. (t+1)·width`), the layout the recurrent layers read.
use super::{Dataset, Targets};
use crate::error::{Error, Result};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Values per step of the adding problem: the value, then the marker.
pub const ADDING_WIDTH: usize = 2;

/// MSE of always predicting the mean target 1 on the adding problem: the
/// target is the sum of two independent U(0, 1) values, so this is its
/// variance, 2 · 1/12 = 1/6 ≈ 0.167. A model must beat it to have learnt.
pub const ADDING_BASELINE_MSE: f64 = 1.0 / 6.0;

/// The adding problem (Hochreiter & Schmidhuber 1997): `samples` sequences of
/// `steps` steps, each step `[value, marker]` with the value uniform in
/// [0, 1) and the marker 1 at exactly two steps (one uniformly in the first
/// half `0 .. steps/2`, one in the second `steps/2 .. steps`), 0 elsewhere.
/// The target (`Targets::Values`, width 1) is the sum of the two marked
/// values. Needs `steps ≥ 2`.
pub fn adding_problem(samples: usize, steps: usize, seed: u64) -> Result<Dataset> {
    if steps < 2 {
        return Err(Error::invalid("adding_problem", format!("needs at least 2 steps, got {steps}")));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let width = ADDING_WIDTH;
    let half = steps / 2;
    let mut x = vec![0.0f32; samples * steps * width];
    let mut y = Vec::with_capacity(samples);
    for row in x.chunks_exact_mut(steps * width) {
        for step in row.chunks_exact_mut(width) {
            step[0] = uniform(&mut rng) as f32;
        }
        let first = below(&mut rng, half);
        let second = half + below(&mut rng, steps - half);
        let mut sum = 0.0f32;
        for t in [first, second] {
            row[t * width + 1] = 1.0;
            sum += row[t * width];
        }
        y.push(sum);
    }
    Ok(Dataset {
        name: format!("adding_problem_T{steps}"),
        features: steps * width,
        x,
        targets: Targets::Values { y, width: 1 },
    })
}

/// Shape of a delayed copy task: remember `length` symbols drawn from
/// `alphabet` and reproduce them after `delay` steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyTask {
    pub length: usize,
    pub alphabet: usize,
    pub delay: usize,
}

impl CopyTask {
    /// Steps per sequence: the symbols, the delay, then the recall window.
    pub fn steps(&self) -> usize {
        2 * self.length + self.delay
    }

    /// One-hot channels per step: the symbols, then `blank`, then `go`.
    pub fn width(&self) -> usize {
        self.alphabet + 2
    }

    /// The delayed copy task (after Hochreiter & Schmidhuber 1997 and Arjovsky
    /// et al. 2016). Each step is one-hot over `alphabet + 2` channels:
    /// channel `k < alphabet` is symbol `k`, channel `alphabet` is "blank" and
    /// channel `alphabet + 1` is "go". A sequence has `2·length + delay` steps:
    /// steps `0 .. length` carry the symbols (uniform, independent), the next
    /// `delay` steps are blank except the last of them, which is "go", and the
    /// final `length` steps (the recall window) are blank. The target
    /// (`Targets::Values`, width `length·alphabet`) is the symbols one-hot,
    /// step-major: what the outputs of the recall window must reproduce.
    /// Needs `length ≥ 1`, `alphabet ≥ 2` and `delay ≥ 1` (the "go" step).
    pub fn generate(&self, samples: usize, seed: u64) -> Result<Dataset> {
        let &CopyTask { length, alphabet, delay } = self;
        if length == 0 || alphabet < 2 || delay == 0 {
            return Err(Error::invalid(
                "copy_task",
                format!("needs length ≥ 1, alphabet ≥ 2, delay ≥ 1; got {length}, {alphabet}, {delay}"),
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (steps, width) = (self.steps(), self.width());
        let (blank, go) = (alphabet, alphabet + 1);
        let mut x = vec![0.0f32; samples * steps * width];
        let mut y = vec![0.0f32; samples * length * alphabet];
        for (row, target) in x.chunks_exact_mut(steps * width).zip(y.chunks_exact_mut(length * alphabet)) {
            for (t, step) in row.chunks_exact_mut(width).enumerate() {
                let channel = if t < length {
                    let symbol = below(&mut rng, alphabet);
                    target[t * alphabet + symbol] = 1.0;
                    symbol
                } else if t == length + delay - 1 {
                    go
                } else {
                    blank
                };
                step[channel] = 1.0;
            }
        }
        Ok(Dataset {
            name: format!("copy_L{length}_K{alphabet}_D{delay}"),
            features: steps * width,
            x,
            targets: Targets::Values { y, width: length * alphabet },
        })
    }
}

fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Uniform integer in `0 .. n` (`n ≥ 1`), by rejection so there is no modulo bias.
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let v = rng.next_u64();
        if v < zone {
            return (v % n) as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(d: &Dataset) -> &[f32] {
        match &d.targets {
            Targets::Values { y, .. } => y,
            Targets::Classes { .. } => panic!("expected values"),
        }
    }

    #[test]
    fn adding_problem_layout_and_targets() {
        for steps in [2, 3, 7, 50] {
            let d = adding_problem(200, steps, 3).unwrap();
            assert_eq!((d.len(), d.features), (200, 2 * steps));
            let y = values(&d);
            for (row, &target) in d.x.chunks_exact(d.features).zip(y) {
                let marked: Vec<usize> = (0..steps).filter(|&t| row[2 * t + 1] == 1.0).collect();
                assert_eq!(marked.len(), 2, "steps {steps}: {marked:?}");
                assert!(marked[0] < steps / 2 && marked[1] >= steps / 2, "{marked:?}");
                assert!((0..steps).all(|t| row[2 * t + 1] == 0.0 || row[2 * t + 1] == 1.0));
                assert!((0..steps).all(|t| (0.0..1.0).contains(&row[2 * t])));
                let sum = row[2 * marked[0]] + row[2 * marked[1]];
                assert_eq!(sum, target);
            }
        }
    }

    #[test]
    fn adding_problem_mean_predictor_has_baseline_mse() {
        let d = adding_problem(20_000, 10, 11).unwrap();
        let y = values(&d);
        let mse = y.iter().map(|&v| (f64::from(v) - 1.0).powi(2)).sum::<f64>() / y.len() as f64;
        // Standard error of this estimate is about 0.0015.
        assert!((mse - ADDING_BASELINE_MSE).abs() < 0.006, "mse {mse}");
    }

    #[test]
    fn same_seed_same_data() {
        assert_eq!(adding_problem(5, 9, 1).unwrap(), adding_problem(5, 9, 1).unwrap());
        assert_ne!(adding_problem(5, 9, 1).unwrap(), adding_problem(5, 9, 2).unwrap());
        let task = CopyTask { length: 3, alphabet: 4, delay: 5 };
        assert_eq!(task.generate(4, 9).unwrap(), task.generate(4, 9).unwrap());
    }

    #[test]
    fn copy_task_encoding() {
        let task = CopyTask { length: 3, alphabet: 4, delay: 5 };
        let d = task.generate(50, 2).unwrap();
        let (steps, width) = (task.steps(), task.width());
        assert_eq!((steps, width, d.features), (11, 6, 66));
        let y = values(&d);
        for (row, target) in d.x.chunks_exact(d.features).zip(y.chunks_exact(12)) {
            for (t, step) in row.chunks_exact(width).enumerate() {
                assert_eq!(step.iter().sum::<f32>(), 1.0, "one-hot at step {t}");
                let hot = step.iter().position(|&v| v == 1.0).unwrap();
                match t {
                    0..3 => assert_eq!(&target[t * 4..t * 4 + 4], &step[..4]),
                    7 => assert_eq!(hot, 5, "go at the last delay step"),
                    _ => assert_eq!(hot, 4, "blank at step {t}"),
                }
            }
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(adding_problem(3, 1, 0).unwrap_err().to_string().contains("1"));
        assert!(CopyTask { length: 2, alphabet: 3, delay: 0 }.generate(1, 0).is_err());
        assert!(CopyTask { length: 0, alphabet: 3, delay: 1 }.generate(1, 0).is_err());
    }
}

//! Learning-rate schedules. [`LrSchedule`] is a pure function of the step (or
//! epoch) count, as Keras' `LearningRateSchedule`s are; [`ReduceOnPlateau`]
//! is fed a metric and lowers the rate when it stops improving (Keras'
//! `ReduceLROnPlateau` callback). Both set the rate through [`Optimizer`].
use super::Optimizer;
use crate::error::{Error, Result};
use crate::real::Real;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Constant,
    Step { every: usize, factor: f64 },
    Exponential { decay_steps: usize, rate: f64, staircase: bool },
    Cosine { decay_steps: usize, alpha: f64 },
}

/// A learning rate as a function of a counter `t` (steps or epochs, the
/// caller's choice), from an initial rate `lr₀`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrSchedule {
    initial: f64,
    kind: Kind,
}

impl LrSchedule {
    pub fn constant(initial: f64) -> Result<Self> {
        Self::make(initial, Kind::Constant)
    }

    /// Step decay: `lr₀·factor^⌊t/every⌋`.
    pub fn step_decay(initial: f64, every: usize, factor: f64) -> Result<Self> {
        positive_count("step_decay", "every", every)?;
        unit_factor("step_decay", factor)?;
        Self::make(initial, Kind::Step { every, factor })
    }

    /// Exponential decay (Keras `ExponentialDecay`): `lr₀·rate^(t/decay_steps)`,
    /// with the exponent floored when `staircase`.
    pub fn exponential(initial: f64, decay_steps: usize, rate: f64, staircase: bool) -> Result<Self> {
        positive_count("exponential", "decay_steps", decay_steps)?;
        unit_factor("exponential", rate)?;
        Self::make(initial, Kind::Exponential { decay_steps, rate, staircase })
    }

    /// Cosine decay (Keras `CosineDecay`, no warm-up):
    /// `lr₀·((1 − α)·½(1 + cos(π·min(t, T)/T)) + α)`, from `lr₀` down to `α·lr₀`
    /// at `t = T = decay_steps`, constant after.
    pub fn cosine(initial: f64, decay_steps: usize, alpha: f64) -> Result<Self> {
        positive_count("cosine", "decay_steps", decay_steps)?;
        if !(0.0..=1.0).contains(&alpha) {
            return Err(Error::invalid("cosine", format!("alpha must be in [0, 1], got {alpha}")));
        }
        Self::make(initial, Kind::Cosine { decay_steps, alpha })
    }

    fn make(initial: f64, kind: Kind) -> Result<Self> {
        if !(initial.is_finite() && initial >= 0.0) {
            return Err(Error::invalid(
                "lr_schedule",
                format!("initial rate must be finite and ≥ 0, got {initial}"),
            ));
        }
        Ok(LrSchedule { initial, kind })
    }

    /// The rate at counter `t`.
    pub fn at(&self, t: usize) -> f64 {
        let lr0 = self.initial;
        match self.kind {
            Kind::Constant => lr0,
            Kind::Step { every, factor } => lr0 * factor.powi(i32::try_from(t / every).unwrap_or(i32::MAX)),
            Kind::Exponential { decay_steps, rate, staircase } => {
                let p = t as f64 / decay_steps as f64;
                lr0 * rate.powf(if staircase { p.floor() } else { p })
            }
            Kind::Cosine { decay_steps, alpha } => {
                let p = t.min(decay_steps) as f64 / decay_steps as f64;
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * p).cos());
                lr0 * ((1.0 - alpha) * cosine + alpha)
            }
        }
    }

    /// Sets the optimiser's rate to the rate at `t`; returns it.
    pub fn apply<T: Real, O: Optimizer<T> + ?Sized>(&self, opt: &mut O, t: usize) -> f64 {
        let lr = self.at(t);
        opt.set_learning_rate(lr);
        lr
    }
}

/// An optimiser whose rate follows a schedule over its own steps: before
/// update `t` (from 0) the rate is set to `schedule.at(t)`. Lets a schedule
/// ride along wherever an optimiser goes (`fit`, a scenario's `optimizer`).
pub struct Scheduled<O> {
    inner: O,
    schedule: LrSchedule,
    t: usize,
}

impl<O> Scheduled<O> {
    pub fn new(inner: O, schedule: LrSchedule) -> Self {
        Scheduled { inner, schedule, t: 0 }
    }
}

impl<T: Real, O: Optimizer<T>> Optimizer<T> for Scheduled<O> {
    fn step(&mut self, params: &mut crate::params::ParamStore<T>) -> Result<()> {
        self.schedule.apply(&mut self.inner, self.t);
        self.t += 1;
        self.inner.step(params)
    }
    fn learning_rate(&self) -> f64 {
        self.inner.learning_rate()
    }
    /// Overridden by the schedule at the next step.
    fn set_learning_rate(&mut self, lr: f64) {
        self.inner.set_learning_rate(lr)
    }
}

/// Multiplies the rate by `factor` when a metric to be minimised has not
/// improved by more than `min_delta` for `patience` observations in a row;
/// after a reduction it waits `cooldown` observations before counting again,
/// and never goes below `min_lr` (Keras `ReduceLROnPlateau`, mode `min`,
/// absolute `min_delta`). A NaN metric counts as no improvement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReduceOnPlateau {
    pub factor: f64,
    pub patience: usize,
    pub min_delta: f64,
    pub cooldown: usize,
    pub min_lr: f64,
    best: f64,
    wait: usize,
    cooling: usize,
}

impl ReduceOnPlateau {
    /// Keras' defaults: factor 0.1, patience 10, min_delta 1e-4, cooldown 0, min_lr 0.
    pub fn new(factor: f64, patience: usize) -> Result<Self> {
        if !(factor > 0.0 && factor < 1.0) {
            return Err(Error::invalid(
                "reduce_on_plateau",
                format!("factor must be in (0, 1), got {factor}"),
            ));
        }
        Ok(ReduceOnPlateau {
            factor,
            patience,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            best: f64::INFINITY,
            wait: 0,
            cooling: 0,
        })
    }

    pub fn with_min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    pub fn with_cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    pub fn with_min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// The best metric seen so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Feeds one observation (e.g. an epoch's validation loss); returns the
    /// new rate when it lowered the optimiser's rate.
    pub fn observe<T: Real, O: Optimizer<T> + ?Sized>(&mut self, metric: f64, opt: &mut O) -> Option<f64> {
        if self.cooling > 0 {
            self.cooling -= 1;
            self.wait = 0;
        }
        if metric < self.best - self.min_delta {
            self.best = metric;
            self.wait = 0;
            return None;
        }
        if self.cooling > 0 {
            return None;
        }
        self.wait += 1;
        if self.wait < self.patience {
            return None;
        }
        self.wait = 0;
        let old = opt.learning_rate();
        if old <= self.min_lr {
            return None;
        }
        let new = (old * self.factor).max(self.min_lr);
        opt.set_learning_rate(new);
        self.cooling = self.cooldown;
        Some(new)
    }
}

fn positive_count(op: &'static str, what: &str, n: usize) -> Result<()> {
    if n == 0 { Err(Error::invalid(op, format!("{what} must be at least 1, got 0"))) } else { Ok(()) }
}

fn unit_factor(op: &'static str, f: f64) -> Result<()> {
    if f > 0.0 && f <= 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(op, format!("factor must be in (0, 1], got {f}")))
    }
}

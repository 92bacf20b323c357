//! `toy_loss`: slide 6 of 001 as written. The slide trains no model: its `train_with_gradient_issues`
//! starts a "loss" at 100 and, for each of 100 epochs, subtracts `learning_rate · U(lo, hi)` (a "gradient"
//! drawn at random: `U(0, 0.01)` for "vanishing", `U(10, 100)` for "exploding"), appending each loss and
//! breaking after the first one below 0 or NaN. There is nothing to differentiate, so the loop is replayed
//! as plain arithmetic (as `repeated_multiplication` replays its source's loop), with the draws from
//! ChaCha seeded by the scenario seed: the page can then show what the toy does, against what the slide
//! says it shows. Real networks for the same slide are in the `train` scenario `loss_curves`.
use crate::error::Result;
use crate::experiments::runner::{Experiment, RunOptions, Runner};
use crate::record::{GLOBAL, KeyFigure, Output, Recorder, number, push_seed_spread};
use crate::scenario::{Scenario, Variant};
use engine::data::random::uniform;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const RUNNER: Runner = Runner {
    kind: "toy_loss",
    about: "slide 6's toy: a loss lowered by learning-rate-scaled random numbers, as written",
    prepare,
};

/// `[params]`: the loop's settings, and each variant's gradient range by the variant's name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// The loss before the first epoch (the source: 100).
    start_loss: f64,
    learning_rate: f64,
    /// The loop's budget (the source: 100).
    epochs: u32,
    /// The loop breaks after the first loss below this, or NaN (the source: `loss < 0 or np.isnan(loss)`).
    stop_below: f64,
    /// `[lo, hi)` of the uniform "gradient" drawn every epoch, per variant name:
    /// `gradient = { vanishing = [0.0, 0.01], exploding = [10.0, 100.0] }`.
    gradient: BTreeMap<String, [f64; 2]>,
}

/// One variant's loop: the scenario's settings with its gradient range.
#[derive(Debug, Clone, Copy)]
struct Toy {
    start_loss: f64,
    learning_rate: f64,
    epochs: u32,
    gradient: [f64; 2],
    stop_below: f64,
}

struct Plan<'s> {
    s: &'s Scenario,
    seeds: Vec<u64>,
    variants: Vec<(&'s Variant, Toy)>,
}

fn prepare<'s>(s: &'s Scenario, opts: &RunOptions) -> Result<Box<dyn Experiment + 's>> {
    if s.spec.variants.is_empty() {
        return Err(s.error("toy_loss needs at least one variant"));
    }
    let p: Params = s.typed_params(opts.quick)?;
    let at = s.params_check(opts.quick);
    // Non-zero: the drop is also read as a share of the start.
    at.ensure(
        p.start_loss.is_finite() && p.start_loss != 0.0,
        &["start_loss"],
        "a finite number other than 0",
    )?;
    at.ensure(
        p.learning_rate.is_finite() && p.learning_rate > 0.0,
        &["learning_rate"],
        "a finite number above 0",
    )?;
    at.ensure(p.epochs >= 1, &["epochs"], "at least 1")?;
    at.ensure(!p.stop_below.is_nan(), &["stop_below"], "a number (the loop also stops on NaN)")?;
    let names: Vec<&str> = s.variants().map(|v| v.name.as_str()).collect();
    if let Some(k) = p.gradient.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(at.error(&["gradient", k], format!("a variant's name ({})", names.join(", "))));
    }
    for (k, [lo, hi]) in &p.gradient {
        let ok = lo.is_finite() && hi.is_finite() && lo < hi;
        at.ensure(ok, &["gradient", k], "`[lo, hi]`, both finite, with lo < hi")?;
    }
    let mut variants = Vec::new();
    for (i, v) in s.variants().enumerate() {
        if let Some(key) = foreign_key(v) {
            return Err(s.variant_error(
                i,
                &[key],
                format!(
                    "toy_loss has no model: `{key}` means nothing here (the toy's settings go in `[params]`)"
                ),
            ));
        }
        let Some(&gradient) = p.gradient.get(&v.name) else {
            return Err(at.error(&["gradient"], format!("a `[lo, hi]` range for variant `{}`", v.name)));
        };
        let (start_loss, learning_rate, epochs, stop_below) =
            (p.start_loss, p.learning_rate, p.epochs, p.stop_below);
        variants.push((v, Toy { start_loss, learning_rate, epochs, gradient, stop_below }));
    }
    let plan = Plan { s, seeds: opts.seeds(s), variants };
    Ok(Box::new(move || run(&plan)))
}

/// A variant key of the trained runners, which this runner would otherwise silently ignore.
fn foreign_key(v: &Variant) -> Option<&'static str> {
    [
        ("activation", v.activation.is_some()),
        ("factor", v.factor.is_some()),
        ("model", v.model_table.is_some()),
        ("optimizer", v.optimizer.is_some()),
        ("loss", v.loss.is_some()),
        ("clipping", v.clipping.is_some()),
        ("epochs", v.epochs.is_some()),
        ("batch_size", v.batch_size.is_some()),
        ("sweep", v.sweep.is_some()),
    ]
    .into_iter()
    .find_map(|(key, set)| set.then_some(key))
}

/// One run of `train_with_gradient_issues`: the losses (the start first) and the gradients drawn.
struct Replay {
    losses: Vec<f64>,
    gradients: Vec<f64>,
    /// Whether the stop rule ended the loop before its budget ran out.
    stopped: bool,
}

/// The source's loop, exactly: draw, subtract, append, then break on `loss < stop_below` or NaN (so the
/// loss that breaks the loop is the last one kept).
fn replay<R: Rng + ?Sized>(p: &Toy, rng: &mut R) -> Replay {
    let mut loss = p.start_loss;
    let (mut losses, mut gradients) = (vec![loss], Vec::new());
    for _ in 0..p.epochs {
        let gradient = uniform(rng, p.gradient[0], p.gradient[1]);
        loss -= p.learning_rate * gradient;
        losses.push(loss);
        gradients.push(gradient);
        if loss < p.stop_below || loss.is_nan() {
            return Replay { losses, gradients, stopped: true };
        }
    }
    Replay { losses, gradients, stopped: false }
}

/// What one replay contributes to its variant's figures.
struct Measured {
    final_loss: f64,
    epochs_run: f64,
    /// The epoch whose loss broke the loop; NaN when the budget ran out first.
    stop_epoch: f64,
    mean_drop: f64,
    /// The drop over the whole run as a share of the start.
    drop_share: f64,
    /// Rose above its start at any epoch, or turned NaN: what divergence would look like.
    diverged: bool,
}

fn measure(p: &Toy, r: &Replay) -> Measured {
    let epochs = r.gradients.len();
    let final_loss = *r.losses.last().expect("the start is always kept");
    let diverged = r.losses.iter().any(|&l| l.is_nan() || l > p.start_loss);
    Measured {
        final_loss,
        epochs_run: epochs as f64,
        stop_epoch: if r.stopped { epochs as f64 } else { f64::NAN },
        mean_drop: (p.start_loss - final_loss) / epochs as f64,
        drop_share: (p.start_loss - final_loss) / p.start_loss,
        diverged,
    }
}

fn run(plan: &Plan<'_>) -> Result<Output> {
    let Plan { s, seeds, variants } = plan;
    let mut rec = Recorder::new(&s.name);
    let mut per_variant: Vec<Vec<Measured>> = variants.iter().map(|_| Vec::new()).collect();
    for &seed in seeds {
        // One generator per seed, drawn by the variants in file order: the source's script runs
        // "vanishing" then "exploding" on numpy's one global generator.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for ((v, p), measured) in variants.iter().zip(&mut per_variant) {
            let r = replay(p, &mut rng);
            let run = rec.run(&v.name, seed);
            for (epoch, &loss) in r.losses.iter().enumerate() {
                run.push_named(epoch as u64, GLOBAL, "toy_loss", loss);
            }
            for (k, &g) in r.gradients.iter().enumerate() {
                run.push_named(k as u64 + 1, GLOBAL, "toy_gradient", g);
            }
            measured.push(measure(p, &r));
        }
    }
    let mut figures = Vec::new();
    for ((v, p), m) in variants.iter().zip(&per_variant) {
        let (n, label) = (v.name.as_str(), v.label());
        let add = |out: &mut Vec<KeyFigure>, key: &str, what: &str, f: fn(&Measured) -> f64| {
            push_seed_spread(out, key, (n, label), what, &m.iter().map(f).collect::<Vec<_>>());
        };
        add(&mut figures, "final_loss", "the loss after the last epoch run", |m| m.final_loss);
        add(&mut figures, "epochs_run", "epochs the loop ran", |m| m.epochs_run);
        add(&mut figures, "stop_epoch", "the epoch whose loss broke the loop", |m| m.stop_epoch);
        add(&mut figures, "mean_drop", "mean drop of the loss per epoch", |m| m.mean_drop);
        add(&mut figures, "drop_share", "(start − final loss) / start", |m| m.drop_share);
        let [lo, hi] = p.gradient;
        figures.push(KeyFigure::new(
            format!("drop_expected.{n}"),
            format!(
                "{label}: learning_rate × the mean of U({}, {}), the expected drop per epoch",
                number(lo),
                number(hi)
            ),
            p.learning_rate * 0.5 * (lo + hi),
        ));
        let total = m.len() as f64;
        let share = |f: fn(&Measured) -> bool| m.iter().filter(|x| f(x)).count() as f64 / total;
        figures.push(KeyFigure::new(
            format!("stopped_share.{n}"),
            format!("{label}: share of seeds the stop rule ended before the budget"),
            share(|x| !x.stop_epoch.is_nan()),
        ));
        figures.push(KeyFigure::new(
            format!("diverged_share.{n}"),
            format!("{label}: share of seeds whose loss ever rose above its start or turned NaN"),
            share(|x| x.diverged),
        ));
    }
    Ok(Output { records: rec.runs, key_figures: figures, steps: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slide's settings with the given gradient range.
    fn slide(gradient: [f64; 2]) -> Toy {
        Toy { start_loss: 100.0, learning_rate: 0.1, epochs: 100, gradient, stop_below: 0.0 }
    }

    #[test]
    fn the_drop_per_epoch_is_the_learning_rate_times_the_mean_draw() {
        // A budget long enough that the mean of the draws is close to its expectation (the draws' standard
        // deviation is 90/√12 ≈ 26, so lr × that / √20000 ≈ 0.018: a tolerance of 0.1 is over 5 of them).
        let p = Toy { start_loss: 1e9, epochs: 20_000, ..slide([10.0, 100.0]) };
        let r = replay(&p, &mut ChaCha8Rng::seed_from_u64(3));
        assert!(!r.stopped);
        let m = measure(&p, &r);
        assert!((m.mean_drop - 0.1 * 55.0).abs() < 0.1, "{}", m.mean_drop);
        // Every draw lies in [10, 100) and each loss is the previous one minus lr × its draw.
        assert!(r.gradients.iter().all(|g| (10.0..100.0).contains(g)));
        for (k, g) in r.gradients.iter().enumerate() {
            assert_eq!(r.losses[k + 1], r.losses[k] - 0.1 * g);
        }
    }

    #[test]
    fn the_exploding_toy_stops_at_its_first_negative_loss() {
        for seed in 0..20 {
            let p = slide([10.0, 100.0]);
            let r = replay(&p, &mut ChaCha8Rng::seed_from_u64(seed));
            let m = measure(&p, &r);
            let stop = m.stop_epoch as usize;
            assert!(r.stopped && r.losses.len() == stop + 1);
            assert!(r.losses[stop] < 0.0 && r.losses[..stop].iter().all(|&l| l >= 0.0));
            // Drops of 1 to 10 per epoch from 100: between 11 and 100 epochs.
            assert!((11..=100).contains(&stop), "{stop}");
            assert!(!m.diverged);
        }
    }

    #[test]
    fn the_vanishing_toy_runs_its_budget_and_barely_moves() {
        let p = slide([0.0, 0.01]);
        let r = replay(&p, &mut ChaCha8Rng::seed_from_u64(0));
        let m = measure(&p, &r);
        assert!(!r.stopped && m.stop_epoch.is_nan());
        assert_eq!(r.losses.len(), 101);
        assert!(m.final_loss <= 100.0 && m.final_loss > 100.0 - 0.1 * 0.01 * 100.0);
    }

    #[test]
    fn a_nan_loss_stops_the_loop_and_counts_as_divergence() {
        let p = Toy { start_loss: f64::NAN, ..slide([0.0, 0.01]) };
        let r = replay(&p, &mut ChaCha8Rng::seed_from_u64(0));
        assert!(r.stopped && r.losses.len() == 2);
        assert!(measure(&p, &r).diverged);
    }

    #[test]
    fn a_seed_fixes_the_run() {
        let p = slide([10.0, 100.0]);
        let a = replay(&p, &mut ChaCha8Rng::seed_from_u64(7)).losses;
        assert_eq!(a, replay(&p, &mut ChaCha8Rng::seed_from_u64(7)).losses);
        assert_ne!(a, replay(&p, &mut ChaCha8Rng::seed_from_u64(8)).losses);
    }
}

//! Key figures of a `train` scenario: per variant, each quantity over its seeds as the median with the
//! min–max spread (`KEY.VARIANT`, `KEY.VARIANT.min`, `KEY.VARIANT.max`), so a conclusion never rests on
//! one lucky seed. Absolute gradient norms stand next to the first/last ratio.
use super::Params;
use super::session::{RunOutcome, first_last_at_step0};
use crate::record::{KeyFigure, number};
use crate::scenario::Scenario;
use crate::stats::spread;
use engine::diagnose::DiagnoseConfig;
use engine::monitor::{GLOBAL, metric as m};

struct Figures<'a> {
    out: Vec<KeyFigure>,
    variant: &'a str,
    label: &'a str,
    runs: usize,
}

impl Figures<'_> {
    /// Adds `key.variant` (median) with its min and max, when any seed measured it.
    fn add(&mut self, key: &str, what: &str, values: &[f64]) {
        let Some((med, lo, hi)) = spread(values) else { return };
        let n = values.iter().filter(|x| !x.is_nan()).count();
        let of = if n == self.runs { format!("{n} seeds") } else { format!("{n} of {} seeds", self.runs) };
        let label = if n == 1 {
            format!("{}: {what}", self.label)
        } else {
            format!("{}: {what} (median of {of}; range {}–{})", self.label, number(lo), number(hi))
        };
        let v = self.variant;
        self.out.push(KeyFigure { key: format!("{key}.{v}"), label, value: med });
        self.out.push(KeyFigure {
            key: format!("{key}.{v}.min"),
            label: format!("{}: {what}, lowest seed", self.label),
            value: lo,
        });
        self.out.push(KeyFigure {
            key: format!("{key}.{v}.max"),
            label: format!("{}: {what}, highest seed", self.label),
            value: hi,
        });
    }

    /// A count over seeds (not a median): how many runs had the property.
    fn count(&mut self, key: &str, what: &str, n: usize) {
        self.out.push(KeyFigure {
            key: format!("{key}.{}", self.variant),
            label: format!("{}: {what} (of {} seeds)", self.label, self.runs),
            value: n as f64,
        });
    }
}

pub fn key_figures(s: &Scenario, p: &Params, diag: &DiagnoseConfig, runs: &[RunOutcome]) -> Vec<KeyFigure> {
    let mut out = Vec::new();
    for (vi, v) in s.variants().enumerate() {
        let mine: Vec<&RunOutcome> = runs.iter().filter(|r| r.variant == vi).collect();
        let mut f = Figures { out: Vec::new(), variant: &v.name, label: v.label(), runs: mine.len() };
        let get = |g: &dyn Fn(&RunOutcome) -> Option<f64>| -> Vec<f64> {
            mine.iter().filter_map(|r| g(r)).collect()
        };
        f.add("final_loss", "training loss of the last epoch", &get(&|r| r.final_loss));
        f.add("train_accuracy", "training accuracy of the last epoch", &get(&|r| r.train_accuracy));
        f.add("test_accuracy", "test accuracy", &get(&|r| r.test_accuracy));
        f.add("test_loss", "test loss", &get(&|r| r.test_loss));
        let fl: Vec<(f64, f64)> = mine.iter().filter_map(|r| first_last_at_step0(&r.records)).collect();
        let ratio: Vec<f64> = fl.iter().map(|(a, b)| a / b).collect();
        f.add("grad_ratio0", "first/last layer weight-gradient norm at step 0", &ratio);
        f.add(
            "grad_first0",
            "first layer weight-gradient norm at step 0",
            &fl.iter().map(|x| x.0).collect::<Vec<_>>(),
        );
        f.add(
            "grad_last0",
            "last layer weight-gradient norm at step 0",
            &fl.iter().map(|x| x.1).collect::<Vec<_>>(),
        );
        let global = |r: &RunOutcome| r.records.series(GLOBAL, m::GLOBAL_GRAD_NORM);
        f.add(
            "max_global_norm",
            "largest recorded global gradient norm",
            &get(&|r| {
                global(r).iter().map(|x| x.1).fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))))
            }),
        );
        let events =
            |r: &RunOutcome| global(r).into_iter().filter(|x| x.1 > diag.explode_norm).collect::<Vec<_>>();
        f.add(
            "explosions",
            &format!("recorded steps with global norm above {}", number(diag.explode_norm)),
            &get(&|r| Some(events(r).len() as f64)),
        );
        f.add(
            "first_explosion",
            "first step with global norm above the threshold",
            &get(&|r| events(r).first().map(|x| x.0 as f64)),
        );
        f.count(
            "nan_stops",
            "runs stopped by a NaN or infinity",
            mine.iter().filter(|r| r.stopped.is_some()).count(),
        );
        f.add(
            "nan_step",
            "step of the first NaN or infinity",
            &get(&|r| r.stopped.as_ref().map(|x| x.0 as f64)),
        );
        let clip_acted = |r: &RunOutcome| {
            let acted = r.records.series(GLOBAL, m::CLIP_ACTED);
            (!acted.is_empty()).then(|| acted.iter().map(|x| x.1).sum::<f64>() / acted.len() as f64)
        };
        f.add("clip_acted", "share of steps where clipping acted", &get(&clip_acted));
        let after_max = |r: &RunOutcome| {
            r.records.series(GLOBAL, m::CLIP_NORM_AFTER).iter().map(|x| x.1).reduce(f64::max)
        };
        f.add("clip_norm_after_max", "largest global gradient norm after clipping", &get(&after_max));
        let update = |r: &RunOutcome| {
            let first = *r.records.layers_with(m::UPDATE_RATIO).first()?;
            spread(&r.records.series(first, m::UPDATE_RATIO).iter().map(|x| x.1).collect::<Vec<_>>())
                .map(|x| x.0)
        };
        f.add("update_ratio_first", "first layer's median update-to-weight ratio", &get(&update));
        f.add("steps", "training steps", &get(&|r| Some(r.steps as f64)));
        for (i, row) in p.predict.iter().enumerate() {
            let input: Vec<String> = row.iter().map(|x| number(*x)).collect();
            f.add(
                &format!("prediction{i}"),
                &format!("prediction for ({})", input.join(", ")),
                &get(&|r| r.predictions.get(i).copied()),
            );
        }
        out.extend(f.out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn median_and_range_over_seeds() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(spread(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(spread(&[f64::NAN, 5.0]), Some((5.0, 5.0, 5.0)));
        assert_eq!(spread(&[]), None);
    }
}

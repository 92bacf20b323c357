//! The numbers a remedy is derived from, measured in the failing runs' records (every failing seed,
//! median over seeds so one seed's spike does not set the change): the update ratios a learning rate
//! is scaled by, the gradient norms a clipping threshold is set from, the input scale, the length of the
//! sequences a forget-gate bias must carry the gradient over.
use engine::diagnose::DiagnoseConfig;
use engine::monitor::detect::median;
use engine::monitor::{GLOBAL, RecordIndex, Records, coordinate, metric as m};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    /// Median update-to-weight ratio over every layer and the recorded steps before the global norm
    /// first went over `explode_norm` (or non-finite): a ratio measured in a network that has blown up
    /// says nothing about the step size that suits it. `None` when it was over from the first step.
    pub update_ratio: Option<f64>,
    /// Median finite global gradient norm over the steps before the first one over `explode_norm` (or
    /// non-finite): the gradient's own scale before anything blew up. `None` when the first recorded
    /// norm is already over it.
    pub calm_norm: Option<f64>,
    /// Median global norm before clipping, where clipping was configured.
    pub unclipped_norm: Option<f64>,
    /// Median standard deviation of the input batches.
    pub input_std: Option<f64>,
    /// Time steps of the recorded sequences (largest `t` + 1 of `hidden_grad_norm`).
    pub time_steps: Option<usize>,
}

/// Medians over the runs of each run's figure; a figure no run has is `None`.
pub fn measure(runs: &[&Records], cfg: &DiagnoseConfig) -> Measured {
    let per_run: Vec<Measured> = runs.iter().map(|r| one(r, cfg)).collect();
    let med = |f: fn(&Measured) -> Option<f64>| {
        let mut v: Vec<f64> = per_run.iter().filter_map(f).collect();
        let x = median(&mut v);
        x.is_finite().then_some(x)
    };
    Measured {
        update_ratio: med(|x| x.update_ratio),
        calm_norm: med(|x| x.calm_norm),
        unclipped_norm: med(|x| x.unclipped_norm),
        input_std: med(|x| x.input_std),
        time_steps: per_run.iter().filter_map(|x| x.time_steps).max(),
    }
}

fn finite_median(v: &mut [f64]) -> Option<f64> {
    let x = median(v);
    x.is_finite().then_some(x)
}

fn one(records: &Records, cfg: &DiagnoseConfig) -> Measured {
    let r = RecordIndex::new(records);
    let norms = r.series(GLOBAL, m::GLOBAL_GRAD_NORM);
    // The first step at which the global norm was over the threshold or not finite.
    let blown = norms.iter().find(|(_, v)| !(v.is_finite() && *v <= cfg.explode_norm)).map(|&(s, _)| s);
    let per_layer = |metric: &str| -> Vec<f64> {
        r.layers_with(metric)
            .into_iter()
            .filter(|l| *l != GLOBAL)
            .flat_map(|l| r.series(l, metric))
            .filter(|(s, _)| blown.is_none_or(|b| *s < b))
            .map(|(_, v)| v)
            .filter(|v| *v > 0.0)
            .collect()
    };
    let global =
        |metric: &str| -> Vec<f64> { r.series(GLOBAL, metric).into_iter().map(|(_, v)| v).collect() };
    let mut calm: Vec<f64> =
        norms.iter().map(|&(_, v)| v).take_while(|v| v.is_finite() && *v <= cfg.explode_norm).collect();
    let time_steps = r
        .layers_with(m::HIDDEN_GRAD_NORM)
        .into_iter()
        .flat_map(|l| r.points_of(l, m::HIDDEN_GRAD_NORM))
        .filter_map(|p| coordinate(p, "t"))
        .map(|t| t as usize + 1)
        .max();
    Measured {
        update_ratio: finite_median(&mut per_layer(m::UPDATE_RATIO)),
        calm_norm: finite_median(&mut calm),
        unclipped_norm: finite_median(&mut global(m::CLIP_NORM_BEFORE)),
        input_std: finite_median(&mut global(m::INPUT_STD)),
        time_steps,
    }
}

/// The loss at the start and the end of the recorded steps (medians of the first and last third of
/// the finite values, as the diagnosis reads a trend), when at least 6 were recorded.
pub fn loss_trend(records: &Records) -> Option<(f64, f64)> {
    let loss: Vec<f64> =
        records.series(GLOBAL, m::LOSS).into_iter().map(|(_, v)| v).filter(|v| v.is_finite()).collect();
    if loss.len() < 6 {
        return None;
    }
    let third = loss.len() / 3;
    Some((median(&mut loss[..third].to_vec()), median(&mut loss[loss.len() - third..].to_vec())))
}

/// `x` to two significant digits, as a patched file writes a derived number.
pub fn round2(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    // Through the text of two significant digits, so 0.0012 is the f64 nearest 0.0012 and is written
    // `0.0012`, not 0.0012000000000000001.
    format!("{x:.1e}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round2_keeps_two_significant_digits() {
        assert_eq!(round2(0.001234), 0.0012);
        assert_eq!(round2(2.567), 2.6);
        assert_eq!(round2(1234.0), 1200.0);
        assert_eq!(round2(-0.0456), -0.046);
    }

    #[test]
    fn calm_norm_stops_at_the_first_explosion_and_update_ratio_is_a_median() {
        let mut r = Records::new("s", "v", 0);
        for (step, g) in [(0, 1.0), (1, 4.0), (2, 500.0), (3, 2.0)] {
            r.push_named(step, GLOBAL, m::GLOBAL_GRAD_NORM, g);
            r.push_named(step, "1:dense(relu)", m::UPDATE_RATIO, [0.5, 0.25, 8.0, 1.0][step as usize]);
        }
        let x = measure(&[&r], &DiagnoseConfig::default());
        assert_eq!(x.calm_norm, Some(2.5));
        // Steps 0 and 1 only: the ratios after the blow-up at step 2 are left out.
        assert_eq!(x.update_ratio, Some(0.375));
        assert_eq!(x.time_steps, None);
    }
}

//! Key figures of a `train` scenario: per variant, each figure over its seeds as the median with the
//! min–max spread (`KEY.VARIANT`, `KEY.VARIANT.min`, `KEY.VARIANT.max`), so a conclusion never rests on
//! one lucky seed. Every figure, the runner's built-in ones and the scenario's `[[figures]]`, is read
//! from the run's records the same way: a selection of cells, reduced to one number, optionally divided
//! by another selection. Cross-variant figures (`ratio_of`) come last.
use super::Params;
use super::session::RunOutcome;
use crate::record::{KeyFigure, number, push_seed_spread};
use crate::scenario::{FigureReduce as R, FigureSpec, Pick, Scenario, Selection};
use crate::stats::{median, spread};
use engine::diagnose::DiagnoseConfig;
use engine::monitor::{GLOBAL, Records, coordinate, layer_position, metric as m};

/// The runner's own figures, in the order the page lists them.
fn built_in(p: &Params, diag: &DiagnoseConfig) -> Vec<FigureSpec> {
    let (first, last, all, g) = (Pick::First, Pick::Last, Pick::All, Pick::Global);
    let f = |key: &str, what: &str, metric: &str, (step, layer): (Pick, Pick), reduce: Option<R>| {
        FigureSpec { reduce, ..FigureSpec::new(key, what, metric, step, layer) }
    };
    let (end, step0, every) = ((last, g), (first, first), (all, g));
    let (thr, norm) = (diag.explode_norm, m::GLOBAL_GRAD_NORM);
    let above = format!("recorded steps with global norm above {}", number(thr));
    let mut out = vec![
        f("final_loss", "training loss of the last epoch", "epoch_loss", end, None),
        f("train_accuracy", "training accuracy of the last epoch", "epoch_accuracy", end, None),
        f("test_accuracy", "test accuracy", "final_test_accuracy", end, None),
        f("test_loss", "test loss", "final_test_loss", end, None),
        f("grad_ratio0", "first/last layer weight-gradient norm at step 0", m::GRAD_NORM, step0, None)
            .over(last),
        f("grad_first0", "first layer weight-gradient norm at step 0", m::GRAD_NORM, step0, None),
        f("grad_last0", "last layer weight-gradient norm at step 0", m::GRAD_NORM, (first, last), None),
        f("max_global_norm", "largest recorded global gradient norm", norm, every, Some(R::Max)),
        f("explosions", &above, norm, every, Some(R::CountAbove(thr))),
        f(
            "first_explosion",
            "first step with global norm above the threshold",
            norm,
            every,
            Some(R::FirstStepAbove(thr)),
        ),
        f("nan_step", "step of the first NaN or infinity", "stopped_non_finite", every, Some(R::FirstStep)),
        f("clip_acted", "share of steps where clipping acted", m::CLIP_ACTED, every, Some(R::Mean)),
        f(
            "clip_norm_after_max",
            "largest global gradient norm after clipping",
            m::CLIP_NORM_AFTER,
            every,
            Some(R::Max),
        ),
        f(
            "update_ratio_first",
            "first layer's median update-to-weight ratio",
            m::UPDATE_RATIO,
            (all, first),
            Some(R::Median),
        ),
    ];
    for (i, row) in p.predict.iter().enumerate() {
        let input: Vec<String> = row.iter().map(|x| number(*x)).collect();
        let what = format!("prediction for ({})", input.join(", "));
        let mut fig = f(&format!("prediction{i}"), &what, "prediction", end, None);
        fig.point.insert("row".into(), i as f64);
        out.push(fig);
    }
    out
}

/// The cells a selection picks from the runs of one variant and seed (several where the variant has a
/// sweep), in step order (then the runs' and records' order), as (step, value).
fn cells(runs: &[&Records], sel: &Selection, step: Pick) -> Vec<(u64, f64)> {
    let mut out: Vec<(u64, f64)> = runs.iter().flat_map(|r| cells_of(r, sel)).collect();
    out.sort_by_key(|c| c.0);
    let (lo, hi) = (out.first().map(|c| c.0), out.last().map(|c| c.0));
    let keep = |s: u64| match step {
        Pick::First => Some(s) == lo,
        Pick::Last => Some(s) == hi,
        Pick::At(n) => s as f64 == n,
        Pick::All | Pick::Global => true,
    };
    out.retain(|c| keep(c.0));
    out
}

/// One run's cells of a selection, every step.
fn cells_of(r: &Records, sel: &Selection) -> Vec<(u64, f64)> {
    let Some(metric) = sel.metric.as_deref().and_then(|x| r.metrics.iter().position(|n| n == x)) else {
        return Vec::new();
    };
    let named: Vec<&str> = r.layers_with(&r.metrics[metric]).into_iter().filter(|l| *l != GLOBAL).collect();
    let wanted = |name: &str| match sel.layer.unwrap_or(Pick::Global) {
        Pick::Global => name == GLOBAL,
        Pick::All => name != GLOBAL,
        Pick::First => named.first() == Some(&name),
        Pick::Last => named.last() == Some(&name),
        Pick::At(n) => layer_position(name) == Some(n),
    };
    r.rows
        .iter()
        .filter(|row| row.metric as usize == metric && wanted(&r.layers[row.layer as usize]))
        .filter(|row| sel.point.iter().all(|(k, v)| coordinate(r.point_name(row.point), k) == Some(*v)))
        .map(|row| (row.step, row.value))
        .collect()
}

fn reduce(cells: &[(u64, f64)], how: Option<R>) -> f64 {
    let values = || cells.iter().map(|c| c.1);
    let first_step = |f: &dyn Fn(f64) -> bool| cells.iter().find(|c| f(c.1)).map_or(f64::NAN, |c| c.0 as f64);
    match how {
        None => cells.first().map_or(f64::NAN, |c| c.1),
        Some(R::Max) => values().fold(f64::NAN, f64::max),
        Some(R::Min) => values().fold(f64::NAN, f64::min),
        Some(R::Mean) if cells.is_empty() => f64::NAN,
        Some(R::Mean) => values().sum::<f64>() / cells.len() as f64,
        Some(R::Median) => median(&values().collect::<Vec<_>>()),
        Some(R::Sum) => values().sum(),
        Some(R::Count) => cells.len() as f64,
        Some(R::CountAbove(x)) => values().filter(|v| *v > x).count() as f64,
        Some(R::FirstStep) => first_step(&|_| true),
        Some(R::FirstStepAbove(x)) => first_step(&|v| v > x),
        Some(R::MaxAbs) => values().fold(f64::NAN, |m, v| m.max(v.abs())),
        Some(R::ShareWithin(_)) if cells.is_empty() => f64::NAN,
        Some(R::ShareWithin(x)) => values().filter(|v| v.abs() <= x).count() as f64 / cells.len() as f64,
        Some(R::FirstOverLast) => match (cells.first(), cells.last()) {
            (Some(a), Some(b)) => a.1 / b.1,
            _ => f64::NAN,
        },
    }
}

/// One seed's value of a figure, from the variant's runs with that seed (NaN when they have none of its
/// cells).
fn value(runs: &[&Records], f: &FigureSpec) -> f64 {
    let sel = f.select();
    let step = sel.step.unwrap_or(if f.reduce.is_some() { Pick::All } else { Pick::Last });
    let num = reduce(&cells(runs, &sel, step), f.reduce);
    let Some(o) = &f.over else { return num };
    let den = Selection {
        metric: o.metric.clone().or(sel.metric.clone()),
        step: o.step.or(sel.step),
        layer: o.layer.or(sel.layer),
        point: if o.point.is_empty() { sel.point.clone() } else { o.point.clone() },
    };
    num / reduce(&cells(runs, &den, den.step.unwrap_or(step)), f.reduce)
}

/// A figure with `per = "C"` as one figure per value of the coordinate C in `runs`' records: the key
/// `KEY_Cvalue`, its cells (and its denominator's) at that value. Any other figure as it is.
fn expand(f: &FigureSpec, runs: &[&Records]) -> Vec<FigureSpec> {
    let Some(c) = &f.per else { return vec![f.clone()] };
    let mut values: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.points.iter().filter_map(|p| coordinate(p, c)))
        .filter(|v| !v.is_nan())
        .collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    values
        .into_iter()
        .map(|v| {
            let mut one = f.clone();
            one.key = format!("{}_{c}{v}", f.key);
            one.what = format!("{} at {c} = {v}", f.what);
            one.point.insert(c.clone(), v);
            if let Some(o) = one.over.as_mut().filter(|o| !o.point.is_empty()) {
                o.point.insert(c.clone(), v);
            }
            one.per = None;
            one
        })
        .collect()
}

pub fn key_figures(s: &Scenario, p: &Params, diag: &DiagnoseConfig, runs: &[RunOutcome]) -> Vec<KeyFigure> {
    let specs = if p.built_in_figures { built_in(p, diag) } else { Vec::new() };
    let declared: Vec<&FigureSpec> = s.spec.figures.iter().map(|f| f.get_ref()).collect();
    let mut out = Vec::new();
    // Per `across` figure: each variant's median over seeds.
    let mut medians = vec![Vec::new(); declared.len()];
    for (vi, v) in s.variants().enumerate() {
        let mine: Vec<&RunOutcome> = runs.iter().filter(|r| r.variant == vi).collect();
        // The variant's runs grouped by seed (one run each, or one per sweep value), in seed order.
        let mut seeds: Vec<u64> = Vec::new();
        for r in &mine {
            if !seeds.contains(&r.records.seed) {
                seeds.push(r.records.seed);
            }
        }
        let of_seed = |seed: u64| mine.iter().copied().filter(move |r| r.records.seed == seed);
        let by_seed: Vec<Vec<&Records>> =
            seeds.iter().map(|&seed| of_seed(seed).map(|r| &r.records).collect()).collect();
        let all: Vec<&Records> = mine.iter().map(|r| &r.records).collect();
        let who = (v.name.as_str(), v.label());
        let per_seed = |f: &FigureSpec| by_seed.iter().map(|rs| value(rs, f)).collect::<Vec<_>>();
        let mine_too = |f: &&FigureSpec| f.variants.is_empty() || f.variants.contains(&v.name);
        let plain = |f: &&FigureSpec| f.ratio_of.is_none() && f.across.is_none();
        for f in specs.iter().chain(declared.iter().copied()).filter(plain).filter(mine_too) {
            for f in expand(f, &all) {
                push_seed_spread(&mut out, &f.key, who, &f.what, &per_seed(&f));
            }
        }
        for (k, f) in
            declared.iter().enumerate().filter(|(_, f)| f.across.is_some()).filter(|(_, f)| mine_too(f))
        {
            medians[k].extend(spread(&per_seed(f)).map(|(med, ..)| (0, med)));
        }
        if !p.built_in_figures {
            continue;
        }
        // A count over runs (not a median): how many had the property.
        let n = mine.iter().filter(|r| r.stopped.is_some()).count();
        let label = format!("{}: runs stopped by a NaN or infinity (of {})", who.1, mine.len());
        out.push(KeyFigure { key: format!("nan_stops.{}", v.name), label, value: n as f64 });
        let steps: Vec<f64> = seeds.iter().map(|&seed| of_seed(seed).map(|r| r.steps as f64).sum()).collect();
        push_seed_spread(&mut out, "steps", who, "training steps", &steps);
    }
    for (f, m) in declared.iter().zip(&medians) {
        if f.across.is_some() {
            out.push(KeyFigure::new(f.key.clone(), f.what.clone(), reduce(m, f.across)));
        }
    }
    for f in declared {
        let Some([a, b]) = &f.ratio_of else { continue };
        let get = |k: &str| out.iter().find(|x| x.key == *k).map(|x| x.value);
        if let (Some(a), Some(b)) = (get(a), get(b)) {
            out.push(KeyFigure::new(f.key.clone(), f.what.clone(), a / b));
        }
    }
    out
}

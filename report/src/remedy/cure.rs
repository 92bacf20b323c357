//! The cure loop. For a variant with a failure verdict: take the remedies for its cause in the
//! catalogue's order; apply one to the scenario file (only that change, to the original), re-run the
//! variant on the same seeds and data, diagnose again. It cures only if, on every seed, no failure
//! verdict is left (the old one or a new one) and the loss falls: a change that trades one problem for
//! another, or stalls training, does not cure. Otherwise the next remedy is tried, up to a limit.
use super::catalogue::{self, Context, Remedy};
use super::measure::{loss_trend, measure};
use super::patch;
use crate::error::{ReportError, Result};
use crate::experiments::RunOptions;
use crate::scenario::{Scenario, Variant};
use engine::diagnose::{DiagnoseConfig, Kind, diagnose, has_gradient_data};
use engine::monitor::{Records, layer_position};
use serde::{Deserialize, Serialize};
use toml_edit::DocumentMut;

/// What the diagnosis said of one run, and whether its loss fell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    /// Failure verdict kinds, causes first.
    pub failures: Vec<String>,
    /// Loss at the start and the end (medians of the first and last third of the recorded steps).
    pub loss: Option<(f64, f64)>,
    /// The loss did not fall.
    pub stalled: bool,
}

impl SeedResult {
    pub fn healthy(&self) -> bool {
        self.failures.is_empty() && !self.stalled
    }

    /// What is still wrong, in words ("vanishing; the loss does not fall").
    pub fn problems(&self) -> String {
        let mut p: Vec<String> = self
            .failures
            .iter()
            .map(|k| Kind::from_name(k).map_or(k.clone(), |k| k.label().into()))
            .collect();
        if let (true, Some((a, b))) = (self.stalled, self.loss) {
            p.push(format!(
                "the loss does not fall ({} → {})",
                engine::diagnose::sci(a),
                engine::diagnose::sci(b)
            ));
        }
        p.join("; ")
    }
}

/// One remedy tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub remedy: Remedy,
    /// The change in words, with the numbers it was derived from.
    pub change: String,
    pub seeds: Vec<SeedResult>,
    pub cured: bool,
    /// Why the change could not be tried (a patch that does not apply or a file that does not read).
    pub error: Option<String>,
    /// The re-run's records, one per seed (shown on the page, not in the summary).
    #[serde(skip)]
    pub records: Vec<Records>,
}

impl Attempt {
    /// What is still wrong, one entry per failing seed ("seed 2: vanishing; the loss does not fall").
    pub fn left(&self) -> Vec<String> {
        self.seeds
            .iter()
            .filter(|s| !s.healthy())
            .map(|s| format!("seed {}: {}", s.seed, s.problems()))
            .collect()
    }
}

/// A failing variant and what was tried on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cure {
    pub variant: String,
    /// The failure kind treated first (the first, in the catalogue's treatment order, that any seed got).
    pub kind: String,
    pub before: Vec<SeedResult>,
    pub attempts: Vec<Attempt>,
    /// Index into `attempts` of the change that cured.
    pub cured_by: Option<usize>,
    /// Remedies left untried by the limit (none once one cured).
    pub untried: Vec<String>,
}

impl Cure {
    pub fn cure(&self) -> Option<&Attempt> {
        self.cured_by.map(|k| &self.attempts[k])
    }
}

/// Diagnoses each run (seed order), with its loss trend.
pub fn judge(runs: &[&Records], cfg: &DiagnoseConfig) -> Vec<SeedResult> {
    let mut out: Vec<SeedResult> = runs
        .iter()
        .filter(|r| has_gradient_data(r))
        .map(|r| {
            let failures = diagnose(r, cfg)
                .into_iter()
                .filter(|v| v.kind.is_failure())
                .map(|v| v.kind.name().to_string())
                .collect();
            let loss = loss_trend(r);
            SeedResult { seed: r.seed, failures, loss, stalled: loss.is_some_and(|(a, b)| b >= a) }
        })
        .collect();
    out.sort_by_key(|s| s.seed);
    out
}

/// Tries the remedies for `variant`'s failure, given its runs (`before`, one per seed); `None` when no
/// seed got a failure verdict.
pub fn cure_variant(
    s: &Scenario,
    doc: &DocumentMut,
    variant: &Variant,
    before: &[&Records],
    opts: &RunOptions,
    max_remedies: usize,
) -> Result<Option<Cure>> {
    let cfg = crate::diagnosis::config(s)?;
    let judged = judge(before, &cfg);
    let failing: Vec<&Records> = before
        .iter()
        .copied()
        .filter(|r| judged.iter().any(|j| j.seed == r.seed && !j.failures.is_empty()))
        .collect();
    if failing.is_empty() {
        return Ok(None);
    }
    let Some(model) = &variant.model else { return Ok(None) };
    // The kinds to treat, cause first; the remedies of the first, then those of the others (a
    // change for a symptom may still cure when the cause's did not).
    let kinds: Vec<Kind> = catalogue::TREATMENT_ORDER
        .into_iter()
        .filter(|k| judged.iter().any(|j| j.failures.iter().any(|f| f == k.name())))
        .collect();
    let Some(&kind) = kinds.first() else {
        let found: Vec<&String> = judged.iter().flat_map(|j| &j.failures).collect();
        return Err(ReportError::run(&s.name, format!("no remedy order for the verdicts {found:?}")));
    };
    let verdicts: Vec<Vec<engine::diagnose::Verdict>> = failing.iter().map(|r| diagnose(r, &cfg)).collect();
    let measured = measure(&failing, &cfg);
    let mut list: Vec<Remedy> = Vec::new();
    for k in kinds {
        // The layers the verdicts of this kind name, as model entries.
        let mut named: Vec<usize> = Vec::new();
        for v in verdicts.iter().flatten().filter(|v| v.kind == k) {
            for l in &v.layers {
                if let Some(e) =
                    layer_position(l).and_then(|p| catalogue::entry_of(model, p.floor() as usize))
                    && !named.contains(&e)
                {
                    named.push(e);
                }
            }
        }
        named.sort_unstable();
        let cx = Context {
            model,
            learning_rate: variant.optimizer.as_ref().map(|o| o.learning_rate),
            clip_threshold: variant.clipping.as_ref().map(|c| c.threshold),
            measured: &measured,
            cfg: &cfg,
            named,
        };
        for r in catalogue::remedies(k, &cx) {
            if !list.contains(&r) {
                list.push(r);
            }
        }
    }
    let mut cure = Cure {
        variant: variant.name.clone(),
        kind: kind.name().to_string(),
        before: judged,
        attempts: Vec::new(),
        cured_by: None,
        untried: Vec::new(),
    };
    let mut k = 0;
    while k < list.len() && cure.cured_by.is_none() {
        let r = list[k].clone();
        k += 1;
        if cure.attempts.len() >= max_remedies {
            cure.untried.push(r.describe(model));
            continue;
        }
        let attempt = try_one(s, doc, variant, &r, opts, &cfg)?;
        if attempt.cured {
            cure.cured_by = Some(cure.attempts.len());
        } else if let Some(next) = escalate(model, &attempt).filter(|n| !list.contains(n)) {
            list.insert(k, next);
        }
        cure.attempts.push(attempt);
    }
    Ok(Some(cure))
}

/// The next change after `a` when `a` removed every failure verdict on every seed and only a flat loss
/// is left: `a` kept, with the critical initialiser of the hidden layers that lack it. The diagnosis
/// has nothing left to say, and a network far from the edge of chaos (sigmoid at Glorot's scale) may
/// train too slowly to show a falling loss.
fn escalate(model: &engine::model::ModelSpec, a: &Attempt) -> Option<Remedy> {
    let only_flat = a.error.is_none()
        && !a.seeds.is_empty()
        && a.seeds.iter().all(|s| s.failures.is_empty())
        && a.seeds.iter().any(|s| s.stalled);
    // Only after a change that leaves the layers' activations and kernels as written: the initialiser
    // is derived from them.
    let keeps_layers = matches!(
        a.remedy,
        Remedy::LearningRate { .. }
            | Remedy::ClipGlobalNorm { .. }
            | Remedy::RaiseClip { .. }
            | Remedy::RemoveClip { .. }
            | Remedy::Standardize { .. }
            | Remedy::ZeroBias { .. }
            | Remedy::ForgetBias { .. }
    );
    if !(only_flat && keeps_layers) {
        return None;
    }
    let init = catalogue::critical_init(model, &catalogue::hidden_entries(model))?;
    Some(Remedy::Bundle { parts: vec![a.remedy.clone(), init] })
}

/// Applies `r` to the variant alone and re-runs it on the scenario's seeds.
fn try_one(
    s: &Scenario,
    doc: &DocumentMut,
    variant: &Variant,
    r: &Remedy,
    opts: &RunOptions,
    cfg: &DiagnoseConfig,
) -> Result<Attempt> {
    let change = variant.model.as_ref().map_or_else(|| r.name(), |m| r.describe(m));
    let mut attempt = Attempt {
        remedy: r.clone(),
        change,
        seeds: Vec::new(),
        cured: false,
        error: None,
        records: Vec::new(),
    };
    let mut trial = patch::trial(doc, Some(&variant.name));
    if let Err(e) = patch::apply(&mut trial, &variant.name, r) {
        attempt.error = Some(e);
        return Ok(attempt);
    }
    let patched = match Scenario::parse(&s.path, trial.to_string()) {
        Ok(p) => p,
        Err(e) => {
            attempt.error = Some(format!("the patched file does not read: {e}"));
            return Ok(attempt);
        }
    };
    let result = crate::run::run_one(&patched, opts)?;
    let runs: Vec<&Records> = result.records.iter().filter(|r| r.variant == variant.name).collect();
    attempt.seeds = judge(&runs, cfg);
    attempt.cured = !attempt.seeds.is_empty() && attempt.seeds.iter().all(SeedResult::healthy);
    attempt.records = result.records.into_iter().filter(|r| r.variant == variant.name).collect();
    Ok(attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(remedy: Remedy, failures: &[&str], stalled: bool) -> Attempt {
        let seed = |seed| SeedResult {
            seed,
            failures: failures.iter().map(|f| f.to_string()).collect(),
            loss: Some((0.7, 0.71)),
            stalled: stalled && seed == 2,
        };
        Attempt {
            remedy,
            change: String::new(),
            seeds: (0..3).map(seed).collect(),
            cured: false,
            error: None,
            records: Vec::new(),
        }
    }

    #[test]
    fn only_a_change_that_left_nothing_but_a_flat_loss_is_kept_with_the_critical_initialiser() {
        let m: engine::model::ModelSpec = toml::from_str(
            r#"inputs = 10
               layers = [{ type = "dense", units = 16, activation = "sigmoid", repeat = 3 },
                         { type = "dense", units = 1, activation = "sigmoid" }]"#,
        )
        .unwrap();
        let raise = Remedy::RaiseClip { from: 1e-3, to: 0.23 };
        let init = Remedy::CriticalInit { entries: vec![(0, "orthogonal(gain=4)".into())] };
        let bundle = Remedy::Bundle { parts: vec![raise.clone(), init] };
        assert_eq!(escalate(&m, &attempt(raise.clone(), &[], true)), Some(bundle.clone()));
        // The page reads the attempts back from the summary: a bundle survives the round trip.
        let json = serde_json::to_value(&bundle).unwrap();
        assert_eq!(serde_json::from_value::<Remedy>(json).unwrap(), bundle);
        assert_eq!(bundle.name(), "raise the clipping threshold + critical initialiser");
        // A verdict left, a loss that fell, or a change to the layers themselves: nothing to add.
        assert_eq!(escalate(&m, &attempt(raise.clone(), &["saturation"], true)), None);
        assert_eq!(escalate(&m, &attempt(raise, &[], false)), None);
        assert_eq!(escalate(&m, &attempt(Remedy::ReluHe { entries: vec![0] }, &[], true)), None);
        // Layers already at their critical initialiser: nothing either.
        let he: engine::model::ModelSpec = toml::from_str(
            r#"inputs = 10
               layers = [{ type = "dense", units = 16, activation = "relu", kernel_initializer = "he_normal" },
                         { type = "dense", units = 1 }]"#,
        )
        .unwrap();
        assert_eq!(escalate(&he, &attempt(Remedy::RemoveClip { from: 1e-3 }, &[], true)), None);
    }
}

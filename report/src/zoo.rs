//! The labelled zoo: networks whose variants say which failure verdicts the diagnosis must give
//! (`expect`, with the reason beside it). Scored per (network, seed) against what the diagnosis
//! said: for each verdict kind, true positives (expected and given), false positives (given, not
//! expected) and misses (expected, not given), hence precision and recall, overall and per seed.
//! Computed from the run's records, like every key figure.
use crate::diagnosis::VariantDiagnosis;
use crate::record::KeyFigure;
use crate::scenario::Scenario;
use engine::diagnose::Kind;
use std::collections::BTreeMap;

/// Key-figure parts of the per-kind counts: `zoo.right.KIND`, `zoo.extra.KIND`, `zoo.missed.KIND`.
pub const RIGHT: &str = "right";
pub const EXTRA: &str = "extra";
pub const MISSED: &str = "missed";

/// Counts for one verdict kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub true_pos: usize,
    pub false_pos: usize,
    pub missed: usize,
}

impl Counts {
    /// Given and expected over given; NaN when the kind was never given.
    pub fn precision(&self) -> f64 {
        self.true_pos as f64 / (self.true_pos + self.false_pos) as f64
    }

    /// Given and expected over expected; NaN when the kind was never expected.
    pub fn recall(&self) -> f64 {
        self.true_pos as f64 / (self.true_pos + self.missed) as f64
    }
}

/// One labelled network on one seed: what was expected and which failure kinds the diagnosis gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub variant: String,
    pub seed: u64,
    pub expected: Vec<String>,
    pub given: Vec<String>,
}

impl Outcome {
    /// Expected verdicts the diagnosis did not give.
    pub fn missed(&self) -> Vec<&str> {
        self.expected.iter().filter(|k| !self.given.contains(k)).map(String::as_str).collect()
    }

    /// Failure verdicts given to a network labelled healthy (`expect = []`).
    pub fn false_failures(&self) -> Vec<&str> {
        if self.expected.is_empty() { self.given.iter().map(String::as_str).collect() } else { Vec::new() }
    }
}

/// Every labelled (variant, seed) with the failure kinds its run got.
pub fn outcomes(s: &Scenario, diagnoses: &[VariantDiagnosis], seeds: &[u64]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for v in s.variants() {
        let Some(expected) = &v.expect else { continue };
        let d = diagnoses.iter().find(|d| d.variant == v.name);
        for &seed in seeds {
            let given = d
                .into_iter()
                .flat_map(|d| &d.verdicts)
                .filter(|x| x.seeds.contains(&seed))
                .filter(|x| Kind::from_name(&x.kind).is_some_and(Kind::is_failure))
                .map(|x| x.kind.clone())
                .collect();
            out.push(Outcome { variant: v.name.clone(), seed, expected: expected.clone(), given });
        }
    }
    out
}

/// Counts per verdict kind over the outcomes, kinds in the engine's order.
pub fn confusion<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> BTreeMap<Kind, Counts> {
    let mut m: BTreeMap<Kind, Counts> = BTreeMap::new();
    for o in outcomes {
        // Each kind once per run, whether expected, given or both.
        let mut kinds: Vec<&String> = o.expected.iter().chain(&o.given).collect();
        kinds.sort();
        kinds.dedup();
        for k in kinds {
            let Some(kind) = Kind::from_name(k) else { continue };
            let c = m.entry(kind).or_default();
            match (o.expected.contains(k), o.given.contains(k)) {
                (true, true) => c.true_pos += 1,
                (true, false) => c.missed += 1,
                _ => c.false_pos += 1,
            }
        }
    }
    m
}

/// Key figures of a zoo scenario: networks and runs, misses and false failure verdicts (overall and
/// per seed), and precision and recall per verdict kind (overall and per seed). Empty when no variant
/// is labelled.
pub fn key_figures(s: &Scenario, diagnoses: &[VariantDiagnosis], seeds: &[u64]) -> Vec<KeyFigure> {
    let all = outcomes(s, diagnoses, seeds);
    if all.is_empty() {
        return Vec::new();
    }
    let networks = s.variants().filter(|v| v.expect.is_some()).count();
    let mut k = vec![
        KeyFigure::new("zoo.networks", "labelled networks", networks as f64),
        KeyFigure::new("zoo.runs", "labelled runs (networks x seeds)", all.len() as f64),
    ];
    let tally = |set: &[&Outcome], tag: &str, label: &str, k: &mut Vec<KeyFigure>| {
        let missed: usize = set.iter().map(|o| o.missed().len()).sum();
        let false_failures: usize = set.iter().map(|o| o.false_failures().len()).sum();
        k.push(KeyFigure::new(
            format!("zoo.missed{tag}"),
            format!("expected verdicts not given{label}"),
            missed as f64,
        ));
        k.push(KeyFigure::new(
            format!("zoo.false_failures{tag}"),
            format!("failure verdicts on healthy networks{label}"),
            false_failures as f64,
        ));
        for (kind, c) in confusion(set.iter().copied()) {
            let name = kind.name();
            let what = kind.label();
            // The counts behind the ratios, overall only: the page's confusion matrix reads them.
            if tag.is_empty() {
                for (part, n, says) in [
                    (RIGHT, c.true_pos, "expected and given"),
                    (EXTRA, c.false_pos, "given, not expected"),
                    (MISSED, c.missed, "expected, not given"),
                ] {
                    let key = format!("zoo.{part}.{name}");
                    k.push(KeyFigure::new(key, format!("`{what}`: {says}"), n as f64));
                }
            }
            // A ratio over nothing is left out rather than written as NaN.
            if c.true_pos + c.false_pos > 0 {
                let key = format!("zoo.precision.{name}{tag}");
                k.push(KeyFigure::new(key, format!("precision of `{what}`{label}"), c.precision()));
            }
            if c.true_pos + c.missed > 0 {
                let key = format!("zoo.recall.{name}{tag}");
                k.push(KeyFigure::new(key, format!("recall of `{what}`{label}"), c.recall()));
            }
        }
    };
    let everything: Vec<&Outcome> = all.iter().collect();
    tally(&everything, "", "", &mut k);
    for &seed in seeds {
        let one: Vec<&Outcome> = all.iter().filter(|o| o.seed == seed).collect();
        tally(&one, &format!(".seed{seed}"), &format!(", seed {seed}"), &mut k);
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(expected: &[&str], given: &[&str]) -> Outcome {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        Outcome { variant: "v".into(), seed: 0, expected: s(expected), given: s(given) }
    }

    #[test]
    fn confusion_counts_hits_misses_and_false_verdicts_per_kind() {
        let runs = [
            o(&["vanishing"], &["vanishing"]),
            o(&["vanishing"], &[]),
            o(&[], &["vanishing", "saturation"]),
            o(&["exploding"], &["exploding", "dead_units"]),
        ];
        let c = confusion(&runs);
        assert_eq!(c[&Kind::Vanishing], Counts { true_pos: 1, false_pos: 1, missed: 1 });
        assert_eq!((c[&Kind::Vanishing].precision(), c[&Kind::Vanishing].recall()), (0.5, 0.5));
        assert_eq!(c[&Kind::Saturation], Counts { true_pos: 0, false_pos: 1, missed: 0 });
        assert_eq!(c[&Kind::Exploding].recall(), 1.0);
        assert_eq!(c[&Kind::DeadUnits].false_pos, 1);
        assert_eq!(runs[1].missed(), vec!["vanishing"]);
        assert_eq!(runs[2].false_failures(), vec!["vanishing", "saturation"]);
        // Extra verdicts on a failing network are false positives, not false failures.
        assert!(runs[3].false_failures().is_empty());
    }
}

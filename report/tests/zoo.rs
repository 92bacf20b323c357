//! The labelled zoo (`scenarios/zoo_*.toml`): every network labelled with a failure gets that verdict
//! on every seed, and no network labelled healthy gets a failure verdict. Prints the confusion
//! counts per verdict kind (`cargo test --release -p report --test zoo -- --nocapture`).
mod common;

use report::experiments::RunOptions;
use report::zoo::{Outcome, confusion, outcomes};

#[test]
fn every_labelled_network_gets_its_verdict_and_no_healthy_one_a_failure() {
    let all = report::scenario::discover(&common::scenarios_dir()).unwrap();
    // The held-out zoo is scored on the page as it comes out, not required to be right (its labels were
    // fixed before its first run and nothing was tuned to it).
    let zoo: Vec<_> = all.iter().filter(|s| s.name.starts_with("zoo_") && s.name != "zoo_heldout").collect();
    assert!(zoo.len() >= 3, "the zoo's scenario files");
    let mut runs: Vec<Outcome> = Vec::new();
    // What the diagnosis said of each network, to show beside a wrong verdict.
    let mut said = std::collections::BTreeMap::new();
    for s in zoo {
        let opts = RunOptions::default();
        let r = report::run::run_one(s, &opts).unwrap();
        for d in &r.diagnoses {
            let text: Vec<String> = d
                .verdicts
                .iter()
                .map(|v| format!("  {} (seeds {:?}): {}", v.kind, v.seeds, v.evidence.join("; ")))
                .collect();
            said.insert(format!("{}/{}", s.name, d.variant), text.join("\n"));
        }
        runs.extend(outcomes(s, &r.diagnoses, &opts.seeds(s)).into_iter().map(|mut o| {
            o.variant = format!("{}/{}", s.name, o.variant);
            o
        }));
    }
    let networks = runs.iter().map(|o| &o.variant).collect::<std::collections::BTreeSet<_>>().len();
    assert!(networks >= 40, "{networks} labelled networks");
    for (kind, c) in confusion(&runs) {
        println!(
            "{:<26} given+expected {:>3}  given, not expected {:>3}  expected, not given {:>3}",
            kind.name(),
            c.true_pos,
            c.false_pos,
            c.missed
        );
    }
    let wrong: Vec<String> = runs
        .iter()
        .filter(|o| !o.missed().is_empty() || !o.false_failures().is_empty())
        .map(|o| {
            let text = said.get(&o.variant).map_or("", String::as_str);
            format!("{} seed {}: expected {:?}, got {:?}\n{text}", o.variant, o.seed, o.expected, o.given)
        })
        .collect();
    assert!(wrong.is_empty(), "{} of {} runs wrong:\n{}", wrong.len(), runs.len(), wrong.join("\n"));
}

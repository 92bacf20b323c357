//! Verified remedies on the labelled zoo (`scenarios/zoo_*.toml`): every network labelled with a
//! failure gets remedies, and each is cured, on all three seeds, by its first or second remedy, except
//! the networks listed in `NOT_CURED_WITHIN_TWO` with the reason measured for each (the list must match
//! exactly, so a change that cures one of them, or breaks another, fails here). Prints the cure rate per
//! failure kind and seed (`cargo test --release -p report --test remedy -- --nocapture`). Also: `report
//! fix` on a file a user wrote, a network no remedy cures (the command and the page say so), and errors.
mod common;

use report::experiments::RunOptions;
use report::remedy::{Cure, fix::fix};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Networks of the zoo not cured on every seed by one of their first two remedies, as measured: none
/// since leaky ReLU at its critical orthogonal kernel replaced ReLU with he_normal as the second
/// remedy for vanishing (he_normal left dead units on one seed of deep ReLU and sigmoid stacks), and a
/// change that leaves only a flat loss is kept with the critical initialiser (sigmoid's gain 1/σ'(0))
/// as the next remedy. A network added here is a finding, with its reason beside it, not a tolerance.
const NOT_CURED_WITHIN_TWO: [(&str, &str); 0] = [];

fn seed_cured(c: &Cure, k: usize, seed: u64) -> bool {
    c.attempts.get(k).is_some_and(|a| a.seeds.iter().any(|s| s.seed == seed && s.healthy()))
}

#[test]
fn labelled_failing_networks_are_cured_by_their_first_or_second_remedy() {
    let all = report::scenario::discover(&common::scenarios_dir()).unwrap();
    let zoo: Vec<_> = all.iter().filter(|s| s.name.starts_with("zoo_")).collect();
    assert!(zoo.len() >= 3, "the zoo's scenario files");
    let opts = RunOptions::default();
    // Per labelled kind: networks, networks cured within two remedies on all seeds, and per seed the
    // networks that seed was healthy for after remedy 1 or 2.
    let mut table: BTreeMap<String, (usize, usize, BTreeMap<u64, usize>)> = BTreeMap::new();
    let mut not_within_two: Vec<(String, String)> = Vec::new();
    let mut lines = Vec::new();
    for s in zoo {
        let r = fix(&s.path, None, 3, &opts).unwrap();
        // The file with every cure applied still reads as a scenario.
        report::scenario::Scenario::parse(&s.path, r.patched.clone()).unwrap();
        for v in s.variants() {
            let Some(expect) = v.expect.as_ref().filter(|e| !e.is_empty()) else {
                assert!(
                    !r.cures.iter().any(|c| c.variant == v.name),
                    "{}/{}: labelled healthy, yet remedies were tried",
                    s.name,
                    v.name
                );
                continue;
            };
            // A labelled failure the diagnosis missed (the zoo tests score that) has nothing to treat.
            let Some(c) = r.cures.iter().find(|c| c.variant == v.name) else {
                lines.push(format!(
                    "{}/{}: labelled {expect:?}, no failure verdict: not treated",
                    s.name, v.name
                ));
                continue;
            };
            assert!(
                !c.attempts.is_empty(),
                "{}/{}: no remedy in the catalogue for {}",
                s.name,
                v.name,
                c.kind
            );
            let row = table.entry(expect[0].clone()).or_default();
            row.0 += 1;
            let within_two = c.cured_by.is_some_and(|k| k < 2);
            row.1 += usize::from(within_two);
            for &seed in &opts.seeds(s) {
                *row.2.entry(seed).or_default() +=
                    usize::from(seed_cured(c, 0, seed) || seed_cured(c, 1, seed));
            }
            if !within_two {
                not_within_two.push((s.name.clone(), v.name.clone()));
            }
            let tried: Vec<String> = c
                .attempts
                .iter()
                .map(|a| match a.cured {
                    true => format!("{} (cured)", a.remedy.name()),
                    false => format!("{} (not cured: {})", a.remedy.name(), a.left().join(", ")),
                })
                .collect();
            lines.push(format!("{}/{}: {}", s.name, v.name, tried.join(", then ")));
        }
    }
    println!("{}", lines.join("\n"));
    println!(
        "{:<26} {:>8} {:>16}  healthy after remedy 1 or 2, per seed",
        "labelled kind", "networks", "cured within 2"
    );
    for (kind, (n, cured, seeds)) in &table {
        let per_seed: Vec<String> = seeds.iter().map(|(s, k)| format!("seed {s}: {k}/{n}")).collect();
        println!("{kind:<26} {n:>8} {:>16}  {}", format!("{cured}/{n}"), per_seed.join("  "));
    }
    let expected: Vec<(String, String)> =
        NOT_CURED_WITHIN_TWO.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(not_within_two, expected, "networks not cured within two remedies on every seed");
}

#[test]
fn fix_on_a_users_file_writes_the_cures_keeps_the_comments_and_prints_the_diff() {
    let dir = common::temp_dir("fix");
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remedy_user.toml");
    let copy = dir.join("mine.toml");
    std::fs::copy(&input, &copy).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_report"))
        .args(["fix"])
        .arg(&copy)
        .args(["--threads", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let fixed = std::fs::read_to_string(dir.join("mine.fixed.toml")).unwrap();
    // The user's file is untouched; the written one keeps its comments and changes only what cured.
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), std::fs::read_to_string(&input).unwrap());
    assert!(
        fixed.contains(r#"kernel_initializer = "glorot_normal"   # "small weights are safe""#),
        "{fixed}"
    );
    assert!(!fixed.contains("learning_rate = 3.0"), "{fixed}");
    for line in
        ["-optimizer = { type = \"adam\", learning_rate = 3.0 }", "+kernel_initializer = \"glorot_normal\""]
    {
        assert!(stdout.contains(line), "the diff lacks {line}:\n{stdout}");
    }
    let reread = report::scenario::Scenario::load(&dir.join("mine.fixed.toml")).unwrap();
    assert_eq!(reread.variants().count(), 3);
    // Fixing the fixed file finds nothing to fix.
    let again = fix(&dir.join("mine.fixed.toml"), None, 3, &RunOptions::default()).unwrap();
    assert!(again.cures.is_empty() && again.diff.is_empty(), "{:?}", again.cures);
}

#[test]
fn a_network_no_remedy_cures_is_said_so_by_the_command_and_the_page() {
    let dir = common::temp_dir("fix-uncured");
    let scenario = common::scenarios_dir().join("remedies.toml");
    let target = dir.join("out.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_report"))
        .args(["fix"])
        .arg(&scenario)
        .args(["--variant", "tanh_narrow_deep", "--threads", "2", "--out"])
        .arg(&target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("NOT CURED: none of the remedies tried cured it"), "{stdout}");
    assert!(stdout.contains("no change cured; nothing written") && !target.exists(), "{stdout}");
    // The page's panel: the same verdicts, the cured variants with their change, the uncured one said.
    let s = report::scenario::Scenario::load(&scenario).unwrap();
    let mut r = report::run::run_one(&s, &RunOptions::default()).unwrap();
    report::remedy::panel::attach(&s, &mut r, &RunOptions::default()).unwrap();
    let cures: Vec<report::remedy::Cure> =
        r.remedies.iter().map(|v| serde_json::from_value(v.clone()).unwrap()).collect();
    let cured: Vec<&str> =
        cures.iter().filter(|c| c.cured_by.is_some()).map(|c| c.variant.as_str()).collect();
    assert_eq!(cured, ["tanh_small_init", "relu_negative_bias", "sgd_lr50", "clip_1e-4"]);
    let charts = report::remedy::panel::charts(&s, &r).unwrap();
    let captions: Vec<&str> = charts.iter().filter_map(|c| c.caption.as_deref()).collect();
    assert!(captions.iter().any(|c| c.starts_with("No remedy cured `tanh_narrow_deep`")), "{captions:?}");
    assert!(
        captions.iter().any(|c| c.starts_with("`sgd_lr50` was cured by remedy 1: learning rate")),
        "{captions:?}"
    );
    // Before and after are drawn from the records, which hold the re-runs as variants of their own.
    assert!(r.records.iter().any(|x| x.variant == "sgd_lr50 + remedy 1"));
    assert_eq!(charts.iter().filter(|c| c.id.starts_with("remedy")).count(), 15);
}

#[test]
fn fix_refuses_what_it_cannot_fix_with_the_place_named() {
    let opts = RunOptions::default();
    let toy = common::scenarios_dir().join("activations.toml");
    let e = fix(&toy, None, 3, &opts).unwrap_err().to_string();
    assert!(e.contains("activations.toml:") && e.contains("kind = \"train\""), "{e}");
    let zoo = common::scenarios_dir().join("zoo_inputs.toml");
    let e = fix(&zoo, Some("nope"), 3, &opts).unwrap_err().to_string();
    assert!(e.contains("--variant nope") && e.contains("tanh_glorot"), "{e}");
    let e = fix(Path::new("no/such.toml"), None, 3, &opts).unwrap_err().to_string();
    assert!(e.contains("no/such.toml"), "{e}");
    let dir = common::temp_dir("fix-bad");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "title = \"x\"\nkind = \"train\"\nseeds = []\n").unwrap();
    let e = fix(&bad, None, 3, &opts).unwrap_err().to_string();
    assert!(e.contains("bad.toml:"), "{e}");
}

//! The records the report writes are the records `report diagnose` reads: the report runs (`--quick`,
//! into a temporary folder), then `report diagnose` runs on every records file it wrote, CSV and JSON
//! lines, with the scenario's own `[diagnose]` thresholds, and must find for every run exactly the
//! verdicts the page's summary lists for that run's variant and seed; a run the page does not diagnose
//! (it recorded no gradient norms) must come out as "not enough data".
mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn report(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_report")).args(args).output().expect("the report binary runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "report {args:?} failed:\n{stderr}\n{stdout}");
    stdout.into_owned()
}

/// One run's verdicts on the page: kinds, and for the seed whose evidence is shown, headings and evidence.
type PageRun = (Vec<String>, Vec<String>, Vec<String>);

/// A verdict's severity and label as `report diagnose` prints them.
fn kind(v: &Value) -> String {
    format!("{} {}", v["severity"].as_str().unwrap().to_uppercase(), v["label"].as_str().unwrap())
}

/// A verdict's heading as `report diagnose` prints it, from the summary's fields.
fn heading(v: &Value) -> String {
    let mut h =
        format!("{} {}", v["severity"].as_str().unwrap().to_uppercase(), v["label"].as_str().unwrap());
    let layers = v["layers"].as_str().unwrap();
    if !layers.is_empty() {
        h.push_str(&format!(" in {layers}"));
    }
    if let Some([a, b]) = v["steps"].as_array().map(|s| [s[0].as_u64().unwrap(), s[1].as_u64().unwrap()]) {
        if a == b {
            h.push_str(&format!(" at step {a}"));
        } else {
            h.push_str(&format!(" from step {a} to {b}"));
        }
    }
    h
}

/// `report diagnose` output as (variant, seed) → the verdict headings and evidence lines of that run.
fn parse_cli(scenario: &str, out: &str) -> BTreeMap<(String, u64), (Vec<String>, Vec<String>)> {
    let mut runs = BTreeMap::new();
    let mut at: Option<(String, u64)> = None;
    for line in out.lines() {
        if let Some(h) = line.strip_prefix("== ").and_then(|l| l.strip_suffix(" ==")) {
            let rest = h.strip_prefix(&format!("{scenario} / ")).unwrap_or_else(|| panic!("heading {h}"));
            let (variant, seed) = rest.rsplit_once(" / seed ").unwrap();
            let seed: u64 = seed.split(' ').next().unwrap().parse().unwrap();
            let key = (variant.to_string(), seed);
            runs.insert(key.clone(), (Vec::new(), Vec::new()));
            at = Some(key);
        } else if let (Some(key), Some(v)) = (&at, line.strip_prefix("  ")) {
            let entry = runs.get_mut(key).unwrap();
            if let Some(e) = v.strip_prefix("  evidence:   ") {
                entry.1.push(e.to_string());
            } else if !v.starts_with(' ') {
                entry.0.push(v.to_string());
            }
        }
    }
    runs
}

#[test]
fn report_diagnose_reads_every_records_file_of_a_report_and_agrees_with_the_page() {
    let root = common::temp_dir("roundtrip");
    let out = root.join("out");
    report(&["--quick", "--threads", "2", "--out", out.to_str().unwrap()]);
    let scenarios = common::scenarios_dir();
    let mut files = 0;
    let mut diagnosed_runs = 0;
    for entry in std::fs::read_dir(out.join("data")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(scenario) = name.strip_suffix(".summary.json") else { continue };
        let summary: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let config = scenarios.join(format!("{scenario}.toml"));
        // What the page says, per (variant, seed): each verdict's kind, and for the seed whose evidence
        // the page shows, its full heading (where, when) and evidence.
        let mut page: BTreeMap<(String, u64), PageRun> = BTreeMap::new();
        for d in summary["diagnoses"].as_array().into_iter().flatten() {
            let variant = d["variant"].as_str().unwrap().to_string();
            for v in d["verdicts"].as_array().unwrap() {
                for seed in v["seeds"].as_array().unwrap() {
                    let seed = seed.as_u64().unwrap();
                    let e = page.entry((variant.clone(), seed)).or_default();
                    e.0.push(kind(v));
                    if v["shown_seed"].as_u64() == Some(seed) {
                        e.1.push(heading(v));
                        e.2.extend(
                            v["evidence"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().into()),
                        );
                    }
                }
            }
        }
        for ext in ["records.csv", "records.jsonl"] {
            let records = out.join("data").join(format!("{scenario}.{ext}"));
            // The scenario's own thresholds where it sets any (a `[diagnose]` table), as the page uses.
            let mut args = vec!["diagnose", records.to_str().unwrap()];
            let own = std::fs::read_to_string(&config).unwrap().contains("\n[diagnose]");
            if own {
                args.extend(["--config", config.to_str().unwrap()]);
            }
            let cli = report(&args);
            let runs = parse_cli(scenario, &cli);
            assert!(!runs.is_empty(), "{scenario}.{ext}: no runs read:\n{cli}");
            files += 1;
            for ((variant, seed), (heads, evidence)) in runs {
                match page.get(&(variant.clone(), seed)) {
                    Some((kinds, shown, shown_evidence)) => {
                        let mut want = kinds.clone();
                        want.sort();
                        // A heading reads `SEVERITY label[ in layers][ at/from step]`: its kind is the
                        // page's `SEVERITY label` it starts with.
                        let mut got: Vec<String> = heads
                            .iter()
                            .map(|h| {
                                let k = kinds.iter().find(|k| h == *k || h.starts_with(&format!("{k} ")));
                                k.cloned().unwrap_or_else(|| h.clone())
                            })
                            .collect();
                        got.sort();
                        assert_eq!(got, want, "{scenario}.{ext}, {variant}, seed {seed}:\n{cli}");
                        for h in shown {
                            assert!(heads.contains(h), "{scenario}.{ext}, {variant} seed {seed}: {h}\n{cli}");
                        }
                        for e in shown_evidence {
                            assert!(
                                evidence.contains(e),
                                "{scenario}.{ext}, {variant} seed {seed}: {e}\n{cli}"
                            );
                        }
                        diagnosed_runs += 1;
                    }
                    None => {
                        assert!(
                            heads.len() == 1 && heads[0].starts_with("INFO not enough data"),
                            "{scenario}.{ext}, {variant}, seed {seed}: the page shows no verdict, so \
                             diagnose must find no gradient data; it says {heads:?}"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(
        files,
        // The scenarios are the folder's *.toml files (scenarios/sweeps/ is not on the default page).
        2 * std::fs::read_dir(&scenarios)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "toml"))
            .count(),
        "one CSV and one JSON lines file per scenario"
    );
    assert!(diagnosed_runs > 0, "some runs carry the monitor's records");
    let _ = std::fs::remove_dir_all(root);
}

/// Every row of every records file reads back with a layer name or `*` and a step that is an integer:
/// no column is left empty or reused.
#[test]
fn records_files_use_layer_names_everywhere() {
    let root = common::temp_dir("names");
    let out = root.join("out");
    report(&["--quick", "--only", "xor", "activations", "phase_diagram", "--out", out.to_str().unwrap()]);
    for scenario in ["xor", "activations", "phase_diagram"] {
        let path = out.join("data").join(format!("{scenario}.records.csv"));
        let runs = engine::monitor::read_records(Path::new(&path)).unwrap();
        for r in &runs {
            for row in r.tidy() {
                assert!(
                    row.layer == "*" || engine::monitor::layer_position(row.layer).is_some(),
                    "{scenario}: layer `{}`",
                    row.layer
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(root);
}

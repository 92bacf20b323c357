//! Sharded runs with the real binary, each shard in its own process: a run split into 3 shards, or into
//! 7 with some shards run twice (the second run resumes) and a damaged unit recomputed, merges into the
//! same data files and `SHA256SUMS` as the single run; a merge refuses, naming the problem, a missing or
//! repeated shard and shards of another scenario file.
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

/// Small scenarios covering the three kinds of unit: a whole-scenario runner (activations), the train
/// runner's (variant, seed) runs (xor) and the phase diagram's (seed, σ_w) points.
const ONLY: [&str; 3] = ["activations", "xor", "phase_diagram"];

fn report(scenarios: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_report"))
        .arg("--scenarios")
        .arg(scenarios)
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the report binary starts")
}

fn ok(o: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{what} failed:\n{stderr}");
    stderr
}

fn run_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--quick", "--only"];
    a.extend(ONLY);
    a.extend(["--out", out]);
    a.extend(extra);
    a
}

fn shard(scenarios: &Path, dir: &Path, i: usize, n: usize) -> String {
    let spec = format!("{i}/{n}");
    let out = dir.to_str().unwrap();
    ok(report(scenarios, &run_args(out, &["--shard", &spec])), &format!("shard {spec}"))
}

fn merge(scenarios: &Path, out: &Path, dirs: &[PathBuf]) -> Output {
    let mut args = vec!["merge".to_string()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    report(scenarios, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn single(scenarios: &Path, out: &Path) {
    ok(report(scenarios, &run_args(out.to_str().unwrap(), &[])), "the single run");
}

/// Every data file and SHA256SUMS of `merged` equal the single run's, and the page differs at most in
/// its timings section.
fn assert_same_report(single: &Path, merged: &Path) {
    let a: Vec<(String, Vec<u8>)> = common::read_tree(single);
    let b: Vec<(String, Vec<u8>)> = common::read_tree(merged);
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "the merge wrote other files than the single run");
    let sums =
        |t: &[(String, Vec<u8>)]| t.iter().find(|(p, _)| p == report::data::CHECKSUMS).unwrap().1.clone();
    assert_eq!(
        String::from_utf8(sums(&a)).unwrap(),
        String::from_utf8(sums(&b)).unwrap(),
        "SHA256SUMS differ"
    );
    for ((path, x), (_, y)) in a.iter().zip(&b) {
        if path.starts_with("data/") {
            assert!(x == y, "{path} differs between the single run and the merge");
        }
    }
    let page = |t: &[(String, Vec<u8>)]| {
        let html = String::from_utf8(t.iter().find(|(p, _)| p == report::PAGE).unwrap().1.clone()).unwrap();
        let start = html.find("<section id=\"timings\">").expect("a timings section");
        let end = start + html[start..].find("</section>").unwrap();
        format!("{}{}", &html[..start], &html[end..])
    };
    assert_eq!(page(&a), page(&b), "the merged page differs from the single run's outside its timings");
}

#[test]
fn three_shards_and_seven_with_reruns_merge_into_the_single_runs_report() {
    let root = common::temp_dir("shard-identity");
    let sc = common::scenarios_dir();
    single(&sc, &root.join("single"));

    let three: Vec<PathBuf> = (0..3).map(|i| root.join(format!("three-{i}"))).collect();
    for (i, d) in three.iter().enumerate() {
        shard(&sc, d, i, 3);
    }
    // Given in any order.
    let dirs = [three[2].clone(), three[0].clone(), three[1].clone()];
    ok(merge(&sc, &root.join("merged3"), &dirs), "merge of 3 shards");
    assert_same_report(&root.join("single"), &root.join("merged3"));

    let seven: Vec<PathBuf> = (0..7).map(|i| root.join(format!("seven-{i}"))).collect();
    for (i, d) in seven.iter().enumerate() {
        shard(&sc, d, i, 7);
    }
    // Run again: every unit is found done and verified, so nothing runs.
    for (i, d) in seven.iter().enumerate() {
        let again = shard(&sc, d, i, 7);
        let ran: Vec<&str> =
            again.lines().filter(|l| l.starts_with("unit ") && !l.contains("already done")).collect();
        assert!(ran.is_empty(), "shard {i}/7 ran again: {ran:?}");
    }
    // A damaged unit file is not trusted: the re-run computes that unit again.
    let (k, csv) = seven
        .iter()
        .enumerate()
        .flat_map(|(k, d)| {
            std::fs::read_dir(d.join(report::shard::UNITS_DIR)).unwrap().map(move |e| (k, e.unwrap().path()))
        })
        .find(|(_, p)| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("xor.") && name.ends_with(".records.csv")
        })
        .expect("a shard has a unit of xor's, which has records");
    std::fs::write(&csv, "scenario,variant,seed,step,layer,point,metric,value\n").unwrap();
    let repaired = shard(&sc, &seven[k], k, 7);
    let id = csv.file_name().unwrap().to_string_lossy().trim_end_matches(".records.csv").to_string();
    assert!(
        repaired.contains(&format!("unit {id}: ")) && !repaired.contains(&format!("unit {id}: already")),
        "{repaired}"
    );
    ok(merge(&sc, &root.join("merged7"), &seven), "merge of 7 shards");
    assert_same_report(&root.join("single"), &root.join("merged7"));

    // A unit file changed after its shard finished is refused by the merge, by name.
    std::fs::write(&csv, "scenario,variant,seed,step,layer,point,metric,value\n").unwrap();
    let bad = merge(&sc, &root.join("merged-bad"), &seven);
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && msg.contains(&format!("unit {id}")), "{msg}");
    assert!(!root.join("merged-bad").exists(), "a refused merge writes nothing");
}

#[test]
fn a_merge_refuses_a_missing_or_repeated_shard_and_names_it() {
    let root = common::temp_dir("shard-missing");
    let sc = common::scenarios_dir();
    let dirs: Vec<PathBuf> = (0..3).map(|i| root.join(format!("s{i}"))).collect();
    for (i, d) in dirs.iter().enumerate() {
        shard(&sc, d, i, 3);
    }
    let out = root.join("merged");
    let missing = merge(&sc, &out, &[dirs[0].clone(), dirs[2].clone()]);
    let msg = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success() && msg.contains("shard 1/3 missing"), "{msg}");
    let twice = merge(&sc, &out, &[dirs[0].clone(), dirs[1].clone(), dirs[1].clone(), dirs[2].clone()]);
    let msg = String::from_utf8_lossy(&twice.stderr);
    assert!(!twice.status.success() && msg.contains("shard 1/3 given twice"), "{msg}");
    // A folder that is not a finished shard.
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let empty = merge(&sc, &out, &[dirs[0].clone(), root.join("empty"), dirs[2].clone()]);
    let msg = String::from_utf8_lossy(&empty.stderr);
    assert!(!empty.status.success() && msg.contains("empty") && msg.contains("manifest.json"), "{msg}");
    assert!(!out.exists(), "a refused merge writes nothing");
}

#[test]
fn a_merge_refuses_shards_of_another_scenario_file_and_names_it() {
    let root = common::temp_dir("shard-scenarios");
    let sc = root.join("scenarios");
    std::fs::create_dir_all(&sc).unwrap();
    let xor = sc.join("xor.toml");
    std::fs::copy(common::scenarios_dir().join("xor.toml"), &xor).unwrap();
    let run = |dir: &Path, i: usize| {
        let spec = format!("{i}/2");
        let o = report(&sc, &["--quick", "--shard", &spec, "--out", dir.to_str().unwrap()]);
        ok(o, &format!("shard {spec}"));
    };
    let (a, b) = (root.join("a"), root.join("b"));
    run(&a, 0);
    // The scenario file changes between the shards.
    let text = std::fs::read_to_string(&xor).unwrap();
    std::fs::write(&xor, format!("{text}\n# edited\n")).unwrap();
    run(&b, 1);
    let o = merge(&sc, &root.join("m"), &[a.clone(), b.clone()]);
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && msg.contains("different scenario files") && msg.contains("xor.toml"),
        "{msg}"
    );
    // Both shards of the edited file, merged against the original file.
    run(&a, 0);
    std::fs::write(&xor, &text).unwrap();
    let o = merge(&sc, &root.join("m"), &[a, b]);
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && msg.contains("not the ones the shards ran") && msg.contains("xor.toml"),
        "{msg}"
    );
}

#[test]
fn the_shards_units_partition_the_run() {
    let sc = common::scenarios_dir();
    let list = |extra: &[&str]| -> Vec<String> {
        let mut a = vec!["--quick", "--only"];
        a.extend(ONLY);
        a.push("--list-units");
        a.extend(extra);
        let o = report(&sc, &a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8(o.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // A header, one line per unit, a total.
        lines[1..lines.len() - 1].iter().map(|l| l.split_whitespace().next().unwrap().to_string()).collect()
    };
    let all = list(&[]);
    assert!(
        all.contains(&"activations.0".to_string()) && all.iter().any(|u| u.starts_with("phase_diagram.")),
        "{all:?}"
    );
    for n in [1, 3, 7] {
        let mut union: Vec<String> = (0..n).flat_map(|i| list(&["--shard", &format!("{i}/{n}")])).collect();
        union.sort();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(union, sorted, "the units of {n} shards are not the run's, each once");
    }
}

#[test]
fn the_large_sweep_is_not_on_the_default_page_and_its_quick_version_runs() {
    let sweeps = common::scenarios_dir().join("sweeps");
    let default = report(&common::scenarios_dir(), &["--list"]);
    assert!(
        !String::from_utf8_lossy(&default.stdout).contains("phase_diagram_large"),
        "the sweep is on the default page"
    );
    let root = common::temp_dir("shard-sweep");
    let out = root.join("quick");
    ok(report(&sweeps, &["--quick", "--out", out.to_str().unwrap()]), "the quick sweep");
    assert!(out.join("data").join("phase_diagram_large.records.csv").exists());
}

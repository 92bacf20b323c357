//! The data files are a pure function of the scenarios: byte-identical across runs and across rayon
//! pools of different sizes (scenarios run in parallel, but each result must not depend on that).
mod common;

use report::experiments::RunOptions;
use report::{Options, generate};
use std::path::Path;

fn run_into(out: &Path, threads: usize) -> Vec<(String, Vec<u8>)> {
    let opts = Options {
        scenarios_dir: common::scenarios_dir(),
        out: out.to_path_buf(),
        only: Vec::new(),
        // Quick sizes keep this (three reports) short; full sizes are compared in process below.
        run: RunOptions { quick: true, ..RunOptions::default() },
        threads,
    };
    generate(&opts, &|_, _| {}).unwrap();
    // The page and timings.json hold wall times, so only the data files and their checksums must match.
    common::read_tree(out)
        .into_iter()
        .filter(|(p, _)| p != report::PAGE && p != report::timings::FILE)
        .collect()
}

#[test]
fn data_files_are_byte_identical_across_runs_and_thread_counts() {
    let root = common::temp_dir("determinism");
    let one = run_into(&root.join("one"), 1);
    let again = run_into(&root.join("again"), 1);
    let two = run_into(&root.join("two"), 2);
    assert!(one.len() >= 7, "three files per scenario plus SHA256SUMS, got {}", one.len());
    assert!(one.iter().any(|(p, _)| p == report::data::CHECKSUMS));
    for (name, other) in [("second run", &again), ("2 threads", &two)] {
        assert_eq!(one.len(), other.len());
        for ((pa, a), (pb, b)) in one.iter().zip(other.iter()) {
            assert_eq!(pa, pb);
            assert!(a == b, "{pa} differs between the first run and the {name}");
        }
    }
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn in_process_results_are_identical_on_pools_of_one_and_two_threads() {
    let scenarios = report::scenario::discover(&common::scenarios_dir()).unwrap();
    let on = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| report::run::run_all(&scenarios, &RunOptions::default(), &|_, _| {}))
            .unwrap()
            .into_iter()
            .map(|(r, _)| r)
            .collect::<Vec<_>>()
    };
    let (a, b) = (on(1), on(2));
    assert_eq!(a.len(), scenarios.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(!x.records.is_empty(), "{} recorded nothing", x.scenario);
        assert_eq!(x.records.len(), y.records.len());
        let rows_x: Vec<_> = x.records.iter().flat_map(|t| t.tidy()).collect();
        let rows_y: Vec<_> = y.records.iter().flat_map(|t| t.tidy()).collect();
        assert_eq!(rows_x.len(), rows_y.len());
        for (rx, ry) in rows_x.iter().zip(&rows_y) {
            assert_eq!(
                (rx.variant, rx.seed, rx.step, rx.layer, rx.point, rx.metric),
                (ry.variant, ry.seed, ry.step, ry.layer, ry.point, ry.metric)
            );
            assert_eq!(rx.value.to_bits(), ry.value.to_bits(), "{rx:?}");
        }
        assert_eq!(report::data::scenario_files(x), report::data::scenario_files(y));
    }
}

#[test]
fn checksums_match_the_files_written() {
    let root = common::temp_dir("sums");
    let files = run_into(&root.join("out"), 2);
    let sums = files.iter().find(|(p, _)| p == report::data::CHECKSUMS).unwrap();
    let listed = String::from_utf8(sums.1.clone()).unwrap();
    let data: Vec<_> = files.iter().filter(|(p, _)| p.starts_with("data/")).collect();
    assert_eq!(listed.lines().count(), data.len());
    for line in listed.lines() {
        let (hex, path) = line.split_once("  ").unwrap();
        let bytes = &data.iter().find(|(p, _)| p == path).unwrap().1;
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, digest, "{path}");
    }
    let _ = std::fs::remove_dir_all(root);
}

//! The `report` binary, as a user runs it, writes byte-identical data files whatever
//! `RAYON_NUM_THREADS` is (1, 2, 8) and run after run; only the page's timings section and the
//! unhashed `timings.json` may differ.
mod common;

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Files whose contents may change between runs: the page (for its timings section only) and the
/// timings themselves. Everything else must be byte-identical.
const VOLATILE: [&str; 2] = [report::PAGE, report::timings::FILE];

/// The page without its timings section, which must be the only part that changes between runs.
fn page_without_timings(html: &str) -> String {
    let start = html.find("<section id=\"timings\">").expect("the page has a timings section");
    let end = start + html[start..].find("</section>").expect("the timings section is closed");
    format!("{}{}", &html[..start], &html[end..])
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn data_files_are_identical_for_1_2_and_8_threads_and_run_after_run() {
    let root = common::temp_dir("cli-threads");
    let runs: Vec<(String, usize, common::BinaryRun)> = [("t1", 1), ("t2", 2), ("t8", 8), ("t2-again", 2)]
        .into_iter()
        .map(|(name, n)| (name.to_string(), n, common::run_report_binary(&root.join(name), n)))
        .collect();

    let trees: Vec<BTreeMap<String, Vec<u8>>> =
        runs.iter().map(|(_, _, r)| common::read_tree(&r.out).into_iter().collect()).collect();
    let first = &trees[0];
    let sums = String::from_utf8(first[report::data::CHECKSUMS].clone()).unwrap();

    // The manifest covers exactly the data files, each with its true hash, and nothing volatile.
    let data: Vec<&String> = first.keys().filter(|p| p.starts_with("data/")).collect();
    assert!(data.len() >= 6, "three data files per scenario, got {data:?}");
    assert_eq!(sums.lines().count(), data.len(), "{sums}");
    for line in sums.lines() {
        let (hash, path) = line.split_once("  ").unwrap();
        assert!(path.starts_with("data/"), "the manifest lists {path}, which is not a data file");
        assert_eq!(hash, hex(&first[path]), "{path}: manifest hash is not the file's");
    }
    for v in VOLATILE {
        assert!(first.contains_key(v), "{v} was not written");
        assert!(!sums.contains(v), "{v} changes from run to run and must not be in the manifest");
    }

    for ((name, n, run), tree) in runs.iter().zip(&trees).skip(1) {
        assert_eq!(
            tree.keys().collect::<Vec<_>>(),
            first.keys().collect::<Vec<_>>(),
            "{name} wrote different files"
        );
        assert!(tree[report::data::CHECKSUMS] == first[report::data::CHECKSUMS], "{name}: SHA256SUMS differ");
        for (path, bytes) in tree.iter().filter(|(p, _)| !VOLATILE.contains(&p.as_str())) {
            assert!(*bytes == first[path], "{path} differs between 1 thread and {name} ({n} threads)");
        }
        let page = |t: &BTreeMap<String, Vec<u8>>| String::from_utf8(t[report::PAGE].clone()).unwrap();
        assert!(
            page_without_timings(&page(tree)) == page_without_timings(&page(first)),
            "{name}: the page differs outside its timings section"
        );
        assert!(
            run.stderr.contains("report built in"),
            "{name}: no total build time printed:\n{}",
            run.stderr
        );
        let printed =
            format!("SHA-256 of {}: {}", report::data::CHECKSUMS, hex(&first[report::data::CHECKSUMS]));
        assert!(run.stderr.contains(&printed), "{name}: expected `{printed}` in:\n{}", run.stderr);
    }

    // The variable really reached the run: each timings.json names its thread count.
    for ((name, n, _), tree) in runs.iter().zip(&trees) {
        let t: serde_json::Value = serde_json::from_slice(&tree[report::timings::FILE]).unwrap();
        assert_eq!(t["machine"]["threads"], *n, "{name}: RAYON_NUM_THREADS={n} was not used");
        assert_eq!(t["quick"], true);
        let matmul = t["kernels"]["matmul"].as_array().unwrap();
        assert!(!matmul.is_empty() && matmul.iter().all(|m| m["one_thread"].as_f64().unwrap() > 0.0));
    }
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn progress_degrades_to_plain_lines_when_stderr_is_not_a_terminal() {
    let root = common::temp_dir("cli-progress");
    let run = common::run_report_binary(&root.join("out"), 2);
    let total = report::scenario::discover(&common::scenarios_dir()).unwrap().len();
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), total, "one line per scenario:\n{}", run.stderr);
    assert!(lines.iter().any(|l| l.starts_with(&format!("[{total}/{total}] "))), "{}", run.stderr);
    assert!(!run.stderr.contains('\r') && !run.stderr.contains("\u{1b}["), "no bar redraws in a pipe");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn stripping_the_timings_section_keeps_everything_else() {
    let page = "<main><section id=\"a\">x</section><section id=\"timings\">1.23 s</section><p>y</p></main>";
    assert_eq!(page_without_timings(page), "<main><section id=\"a\">x</section></section><p>y</p></main>");
    let other = page.replace("1.23 s", "4.56 s");
    assert_eq!(page_without_timings(page), page_without_timings(&other));
    assert_ne!(page_without_timings(page), page_without_timings(&page.replace("<p>y", "<p>z")));
}

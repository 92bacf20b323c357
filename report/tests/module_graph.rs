//! The module graph of `report/src` has no cycle, runners do not import each other, and the data files
//! do not depend on the page's number formatting. Read from the sources: an edge A → B is a `crate::B`
//! (or, inside `experiments/`, a `super::B`) path in A's non-test code. `cargo test --test module_graph
//! -- --nocapture` prints the graph.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, except test files, with its path relative to `src`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && p.file_name().is_some_and(|n| n != "tests.rs") {
            out.push(p);
        }
    }
}

/// The node a file belongs to: the top-level module, and for the runners `experiments::NAME` (the
/// `train/` folder is one runner, `common/` the shared parts).
fn node(rel: &Path) -> String {
    let parts: Vec<String> =
        rel.iter().map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    match parts.as_slice() {
        [top] => top.clone(),
        [first, file] if first == "experiments" && file == "mod" => "experiments".into(),
        [first, second, ..] if first == "experiments" => format!("experiments::{second}"),
        [first, ..] => first.clone(),
        [] => unreachable!(),
    }
}

/// The code before the first `#[cfg(test)]` (tests may import what they test from anywhere).
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// Module names that follow `prefix` in `code` (`crate::record::X` gives `record`).
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|m| !m.is_empty())
        .collect()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut all = Vec::new();
    files(&root, &mut all);
    let runners: BTreeSet<String> = std::fs::read_dir(root.join("experiments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_string())
        .filter(|n| n != "mod")
        .collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in all {
        let rel = path.strip_prefix(&root).unwrap();
        let from = node(rel);
        if from == "lib" || from == "main" {
            continue; // the crate root declares every module; it is not part of the graph
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = non_test(&text);
        let edges = g.entry(from.clone()).or_default();
        for m in paths_after(code, "crate::") {
            if m != "experiments" && m != from {
                edges.insert(m.to_string());
            }
        }
        // `crate::experiments::NAME` is a runner (or the shared parts) when NAME is one of its modules.
        for m in paths_after(code, "crate::experiments::") {
            let to = if runners.contains(m) { format!("experiments::{m}") } else { "experiments".into() };
            if to != from {
                edges.insert(to);
            }
        }
        if from.starts_with("experiments::") {
            for m in paths_after(code, "super::") {
                let depth_one = rel.components().count() == 2; // experiments/NAME.rs
                let to = match depth_one {
                    true if runners.contains(m) => format!("experiments::{m}"),
                    true => "experiments".to_string(),
                    // Inside a runner's own folder `super::` is the runner itself.
                    false => continue,
                };
                if to != from {
                    edges.insert(to);
                }
            }
        }
        if from == "experiments" {
            // The registry lists every runner (`NAME::RUNNER`) and re-exports the runner type.
            for m in runners.iter().filter(|m| {
                code.contains(&format!("{m}::RUNNER")) || code.contains(&format!("pub use {m}::"))
            }) {
                edges.insert(format!("experiments::{m}"));
            }
        }
    }
    g
}

/// A cycle in the graph with its nodes renamed by `collapse`, if there is one (depth-first search).
fn cycle(g: &BTreeMap<String, BTreeSet<String>>, collapse: impl Fn(&str) -> String) -> Option<Vec<String>> {
    let mut c: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, bs) in g {
        for b in bs {
            let (a, b) = (collapse(a), collapse(b));
            if a != b {
                c.entry(a).or_default().insert(b);
            }
        }
    }
    fn visit(
        n: &str,
        c: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut cyc = stack[i..].to_vec();
            cyc.push(n.to_string());
            return Some(cyc);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in c.get(n).into_iter().flatten() {
            if let Some(found) = visit(m, c, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in c.keys() {
        if let Some(found) = visit(n, &c, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

#[test]
fn the_module_graph_has_no_cycle() {
    let g = graph();
    for (a, bs) in &g {
        println!("{a} -> {}", bs.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    assert!(g.contains_key("run") && g.contains_key("experiments::phase_diagram"), "{g:?}");
    // Runners as their own nodes: the registry imports every runner, the runners import `runner.rs`.
    assert!(g["experiments"].contains("experiments::phase_diagram"));
    assert_eq!(cycle(&g, |n| n.to_string()), None);
    let top = |n: &str| n.split("::").next().unwrap().to_string();
    assert_eq!(cycle(&g, top), None, "a cycle between top-level modules");
}

#[test]
fn runners_import_shared_parts_never_each_other() {
    let g = graph();
    let shared = ["experiments::common", "experiments::runner"];
    let is_runner = |n: &str| n.starts_with("experiments::") && !shared.contains(&n);
    let mut checked = 0;
    for (a, bs) in g.iter().filter(|(a, _)| is_runner(a)) {
        let others: Vec<&String> = bs.iter().filter(|b| is_runner(b)).collect();
        assert!(others.is_empty(), "{a} imports {others:?}");
        assert!(!bs.contains("experiments"), "{a} imports the registry");
        checked += 1;
    }
    // Every runner of the registry: a file or folder under experiments/ other than the shared parts.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/experiments");
    let runners = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !["mod.rs", "runner.rs", "common"].contains(&n.as_str()))
        .count();
    assert!(runners >= 2 && checked >= runners, "every runner checked ({checked} of {runners})");
}

#[test]
fn data_files_do_not_depend_on_the_page() {
    let g = graph();
    // What writes the data files (records, summary JSON, checksums) and what the runners compute.
    for n in ["data", "record", "claims", "diagnosis", "run", "stats"] {
        let uses = &g[n];
        for page in ["format", "html", "charts"] {
            assert!(!uses.contains(page), "{n} imports {page}");
        }
    }
    for (a, bs) in g.iter().filter(|(a, _)| a.starts_with("experiments")) {
        assert!(!bs.contains("format") && !bs.contains("html"), "{a} uses the page's formatting: {bs:?}");
    }
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let mut g = graph();
    g.entry("record".into()).or_default().insert("run".into());
    assert!(cycle(&g, |n| n.to_string()).is_some());
}

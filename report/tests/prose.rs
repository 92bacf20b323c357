//! Every measured number on the page is rendered from the data: each scenario's prose (setup,
//! explanation, errata, pending, chart captions) renders against its own run's key figures, and none of it types a
//! measured-looking number (a decimal or a power of ten) outside `code`, "quotations" and template
//! expressions.
mod common;

use report::experiments::RunOptions;
use report::prose::{Prose, measured_literals};
use report::scenario::Scenario;
use std::path::Path;

/// (field, text) of every prose field of a scenario.
fn fields(s: &Scenario) -> Vec<(String, String)> {
    let spec = &s.spec;
    let mut out =
        vec![("setup".to_string(), spec.setup.clone()), ("explanation".into(), spec.explanation.clone())];
    out.extend(spec.errata.iter().enumerate().map(|(i, e)| (format!("errata[{i}]"), e.clone())));
    out.extend(spec.pending.iter().map(|p| ("pending".to_string(), p.clone())));
    for c in &spec.charts {
        let c = c.get_ref();
        out.extend(c.caption.iter().map(|t| (format!("caption of chart `{}`", c.id), t.clone())));
    }
    out
}

/// Every typed-in measurement of the scenarios in `dir`, as "file: field: literal".
fn typed_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for s in report::scenario::discover(dir).unwrap() {
        for (field, text) in fields(&s) {
            for lit in measured_literals(&text) {
                found.push(format!("{}: {field}: {lit}", s.path.display()));
            }
        }
    }
    found
}

#[test]
fn no_scenario_types_a_measured_number_into_its_prose() {
    let dir = common::scenarios_dir();
    let mut found = typed_in(&dir);
    found.extend(typed_in(&dir.join("sweeps")));
    assert!(
        found.is_empty(),
        "measured-looking numbers typed into prose (use {{{{ fig(\"KEY\") }}}}):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_literal_check_flags_a_typed_in_number() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prose");
    let found = typed_in(&dir);
    let lits: Vec<&str> = found.iter().map(|f| f.rsplit(": ").next().unwrap()).collect();
    assert_eq!(lits, ["10^-5", "4.3", "1e-7"], "{found:?}");
}

#[test]
fn every_scenarios_prose_renders_from_its_own_run() {
    let dir = common::scenarios_dir();
    let opts = RunOptions { quick: true, ..RunOptions::default() };
    for s in report::scenario::discover(&dir).unwrap() {
        let r = report::run::run_one(&s, &opts).unwrap();
        let prose = Prose::new(&s, &r.key_figures, r.seeds.len());
        for (field, text) in fields(&s) {
            let out = prose.render(&field, &text).unwrap_or_else(|e| panic!("{e}"));
            assert!(!out.contains("{{") && !out.contains("{%"), "{}: {field}: {out}", s.name);
        }
    }
}

//! The README's scenario example is a real scenario: it parses, passes its runner's checks, runs, draws
//! its chart and its claim is judged, so the documented schema cannot drift from the code unnoticed.
use report::claims::ClaimVerdict;
use report::experiments::RunOptions;
use std::path::Path;

fn readme_example() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let section = &readme[readme.find("## Scenario files").expect("README has a Scenario files section")..];
    let start = section.find("```toml\n").expect("the section has a TOML example") + "```toml\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_string()
}

#[test]
fn the_readme_scenario_example_runs() {
    let s = report::scenario::Scenario::parse(Path::new("README-example.toml"), readme_example())
        .unwrap_or_else(|e| panic!("the README's example does not parse: {e}"));
    let r = report::run::run_one(&s, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!r.records.is_empty());
    assert_eq!(r.claims.len(), 1);
    assert_eq!(r.claims[0].verdict, ClaimVerdict::Agrees, "{:?}", r.claims[0]);
    let charts = report::charts::build::render_all(&s, &r).unwrap();
    assert_eq!(charts.len(), 1);
    assert!(charts[0].svg.starts_with("<svg"), "{}", &charts[0].svg[..40.min(charts[0].svg.len())]);
}

#[test]
fn a_changed_example_is_caught() {
    // The same check rejects a typo the README could carry.
    let bad = readme_example().replace("metric = \"df\"", "metrik = \"df\"");
    let err = report::scenario::Scenario::parse(Path::new("README-example.toml"), bad).unwrap_err();
    assert!(err.to_string().contains("metrik"), "{err}");
    // An axis the chart cannot read is named with the spellings it can.
    let bad = readme_example().replace("x = \"point.x\"", "x = \"pointx\"");
    let err = report::scenario::Scenario::parse(Path::new("README-example.toml"), bad).unwrap_err();
    assert!(err.to_string().contains("point.KEY"), "{err}");
}

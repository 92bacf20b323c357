//! The output directory is replaced only when a run succeeded; a failed run leaves the old report.
mod common;

use report::error::ReportError;
use report::experiments::RunOptions;
use report::output::replace_dir;
use report::{Options, generate};

fn leftovers(parent: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.contains(".old-"))
        .collect()
}

#[test]
fn failed_write_leaves_the_previous_output_untouched() {
    let root = common::temp_dir("atomic");
    let out = root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("old.txt"), "previous report").unwrap();
    let err = replace_dir(&out, |dir| -> report::error::Result<()> {
        std::fs::write(dir.join("half.txt"), "half written").unwrap();
        Err(ReportError::Usage("deliberate failure".into()))
    });
    assert!(err.is_err());
    assert_eq!(std::fs::read_to_string(out.join("old.txt")).unwrap(), "previous report");
    assert!(!out.join("half.txt").exists());
    assert!(leftovers(&root).is_empty(), "{:?}", leftovers(&root));

    replace_dir(&out, |dir| {
        std::fs::write(dir.join("new.txt"), "new report").unwrap();
        Ok(())
    })
    .unwrap();
    assert!(!out.join("old.txt").exists(), "the old report is replaced, not merged");
    assert_eq!(std::fs::read_to_string(out.join("new.txt")).unwrap(), "new report");
    assert!(leftovers(&root).is_empty(), "{:?}", leftovers(&root));
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_failing_scenario_keeps_the_last_good_report() {
    let root = common::temp_dir("failing");
    let scen = root.join("scenarios");
    std::fs::create_dir_all(&scen).unwrap();
    for name in ["activations.toml", "repeated_multiplication.toml"] {
        std::fs::copy(common::scenarios_dir().join(name), scen.join(name)).unwrap();
    }
    let out = root.join("out");
    let opts = |only: Vec<String>| Options {
        scenarios_dir: scen.clone(),
        out: out.clone(),
        only,
        run: RunOptions { quick: true, ..RunOptions::default() },
        threads: 2,
    };
    generate(&opts(Vec::new()), &|_, _| {}).unwrap();
    let before = common::read_tree(&out);
    assert!(before.iter().any(|(p, _)| p == report::PAGE));

    // A chart that names a metric nobody records fails only after the runners ran.
    let bad = std::fs::read_to_string(scen.join("activations.toml"))
        .unwrap()
        .replace("metric = \"df\"", "metric = \"dff\"");
    std::fs::write(scen.join("activations.toml"), bad).unwrap();
    let err = generate(&opts(Vec::new()), &|_, _| {}).err().expect("the chart must fail");
    assert!(err.to_string().contains("dff"), "{err}");
    assert_eq!(common::read_tree(&out), before, "the previous report must be untouched");
    assert!(leftovers(&root).is_empty());

    // --only with an unknown name fails before anything is written.
    let err = generate(&opts(vec!["nope".into()]), &|_, _| {}).err().unwrap().to_string();
    assert!(err.contains("nope") && err.contains("repeated_multiplication"), "{err}");
    assert_eq!(common::read_tree(&out), before);
    let _ = std::fs::remove_dir_all(root);
}

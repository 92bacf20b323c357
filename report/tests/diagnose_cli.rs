//! `report diagnose` run as a user runs it: on the shipped PyTorch-hooks example, on the same records as
//! JSON lines, on broken files (a non-zero exit naming the file and line) and on empty ones.
use std::path::{Path, PathBuf};
use std::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn diagnose(args: &[&Path]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_report"));
    cmd.arg("diagnose");
    for a in args {
        cmd.arg(a);
    }
    let o = cmd.output().expect("the report binary runs");
    Out {
        code: o.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/records/pytorch_hooks.csv")
}

/// A file of this test's own under the target's scratch folder.
fn scratch(name: &str, contents: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("diagnose_cli_{name}"));
    std::fs::write(&p, contents).expect("scratch file written");
    p
}

#[test]
fn the_pytorch_hooks_example_is_diagnosed_as_vanishing_in_the_early_layers() {
    let o = diagnose(&[&example()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("== pytorch_mlp / sigmoid, default init / seed 0 (steps 0-100) =="),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("WARNING vanishing in layers 1-"), "{}", o.stdout);
    assert!(o.stdout.contains("evidence:   first/last weight-gradient ratio"), "{}", o.stdout);
    assert!(o.stdout.contains("suggestion: try ReLU with he_normal"), "{}", o.stdout);
    assert!(!o.stdout.contains("INFO healthy"), "{}", o.stdout);
    let failures = o.stdout.matches("\n  WARNING ").count() + o.stdout.matches("\n  ERROR ").count();
    assert_eq!(failures, 1, "one diagnosis, its symptoms as evidence: {}", o.stdout);
}

#[test]
fn json_lines_of_the_same_records_give_the_same_verdicts() {
    let csv = std::fs::read_to_string(example()).unwrap();
    let runs = engine::monitor::parse_records("example", &csv).unwrap();
    let jsonl: String = runs.iter().map(|r| r.to_json_lines()).collect();
    let p = scratch("example.jsonl", &jsonl);
    let (a, b) = (diagnose(&[&example()]), diagnose(&[&p]));
    assert_eq!(b.code, 0, "{}", b.stderr);
    // Everything but the first line (which names the file) is the same.
    let body = |s: &str| s.split_once('\n').map(|(_, rest)| rest.to_string()).unwrap();
    assert_eq!(body(&a.stdout), body(&b.stdout));
}

#[test]
fn thresholds_from_a_config_file_change_the_verdict() {
    let lenient =
        scratch("lenient.toml", "[diagnose]\nvanish_ratio = 1e-6\nvanish_rms = 1e-9\nupdate_low = 1e-8\n");
    let o = diagnose(&[&example(), Path::new("--config"), &lenient]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("INFO healthy"), "{}", o.stdout);
    let bad = scratch("bad.toml", "vanish_ratio = 1e-6\nvanish_rat = 2\n");
    let o = diagnose(&[&example(), Path::new("--config"), &bad]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("bad.toml:2:") && o.stderr.contains("vanish_rat"), "{}", o.stderr);
}

#[test]
fn a_truncated_file_exits_non_zero_naming_the_file_and_line() {
    let csv = std::fs::read_to_string(example()).unwrap();
    // Cut the file in the middle of its last row, as an interrupted writer would leave it.
    let cut = csv.trim_end().rfind(',').unwrap();
    let p = scratch("truncated.csv", &csv[..cut]);
    let lines = csv.trim_end().lines().count();
    let o = diagnose(&[&p]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(o.stderr.contains(&format!("diagnose_cli_truncated.csv:{lines}:")), "{}", o.stderr);
    assert!(o.stdout.is_empty(), "no verdicts from a broken file: {}", o.stdout);
}

#[test]
fn a_malformed_value_exits_non_zero_naming_the_line() {
    let text = "scenario,variant,seed,step,layer,metric,value\n\
                s,v,0,0,1:dense(relu),grad_norm,0.5\n\
                s,v,0,0,2:dense(relu),grad_norm,1e-3x\n";
    let o = diagnose(&[&scratch("bad_value.csv", text)]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("diagnose_cli_bad_value.csv:3:") && o.stderr.contains("1e-3x"), "{}", o.stderr);

    let jsonl = "{\"scenario\":\"s\",\"variant\":\"v\",\"seed\":0,\"step\":0,\"layer\":\"*\",\"metric\":\"loss\",\"value\":1}\n\
                 {\"scenario\":\"s\",\"variant\":\"v\",\"seed\":-1,\"step\":1,\"layer\":\"*\",\"metric\":\"loss\",\"value\":1}\n";
    let o = diagnose(&[&scratch("bad_seed.jsonl", jsonl)]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("diagnose_cli_bad_seed.jsonl:2:") && o.stderr.contains("seed"), "{}", o.stderr);
}

#[test]
fn a_missing_file_exits_non_zero_naming_it() {
    let o = diagnose(&[Path::new("no/such/records.csv")]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("no/such/records.csv"), "{}", o.stderr);
}

#[test]
fn empty_records_say_not_enough_data() {
    for (name, text) in [
        ("empty.csv", ""),
        ("header_only.csv", "scenario,variant,seed,step,layer,metric,value\n"),
        ("loss_only.csv", "scenario,variant,seed,step,layer,metric,value\ns,v,0,0,*,loss,0.69\n"),
        ("one_layer.csv", "scenario,variant,seed,step,layer,metric,value\ns,v,0,0,1:linear,grad_norm,0.3\n"),
    ] {
        let o = diagnose(&[&scratch(name, text)]);
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        assert!(o.stdout.contains("not enough data"), "{name}: {}", o.stdout);
        assert!(!o.stdout.contains("INFO healthy"), "{name}: {}", o.stdout);
    }
}

//! Helpers shared by the report's integration tests: fresh temporary folders and the real scenarios.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios")
}

/// A fresh, empty folder under the system temp dir, unique per process and call.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gradlab-report-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file under `dir` as (relative path, bytes), sorted.
pub fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// What one run of the `report` binary left behind.
pub struct BinaryRun {
    pub out: PathBuf,
    pub stderr: String,
}

/// Runs the built `report` binary with `--quick` on the real scenarios into `out`, with
/// `RAYON_NUM_THREADS` set to `threads` (and no `--threads`, so the variable decides). Panics with the
/// binary's stderr when it fails.
pub fn run_report_binary(out: &Path, threads: usize) -> BinaryRun {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_report"))
        .arg("--quick")
        .arg("--out")
        .arg(out)
        .arg("--scenarios")
        .arg(scenarios_dir())
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .expect("the report binary starts");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "report --quick with RAYON_NUM_THREADS={threads} failed:\n{stderr}");
    BinaryRun { out: out.to_path_buf(), stderr }
}

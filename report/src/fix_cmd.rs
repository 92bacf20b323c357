//! `report fix SCENARIO`: runs the remedies (`report::remedy::fix`), prints what was tried and the
//! diff, and writes the patched scenario whole or not at all.
use crate::cli::Cli;
use report::experiments::RunOptions;
use report::remedy::fix;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status when a failing variant could not be cured (1 is an error, 2 a usage error from clap).
const NOT_CURED: u8 = 3;

pub fn run(cli: &Cli, scenario: &Path, variant: Option<&str>, max_remedies: usize) -> ExitCode {
    let threads = cli.threads.unwrap_or_else(rayon::current_num_threads);
    let opts = RunOptions::default();
    let result =
        report::pool(threads).and_then(|p| p.install(|| fix::fix(scenario, variant, max_remedies, &opts)));
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", fix::describe(&r));
    if r.cures.iter().any(|c| c.cured_by.is_some()) {
        let out = cli.out.clone().unwrap_or_else(|| default_out(scenario));
        if let Err(e) = write_whole(&out, &r.patched) {
            eprintln!("error: {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        println!("\nwrote {} with the changes that cured:\n", out.display());
        print!("{}", r.diff);
    } else if !r.cures.is_empty() {
        println!("\nno change cured; nothing written");
    } else {
        println!("no variant of {} has a failure verdict; nothing to fix", scenario.display());
    }
    if r.all_cured() { ExitCode::SUCCESS } else { ExitCode::from(NOT_CURED) }
}

/// `NAME.fixed.toml` beside the scenario.
fn default_out(scenario: &Path) -> PathBuf {
    let stem = scenario.file_stem().map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
    scenario.with_file_name(format!("{stem}.fixed.toml"))
}

/// Writes through a temporary file in the same folder, renamed over the target: never half a file.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

//! `report`: runs the scenarios in `scenarios/` and writes one static HTML page plus data files.
mod cli;
mod diagnose_cmd;

use clap::Parser;
use cli::{Cli, Command};
use report::experiments::{REGISTRY, RunOptions};
use report::progress::Progress;
use report::{Options, scenario};
use sha2::{Digest, Sha256};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let started = Instant::now();
    if let Some(Command::Diagnose { records, config, json }) = &cli.command {
        return match diagnose_cmd::run(records, config.as_deref(), *json) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result = if cli.list { list(&cli) } else { generate(&cli, started) };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("(the previous report, if any, was left as it was)");
            ExitCode::FAILURE
        }
    }
}

fn scenarios_dir(cli: &Cli) -> std::path::PathBuf {
    cli.scenarios.clone().unwrap_or_else(report::default_scenarios_dir)
}

fn list(cli: &Cli) -> report::error::Result<()> {
    let scenarios = scenario::discover(&scenarios_dir(cli))?;
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &scenarios {
        println!("{:width$}  {:24}  {}", s.name, s.spec.kind.get_ref(), s.spec.title);
    }
    println!();
    println!(
        "runners: {}",
        REGISTRY.iter().map(|r| format!("{} ({})", r.kind, r.about)).collect::<Vec<_>>().join("; ")
    );
    Ok(())
}

fn generate(cli: &Cli, started: Instant) -> report::error::Result<()> {
    // rayon's own default: RAYON_NUM_THREADS when set, else every logical CPU.
    let threads = cli.threads.unwrap_or_else(rayon::current_num_threads);
    let opts = Options {
        scenarios_dir: scenarios_dir(cli),
        out: cli.out.clone(),
        only: cli.only.clone(),
        run: RunOptions { quick: cli.quick, seed: cli.seed },
        threads,
    };
    // How many scenarios will run, for the progress bar (discover again is cheap and fails the same way).
    let total = report::select(scenario::discover(&opts.scenarios_dir)?, &opts.only)?.len();
    let progress = Progress::stderr(total);
    let generated = report::generate(&opts, &|s, dt| progress.scenario_done(s, dt));
    progress.finish();
    let generated = generated?;
    eprintln!(
        "wrote {} ({} scenarios, {} charts, {} data files, checksums in {}; timings in {})",
        generated.page.display(),
        generated.results.len(),
        generated.charts,
        generated.files.len(),
        opts.out.join(report::data::CHECKSUMS).display(),
        opts.out.join(report::timings::FILE).display(),
    );
    // One digest of the whole manifest: equal lines from two runs mean equal data files.
    let manifest = report::data::checksums(&generated.files);
    let digest: String = Sha256::digest(manifest.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    eprintln!("SHA-256 of {}: {digest}", report::data::CHECKSUMS);
    eprintln!(
        "report built in {:.2} s on {threads} thread{}{}",
        started.elapsed().as_secs_f64(),
        if threads == 1 { "" } else { "s" },
        if cli.quick { " (--quick)" } else { "" }
    );
    Ok(())
}

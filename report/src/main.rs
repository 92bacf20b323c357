//! `report`: runs the scenarios in `scenarios/` and writes one static HTML page plus data files.
mod cli;
mod diagnose_cmd;

use clap::Parser;
use cli::{Cli, Command};
use indicatif::{ProgressBar, ProgressStyle};
use report::run::{REGISTRY, RunOptions};
use report::{Options, scenario};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let started = Instant::now();
    if let Some(Command::Diagnose { records, config }) = &cli.command {
        return match diagnose_cmd::run(records, config.as_deref()) {
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
    let result = if cli.list { list(&cli) } else { generate(&cli) };
    match result {
        Ok(()) => {
            if !cli.list {
                eprintln!("total wall time: {:.2} s", started.elapsed().as_secs_f64());
            }
            ExitCode::SUCCESS
        }
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

fn generate(cli: &Cli) -> report::error::Result<()> {
    let threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = Options {
        scenarios_dir: scenarios_dir(cli),
        out: cli.out.clone(),
        only: cli.only.clone(),
        run: RunOptions { quick: cli.quick, seed: cli.seed },
        threads,
    };
    // How many scenarios will run, for the progress bar (discover again is cheap and fails the same way).
    let total = report::select(scenario::discover(&opts.scenarios_dir)?, &opts.only)?.len();
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} scenarios  {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let finished = AtomicUsize::new(0);
    let done = |s: &scenario::Scenario, dt: std::time::Duration| {
        let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
        if tty {
            bar.set_message(format!("{} ({:.2} s)", s.name, dt.as_secs_f64()));
            bar.inc(1);
        } else {
            eprintln!("[{n}/{total}] {} done in {:.2} s", s.name, dt.as_secs_f64());
        }
    };
    let generated = report::generate(&opts, &done);
    bar.finish_and_clear();
    let generated = generated?;
    eprintln!(
        "wrote {} ({} scenarios, {} data files, checksums in {})",
        generated.page.display(),
        generated.results.len(),
        generated.files.len(),
        opts.out.join(report::data::CHECKSUMS).display()
    );
    Ok(())
}

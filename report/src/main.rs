//! `report`: runs the scenarios in `scenarios/` and writes one static HTML page plus data files.
mod cli;
mod diagnose_cmd;
mod fix_cmd;

use clap::Parser;
use cli::{Cli, Command};
use report::experiments::{REGISTRY, RunOptions};
use report::progress::Progress;
use report::{Options, scenario, shard};
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
    if let Some(Command::Fix { scenario, variant, max_remedies }) = &cli.command {
        return fix_cmd::run(&cli, scenario, variant.as_deref(), *max_remedies);
    }
    let result = match &cli.command {
        Some(Command::Merge { dirs }) => merge(&cli, dirs, started),
        _ if cli.list => list(&cli),
        _ if cli.list_units => list_units(&cli),
        _ => match cli.shard {
            Some(spec) => shard(&cli, spec, started),
            None => generate(&cli, started),
        },
    };
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

fn options(cli: &Cli) -> Options {
    Options {
        scenarios_dir: scenarios_dir(cli),
        out: cli.out.clone().unwrap_or_else(|| "out".into()),
        only: cli.only.clone(),
        run: RunOptions { quick: cli.quick, seed: cli.seed },
        // rayon's own default: RAYON_NUM_THREADS when set, else every logical CPU.
        threads: cli.threads.unwrap_or_else(rayon::current_num_threads),
    }
}

/// One line per unit: id, estimated cost, coordinates; then the total.
fn list_units(cli: &Cli) -> report::error::Result<()> {
    let opts = options(cli);
    let scenarios = report::scenarios(&opts)?;
    let prepared = shard::prepare(&scenarios, &opts)?;
    let assigned = cli.shard.map(|spec| (spec, shard::assign(&prepared.units, spec.count)));
    let width = prepared.units.iter().map(|u| u.id.len()).max().unwrap_or(0).max(4);
    println!("{:width$}  {:>10}  coordinates", "unit", "est. cost");
    let (mut n, mut total) = (0, 0.0);
    for (i, u) in prepared.units.iter().enumerate() {
        if let Some((spec, a)) = &assigned
            && a[i] != spec.index
        {
            continue;
        }
        println!("{:width$}  {:>10.3e}  {}", u.id, u.cost, u.coords);
        (n, total) = (n + 1, total + u.cost);
    }
    let of = assigned.map_or(String::new(), |(spec, _)| format!(" in shard {spec}"));
    println!("{n} units{of}, estimated cost {total:.3e} multiply-adds in all");
    Ok(())
}

fn shard(cli: &Cli, spec: shard::ShardSpec, started: Instant) -> report::error::Result<()> {
    let opts = options(cli);
    let run = shard::run_shard(&opts, spec, &|id, dt| match dt {
        Some(dt) => eprintln!("unit {id}: {:.2} s", dt.as_secs_f64()),
        None => eprintln!("unit {id}: already done (files verified), skipped"),
    })?;
    eprintln!(
        "shard {spec}: {} units ({} skipped) in {:.2} s; manifest in {}",
        run.manifest.units.len(),
        run.skipped,
        started.elapsed().as_secs_f64(),
        opts.out.join(shard::MANIFEST).display()
    );
    Ok(())
}

fn merge(cli: &Cli, dirs: &[std::path::PathBuf], started: Instant) -> report::error::Result<()> {
    let opts = options(cli);
    let generated = shard::merge(&opts, dirs)?;
    finished(&opts, &generated, generated.results.iter().any(|r| r.quick), started);
    Ok(())
}

fn generate(cli: &Cli, started: Instant) -> report::error::Result<()> {
    let opts = options(cli);
    // How many scenarios will run, for the progress bar (discover again is cheap and fails the same way).
    let total = report::select(scenario::discover(&opts.scenarios_dir)?, &opts.only)?.len();
    let progress = Progress::stderr(total);
    let generated = report::generate(&opts, &|s, dt| progress.scenario_done(s, dt));
    progress.finish();
    let generated = generated?;
    finished(&opts, &generated, cli.quick, started);
    Ok(())
}

/// What a run or a merge wrote, and the one digest of its checksums.
fn finished(opts: &Options, generated: &report::Generated, quick: bool, started: Instant) {
    let threads = opts.threads;
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
        if quick { " (--quick)" } else { "" }
    );
}

//! gradlab's report: runs the experiments described in `scenarios/*.toml` and writes one static,
//! self-contained HTML page plus the data files behind every chart.
//!
//! Data flow: `scenario` (TOML → typed config) → `experiments` (the registry of runners, each returning a
//! `record::Output` of tidy records and key figures) → `run` (orchestration: claims, diagnosis) → `data` (CSV / JSON lines / checksums) and `charts` (SVG from the results only) → `html`
//! (minijinja page), all written through `output` so a failed run never replaces a good report. Wall
//! times and kernel speeds (`timings`) go on the page and into `timings.json`, never into the data files.
pub mod charts;
pub mod claims;
pub mod data;
pub mod diagnosis;
pub mod error;
pub mod exact;
pub mod experiments;
pub mod format;
pub mod html;
pub mod machine;
pub mod output;
pub mod progress;
pub mod prose;
pub mod record;
pub mod remedy;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod sources;
pub mod stats;
pub mod timings;
pub mod zoo;

use error::{ReportError, Result};
use experiments::RunOptions;
use rayon::prelude::*;
use run::ScenarioResult;
use scenario::Scenario;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The page's file name inside the output directory.
pub const PAGE: &str = "report.html";

pub struct Options {
    pub scenarios_dir: PathBuf,
    pub out: PathBuf,
    /// Scenario names (file stems) to run; empty runs all.
    pub only: Vec<String>,
    pub run: RunOptions,
    pub threads: usize,
}

/// What a successful run wrote.
pub struct Generated {
    pub results: Vec<ScenarioResult>,
    pub page: PathBuf,
    /// Data files: (path relative to the output directory, contents).
    pub files: Vec<(String, String)>,
    /// Charts on the page.
    pub charts: usize,
    /// What the page's timings section shows (also in `timings.json`, which is not checksummed).
    pub timings: timings::Timings,
}

/// The default scenarios folder: `./scenarios` when run from the workspace root, else the one beside
/// this crate.
pub fn default_scenarios_dir() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scenarios") }
}

/// Keeps the scenarios named in `only` (all when empty); an unknown name lists the known ones.
pub fn select(scenarios: Vec<Scenario>, only: &[String]) -> Result<Vec<Scenario>> {
    if only.is_empty() {
        return Ok(scenarios);
    }
    if let Some(missing) = only.iter().find(|n| !scenarios.iter().any(|s| &&s.name == n)) {
        let known: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        return Err(ReportError::Usage(format!(
            "--only {missing}: no such scenario; the scenarios are: {}",
            known.join(", ")
        )));
    }
    Ok(scenarios.into_iter().filter(|s| only.contains(&s.name)).collect())
}

/// The thread pool a run uses: `threads` workers (at least one).
pub fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| ReportError::Usage(format!("--threads {threads}: {e}")))
}

/// The selected scenarios of a run, in page order; none is an error.
pub fn scenarios(opts: &Options) -> Result<Vec<Scenario>> {
    let scenarios = select(scenario::discover(&opts.scenarios_dir)?, &opts.only)?;
    if scenarios.is_empty() {
        return Err(ReportError::Usage(format!("no scenarios in {}", opts.scenarios_dir.display())));
    }
    Ok(scenarios)
}

/// Runs the selected scenarios on a pool of `opts.threads` threads and writes the report into
/// `opts.out`, replacing it only if everything succeeded. `done` is told as each scenario finishes.
pub fn generate(opts: &Options, done: &(dyn Fn(&Scenario, Duration) + Sync)) -> Result<Generated> {
    let started = Instant::now();
    let scenarios = scenarios(opts)?;
    // Every scenario is prepared (params and variants checked) before any of them runs.
    let mut runs = pool(opts.threads)?.install(|| run::run_all(&scenarios, &opts.run, done))?;
    pool(opts.threads)?.install(|| -> Result<()> {
        for (s, (r, dt)) in scenarios.iter().zip(runs.iter_mut()) {
            let t = Instant::now();
            remedy::panel::attach(s, r, &opts.run)?;
            *dt += t.elapsed();
        }
        Ok(())
    })?;
    publish(opts, &scenarios, runs, started)
}

/// Charts, page, data files and checksums from finished scenarios (a single run's, or a merge of shards'),
/// written into `opts.out` only if everything succeeded.
pub fn publish(
    opts: &Options,
    scenarios: &[Scenario],
    runs: Vec<(ScenarioResult, Duration)>,
    started: Instant,
) -> Result<Generated> {
    let (charts, kernels) = pool(opts.threads)?.install(|| -> Result<_> {
        let charts = scenarios
            .par_iter()
            .zip(&runs)
            .map(|(s, (r, _))| {
                let mut c = charts::build::render_all(s, r)?;
                c.extend(remedy::panel::charts(s, r)?);
                Ok(c)
            })
            .collect::<Result<Vec<_>>>()?;
        // Measured after the scenarios so the two never compete for the cores.
        let kernels = timings::measure_kernels(opts.run.quick)?;
        Ok((charts, kernels))
    })?;
    let chart_count = charts.iter().map(Vec::len).sum();
    let sections: Vec<html::SectionInput<'_>> = scenarios
        .iter()
        .zip(&runs)
        .zip(charts)
        .map(|((scenario, (result, _)), charts)| html::SectionInput { scenario, result, charts })
        .collect();
    let machine = machine::Machine::detect(opts.threads.max(1));
    let timings = timings::Timings::new(machine, kernels, &runs, started.elapsed(), opts.run.quick);
    let page = html::render(&sections, &timings)?;
    let results: Vec<ScenarioResult> = runs.into_iter().map(|(r, _)| r).collect();
    let files = output::replace_dir(&opts.out, |dir| {
        let files = data::write_all(dir, &results)?;
        let path = dir.join(PAGE);
        std::fs::write(&path, &page).map_err(|e| ReportError::io(&path, e))?;
        timings.write(dir)?;
        Ok(files)
    })?;
    Ok(Generated { results, page: opts.out.join(PAGE), files, charts: chart_count, timings })
}

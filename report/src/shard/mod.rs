//! Sweeps past one machine: a run as a fixed list of work units, shards of that list run anywhere (a
//! Slurm array task, a Kubernetes indexed pod), and a merge that turns the shards' outputs into exactly
//! the data files, `SHA256SUMS` and page a single run writes.
//!
//! - Units: every scenario's plan lists its units ([`crate::experiments::Experiment::units`]), in
//!   scenario order, then the plan's order; unit `NAME.K` is unit K of scenario NAME. A unit's output
//!   depends on its coordinates alone (its seed is the scenario seed it names).
//! - Assignment ([`assign`]): the unit list cut into N contiguous runs of about equal estimated cost, so
//!   it depends on the unit list and N only.
//! - A shard's folder: `units/ID.records.csv` and `units/ID.json` per unit ([`part_file`]), `units/ID.done`
//!   once both are written, and `manifest.json` ([`Manifest`]) when every unit of the shard is done.
//!   Re-running a shard skips a unit whose `.done` matches the build, the scenario file and the options
//!   and whose files still have the SHA-256 it recorded.
//! - Merge ([`merge`]): the manifests must agree (build, scenario files, options, N) and name every shard
//!   once; each unit's files are checked against its SHA-256, the plans finish from the parts and the
//!   report is published as a single run publishes it.
pub mod part_file;

use crate::error::{ReportError, Result};
use crate::experiments::Experiment;
use crate::run::{self, ScenarioResult};
use crate::scenario::Scenario;
use crate::{Generated, Options};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The manifest's format tag; a merge refuses any other.
pub const FORMAT: &str = "gradlab-shard/1";
pub const MANIFEST: &str = "manifest.json";
pub const UNITS_DIR: &str = "units";

/// One unit of a run.
#[derive(Debug, Clone)]
pub struct UnitRef {
    /// Index of its scenario in the run's scenario list.
    pub scenario: usize,
    pub id: String,
    /// Its index among its scenario's units.
    pub index: usize,
    pub coords: String,
    pub cost: f64,
}

/// Every unit of the prepared scenarios, in scenario order.
pub fn units(scenarios: &[Scenario], plans: &[Box<dyn Experiment + '_>]) -> Vec<UnitRef> {
    scenarios
        .iter()
        .zip(plans)
        .enumerate()
        .flat_map(|(si, (s, plan))| {
            plan.units().into_iter().enumerate().map(move |(k, u)| UnitRef {
                scenario: si,
                id: format!("{}.{k}", s.name),
                index: k,
                coords: u.coords,
                cost: u.cost,
            })
        })
        .collect()
}

/// The shard (0..n) of each unit: the list cut into n contiguous runs of about equal estimated cost (a
/// unit goes to the shard its cost's midpoint falls in), so each shard's load is within one unit's cost
/// of total/n, and neighbouring units, which share a seed's draws or a data set, stay together.
pub fn assign(units: &[UnitRef], n: usize) -> Vec<usize> {
    let n = n.max(1);
    let total: f64 = units.iter().map(|u| u.cost.max(0.0)).sum();
    let mut before = 0.0;
    units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let c = u.cost.max(0.0);
            let mid = before + c / 2.0;
            before += c;
            let share = if total > 0.0 { mid / total } else { (i as f64 + 0.5) / units.len() as f64 };
            ((share * n as f64) as usize).min(n - 1)
        })
        .collect()
}

/// `I/N` with I < N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;
    fn from_str(t: &str) -> std::result::Result<Self, String> {
        let expected =
            || format!("`{t}`: expected I/N, the shard index from 0 and the number of shards, e.g. 2/8");
        let (i, n) = t.split_once('/').ok_or_else(expected)?;
        let (index, count): (usize, usize) =
            (i.trim().parse().map_err(|_| expected())?, n.trim().parse().map_err(|_| expected())?);
        if count == 0 || index >= count {
            return Err(format!(
                "`{t}`: the index must be below the number of shards (0 to {})",
                count.max(1) - 1
            ));
        }
        Ok(ShardSpec { index, count })
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The build: the crate's version and the SHA-256 of the running binary (no git needed, and two builds
/// that differ in anything that reaches the binary differ here).
pub fn build_id() -> Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| ReportError::Usage(format!("cannot find the running binary: {e}")))?;
    let bytes = std::fs::read(&exe).map_err(|e| ReportError::io(&exe, e))?;
    Ok(format!("report {} sha256:{}", env!("CARGO_PKG_VERSION"), hex(&bytes)))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioHash {
    pub name: String,
    pub sha256: String,
}

/// What changes a unit's output besides its scenario file and the build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub quick: bool,
    pub seed: Option<u64>,
    /// `--only`: the scenarios of the run (empty: all).
    pub only: Vec<String>,
}

impl std::fmt::Display for RunSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seed = self.seed.map_or("each file's seeds".to_string(), |s| format!("--seed {s}"));
        let only = if self.only.is_empty() {
            "all scenarios".to_string()
        } else {
            format!("--only {}", self.only.join(" "))
        };
        write!(f, "{}{seed}, {only}", if self.quick { "--quick, " } else { "" })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitEntry {
    pub id: String,
    pub coords: String,
    pub records_sha256: String,
    pub meta_sha256: String,
    /// Wall time of the unit where it ran (the page's timings only; never in the data files).
    pub seconds: f64,
}

/// `manifest.json` of a finished shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub build: String,
    pub shard: usize,
    pub shards: usize,
    pub settings: RunSettings,
    pub scenarios: Vec<ScenarioHash>,
    pub units: Vec<UnitEntry>,
}

/// A unit's `.done` file: written after its two files, read to decide whether a re-run may skip it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Done {
    build: String,
    scenario_sha256: String,
    settings: RunSettings,
    entry: UnitEntry,
}

fn settings(opts: &Options) -> RunSettings {
    RunSettings { quick: opts.run.quick, seed: opts.run.seed, only: opts.only.clone() }
}

fn scenario_hashes(scenarios: &[Scenario]) -> Vec<ScenarioHash> {
    scenarios.iter().map(|s| ScenarioHash { name: s.name.clone(), sha256: hex(s.text.as_bytes()) }).collect()
}

/// Writes `contents` to `path` through a temporary sibling, so a killed task never leaves half a file.
fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents).map_err(|e| ReportError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ReportError::io(path, e))
}

/// `units/ID.EXT` (an id holds dots, so the extension is appended, not set).
fn unit_file(units: &Path, id: &str, ext: &str) -> PathBuf {
    units.join(format!("{id}.{ext}"))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))
}

/// The run's scenarios, their plans and units.
pub struct Prepared<'s> {
    pub plans: Vec<Box<dyn Experiment + 's>>,
    pub units: Vec<UnitRef>,
}

pub fn prepare<'s>(scenarios: &'s [Scenario], opts: &Options) -> Result<Prepared<'s>> {
    let plans = run::prepare_all(scenarios, &opts.run)?;
    let units = units(scenarios, &plans);
    Ok(Prepared { plans, units })
}

/// What a shard run did: its manifest and how many units it skipped as already done.
pub struct ShardRun {
    pub manifest: Manifest,
    pub skipped: usize,
}

/// Runs shard `spec` of the run `opts` describes into `opts.out` (kept between runs: finished units are
/// skipped), and writes its manifest last.
pub fn run_shard(
    opts: &Options,
    spec: ShardSpec,
    on_unit: &(dyn Fn(&str, Option<Duration>) + Sync),
) -> Result<ShardRun> {
    let scenarios = crate::scenarios(opts)?;
    let prepared = prepare(&scenarios, opts)?;
    let build = build_id()?;
    let hashes = scenario_hashes(&scenarios);
    let settings = settings(opts);
    let assigned = assign(&prepared.units, spec.count);
    let mine: Vec<&UnitRef> =
        prepared.units.iter().zip(&assigned).filter(|(_, s)| **s == spec.index).map(|(u, _)| u).collect();
    let dir = opts.out.join(UNITS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| ReportError::io(&dir, e))?;
    let results: Vec<(UnitEntry, bool)> = crate::pool(opts.threads)?.install(|| {
        mine.par_iter()
            .map(|u| {
                let [csv_path, meta_path, done_path] =
                    ["records.csv", "json", "done"].map(|e| unit_file(&dir, &u.id, e));
                let want = |d: &Done| {
                    d.build == build
                        && d.scenario_sha256 == hashes[u.scenario].sha256
                        && d.settings == settings
                };
                if let Some(done) = read(&done_path).ok().and_then(|t| serde_json::from_str::<Done>(&t).ok())
                    && want(&done)
                    && let (Ok(csv), Ok(meta)) = (read(&csv_path), read(&meta_path))
                    && hex(csv.as_bytes()) == done.entry.records_sha256
                    && hex(meta.as_bytes()) == done.entry.meta_sha256
                    && part_file::decode(&u.id, &csv, &meta).is_ok()
                {
                    on_unit(&u.id, None);
                    return Ok((done.entry, true));
                }
                let t = Instant::now();
                let part = prepared.plans[u.scenario].run_unit(u.index)?;
                let (csv, meta) = part_file::encode(&part);
                write_atomic(&csv_path, &csv)?;
                write_atomic(&meta_path, &meta)?;
                let entry = UnitEntry {
                    id: u.id.clone(),
                    coords: u.coords.clone(),
                    records_sha256: hex(csv.as_bytes()),
                    meta_sha256: hex(meta.as_bytes()),
                    seconds: t.elapsed().as_secs_f64(),
                };
                let done = Done {
                    build: build.clone(),
                    scenario_sha256: hashes[u.scenario].sha256.clone(),
                    settings: settings.clone(),
                    entry: entry.clone(),
                };
                write_atomic(&done_path, &serde_json::to_string_pretty(&done).expect("serialises"))?;
                on_unit(&u.id, Some(t.elapsed()));
                Ok((entry, false))
            })
            .collect::<Result<_>>()
    })?;
    let skipped = results.iter().filter(|(_, s)| *s).count();
    let manifest = Manifest {
        format: FORMAT.into(),
        build,
        shard: spec.index,
        shards: spec.count,
        settings,
        scenarios: hashes,
        units: results.into_iter().map(|(e, _)| e).collect(),
    };
    let mut text = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
    text.push('\n');
    write_atomic(&opts.out.join(MANIFEST), &text)?;
    Ok(ShardRun { manifest, skipped })
}

/// The first scenario file in one list and not the other, for an error message.
fn first_difference(a: &[ScenarioHash], b: &[ScenarioHash]) -> String {
    let differ = a.iter().find(|x| !b.contains(x)).or_else(|| b.iter().find(|x| !a.contains(x)));
    differ.map_or("the scenario list".to_string(), |x| format!("{}.toml", x.name))
}

fn refuse(msg: String) -> ReportError {
    ReportError::Usage(format!("merge refused: {msg}"))
}

/// Reads and cross-checks the shards' manifests: one format, build, set of scenario files, settings and
/// N, each shard exactly once. Returns them ordered by shard index.
pub fn check_manifests(dirs: &[PathBuf], build: &str) -> Result<Vec<(PathBuf, Manifest)>> {
    if dirs.is_empty() {
        return Err(refuse("no shard folders given".into()));
    }
    let mut all = Vec::new();
    for d in dirs {
        let path = d.join(MANIFEST);
        let text = read(&path).map_err(|_| {
            refuse(format!(
                "{} has no {MANIFEST}: that shard did not finish (run it again: it resumes)",
                d.display()
            ))
        })?;
        let m: Manifest =
            serde_json::from_str(&text).map_err(|e| refuse(format!("{}: {e}", path.display())))?;
        if m.format != FORMAT {
            return Err(refuse(format!("{}: format `{}`, expected `{FORMAT}`", path.display(), m.format)));
        }
        all.push((d.clone(), m));
    }
    let (d0, m0) = all[0].clone();
    for (d, m) in &all[1..] {
        let (a, b) = (d0.display(), d.display());
        if m.build != m0.build {
            return Err(refuse(format!("different builds: {a} is `{}`, {b} is `{}`", m0.build, m.build)));
        }
        if m.shards != m0.shards {
            return Err(refuse(format!("{a} is one of {} shards, {b} one of {}", m0.shards, m.shards)));
        }
        if m.settings != m0.settings {
            return Err(refuse(format!(
                "different run settings: {a} ran with {}, {b} with {}",
                m0.settings, m.settings
            )));
        }
        if m.scenarios != m0.scenarios {
            let differ = first_difference(&m0.scenarios, &m.scenarios);
            return Err(refuse(format!("{a} and {b} ran different scenario files ({differ} differs)")));
        }
    }
    if m0.build != build {
        return Err(refuse(format!(
            "the shards were built as `{}`, this binary is `{build}`: merge with the binary that ran them",
            m0.build
        )));
    }
    let n = m0.shards;
    let mut by_index: Vec<Option<(PathBuf, Manifest)>> = vec![None; n];
    for (d, m) in all {
        if m.shard >= n {
            return Err(refuse(format!("{}: shard {}/{n} is out of range", d.display(), m.shard)));
        }
        if let Some((other, _)) = &by_index[m.shard] {
            return Err(refuse(format!(
                "shard {}/{n} given twice: {} and {}",
                m.shard,
                other.display(),
                d.display()
            )));
        }
        let i = m.shard;
        by_index[i] = Some((d, m));
    }
    let missing: Vec<String> =
        by_index.iter().enumerate().filter(|(_, m)| m.is_none()).map(|(i, _)| format!("{i}/{n}")).collect();
    if !missing.is_empty() {
        return Err(refuse(format!(
            "shard{} {} missing (run `report --shard I/N` for each, then merge all {n} folders)",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    Ok(by_index.into_iter().flatten().collect())
}

/// Combines finished shards into the report a single run of the same scenarios writes, into `opts.out`
/// (`opts.only`, `opts.run` are taken from the manifests).
pub fn merge(opts: &Options, dirs: &[PathBuf]) -> Result<Generated> {
    let started = Instant::now();
    let shards = check_manifests(dirs, &build_id()?)?;
    let m0 = &shards[0].1;
    let opts = Options {
        scenarios_dir: opts.scenarios_dir.clone(),
        out: opts.out.clone(),
        only: m0.settings.only.clone(),
        run: crate::experiments::RunOptions { quick: m0.settings.quick, seed: m0.settings.seed },
        threads: opts.threads,
    };
    let scenarios = crate::scenarios(&opts)?;
    let here = scenario_hashes(&scenarios);
    if here != m0.scenarios {
        let differ = first_difference(&here, &m0.scenarios);
        return Err(refuse(format!(
            "the scenario files in {} are not the ones the shards ran ({differ} differs)",
            opts.scenarios_dir.display()
        )));
    }
    let prepared = prepare(&scenarios, &opts)?;
    let assigned = assign(&prepared.units, m0.shards);
    for (d, m) in &shards {
        let expected = assigned.iter().filter(|&&s| s == m.shard).count();
        if m.units.len() != expected {
            return Err(refuse(format!(
                "{} holds {} units, shard {}/{} has {expected}",
                d.display(),
                m.units.len(),
                m.shard,
                m.shards
            )));
        }
    }
    // Every unit's part, read from the shard it was assigned to and checked against its SHA-256.
    let parts = crate::pool(opts.threads)?.install(|| {
        prepared
            .units
            .par_iter()
            .zip(&assigned)
            .map(|(u, &s)| {
                let (d, m) = &shards[s];
                let e = m.units.iter().find(|e| e.id == u.id).ok_or_else(|| {
                    refuse(format!("{} (shard {s}/{}) does not list unit {}", d.display(), m.shards, u.id))
                })?;
                let csv = read(&unit_file(&d.join(UNITS_DIR), &u.id, "records.csv"))?;
                let meta = read(&unit_file(&d.join(UNITS_DIR), &u.id, "json"))?;
                if hex(csv.as_bytes()) != e.records_sha256 || hex(meta.as_bytes()) != e.meta_sha256 {
                    return Err(refuse(format!(
                        "unit {} in {}: its files do not have the SHA-256 the manifest lists (damaged or edited)",
                        u.id,
                        d.display()
                    )));
                }
                Ok((part_file::decode(&u.id, &csv, &meta)?, e.seconds))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut parts = parts.into_iter();
    let mut runs: Vec<(ScenarioResult, Duration)> = Vec::new();
    for (si, s) in scenarios.iter().enumerate() {
        let n = prepared.units.iter().filter(|u| u.scenario == si).count();
        let (mine, secs): (Vec<_>, Vec<f64>) = parts.by_ref().take(n).unzip();
        let out = prepared.plans[si].finish(mine)?;
        let result = run::conclude(s, out, &opts.run)?;
        runs.push((result, Duration::from_secs_f64(secs.iter().sum())));
    }
    crate::publish(&opts, &scenarios, runs, started)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(cost: f64) -> UnitRef {
        UnitRef { scenario: 0, id: String::new(), index: 0, coords: String::new(), cost }
    }

    #[test]
    fn assignment_balances_cost_and_uses_every_shard() {
        let us: Vec<UnitRef> = [8.0, 1.0, 1.0, 4.0, 4.0, 1.0, 1.0].into_iter().map(unit).collect();
        let a = assign(&us, 3);
        let mut load = [0.0; 3];
        for (u, &s) in us.iter().zip(&a) {
            load[s] += u.cost;
        }
        assert_eq!(load, [8.0, 6.0, 6.0]);
        assert_eq!(a, assign(&us, 3), "the assignment is a function of the list");
        assert!(a.windows(2).all(|w| w[0] <= w[1]), "contiguous: {a:?}");
        // More shards than units: each unit alone, the rest empty.
        let a = assign(&us[..2], 5);
        assert_eq!(a, vec![2, 4]);
        // Equal costs: equal counts.
        let a = assign(&vec![unit(1.0); 12], 4);
        assert_eq!(a, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    }

    #[test]
    fn shard_specs_parse_and_reject() {
        assert_eq!("2/8".parse::<ShardSpec>().unwrap(), ShardSpec { index: 2, count: 8 });
        for bad in ["8/8", "1", "a/2", "0/0", "-1/3"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }
}

//! Command-line interface of `report` (clap derive).
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Runs every scenario in scenarios/*.toml and writes one self-contained HTML page plus data files.
#[derive(Debug, Parser)]
#[command(name = "report", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// List the scenarios (name, kind, title) and exit.
    #[arg(long)]
    pub list: bool,

    /// Run only these scenarios (file names without .toml).
    #[arg(long, num_args = 1.., value_name = "NAME")]
    pub only: Vec<String>,

    /// List the run's work units (id, estimated cost, coordinates) and exit; with --shard, only that
    /// shard's.
    #[arg(long)]
    pub list_units: bool,

    /// Run only shard I of N (I from 0): its units' outputs and a manifest go into --out, which is kept
    /// between runs so a re-run resumes; `report merge` combines the N folders.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<report::shard::ShardSpec>,

    /// Output directory (default: out); replaced only when the whole run succeeds (a shard's folder is
    /// kept and resumed). For `report fix`, the file to write the patched scenario to.
    #[arg(long, global = true, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Smaller sizes for a fast look.
    #[arg(long)]
    pub quick: bool,

    /// Worker threads (default: RAYON_NUM_THREADS, else all logical CPUs). Results do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// Use this one seed for every scenario instead of each scenario's seed list.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Folder of scenario files (default: ./scenarios).
    #[arg(long, global = true, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Combine the folders of every shard of a run (`--shard I/N`, I = 0..N-1) into the page, data files
    /// and SHA256SUMS a single run writes, in --out. Refuses shards of different scenario files, builds
    /// or settings, and a missing or repeated shard.
    Merge {
        /// The shards' output folders, in any order.
        #[arg(required = true, num_args = 1..)]
        dirs: Vec<PathBuf>,
    },
    /// Diagnose training runs from their records: prints each run's verdicts (what is wrong, where, the
    /// evidence, what to change). Exits non-zero only when the file cannot be read or parsed.
    Diagnose {
        /// A records file, CSV with a header or JSON lines, in the tidy format described in the README
        /// ("Records format"): columns scenario, variant, seed, step, layer, metric, value.
        records: PathBuf,

        /// Thresholds as TOML: the keys of the diagnosis config at the top level, or a `[diagnose]`
        /// table; keys left out keep their documented defaults.
        #[arg(long, value_name = "FILE.toml")]
        config: Option<PathBuf>,

        /// Print JSON for machines instead of text: `{"file", "runs": [{"scenario", "variant", "seed",
        /// "steps", "verdicts": [{"kind", "severity", "layers", "steps", "rule", "evidence",
        /// "suggestion"}]}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Cure failing networks: runs a `train` scenario and, for every variant with a failure verdict,
    /// applies the first remedy for its cause, re-runs it on the same seeds and data and diagnoses again;
    /// while a failure verdict remains (or a new one appears, or the loss stops falling) it tries the
    /// next. Writes the scenario with the changes that cured to --out (default: NAME.fixed.toml beside
    /// it; the file itself is never changed) and prints what was tried and a unified diff. Exit status
    /// 0 when every failing variant was cured (or none failed), 3 when some could not be, 1 on an error.
    Fix {
        /// The scenario file (TOML, `kind = "train"`).
        scenario: PathBuf,

        /// Only this variant.
        #[arg(long, value_name = "NAME")]
        variant: Option<String>,

        /// Try at most K remedies per variant.
        #[arg(long, default_value_t = report::remedy::DEFAULT_MAX_REMEDIES, value_name = "K")]
        max_remedies: usize,
    },
}

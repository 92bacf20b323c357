//! `report fix`: reads a scenario file, runs it, and for every variant with a failure verdict tries
//! the remedies ([`super::cure`]); the changes that cured are applied together to the file's text,
//! which is returned beside a unified diff of it. The file itself is never rewritten here.
use super::cure::{Cure, cure_variant};
use super::{diff, patch};
use crate::error::{ReportError, Result};
use crate::experiments::RunOptions;
use crate::scenario::Scenario;
use engine::monitor::Records;
use std::path::Path;
use toml_edit::DocumentMut;

/// What `report fix` found and changed.
#[derive(Debug)]
pub struct FixReport {
    pub scenario: String,
    /// One per variant that got a failure verdict, in file order.
    pub cures: Vec<Cure>,
    /// Variants with no failure verdict on any seed.
    pub healthy: Vec<String>,
    /// The file with every cure applied (the original text when none cured).
    pub patched: String,
    /// `diff -u` of the original against `patched`; empty when nothing changed.
    pub diff: String,
}

impl FixReport {
    /// Every failing variant was cured (true when none failed).
    pub fn all_cured(&self) -> bool {
        self.cures.iter().all(|c| c.cured_by.is_some())
    }
}

/// Runs `path` and tries up to `max_remedies` remedies on each failing variant (only `variant` when
/// given). An unreadable file, a scenario that is not a `train` scenario or an unknown variant is an
/// error naming it.
pub fn fix(path: &Path, variant: Option<&str>, max_remedies: usize, opts: &RunOptions) -> Result<FixReport> {
    let s = Scenario::load(path)?;
    if s.spec.kind.get_ref() != "train" {
        return Err(s.error_at(
            s.spec.kind.span(),
            format!(
                "`report fix` re-trains networks: it needs kind = \"train\", not \"{}\"",
                s.spec.kind.get_ref()
            ),
        ));
    }
    if let Some(name) = variant
        && !s.variants().any(|v| v.name == name)
    {
        let names: Vec<&str> = s.variants().map(|v| v.name.as_str()).collect();
        return Err(ReportError::Usage(format!(
            "--variant {name}: {} has no such variant; its variants are: {}",
            path.display(),
            names.join(", ")
        )));
    }
    if max_remedies == 0 {
        return Err(ReportError::Usage("--max-remedies must be at least 1".into()));
    }
    let doc: DocumentMut =
        s.text.parse().map_err(|e: toml_edit::TomlError| s.error(format!("cannot edit the file: {e}")))?;
    // The runs as they are, without the page's parts (charts, claims, the remedy panel).
    let bare = patch::trial(&doc, variant);
    let before = crate::run::run_one(&Scenario::parse(&s.path, bare.to_string())?, opts)?;
    let mut cures = Vec::new();
    let mut healthy = Vec::new();
    for v in s.variants().filter(|v| variant.is_none_or(|n| n == v.name)) {
        let runs: Vec<&Records> = before.records.iter().filter(|r| r.variant == v.name).collect();
        match cure_variant(&s, &doc, v, &runs, opts, max_remedies)? {
            Some(c) => cures.push(c),
            None => healthy.push(v.name.clone()),
        }
    }
    let mut fixed = doc.clone();
    for c in &cures {
        if let Some(a) = c.cure() {
            patch::apply(&mut fixed, &c.variant, &a.remedy).map_err(|e| ReportError::run(&s.name, e))?;
        }
    }
    let patched = fixed.to_string();
    let name = path.display().to_string();
    let diff = diff::unified(&name, &format!("{name} (fixed)"), &s.text, &patched);
    Ok(FixReport { scenario: s.name.clone(), cures, healthy, patched, diff })
}

/// The report in words: per failing variant, what was wrong, each change tried and what came of it.
pub fn describe(r: &FixReport) -> String {
    let mut out = String::new();
    for c in &r.cures {
        let failing: Vec<String> = c
            .before
            .iter()
            .filter(|s| !s.failures.is_empty())
            .map(|s| format!("seed {}: {}", s.seed, s.problems()))
            .collect();
        out.push_str(&format!("== {} / {} ==\n  before: {}\n", r.scenario, c.variant, failing.join("; ")));
        for (k, a) in c.attempts.iter().enumerate() {
            out.push_str(&format!("  remedy {}: {}\n", k + 1, a.change));
            let result = match (&a.error, a.cured) {
                (Some(e), _) => format!("could not be tried: {e}"),
                (None, true) => {
                    format!("cured: no failure verdict and a falling loss on all {} seeds", a.seeds.len())
                }
                (None, false) => format!("not cured: {}", a.left().join("; ")),
            };
            out.push_str(&format!("    -> {result}\n"));
        }
        if c.cured_by.is_none() {
            let why = if c.attempts.is_empty() {
                "no remedy in the catalogue applies to it"
            } else {
                "none of the remedies tried cured it"
            };
            out.push_str(&format!("  NOT CURED: {why}\n"));
        }
        for u in &c.untried {
            out.push_str(&format!("  not tried (over --max-remedies): {u}\n"));
        }
    }
    if !r.healthy.is_empty() {
        out.push_str(&format!("no failure verdict, left as they are: {}\n", r.healthy.join(", ")));
    }
    out
}

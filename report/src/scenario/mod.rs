//! Scenario files: one TOML file in `scenarios/` per experiment, parsed into typed config. Unknown keys,
//! wrong types and unknown names are errors that name the file, line and column and what was expected.
mod chart;
mod figure;
mod model;
mod params;
pub use params::{ParamsCheck, VariantRun};

pub use chart::{Axis, ChartKind, ChartSpec, ColourMap, EventSpec, Reduce, Scale, TableColumn};
pub use figure::{FigureReduce, FigureSpec, Pick, Selection};
pub use model::{Sweep, Variant};

use crate::error::{ReportError, Result};
use engine::Activation;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::cmp::Ordering::Greater;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The keys every scenario file has; kind-specific settings sit in `[params]` and are typed by the runner.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub title: String,
    /// The source document's file name, e.g. `001_4c52fe2161f98c85.txt`.
    pub source: String,
    /// Which part of the source, e.g. `slides 1, 2, 5, 8`.
    pub experiment: String,
    /// The experiment runner (see `experiments::REGISTRY`).
    pub kind: Spanned<String>,
    /// Position on the page; ties are broken by file name.
    #[serde(default = "default_order")]
    pub order: i32,
    pub seeds: Vec<u64>,
    /// What was set up, in prose (the page also lists params and variants).
    #[serde(default)]
    pub setup: String,
    /// What the charts show and why; paragraphs separated by blank lines.
    #[serde(default)]
    pub explanation: String,
    /// What the source gets wrong, one item each.
    #[serde(default)]
    pub errata: Vec<String>,
    /// Parts of the experiment that are not measured yet, said plainly on the page.
    pub pending: Option<String>,
    pub params: Option<toml::Table>,
    #[serde(default)]
    pub variants: Vec<Spanned<Variant>>,
    #[serde(default)]
    pub charts: Vec<Spanned<ChartSpec>>,
    #[serde(default)]
    pub claims: Vec<Spanned<Claim>>,
    /// Key figures read from the records (`train` scenarios): see `figure.rs`.
    #[serde(default)]
    pub figures: Vec<Spanned<FigureSpec>>,
    /// Overrides of the diagnosis thresholds (`engine::diagnose::DiagnoseConfig`), typed by `diagnosis`.
    pub diagnose: Option<toml::Table>,
    /// `[remedy]`: try the remedies on the failing variants and show them on the page.
    pub remedy: Option<RemedySpec>,
}

/// A scenario's `[remedy]` table: whether its failing variants get a remedy panel on the page.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemedySpec {
    /// Run the remedies and show the panel (off when absent).
    #[serde(default)]
    pub enabled: bool,
    /// At most this many remedies per variant (default 3).
    pub max_remedies: Option<usize>,
    /// Only these variants (default: every variant with a failure verdict).
    pub variants: Option<Vec<String>>,
}

fn default_order() -> i32 {
    100
}

/// What the source document claims about one key figure, and the criterion that turns the measurement
/// into a verdict: an `expected` value (within `rel_tol`) or a `range` the claim implies. Every claim is
/// audited: it quotes the source's own words, states the setting the source made it at, and argues its
/// criterion from those words, so that a reader can check that the number tested is the one claimed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The key figure this claim is about (as produced by the runner).
    pub key: String,
    /// The claim in a sentence (the page's first column).
    pub source_says: String,
    /// The source's own words, verbatim (checked against the source document where it is at hand).
    pub quote: String,
    /// The setting the source made the claim at (network, data, budget), in its own terms.
    pub source_setting: String,
    /// Why the criterion follows from the quote: what the words commit the source to, and no more.
    pub argument: String,
    /// Whether the measured figure comes from a run at the source's setting. A contradiction at a
    /// setting the source did not use is shown but not counted against the source.
    #[serde(default = "yes")]
    pub at_source_setting: bool,
    pub expected: Option<f64>,
    pub rel_tol: Option<f64>,
    pub range: Option<[f64; 2]>,
    /// Why `range` is what the claim implies.
    pub criterion: Option<String>,
}

/// Serde defaults shared by the typed tables: `true`, and 1 of any integer type.
pub(crate) fn yes() -> bool {
    true
}

pub(crate) fn one<T: From<u8>>() -> T {
    T::from(1)
}

impl Claim {
    /// The audit fields are present and say something; a criterion comes with its number.
    /// On error: the field at fault (where there is one) and what is wrong.
    fn check(&self) -> std::result::Result<(), (Option<&'static str>, String)> {
        let k = &self.key;
        let at = |field: &'static str| move |msg: String| (Some(field), msg);
        for (field, text) in
            [("quote", &self.quote), ("source_setting", &self.source_setting), ("argument", &self.argument)]
        {
            if text.trim().is_empty() {
                return Err(at(field)(format!(
                    "claim about `{k}`: `{field}` is empty; {}",
                    Claim::why(field)
                )));
            }
        }
        if self.quote.trim() == self.source_says.trim() {
            return Err(at("quote")(format!(
                "claim about `{k}`: `quote` repeats `source_says`; quote the source's own words there"
            )));
        }
        if self.expected.is_some() && self.range.is_some() {
            return Err(at("range")("a claim takes `expected` or `range`, not both".into()));
        }
        if self.rel_tol.is_some() && self.expected.is_none() {
            return Err(at("rel_tol")(format!("claim about `{k}`: `rel_tol` needs an `expected` value")));
        }
        if let Some([lo, hi]) = self.range
            && lo.partial_cmp(&hi).is_none_or(|o| o == Greater)
        {
            return Err(at("range")(format!("claim range [{lo}, {hi}] is empty")));
        }
        Ok(())
    }

    fn why(field: &str) -> &'static str {
        match field {
            "quote" => "give the source's own words, verbatim",
            "source_setting" => "say at which setting (network, data, budget) the source made the claim",
            _ => "say why the criterion follows from the quote",
        }
    }
}

/// An activation given by name in a scenario; unknown names are rejected with the list of valid ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationName {
    pub name: String,
    pub act: Activation,
}

impl<'de> Deserialize<'de> for ActivationName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        match Activation::from_name(&name) {
            Some(act) => Ok(ActivationName { name, act }),
            None => Err(D::Error::custom(format!(
                "unknown activation `{name}`, expected one of: {}",
                Activation::ALL_NAMES.join(", ")
            ))),
        }
    }
}

/// A parsed scenario file: its name (the file stem), where it came from, and its typed content.
#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    pub spec: ScenarioSpec,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        Scenario::parse(path, text)
    }

    /// Parses and checks a scenario's text; `path` names it in errors.
    pub fn parse(path: &Path, text: String) -> Result<Scenario> {
        let spec: ScenarioSpec = toml::from_str(&text).map_err(|e| toml_error(path, &text, &e))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut scenario = Scenario { name, path: path.to_path_buf(), text, spec };
        scenario.read_models()?;
        scenario.check()?;
        Ok(scenario)
    }

    /// An error pointing at a byte span of this scenario's text.
    pub fn error_at(&self, span: Range<usize>, msg: impl Into<String>) -> ReportError {
        let (line, column) = line_column(&self.text, span.start);
        ReportError::Scenario { path: self.path.clone(), line, column, msg: msg.into() }
    }

    /// An error about the file as a whole (points at its first line); an error about one value goes
    /// through [`Scenario::error_at_key`], [`Scenario::variant_error`] or [`Scenario::params_check`].
    pub fn error(&self, msg: impl Into<String>) -> ReportError {
        self.error_at(0..0, msg)
    }

    /// Reads every variant's model into the engine's language, with errors at the offending layer.
    fn read_models(&mut self) -> Result<()> {
        for i in 0..self.spec.variants.len() {
            let Some(table) = &self.spec.variants[i].get_ref().model_table else { continue };
            let model = table.get_ref().resolve(table.span()).map_err(|(span, msg)| {
                let v = self.spec.variants[i].get_ref();
                self.error_at(span, format!("variant `{}`: {msg}", v.name))
            })?;
            self.spec.variants[i].get_mut().model = Some(model);
        }
        Ok(())
    }

    /// Where `field = ...` starts inside the table at `span` (the table itself when it is not written
    /// there), so that an error about one field points at its line.
    fn field_span(&self, span: Range<usize>, field: Option<&str>) -> Range<usize> {
        let Some(field) = field else { return span };
        // A table's span may cover its header only: read on to the next table header.
        let rest = self.text.get(span.start..).unwrap_or_default();
        let end = rest.get(1..).and_then(|r| r.find("\n[")).map_or(rest.len(), |i| i + 1);
        let body = &rest[..end.max(span.len()).min(rest.len())];
        let found = body.match_indices(field).find(|&(i, _)| {
            let line_start = body[..i].rfind('\n').map_or(0, |j| j + 1);
            body[line_start..i].trim().is_empty() && body[i + field.len()..].trim_start().starts_with('=')
        });
        found.map_or(span.clone(), |(i, _)| span.start + i..span.start + i + field.len())
    }

    pub fn variants(&self) -> impl Iterator<Item = &Variant> {
        self.spec.variants.iter().map(|v| v.get_ref())
    }

    /// Every variant with its activation, for the runners whose variants are activations: at least one
    /// variant, and a variant without an `activation` is an error at that variant.
    pub fn activation_variants(&self) -> Result<Vec<(&Variant, Activation)>> {
        if self.spec.variants.is_empty() {
            let kind = self.spec.kind.get_ref();
            return Err(self.error(format!("{kind} needs at least one variant (an activation)")));
        }
        self.variants()
            .enumerate()
            .map(|(i, v)| {
                v.activation()
                    .map(|a| (v, a))
                    .ok_or_else(|| self.variant_error(i, &[], "needs an `activation`"))
            })
            .collect()
    }

    fn check(&self) -> Result<()> {
        let s = &self.spec;
        if s.seeds.is_empty() {
            return Err(self.error("`seeds` is empty; give at least one seed, e.g. seeds = [0]"));
        }
        let mut names = BTreeSet::new();
        for v in &s.variants {
            if !names.insert(v.get_ref().name.as_str()) {
                return Err(self.error_at(v.span(), format!("duplicate variant name `{}`", v.get_ref().name)));
            }
            v.get_ref().check().map_err(|msg| self.error_at(v.span(), msg))?;
        }
        let mut ids = BTreeSet::new();
        for c in &s.charts {
            if !ids.insert(c.get_ref().id.as_str()) {
                return Err(self.error_at(c.span(), format!("duplicate chart id `{}`", c.get_ref().id)));
            }
            c.get_ref().check(&names).map_err(|msg| self.error_at(c.span(), msg))?;
        }
        let mut keys = BTreeSet::new();
        for f in &s.figures {
            if !keys.insert(f.get_ref().key.as_str()) {
                return Err(self.error_at(f.span(), format!("duplicate figure key `{}`", f.get_ref().key)));
            }
            f.get_ref().check().map_err(|msg| self.error_at(f.span(), msg))?;
            if let Some(v) = f.get_ref().variants.iter().find(|v| !names.contains(v.as_str())) {
                return Err(self.error_at(f.span(), format!("figure variants: `{v}` is not a variant")));
            }
        }
        let train = s.kind.get_ref() == "train";
        if let Some(f) = s.figures.first().filter(|_| !train) {
            return Err(self.error_at(f.span(), "`[[figures]]` are computed by the `train` runner only"));
        }
        // A variant's own `[params]`, its sweep and a model whose inputs follow the data: the train runner's.
        for (i, v) in s.variants.iter().enumerate().filter(|_| !train) {
            let v = v.get_ref();
            let key = if v.params.is_some() {
                "params"
            } else if v.sweep.is_some() {
                "sweep"
            } else if v.model_table.as_ref().is_some_and(|m| m.get_ref().inputs.is_none()) {
                "model"
            } else {
                continue;
            };
            let msg = format!(
                "`{key}` (a variant's own params, a sweep, or model inputs taken from the data) is read by \
                 the `train` runner only"
            );
            return Err(self.variant_error(i, &[key], msg));
        }
        for c in &s.claims {
            c.get_ref()
                .check()
                .map_err(|(field, msg)| self.error_at(self.field_span(c.span(), field), msg))?;
        }
        Ok(())
    }
}

/// Finds every `*.toml` in `dir` and parses it, sorted by (`order`, file name).
pub fn discover(dir: &Path) -> Result<Vec<Scenario>> {
    let entries = std::fs::read_dir(dir).map_err(|e| ReportError::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| ReportError::io(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut scenarios = paths.iter().map(|p| Scenario::load(p)).collect::<Result<Vec<_>>>()?;
    scenarios.sort_by(|a, b| (a.spec.order, &a.name).cmp(&(b.spec.order, &b.name)));
    Ok(scenarios)
}

fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ReportError {
    let (line, column) = e.span().map(|s| line_column(text, s.start)).unwrap_or((1, 1));
    ReportError::Scenario { path: path.to_path_buf(), line, column, msg: e.message().trim().to_string() }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let t = "a = 1\nbé = 2\n";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 6), (2, 1));
        assert_eq!(line_column(t, t.find('=').unwrap()), (1, 3));
        assert_eq!(line_column(t, t.rfind('=').unwrap()), (2, 4));
    }
}

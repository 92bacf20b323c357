//! The kind-specific `[params]` table, typed by its runner with every value's place kept: a wrong type, an
//! unknown key or a failed check points at the offending value's line and column, not at the file.
//!
//! `--quick` is data, not code: `[params.quick]` holds the smaller sizes, and a quick run reads `[params]`
//! with those values laid over it (tables merged key by key, so `quick.data.samples` replaces only
//! `data.samples`). A runner therefore sees one typed value and never asks whether the run is quick.
use super::Scenario;
use crate::error::{ReportError, Result};
use serde::de::DeserializeOwned;
use std::fmt::Display;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// The name of the override table inside `[params]`.
pub const QUICK: &str = "quick";

impl Scenario {
    /// `[params]` typed as `P`, with `[params.quick]` laid over it when `quick`. A scenario without
    /// `[params]` reads as an empty table, so `P`'s required keys are reported as missing.
    pub fn typed_params<P: DeserializeOwned>(&self, quick: bool) -> Result<P> {
        self.read_params(quick, None)
    }

    /// `[params]` as one run of a variant sees it (`train`): [`Scenario::typed_params`], then the variant's
    /// own `params` table laid over it, then (with `sweep = Some(k)`) its sweep's k-th value set at the
    /// sweep's key. Errors point at the value that was read, wherever it is written.
    pub fn variant_params<P: DeserializeOwned>(&self, quick: bool, at: VariantRun) -> Result<P> {
        self.read_params(quick, Some(at))
    }

    fn read_params<P: DeserializeOwned>(&self, quick: bool, run: Option<VariantRun>) -> Result<P> {
        let doc = DeTable::parse(&self.text).map_err(|e| self.toml_error(&e))?;
        let whole = doc.span();
        let mut root = doc.into_inner();
        let variant = run.and_then(|r| {
            let variants = root.get("variants")?.get_ref().as_array()?;
            Some((r, variants.get(r.index)?.get_ref().as_table()?.clone()))
        });
        let mut params = match root.remove("params") {
            Some(p) => p,
            None => Spanned::new(whole.start..whole.start, DeValue::Table(DeTable::default())),
        };
        if let DeValue::Table(table) = params.get_mut() {
            let overlay = table.remove(QUICK);
            if let (true, Some(overlay)) = (quick, overlay) {
                merge(table, overlay.into_inner());
            }
            if let Some((run, v)) = variant {
                if let Some(own) = v.get("params") {
                    merge(table, own.get_ref().clone());
                }
                let sweep = v.get("sweep").and_then(|s| s.get_ref().as_table());
                if let (Some(k), Some(sweep)) = (run.sweep, sweep) {
                    let param = sweep.get("param").and_then(|p| p.get_ref().as_str()).unwrap_or_default();
                    let values = sweep.get("values").and_then(|v| v.get_ref().as_array());
                    if let Some(value) = values.and_then(|v| v.get(k)) {
                        merge(table, nest(&param.split('.').collect::<Vec<_>>(), value.clone()));
                    }
                }
            }
        }
        P::deserialize(ValueDeserializer::from(params)).map_err(|e| self.toml_error(&e))
    }

    /// The byte span of the value at a key path (`["params", "data", "samples"]`; a number indexes an
    /// array, as in `["variants", "2", "factor"]`); where the path stops existing, the span of the deepest
    /// value that does exist.
    pub fn span_of(&self, path: &[&str]) -> Range<usize> {
        self.locate(path).0
    }

    /// An error at the value of a key path (see [`Scenario::span_of`]).
    pub fn error_at_key(&self, path: &[&str], msg: impl Into<String>) -> ReportError {
        self.error_at(self.span_of(path), msg)
    }

    /// An error at a key of the `index`-th variant (at the variant itself where the key is absent), with
    /// the variant's name in front of `msg`.
    pub fn variant_error(&self, index: usize, key: &[&str], msg: impl Display) -> ReportError {
        let i = index.to_string();
        let path: Vec<&str> = ["variants", i.as_str()].into_iter().chain(key.iter().copied()).collect();
        let name = self.spec.variants.get(index).map_or("", |v| v.get_ref().name.as_str());
        self.error_at_key(&path, format!("variant `{name}`: {msg}"))
    }

    /// Where the checks on `[params]` read with `typed_params(quick)` report (see [`ParamsCheck`]).
    pub fn params_check(&self, quick: bool) -> ParamsCheck<'_> {
        ParamsCheck { scenario: self, quick, run: None }
    }

    /// Where the checks on `[params]` read with `variant_params(quick, run)` report.
    pub fn variant_params_check(&self, quick: bool, run: VariantRun) -> ParamsCheck<'_> {
        ParamsCheck { scenario: self, quick, run: Some(run) }
    }

    /// The span at a key path and whether the whole path exists (else the deepest value that does).
    fn locate(&self, path: &[&str]) -> (Range<usize>, bool) {
        let Ok(doc) = DeTable::parse(&self.text) else { return (0..0, false) };
        let Some((first, rest)) = path.split_first() else { return (doc.span(), true) };
        let Some(mut value) = doc.get_ref().get(*first) else { return (0..0, false) };
        for key in rest {
            let next = match key.parse::<usize>() {
                Ok(i) if value.get_ref().is_array() => value.get_ref().get(i),
                _ => value.get_ref().get(*key),
            };
            match next {
                Some(v) => value = v,
                None => return (value.span(), false),
            }
        }
        (value.span(), true)
    }

    fn toml_error(&self, e: &toml::de::Error) -> ReportError {
        self.error_at(e.span().unwrap_or(0..0), e.message().trim())
    }
}

/// Failed checks on the values of `[params]`, each reported at the value that was read (in a quick run,
/// the one in `[params.quick]` where that table sets it) as `[params] key = value: expected ...`.
pub struct ParamsCheck<'s> {
    scenario: &'s Scenario,
    quick: bool,
    run: Option<VariantRun>,
}

/// One run of a variant: the variant's index and, for a variant with a `sweep`, which of its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantRun {
    pub index: usize,
    pub sweep: Option<usize>,
}

impl ParamsCheck<'_> {
    /// An error at `[params]`'s `key` path saying what was expected of it.
    pub fn error(&self, key: &[&str], expected: impl Display) -> ReportError {
        let s = self.scenario;
        let at = |table: &[&str]| {
            let path: Vec<&str> = table.iter().chain(key).copied().collect();
            s.locate(&path)
        };
        let quick = if self.quick { Some(at(&["params", QUICK])).filter(|(_, found)| *found) } else { None };
        // The variant's sweep value and its own table come before the scenario's tables.
        let i = self.run.map(|r| r.index.to_string());
        let swept = match (&i, self.run.and_then(|r| r.sweep)) {
            (Some(i), Some(k)) => s
                .spec
                .variants
                .get(self.run.map_or(0, |r| r.index))
                .and_then(|v| v.get_ref().sweep.as_ref())
                .filter(|sw| sw.path() == key)
                .map(|_| s.locate(&["variants", i, "sweep", "values", &k.to_string()])),
            _ => None,
        };
        let own = i.as_ref().map(|i| at(&["variants", i, "params"])).filter(|(_, found)| *found);
        let (table, (span, found)) = match (swept, own, quick) {
            (Some(place), ..) => ("sweep", place),
            (_, Some(place), _) => ("variant params", place),
            (_, _, Some(place)) => ("[params.quick]", place),
            _ => ("[params]", at(&["params"])),
        };
        let name = key.join(".");
        let msg = match s.text.get(span.clone()).filter(|_| found) {
            Some(value) => format!("{table} {name} = {}: expected {expected}", value.trim()),
            None => format!("{table} {name} (not set): expected {expected}"),
        };
        s.error_at(span, msg)
    }

    /// `Ok` when `ok`, else [`ParamsCheck::error`].
    pub fn ensure(&self, ok: bool, key: &[&str], expected: impl Display) -> Result<()> {
        if ok { Ok(()) } else { Err(self.error(key, expected)) }
    }
}

/// `value` under the key path `keys` (`["data", "steps"]` → `{ data = { steps = value } }`), every key
/// spanned at the value so that an error about it points there.
fn nest<'i>(keys: &[&str], value: Spanned<DeValue<'i>>) -> DeValue<'i> {
    let span = value.span();
    let mut inner = value;
    for key in keys.iter().rev() {
        let mut t = DeTable::default();
        t.insert(Spanned::new(span.clone(), std::borrow::Cow::Owned(key.to_string())), inner);
        inner = Spanned::new(span.clone(), DeValue::Table(t));
    }
    inner.into_inner()
}

/// Lays `overlay`'s keys over `base`: tables merge recursively, any other value replaces.
fn merge<'i>(base: &mut DeTable<'i>, overlay: DeValue<'i>) {
    let DeValue::Table(overlay) = overlay else { return };
    for (key, value) in overlay {
        let (span, value) = (value.span(), value.into_inner());
        match (base.get_mut(key.get_ref().as_ref()), value) {
            (Some(existing), DeValue::Table(inner)) if existing.get_ref().is_table() => {
                if let DeValue::Table(t) = existing.get_mut() {
                    merge(t, DeValue::Table(inner));
                }
            }
            (_, value) => {
                base.insert(key, Spanned::new(span, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::path::Path;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct P {
        width: usize,
        data: Option<D>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct D {
        samples: usize,
        name: String,
    }

    const HEAD: &str = "title = \"t\"\nsource = \"s\"\nexperiment = \"e\"\nkind = \"k\"\nseeds = [0]\n";

    fn scenario(params: &str) -> Scenario {
        Scenario::parse(Path::new("x.toml"), format!("{HEAD}{params}")).unwrap()
    }

    fn message(e: ReportError) -> (usize, usize, String) {
        match e {
            ReportError::Scenario { line, column, msg, .. } => (line, column, msg),
            other => panic!("not a scenario error: {other}"),
        }
    }

    #[test]
    fn quick_overlay_replaces_only_the_keys_it_names() {
        let s = scenario(
            "[params]\nwidth = 256\ndata = { samples = 1000, name = \"digits\" }\n\
             [params.quick]\nwidth = 16\ndata = { samples = 100 }\n",
        );
        let full: P = s.typed_params(false).unwrap();
        let quick: P = s.typed_params(true).unwrap();
        assert_eq!(full, P { width: 256, data: Some(D { samples: 1000, name: "digits".into() }) });
        assert_eq!(quick, P { width: 16, data: Some(D { samples: 100, name: "digits".into() }) });
    }

    #[test]
    fn errors_inside_params_point_at_the_value() {
        let s = scenario("[params]\nwidth = 4\ndata = { samples = \"many\", name = \"x\" }\n");
        let (line, column, msg) = message(s.typed_params::<P>(false).unwrap_err());
        assert_eq!((line, column), (8, 20), "{msg}");
        assert!(msg.contains("usize") || msg.contains("integer"), "{msg}");
        let s = scenario("[params]\nwidth = 4\nwidht = 5\n");
        let (line, _, msg) = message(s.typed_params::<P>(false).unwrap_err());
        assert_eq!(line, 8, "{msg}");
        assert!(msg.contains("widht"), "{msg}");
        // A bad value in the quick table is found only by a quick run, at its own line.
        let s = scenario("[params]\nwidth = 4\n[params.quick]\nwidth = -1\n");
        assert!(s.typed_params::<P>(false).is_ok());
        assert_eq!(message(s.typed_params::<P>(true).unwrap_err()).0, 9);
    }

    #[test]
    fn key_paths_locate_values_and_fall_back_to_the_deepest_table() {
        let s = scenario("[params]\nwidth = 4\n\n[params.data]\nsamples = 0\nname = \"x\"\n");
        let (line, column, _) = message(s.error_at_key(&["params", "data", "samples"], "bad"));
        assert_eq!((line, column), (10, 11));
        let (line, _, _) = message(s.error_at_key(&["params", "data", "nothing"], "bad"));
        assert_eq!(line, 9);
        let (line, _, _) = message(s.error_at_key(&["params", "width"], "bad"));
        assert_eq!(line, 7);
    }

    #[test]
    fn checks_report_the_value_that_was_read() {
        let s = scenario(
            "[params]\nwidth = 4\n[params.data]\nsamples = 5\n[params.quick]\ndata = { samples = 1 }\n",
        );
        // A quick run read `data.samples` from the quick table, `width` from [params].
        let (line, column, msg) = message(s.params_check(true).error(&["data", "samples"], "at least 2"));
        assert_eq!(
            (line, column, msg.as_str()),
            (11, 20, "[params.quick] data.samples = 1: expected at least 2")
        );
        let (line, column, msg) = message(s.params_check(true).error(&["width"], "at least 8"));
        assert_eq!((line, column, msg.as_str()), (7, 9, "[params] width = 4: expected at least 8"));
        let (line, _, msg) = message(s.params_check(false).error(&["data", "samples"], "at least 9"));
        assert_eq!((line, msg.as_str()), (9, "[params] data.samples = 5: expected at least 9"));
        // A key left to its default is said to be unset, at the table that would hold it.
        let (line, _, msg) = message(s.params_check(false).error(&["data", "name"], "a name"));
        assert_eq!((line, msg.as_str()), (8, "[params] data.name (not set): expected a name"));
        assert!(s.params_check(false).ensure(true, &["width"], "anything").is_ok());
    }

    #[test]
    fn variant_errors_point_at_the_key_or_else_the_variant() {
        let s = scenario("[[variants]]\nname = \"a\"\n\n[[variants]]\nname = \"b\"\nfactor = 0.5\n");
        let (line, column, msg) = message(s.variant_error(1, &["factor"], "must be 1"));
        assert_eq!((line, column, msg.as_str()), (11, 10, "variant `b`: must be 1"));
        let (line, _, _) = message(s.variant_error(0, &["factor"], "needs a factor"));
        assert_eq!(line, 6);
    }

    #[test]
    fn missing_params_report_the_missing_key() {
        let s = scenario("");
        let (_, _, msg) = message(s.typed_params::<P>(false).unwrap_err());
        assert!(msg.contains("width"), "{msg}");
    }
}

//! Scenario prose as templates over the scenario's measured figures: `setup`, `explanation` and each
//! `errata` item are minijinja templates rendered after the run, so every measured number on the page
//! comes from the data. The functions a template sees:
//!
//! - `{{ fig("KEY") }}`: key figure KEY for reading, with its seed spread where the runner gave
//!   `KEY.min` / `KEY.max`: "3.6 × 10⁻⁷ (seeds 2.1 × 10⁻⁷ – 5 × 10⁻⁷)";
//! - `{{ num("KEY") }}`: the value alone; both take an optional number of significant digits (default 2);
//! - `val("KEY")`: the raw f64 for expressions, formatted with the `num` filter:
//!   `{{ (val("a") / val("b")) | num }}`;
//! - `{{ n_seeds }}`: how many seeds the scenario ran.
//!
//! A key the run did not produce is an error naming the scenario file (at the field's line), the field
//! and the key, never an empty string. [`measured_literals`] finds numbers typed into a template by hand.
use crate::error::Result;
use crate::format::fmt_prose;
use crate::record::KeyFigure;
use crate::scenario::Scenario;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex};
use toml::Spanned;

/// Significant digits of a number in prose unless the template asks for more.
const DIGITS: usize = 2;

/// The key figures by key, shared with the template functions.
type Figures = Arc<BTreeMap<String, f64>>;

/// Where each prose field sits in the scenario's text, for errors at the right line.
#[derive(Deserialize, Default)]
struct Spans {
    setup: Option<Spanned<String>>,
    explanation: Option<Spanned<String>>,
    #[serde(default)]
    errata: Vec<Spanned<String>>,
    pending: Option<Spanned<String>>,
}

/// The scenario's figures and seed count, ready to render any of its text fields.
pub struct Prose<'a> {
    scenario: &'a Scenario,
    figures: Figures,
    n_seeds: usize,
}

impl<'a> Prose<'a> {
    pub fn new(scenario: &'a Scenario, figures: &[KeyFigure], n_seeds: usize) -> Prose<'a> {
        let figures = figures.iter().map(|f| (f.key.clone(), f.value)).collect();
        Prose { scenario, figures: Arc::new(figures), n_seeds }
    }

    /// Renders one text field; `field` names it in errors: `setup`, `explanation`, `errata[2]`, ...
    pub fn render(&self, field: &str, text: &str) -> Result<String> {
        let missing: Arc<Mutex<Option<String>>> = Arc::default();
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let lookup = {
            let (figures, missing) = (self.figures.clone(), missing.clone());
            move |key: &str| -> std::result::Result<f64, Error> {
                figures.get(key).copied().ok_or_else(|| {
                    *missing.lock().expect("not poisoned") = Some(key.to_string());
                    Error::new(ErrorKind::InvalidOperation, format!("no key figure `{key}`"))
                })
            }
        };
        let (l, figures) = (lookup.clone(), self.figures.clone());
        env.add_function(
            "fig",
            move |key: &str, digits: Option<usize>| -> std::result::Result<String, Error> {
                let digits = digits.unwrap_or(DIGITS);
                let v = l(key)?;
                let spread = (figures.get(&format!("{key}.min")), figures.get(&format!("{key}.max")));
                let (value, mut out) = (fmt_prose(v, digits), String::new());
                out.push_str(&value);
                if let (Some(&lo), Some(&hi)) = spread {
                    let (lo, hi) = (fmt_prose(lo, digits), fmt_prose(hi, digits));
                    if lo != hi {
                        out.push_str(&format!(" (seeds {lo} – {hi})"));
                    }
                }
                Ok(out)
            },
        );
        let l = lookup.clone();
        env.add_function(
            "num",
            move |key: &str, digits: Option<usize>| -> std::result::Result<String, Error> {
                Ok(fmt_prose(l(key)?, digits.unwrap_or(DIGITS)))
            },
        );
        env.add_function("val", move |key: &str| lookup(key));
        env.add_filter("num", |v: f64, digits: Option<usize>| fmt_prose(v, digits.unwrap_or(DIGITS)));
        env.add_global("n_seeds", Value::from(self.n_seeds));
        let rendered = env.render_str(text, ()).map_err(|e| {
            let key = missing.lock().expect("not poisoned").take();
            let msg = match key {
                Some(key) => {
                    let known: Vec<&str> = self.figures.keys().map(String::as_str).collect();
                    let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                    format!("`{field}` asks for key figure `{key}`, which this scenario's run did not produce (it has: {known})")
                }
                None => format!("`{field}` is not a valid template: {}", detail(&e)),
            };
            self.scenario.error_at(self.span(field), msg)
        })?;
        Ok(rendered)
    }

    /// The byte span of a field (`errata[i]` is the i-th item), or the file's start when not found.
    fn span(&self, field: &str) -> Range<usize> {
        let spans: Spans = toml::from_str(&self.scenario.text).unwrap_or_default();
        let found = match field {
            "setup" => spans.setup.map(|s| s.span()),
            "explanation" => spans.explanation.map(|s| s.span()),
            "pending" => spans.pending.map(|s| s.span()),
            other => other
                .strip_prefix("errata[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| spans.errata.get(i).map(|s| s.span())),
        };
        found.unwrap_or(0..0)
    }
}

/// minijinja's message with its line inside the template, when it has one.
fn detail(e: &Error) -> String {
    match e.line() {
        Some(line) => format!("{} (line {line} of the text)", e.detail().unwrap_or(&e.to_string())),
        None => e.detail().map_or_else(|| e.to_string(), str::to_string),
    }
}

/// Numbers in a prose template that look measured: a decimal (`0.15`) or a power of ten (`10^-5`,
/// `1e-5`, `10⁻⁵`), outside template expressions, `code spans` and "quotations". Plain integers
/// ("ten layers", "30 steps") are settings and pass.
pub fn measured_literals(template: &str) -> Vec<String> {
    // A number that starts a word (not after a letter, digit, `_` or `.`): a power of ten (10^-5,
    // 10^(5, 10⁻⁵; a power of another base, like 0.25^10, is a setting's arithmetic), or digits with a
    // decimal part or an exponent. Plain digits match too, and are settings.
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
        let power = "10(?:\\^[-+(]?-?[0-9]+|[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)";
        let decimal = "[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?";
        Regex::new(&format!("(?:^|[^\\p{{Alphabetic}}\\p{{N}}_.])({power}|{decimal})"))
            .expect("a valid pattern")
    });
    let text = strip(template);
    let numbers = NUMBER.captures_iter(&text).map(|c| c[1].to_string());
    numbers.filter(|n| !n.bytes().all(|b| b.is_ascii_digit())).collect()
}

/// The template's plain text: template tags, `code spans` and "quotations" removed.
fn strip(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let pairs = [("{{", "}}"), ("{%", "%}"), ("{#", "#}"), ("`", "`"), ("\"", "\""), ("“", "”")];
    loop {
        let next = pairs.iter().filter_map(|(a, b)| rest.find(a).map(|i| (i, *a, *b))).min_by_key(|p| p.0);
        let Some((i, open, close)) = next else { break };
        out.push_str(&rest[..i]);
        out.push(' ');
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) => rest = &after[j + close.len()..],
            // An unclosed quote or tick hides nothing: the rest is checked as text.
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario() -> Scenario {
        let text = "title = \"t\"\nsource = \"001_4c52fe2161f98c85.txt\"\nexperiment = \"e\"\nkind = \"activations\"\n\
                    seeds = [0, 1]\nsetup = \"a\"\nexplanation = \"b\"\nerrata = [\"one\", \"two\"]\n";
        Scenario::parse(Path::new("scenarios/x.toml"), text.to_string()).unwrap()
    }

    fn figures() -> Vec<KeyFigure> {
        vec![
            KeyFigure::new("r", "", 3.604e-7),
            KeyFigure::new("r.min", "", 2.14e-7),
            KeyFigure::new("r.max", "", 5.0e-7),
            KeyFigure::new("f", "", 4.3125),
            KeyFigure::new("one", "", 0.153),
        ]
    }

    #[test]
    fn figures_render_with_their_seed_spread() {
        let s = scenario();
        let p = Prose::new(&s, &figures(), 2);
        let got = p
            .render("setup", "ratio {{ fig(\"r\") }}, factor {{ num(\"f\") }} over {{ n_seeds }} seeds")
            .unwrap();
        assert_eq!(got, "ratio 3.6 × 10⁻⁷ (seeds 2.1 × 10⁻⁷ – 5 × 10⁻⁷), factor 4.3 over 2 seeds");
        let got =
            p.render("setup", "{{ (val(\"f\") * 2) | num }} {{ num(\"f\", 4) }} {{ fig(\"one\") }}").unwrap();
        assert_eq!(got, "8.6 4.313 0.15");
    }

    #[test]
    fn a_missing_key_names_file_field_and_key() {
        let s = scenario();
        let p = Prose::new(&s, &figures(), 2);
        let e = p.render("errata[1]", "about {{ fig(\"nope\") }}").unwrap_err().to_string();
        assert!(e.starts_with("scenarios/x.toml:8:"), "{e}");
        assert!(e.contains("`errata[1]`") && e.contains("`nope`") && e.contains("r.min"), "{e}");
        let e = p.render("setup", "{{ n_seed }}").unwrap_err().to_string();
        assert!(e.starts_with("scenarios/x.toml:6:") && e.contains("`setup`"), "{e}");
    }

    #[test]
    fn typed_in_measurements_are_found_and_settings_pass() {
        let t = "about 10^-5 and 0.15, 3e-7, 10⁻⁵ and 10^(5); ten layers, 30 steps, `lr = 0.1`, \
                 \"Layer 0: 0.000000\", {{ fig(\"a.0.5\") }}, 0.25^10, version2.0";
        assert_eq!(measured_literals(t), ["10^-5", "0.15", "3e-7", "10⁻⁵", "10^(5", "0.25"]);
        assert!(measured_literals("Dense(64), 10 inputs, layer 3. Then 12").is_empty());
    }
}

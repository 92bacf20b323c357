//! The page: one self-contained HTML file (styles inline, charts inlined as SVG, no external fonts or
//! scripts) rendered with minijinja from templates compiled into the binary.
use crate::charts::build::RenderedChart;
use crate::charts::svg::{Styles, compact};
use crate::claims::{ClaimVerdict, Standing, Tally};
use crate::error::Result;
use crate::format::{fmt_figure, label};
use crate::prose::Prose;
use crate::run::ScenarioResult;
use crate::scenario::Scenario;
use crate::timings::Timings;
use minijinja::{Environment, Value, context};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

const PAGE: &str = include_str!("../templates/report.html.j2");
const STYLE: &str = include_str!("../templates/style.css");

/// Everything one scenario contributes to the page.
pub struct SectionInput<'a> {
    pub scenario: &'a Scenario,
    pub result: &'a ScenarioResult,
    pub charts: Vec<RenderedChart>,
}

#[derive(Serialize)]
struct Section {
    id: String,
    title: String,
    /// The source document's title (its file name when the table does not know it).
    source: String,
    /// The source's footnote number, where it is one of the documents.
    source_note: Option<usize>,
    experiment: String,
    kind: String,
    seeds: String,
    setup: Vec<Value>,
    params: Vec<(String, String)>,
    /// Settings every variant has in common, written once.
    variants_shared: String,
    variants: Vec<(String, String)>,
    charts: Vec<Chart>,
    explanation: Vec<Value>,
    errata: Vec<Value>,
    pending: Option<Value>,
    /// Key figures in groups of a shared label prefix (a variant's label), each row (rest, value, range).
    figures: Vec<FigureGroup>,
    /// Whether any figure has a seed range (then the table gets its column).
    figure_ranges: bool,
    claims: Vec<Claim>,
    files: Vec<String>,
    /// Each variant's verdicts (from `crate::diagnosis`), shown beside the charts.
    diagnoses: Vec<DiagnosisView>,
}

#[derive(Serialize)]
struct FigureGroup {
    /// The prefix the rows share (before ": "), empty for rows that share none.
    head: String,
    rows: Vec<(String, String, String)>,
}

/// A figure's label split into its text and its seed range: the runners end a median's label with
/// "(median of N seeds; range {=lo}–{=hi})", which the page shows as a column ("lo – hi", with the
/// seed count only where it differs from the scenario's). Other labels are kept whole.
fn split_range(raw: &str, seeds: usize) -> (String, String) {
    let parsed =
        raw.strip_suffix(')').and_then(|r| r.rsplit_once(" (median of ")).and_then(|(text, inner)| {
            let (of, range) = inner.split_once("; range ")?;
            let (lo, hi) = range.split_once("}–{=")?;
            let (lo, hi) =
                (lo.strip_prefix("{=")?.parse::<f64>().ok()?, hi.strip_suffix('}')?.parse::<f64>().ok()?);
            let mut shown = format!("{} – {}", fmt_figure(lo), fmt_figure(hi));
            if of != format!("{seeds} seeds") {
                shown.push_str(&format!(" ({of})"));
            }
            Some((label(text), shown))
        });
    parsed.unwrap_or_else(|| (label(raw), String::new()))
}

/// Consecutive figures whose labels start with the same "prefix: " go under one heading row, so a long
/// variant label is printed once, not once per figure.
fn group_figures(rows: Vec<(String, String, String)>) -> Vec<FigureGroup> {
    let mut groups: Vec<FigureGroup> = Vec::new();
    for (label, value, range) in rows {
        let (head, rest) = match label.split_once(": ") {
            Some((h, r)) => (h.to_string(), r.to_string()),
            None => (String::new(), label),
        };
        match groups.last_mut() {
            Some(g) if g.head == head => g.rows.push((rest, value, range)),
            _ => groups.push(FigureGroup { head, rows: vec![(rest, value, range)] }),
        }
    }
    groups
}

#[derive(Serialize)]
struct DiagnosisView {
    variant: String,
    label: String,
    verdicts: Vec<VerdictView>,
}

#[derive(Serialize)]
struct VerdictView {
    label: String,
    /// CSS class: `healthy`, `info`, `warning` or `error`.
    class: String,
    /// "3 of 3 seeds" or "seeds 1, 4 of 5".
    seeds: String,
    place: String,
    evidence: Vec<String>,
    suggestion: String,
    /// 1-based number of the rule in the page's list of diagnosis rules (each rule is written once).
    rule: usize,
}

#[derive(Serialize)]
struct Chart {
    id: String,
    caption: Option<Value>,
    svg: Value,
}

#[derive(Serialize)]
struct Claim {
    label: String,
    source_says: Value,
    quote: String,
    source_setting: Value,
    argument: Value,
    measured: String,
    criterion: Value,
    verdict: &'static str,
    verdict_text: &'static str,
}

/// Escapes text, turns `backticks` into code spans and `a^b`, `a^-12`, `a^(L-k)` into superscripts:
/// the only markup scenario prose gets.
fn prose(text: &str) -> Value {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(&superscripts(part));
        }
    }
    Value::from_safe_string(out)
}

/// `a^b`, `a^-12`, `a^(L-k)` with the exponent raised: after the caret either what a pair of
/// parentheses holds, or an optional minus and a run of letters, digits and points that ends in a
/// letter or digit (so the full stop after `10^-6.` stays on the line). A caret with neither stays.
fn superscripts(text: &str) -> String {
    static EXPONENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\^(?:\(([^)]*)\)|(-?[A-Za-z0-9.]*[A-Za-z0-9]))").expect("a valid pattern")
    });
    EXPONENT.replace_all(text, "<sup>${1}${2}</sup>").into_owned()
}

fn paragraphs(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| prose(&p.replace('\n', " ")))
        .collect()
}

/// A setting as a reader scans it: strings bare, a typed table as `type(units, activation, k = v) ×N`,
/// a model as `inputs → layer → layer`, so a variant's network reads like a Keras summary line.
fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        toml::Value::Table(t) => {
            let layers = |v: &toml::Value| match v {
                toml::Value::Array(ls) => ls.iter().map(inline).collect::<Vec<_>>().join(" → "),
                other => inline(other),
            };
            if let (Some(inputs), Some(ls)) = (t.get("inputs"), t.get("layers")) {
                let rest: Vec<String> = t
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "inputs" | "layers"))
                    .map(|(k, v)| format!("{k} = {}", inline(v)))
                    .collect();
                let tail = if rest.is_empty() { String::new() } else { format!(" ({})", rest.join(", ")) };
                return format!("{} → {}{tail}", inline(inputs), layers(ls));
            }
            let Some(kind) = t.get("type").map(inline) else {
                let kv: Vec<String> = t.iter().map(|(k, v)| format!("{k} = {}", inline(v))).collect();
                return format!("{{ {} }}", kv.join(", "));
            };
            // Units and activation are what a layer is read by: bare, first.
            let mut args: Vec<String> =
                ["units", "activation"].iter().filter_map(|k| t.get(*k)).map(inline).collect();
            for (k, v) in t {
                match k.as_str() {
                    "type" | "units" | "activation" | "repeat" => {}
                    "layers" => args.push(format!("[{}]", layers(v))),
                    _ => args.push(format!("{k} = {}", inline(v))),
                }
            }
            let repeat = t.get("repeat").map_or(String::new(), |n| format!(" ×{}", inline(n)));
            format!("{kind}({}){repeat}", args.join(", "))
        }
        other => other.to_string(),
    }
}

/// The variants as "name → key = value, ..." from the file's own text, so any field shows up as written;
/// settings every variant shares come first, once ("Every variant: ..."), and each row lists the rest.
fn variant_rows(s: &Scenario) -> (String, Vec<(String, String)>) {
    let raw: toml::Table = toml::from_str(&s.text).unwrap_or_default();
    let Some(toml::Value::Array(vs)) = raw.get("variants") else { return (String::new(), Vec::new()) };
    let rows: Vec<(String, Vec<String>)> = vs
        .iter()
        .filter_map(|v| v.as_table())
        .map(|t| {
            let name = t.get("name").map(inline).unwrap_or_default();
            let rest = t
                .iter()
                .filter(|(k, _)| k.as_str() != "name" && k.as_str() != "label")
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            (name, rest)
        })
        .collect();
    let shared: Vec<String> = match rows.as_slice() {
        [first, _, ..] => {
            first.1.iter().filter(|kv| rows.iter().all(|r| r.1.contains(kv))).cloned().collect()
        }
        _ => Vec::new(),
    };
    let rows = rows
        .into_iter()
        .map(|(name, rest)| {
            (name, rest.into_iter().filter(|kv| !shared.contains(kv)).collect::<Vec<_>>().join(", "))
        })
        .collect();
    (shared.join(", "), rows)
}

/// The diagnosis rules the page's verdicts cite, as (verdict label, rule), in order of first use.
type Rules = Vec<(String, String)>;

/// The rule's number in the page's list, added on first use.
fn rule_number(rules: &mut Rules, label: &str, rule: &str) -> usize {
    let entry = (label.to_string(), rule.to_string());
    match rules.iter().position(|r| *r == entry) {
        Some(i) => i + 1,
        None => {
            rules.push(entry);
            rules.len()
        }
    }
}

fn section(input: &SectionInput<'_>, styles: &mut Styles, rules: &mut Rules) -> Result<Section> {
    let (s, r) = (input.scenario, input.result);
    let spec = &s.spec;
    let text = Prose::new(s, &r.key_figures, r.seeds.len());
    let (variants_shared, variants) = variant_rows(s);
    let setup = paragraphs(&text.render("setup", &spec.setup)?);
    let explanation = paragraphs(&text.render("explanation", &spec.explanation)?);
    let errata = spec
        .errata
        .iter()
        .enumerate()
        .map(|(i, e)| Ok(prose(&text.render(&format!("errata[{i}]"), e)?)))
        .collect::<Result<Vec<_>>>()?;
    let pending = spec.pending.as_deref().map(|p| text.render("pending", p)).transpose()?.map(|p| prose(&p));
    // A median's label states its seed range; the `.min`/`.max` figures are for claims and prose.
    let figures = group_figures(
        r.key_figures
            .iter()
            .filter(|f| !f.key.ends_with(".min") && !f.key.ends_with(".max"))
            .map(|f| {
                let (text, range) = split_range(&f.label, r.seeds.len());
                (text, fmt_figure(f.value), range)
            })
            .collect(),
    );
    let mut charts = Vec::with_capacity(input.charts.len());
    for c in &input.charts {
        let field = format!("caption of chart `{}`", c.id);
        let caption = c.caption.as_deref().map(|t| text.render(&field, t)).transpose()?;
        charts.push(Chart {
            id: c.id.clone(),
            caption: caption.as_deref().map(prose),
            svg: Value::from_safe_string(compact(&c.svg, &c.title, styles)),
        });
    }
    let claims = r
        .claims
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let bound = match (c.expected, c.range) {
                (Some(e), _) => Some(format!("expected {}", fmt_figure(e))),
                (None, Some([lo, hi])) if hi == f64::INFINITY => Some(format!("at least {}", fmt_figure(lo))),
                (None, Some([lo, hi])) if lo == f64::NEG_INFINITY || lo == 0.0 => {
                    Some(format!("at most {}", fmt_figure(hi)))
                }
                (None, Some([lo, hi])) => Some(format!("within [{}, {}]", fmt_figure(lo), fmt_figure(hi))),
                (None, None) => None,
            };
            let criterion =
                [bound, c.criterion.clone()].into_iter().flatten().collect::<Vec<_>>().join(" — ");
            // The verdict's colour says what it means for the source: a contradiction at a setting the
            // source did not use is not held against it.
            let (verdict, verdict_text) = match (c.verdict, c.standing) {
                (ClaimVerdict::Agrees, Standing::SourceRight) => ("agrees", "✓ the source is right"),
                (ClaimVerdict::Contradicted, Standing::SourceWrong) => {
                    ("contradicted", "✗ the source is wrong")
                }
                (ClaimVerdict::Agrees, _) => ("untested", "✓ agrees, at a setting the source did not use"),
                (ClaimVerdict::Contradicted, _) => {
                    ("untested", "✗ contradicted, only at a setting the source did not use")
                }
                (ClaimVerdict::NotTestable, _) => ("untested", "– no number to test"),
            };
            Ok(Claim {
                label: label(&c.label),
                source_says: prose(&c.source_says),
                quote: c.quote.clone(),
                source_setting: prose(&c.source_setting),
                argument: prose(&text.render(&format!("claims[{i}].argument"), &c.argument)?),
                measured: fmt_figure(c.measured),
                criterion: prose(&criterion),
                verdict,
                verdict_text,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Section {
        id: s.name.clone(),
        title: spec.title.clone(),
        source: crate::sources::title(&spec.source).unwrap_or(&spec.source).to_string(),
        source_note: crate::sources::number(&spec.source),
        experiment: crate::sources::name_references(&spec.experiment),
        kind: r.kind.clone(),
        seeds: r.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        setup,
        params: spec.params.iter().flatten().map(|(k, v)| (k.clone(), inline(v))).collect(),
        variants_shared,
        variants,
        charts,
        explanation,
        errata,
        pending,
        figure_ranges: figures.iter().flat_map(|g| &g.rows).any(|r| !r.2.is_empty()),
        figures,
        claims,
        files: crate::data::scenario_files(r).into_iter().map(|(p, _)| p).collect(),
        diagnoses: diagnosis_views(s, r, rules),
    })
}

/// The verdicts as the page shows them: per variant, each kind with the seeds it came out for, the
/// evidence of the first such seed, and what to change.
fn diagnosis_views(s: &Scenario, r: &ScenarioResult, rules: &mut Rules) -> Vec<DiagnosisView> {
    r.diagnoses
        .iter()
        .map(|d| DiagnosisView {
            variant: d.variant.clone(),
            label: s.variants().find(|v| v.name == d.variant).map_or(d.variant.clone(), |v| v.label().into()),
            verdicts: d
                .verdicts
                .iter()
                .map(|v| {
                    let seeds = if v.seeds.len() == d.runs {
                        if d.runs == 1 { String::new() } else { format!("all {} seeds", d.runs) }
                    } else {
                        let list: Vec<String> = v.seeds.iter().map(u64::to_string).collect();
                        format!(
                            "seed{} {} of {}",
                            if list.len() == 1 { "" } else { "s" },
                            list.join(", "),
                            d.runs
                        )
                    };
                    let mut place = v.layers.clone();
                    if let Some((a, b)) = v.steps {
                        let at = if a == b { format!("step {a}") } else { format!("steps {a}–{b}") };
                        place = if place.is_empty() { at } else { format!("{place}, {at}") };
                    }
                    let shown =
                        if v.seeds.len() > 1 { format!(" (seed {})", v.shown_seed) } else { String::new() };
                    VerdictView {
                        label: v.label.clone(),
                        class: if v.kind == "healthy" { "healthy".into() } else { v.severity.clone() },
                        seeds,
                        place,
                        evidence: v
                            .evidence
                            .iter()
                            .enumerate()
                            .map(|(i, e)| if i == 0 { format!("{e}{shown}") } else { e.clone() })
                            .collect(),
                        suggestion: v.suggestion.clone(),
                        rule: rule_number(rules, &v.label, &v.rule),
                    }
                })
                .collect(),
        })
        .collect()
}

/// One row of the timings section's matmul table, formatted.
#[derive(Serialize)]
struct MatmulRow {
    shape: String,
    gflop: String,
    one: String,
    one_pct: String,
    all: String,
    all_pct: String,
}

/// One row of the per-scenario timings table, formatted.
#[derive(Serialize)]
struct ScenarioRow {
    id: String,
    seconds: String,
    steps: String,
    steps_per_second: String,
}

fn rate(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn timing_rows(t: &Timings) -> (Vec<MatmulRow>, Vec<ScenarioRow>) {
    let dash = || "–".to_string();
    let matmul = t
        .kernels
        .matmul
        .iter()
        .map(|r| MatmulRow {
            shape: format!("{} × {} × {}", r.m, r.k, r.n),
            gflop: fmt_figure(r.gflop),
            one: rate(r.one_thread),
            one_pct: format!("{:.0}%", r.one_thread_pct),
            all: r.all_threads.map_or_else(dash, rate),
            all_pct: r.all_threads_pct.map_or_else(dash, |p| format!("{p:.0}%")),
        })
        .collect();
    let scenarios = t
        .scenarios
        .iter()
        .map(|s| ScenarioRow {
            id: s.name.clone(),
            seconds: format!("{:.3}", s.seconds),
            steps: if s.steps == 0 { dash() } else { s.steps.to_string() },
            steps_per_second: s.steps_per_second.map_or_else(dash, rate),
        })
        .collect();
    (matmul, scenarios)
}

/// Renders the whole page. Everything that changes from run to run (wall times, GFLOP/s, the thread
/// count) comes from `timings` and is shown only in the timings section.
pub fn render(sections: &[SectionInput<'_>], timings: &Timings) -> Result<String> {
    let mut env = Environment::new();
    env.add_template("report.html", PAGE)?;
    env.add_template("style.css", STYLE)?;
    let tally = Tally::of(sections.iter().flat_map(|s| &s.result.claims));
    // Two passes over the charts: count the style sets, then name the frequent ones as classes.
    let mut styles = Styles::default();
    for s in sections {
        for c in &s.charts {
            compact(&c.svg, &c.title, &mut styles);
        }
    }
    styles.freeze(3);
    let mut rules = Rules::new();
    let sections =
        sections.iter().map(|s| section(s, &mut styles, &mut rules)).collect::<Result<Vec<Section>>>()?;
    let (matmul, scenario_times) = timing_rows(timings);
    let k = &timings.kernels;
    let page = env.get_template("report.html")?.render(context! {
        sections => Value::from(minijinja::value::Serde(&sections)),
        chart_css => styles.css(),
        rules => rules,
        sources => crate::sources::SOURCES.to_vec(),
        tally => Value::from(minijinja::value::Serde(&tally)),
        machine => Value::from(minijinja::value::Serde(&timings.machine)),
        quick => timings.quick,
        total_seconds => format!("{:.2}", timings.total_seconds),
        fma_peak_one => rate(k.fma_peak_one),
        peak_lane => crate::timings::PEAK_LANE,
        fma_peak_all => k.fma_peak_all.map(rate),
        matmul => Value::from(minijinja::value::Serde(&matmul)),
        scenario_times => Value::from(minijinja::value::Serde(&scenario_times)),
        checksums => crate::data::CHECKSUMS,
        timings_file => crate::timings::FILE,
    })?;
    // minijinja escapes `/` and `'` as entities; in text and double-quoted attributes they need none.
    Ok(squeeze(&page).replace("&#x2f;", "/").replace("&#x27;", "'"))
}

/// The page with each run of whitespace that holds a line break reduced to that line break and other
/// runs to one space, and none at the end: the same rendering (the page has no `<pre>`), a few percent
/// smaller.
fn squeeze(page: &str) -> String {
    static WHITESPACE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new("[ \t\n\x0C\r]+").expect("a valid pattern"));
    let one = |c: &regex::Captures<'_>| if c[0].contains('\n') { "\n" } else { " " };
    WHITESPACE.replace_all(page, one).trim_end_matches([' ', '\n']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_reads_as_a_chain_of_layers() {
        let v: toml::Value = toml::from_str(
            r#"model = { inputs = 10, layers = [
                { type = "dense", units = 16, activation = "tanh", kernel_initializer = "glorot_normal", repeat = 3 },
                { type = "residual", repeat = 2, layers = [{ type = "layer_normalization" }, { type = "dense", units = 16 }] },
                { type = "dense", units = 1, activation = "sigmoid" },
            ] }
            optimizer = { type = "sgd", learning_rate = 0.05 }
            clipping = { threshold = 1.0 }"#,
        )
        .unwrap();
        assert_eq!(
            inline(&v["model"]),
            "10 → dense(16, tanh, kernel_initializer = glorot_normal) ×3 → \
             residual([layer_normalization() → dense(16)]) ×2 → dense(1, sigmoid)"
        );
        assert_eq!(inline(&v["optimizer"]), "sgd(learning_rate = 0.05)");
        assert_eq!(inline(&v["clipping"]), "{ threshold = 1.0 }");
    }

    #[test]
    fn figures_sharing_a_prefix_share_a_heading() {
        let rows = ["a: x", "a: y", "b: z", "plain", "a: w"]
            .map(|l| (l.to_string(), "1".to_string(), String::new()));
        let g = group_figures(rows.to_vec());
        let heads: Vec<(&str, usize)> = g.iter().map(|g| (g.head.as_str(), g.rows.len())).collect();
        assert_eq!(heads, [("a", 2), ("b", 1), ("", 1), ("a", 1)]);
        assert_eq!(g[0].rows[1].0, "y");
    }

    #[test]
    fn a_medians_seed_range_becomes_its_own_column() {
        let raw = format!(
            "v: loss (median of 3 seeds; range {}–{})",
            crate::record::number(0.5),
            crate::record::number(2e-7)
        );
        assert_eq!(split_range(&raw, 3), ("v: loss".to_string(), "0.5 – 2 × 10⁻⁷".to_string()));
        let raw = raw.replace("3 seeds", "2 of 3 seeds");
        assert_eq!(split_range(&raw, 3).1, "0.5 – 2 × 10⁻⁷ (2 of 3 seeds)");
        assert_eq!(split_range("v: loss (of 3 runs)", 3), ("v: loss (of 3 runs)".to_string(), String::new()));
    }

    #[test]
    fn whitespace_runs_shrink_to_one_character() {
        assert_eq!(squeeze("<p>a   b\n   <b>c</b>\n\n</p>\n"), "<p>a b\n<b>c</b>\n</p>");
    }

    #[test]
    fn prose_escapes_and_marks_code() {
        assert_eq!(prose("a < b, `x*y`").to_string(), "a &lt; b, <code>x*y</code>");
        assert_eq!(superscripts("0.25^10, 10^-6."), "0.25<sup>10</sup>, 10<sup>-6</sup>.");
        assert_eq!(superscripts("f^(L-k) and g^21"), "f<sup>L-k</sup> and g<sup>21</sup>");
        assert_eq!(superscripts("a ^ b"), "a ^ b");
    }
}

//! `report diagnose RECORDS [--config FILE.toml]`: reads a records file (CSV or JSON lines in the
//! monitor's tidy format, possibly written by another tool), diagnoses each run in it and prints the
//! verdicts with their evidence. Failure verdicts are the answer, not an error: only a file that cannot
//! be read or parsed makes the command fail, with a message naming the file and line. `--json` prints
//! the same verdicts as one JSON document for machines.
use engine::diagnose::{DiagnoseConfig, Severity, Verdict, diagnose, layer_span};
use engine::monitor::{Records, parse_records};
use report::record::sweep_parts;
use std::fmt::Write as _;
use std::path::Path;

/// Reads, diagnoses and renders; `Err` holds the message for stderr (file and line included).
pub fn run(records: &Path, config: Option<&Path>, json: bool) -> Result<String, String> {
    let cfg = match config {
        Some(p) => load_config(p)?,
        None => DiagnoseConfig::default(),
    };
    let text = std::fs::read_to_string(records).map_err(|e| format!("{}: {e}", records.display()))?;
    // An empty file is a run with no data, not a malformed table: the verdict says so.
    let runs = if text.trim().is_empty() {
        Vec::new()
    } else {
        parse_records(&records.display().to_string(), &text).map_err(|e| e.to_string())?
    };
    let file = records.display().to_string();
    if json { render_json(&file, &runs, &cfg) } else { Ok(render(&file, &runs, &cfg)) }
}

/// One run's verdicts for `--json`.
#[derive(serde::Serialize)]
struct JsonRun<'a> {
    scenario: &'a str,
    variant: &'a str,
    seed: u64,
    /// The run setting's coordinates where several share the (variant, seed) (a sweep's `T=50`).
    #[serde(skip_serializing_if = "str::is_empty")]
    point: String,
    /// First and last recorded step; absent for a run without rows.
    steps: Option<(u64, u64)>,
    verdicts: Vec<Verdict>,
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    file: &'a str,
    runs: Vec<JsonRun<'a>>,
}

/// The verdicts of every run as one JSON document (a file without runs gives `"runs": []`).
pub fn render_json(file: &str, runs: &[Records], cfg: &DiagnoseConfig) -> Result<String, String> {
    let parts: Vec<(String, Records)> = runs.iter().flat_map(sweep_parts).collect();
    let runs = parts
        .iter()
        .map(|(point, r)| JsonRun {
            scenario: &r.scenario,
            variant: &r.variant,
            seed: r.seed,
            point: point.clone(),
            steps: r.rows.iter().map(|row| row.step).min().zip(r.rows.iter().map(|row| row.step).max()),
            verdicts: diagnose(r, cfg),
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&JsonReport { file, runs }).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

/// Thresholds from a TOML file: either the keys of [`DiagnoseConfig`] at the top level, or a
/// `[diagnose]` table (as a scenario file has it), the other keys then being ignored.
pub fn load_config(path: &Path) -> Result<DiagnoseConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_config(&path.display().to_string(), &text)
}

fn parse_config(file: &str, text: &str) -> Result<DiagnoseConfig, String> {
    let located = |e: toml::de::Error| {
        let line = e.span().map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        format!("{file}:{line}: {}", e.message().trim())
    };
    let table: toml::Table = toml::from_str(text).map_err(located)?;
    let cfg: DiagnoseConfig = match table.get("diagnose") {
        // The table was already parsed, so its errors carry no position: name the table instead.
        Some(inner) => inner
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| format!("{file}: [diagnose]: {}", e.message().trim()))?,
        None => toml::from_str(text).map_err(located)?,
    };
    check_config(&cfg).map_err(|msg| format!("{file}: {msg}"))?;
    Ok(cfg)
}

/// Thresholds that would make a rule meaningless are refused rather than silently obeyed.
fn check_config(c: &DiagnoseConfig) -> Result<(), String> {
    let positive = [
        ("vanish_rms", c.vanish_rms),
        ("vanish_ratio", c.vanish_ratio),
        ("explode_norm", c.explode_norm),
        ("explode_growth", c.explode_growth),
        ("explode_ratio", c.explode_ratio),
        ("update_low", c.update_low),
        ("update_high", c.update_high),
        ("clip_scale", c.clip_scale),
        ("time_ratio", c.time_ratio),
        ("input_std", c.input_std),
    ];
    for (name, v) in positive {
        if !(v.is_finite() && v > 0.0) {
            return Err(format!("`{name}` must be a positive number, got {v}"));
        }
    }
    let fractions = [
        ("saturated_frac", c.saturated_frac),
        ("dead_frac", c.dead_frac),
        ("clip_acted_frac", c.clip_acted_frac),
        ("persist_frac", c.persist_frac),
    ];
    for (name, v) in fractions {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("`{name}` must be a fraction in [0, 1], got {v}"));
        }
    }
    if c.update_low >= c.update_high {
        return Err(format!(
            "`update_low` ({}) must be below `update_high` ({})",
            c.update_low, c.update_high
        ));
    }
    Ok(())
}

/// The verdicts of every run, grouped per (scenario, variant, seed) in file order.
pub fn render(file: &str, runs: &[Records], cfg: &DiagnoseConfig) -> String {
    let mut s = String::new();
    if runs.is_empty() {
        let _ = writeln!(s, "{file}: no records: not enough data to diagnose");
        return s;
    }
    let rows: usize = runs.iter().map(|r| r.rows.len()).sum();
    let _ = writeln!(s, "{file}: {} run(s), {rows} rows", runs.len());
    // Several run settings of one (variant, seed), a sweep's, are diagnosed one by one.
    for (point, r) in runs.iter().flat_map(sweep_parts) {
        let _ = writeln!(s);
        let _ = writeln!(s, "{}", run_heading(&r, &point));
        for v in diagnose(&r, cfg) {
            render_verdict(&mut s, &v);
        }
    }
    s
}

fn run_heading(r: &Records, point: &str) -> String {
    let (lo, hi) = r.rows.iter().fold((u64::MAX, 0), |(lo, hi), row| (lo.min(row.step), hi.max(row.step)));
    let steps = if r.rows.is_empty() { "no rows".to_string() } else { format!("steps {lo}-{hi}") };
    let at = if point.is_empty() { String::new() } else { format!(" at {point}") };
    format!("== {} / {} / seed {}{at} ({steps}) ==", r.scenario, r.variant, r.seed)
}

fn render_verdict(s: &mut String, v: &Verdict) {
    let severity = match v.severity {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
        Severity::Info => "INFO",
    };
    let mut head = format!("{severity} {}", v.kind.label());
    if !v.layers.is_empty() {
        let _ = write!(head, " in {}", layer_span(&v.layers));
    }
    match v.steps {
        Some((a, b)) if a == b => {
            let _ = write!(head, " at step {a}");
        }
        Some((a, b)) => {
            let _ = write!(head, " from step {a} to {b}");
        }
        None => {}
    }
    let _ = writeln!(s, "  {head}");
    for e in &v.evidence {
        let _ = writeln!(s, "    evidence:   {e}");
    }
    if !v.suggestion.is_empty() {
        let _ = writeln!(s, "    suggestion: {}", v.suggestion);
    }
    let _ = writeln!(s, "    rule:       {}", v.rule);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_come_from_the_top_level_or_a_diagnose_table() {
        let top = parse_config("t.toml", "vanish_ratio = 1e-4\n").unwrap();
        assert_eq!(top, DiagnoseConfig { vanish_ratio: 1e-4, ..Default::default() });
        let nested = parse_config("s.toml", "title = \"x\"\n[diagnose]\nexplode_norm = 50.0\n").unwrap();
        assert_eq!(nested, DiagnoseConfig { explode_norm: 50.0, ..Default::default() });
    }

    #[test]
    fn a_bad_threshold_file_names_the_file_line_and_key() {
        let e = parse_config("t.toml", "vanish_ratio = 1e-4\nvanish_rmss = 1e-9\n").unwrap_err();
        assert!(e.starts_with("t.toml:2:") && e.contains("vanish_rmss"), "{e}");
        let e = parse_config("t.toml", "dead_frac = 1.5\n").unwrap_err();
        assert!(e.contains("dead_frac") && e.contains("[0, 1]"), "{e}");
        let e = parse_config("t.toml", "update_low = 0.5\nupdate_high = 0.1\n").unwrap_err();
        assert!(e.contains("update_low"), "{e}");
    }

    #[test]
    fn runs_are_rendered_in_file_order_with_their_verdicts() {
        let text = "scenario,variant,seed,step,layer,metric,value\n\
                    a,x,1,0,1:dense,grad_norm,0.5\na,x,1,0,2:dense,grad_norm,0.6\n\
                    b,y,2,3,*,loss,0.7\n";
        let runs = parse_records("r.csv", text).unwrap();
        let out = render("r.csv", &runs, &DiagnoseConfig::default());
        let a = out.find("== a / x / seed 1 (steps 0-0) ==").expect(&out);
        let b = out.find("== b / y / seed 2 (steps 3-3) ==").expect(&out);
        assert!(a < b, "{out}");
        assert!(out[a..b].contains("INFO healthy"), "{out}");
        assert!(out[b..].contains("INFO not enough data"), "{out}");
        // The same verdicts for machines.
        let json: serde_json::Value =
            serde_json::from_str(&render_json("r.csv", &runs, &DiagnoseConfig::default()).unwrap()).unwrap();
        let runs = json["runs"].as_array().unwrap();
        assert_eq!(
            (runs.len(), runs[0]["seed"].as_u64(), runs[1]["variant"].as_str()),
            (2, Some(1), Some("y"))
        );
        assert_eq!(runs[0]["verdicts"][0]["kind"], "healthy");
        assert_eq!(runs[1]["verdicts"][0]["kind"], "not_enough_data");
        assert_eq!(runs[1]["steps"], serde_json::json!([3, 3]));
    }
}

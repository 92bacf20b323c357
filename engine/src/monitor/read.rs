//! Reading records back: the tidy table as CSV (with header) or JSON lines,
//! possibly written by another tool (per-layer norms logged from PyTorch
//! hooks, say). Rows are grouped into runs by (scenario, variant, seed).
//! Every malformed line is an error naming the file and line.
use super::record::Records;
use crate::error::{Error, Result};

const COLUMNS: [&str; 7] = ["scenario", "variant", "seed", "step", "layer", "metric", "value"];

/// Parses a records file; the format is chosen from the content (a line
/// starting with `{` means JSON lines).
pub fn parse_records(file: &str, text: &str) -> Result<Vec<Records>> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.trim_start().starts_with('{') { parse_json_lines(file, text) } else { parse_csv(file, text) }
}

pub fn read_records(path: &std::path::Path) -> Result<Vec<Records>> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    parse_records(&path.display().to_string(), &text)
}

fn err(file: &str, line: usize, msg: impl Into<String>) -> Error {
    Error::Data { file: file.to_owned(), line, msg: msg.into() }
}

fn parse_csv(file: &str, text: &str) -> Result<Vec<Records>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| err(file, 1, format!("unreadable header: {e}")))?.clone();
    let cols: Vec<&str> = headers.iter().map(str::trim).collect();
    let mut index = [0usize; 7];
    for (k, name) in COLUMNS.iter().enumerate() {
        index[k] = cols.iter().position(|c| c == name).ok_or_else(|| {
            err(file, 1, format!("header lacks column `{name}`; expected columns {}", COLUMNS.join(",")))
        })?;
    }
    let mut runs = Runs::default();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(file, line, format!("malformed CSV row: {e}"))
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if rec.len() != cols.len() {
            return Err(err(file, line, format!("{} fields, expected {}", rec.len(), cols.len())));
        }
        let f = |k: usize| rec.get(index[k]).unwrap_or("").trim();
        runs.push(file, line, [f(0), f(1), f(2), f(3), f(4), f(5), f(6)])?;
    }
    Ok(runs.finish())
}

fn parse_json_lines(file: &str, text: &str) -> Result<Vec<Records>> {
    let mut runs = Runs::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(raw).map_err(|e| err(file, line, format!("not a JSON object: {e}")))?;
        let mut fields: [String; 7] = Default::default();
        for (k, name) in COLUMNS.iter().enumerate() {
            fields[k] = match obj.get(*name) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(other) => {
                    return Err(err(file, line, format!("`{name}` is {other}, expected a string or number")));
                }
                None => return Err(err(file, line, format!("missing key `{name}`"))),
            };
        }
        let f: [&str; 7] = std::array::from_fn(|k| fields[k].as_str());
        runs.push(file, line, f)?;
    }
    Ok(runs.finish())
}

/// Accumulates rows into runs, keeping first-seen order.
#[derive(Default)]
struct Runs {
    runs: Vec<Records>,
}

impl Runs {
    fn push(&mut self, file: &str, line: usize, f: [&str; 7]) -> Result<()> {
        let seed: u64 = f[2]
            .parse()
            .map_err(|_| err(file, line, format!("seed `{}` is not an unsigned integer", f[2])))?;
        let step: u64 = f[3]
            .parse()
            .map_err(|_| err(file, line, format!("step `{}` is not an unsigned integer", f[3])))?;
        let value =
            parse_value(f[6]).ok_or_else(|| err(file, line, format!("value `{}` is not a number", f[6])))?;
        if f[4].is_empty() || f[5].is_empty() {
            return Err(err(file, line, "empty layer or metric"));
        }
        let run =
            match self.runs.iter().position(|r| r.scenario == f[0] && r.variant == f[1] && r.seed == seed) {
                Some(i) => &mut self.runs[i],
                None => {
                    self.runs.push(Records::new(f[0], f[1], seed));
                    self.runs.last_mut().expect("just pushed")
                }
            };
        run.push_named(step, f[4], f[5], value);
        Ok(())
    }

    fn finish(self) -> Vec<Records> {
        self.runs
    }
}

fn parse_value(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Records {
        let mut r = Records::new("deep_sigmoid", "sigmoid, random_normal", 7);
        r.push_named(0, "1:dense", "grad_norm", 1.25e-9);
        r.push_named(0, "2:dense", "grad_norm", 0.5);
        r.push_named(1, "*", "loss", f64::NAN);
        r.push_named(2, "a,b", "grad_norm", 1.0 / 3.0);
        r
    }

    #[test]
    fn csv_and_json_lines_round_trip_bit_exactly() {
        let r = sample();
        for text in [r.to_csv(), r.to_json_lines()] {
            let back = parse_records("mem", &text).unwrap();
            assert_eq!(back.len(), 1);
            let b = &back[0];
            assert_eq!(
                (b.scenario.as_str(), b.variant.as_str(), b.seed),
                ("deep_sigmoid", "sigmoid, random_normal", 7)
            );
            let (orig, got): (Vec<_>, Vec<_>) = (r.tidy().collect(), b.tidy().collect());
            assert_eq!(orig.len(), got.len());
            for (o, g) in orig.iter().zip(&got) {
                assert_eq!((o.step, o.layer, o.metric), (g.step, g.layer, g.metric));
                assert!(o.value.to_bits() == g.value.to_bits() || (o.value.is_nan() && g.value.is_nan()));
            }
        }
    }

    #[test]
    fn malformed_rows_name_the_line() {
        let bad_value = "scenario,variant,seed,step,layer,metric,value\ns,v,1,0,l,grad_norm,0.5\ns,v,1,1,l,grad_norm,abc\n";
        let e = parse_records("r.csv", bad_value).unwrap_err().to_string();
        assert!(e.starts_with("r.csv:3:") && e.contains("abc"), "{e}");

        let truncated = "scenario,variant,seed,step,layer,metric,value\ns,v,1,0,l,grad_norm\n";
        let e = parse_records("r.csv", truncated).unwrap_err().to_string();
        assert!(e.starts_with("r.csv:2:"), "{e}");

        let no_header = "s,v,1,0,l,grad_norm,0.5\n";
        let e = parse_records("r.csv", no_header).unwrap_err().to_string();
        assert!(e.contains("header lacks column"), "{e}");

        let json = "{\"scenario\":\"s\",\"variant\":\"v\",\"seed\":1,\"step\":0,\"layer\":\"l\",\"metric\":\"m\",\"value\":1}\n{\"scenario\":\"s\"";
        let e = parse_records("r.jsonl", json).unwrap_err().to_string();
        assert!(e.starts_with("r.jsonl:2:"), "{e}");
    }

    #[test]
    fn rows_group_into_runs_by_scenario_variant_seed() {
        let text = "scenario,variant,seed,step,layer,metric,value\ns,a,1,0,l,m,1\ns,b,1,0,l,m,2\ns,a,2,0,l,m,3\ns,a,1,1,l,m,4\n";
        let runs = parse_records("r.csv", text).unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].series("l", "m"), vec![(0, 1.0), (1, 4.0)]);
    }
}

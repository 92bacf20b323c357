//! Reading records back: the tidy table as CSV (with header) or JSON lines,
//! as the monitor and the report write it, or as another tool wrote it
//! (per-layer norms logged from PyTorch hooks, say). Rows are grouped into
//! runs by (scenario, variant, seed). The reader is lenient where a format has
//! several spellings (NaN, infinities, `1.0` for a step) and strict about
//! meaning: every malformed line is an error naming the file, the line and
//! what was expected there.
use super::record::{Records, fmt_coordinate};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// Required columns; `point` may be missing (no coordinates), others are ignored.
const COLUMNS: [&str; 7] = ["scenario", "variant", "seed", "step", "layer", "metric", "value"];

/// Parses a records file; the format is chosen from the content (a line
/// starting with `{` means JSON lines).
pub fn parse_records(file: &str, text: &str) -> Result<Vec<Records>> {
    let (line, first) = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty()).unwrap_or((0, ""));
    if first.trim_start().starts_with('[') {
        return Err(err(
            file,
            line + 1,
            "a JSON array; expected JSON lines (one object per line, as pandas' \
             `to_json(orient=\"records\", lines=True)` writes) or CSV with a header",
        ));
    }
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

/// One row's fields as text, before they are checked.
struct Fields<'a> {
    scenario: &'a str,
    variant: &'a str,
    seed: &'a str,
    step: &'a str,
    layer: &'a str,
    point: &'a str,
    metric: &'a str,
    value: &'a str,
}

fn parse_csv(file: &str, text: &str) -> Result<Vec<Records>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| err(file, 1, format!("unreadable header: {e}")))?.clone();
    let cols: Vec<&str> = headers.iter().map(str::trim).collect();
    let mut index = [0usize; 7];
    for (k, name) in COLUMNS.iter().enumerate() {
        index[k] = cols.iter().position(|c| c == name).ok_or_else(|| {
            err(file, 1, format!("header lacks column `{name}`; expected columns {}", super::record::HEADER))
        })?;
    }
    let point_col = cols.iter().position(|c| *c == "point");
    let mut runs = Runs::default();
    // One record buffer for the whole file: the rows are read, checked and interned, never kept.
    let mut rec = csv::StringRecord::new();
    loop {
        let more = rdr.read_record(&mut rec).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            err(file, line, format!("malformed CSV row: {e}"))
        })?;
        if !more {
            break;
        }
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if rec.len() != cols.len() {
            return Err(err(
                file,
                line,
                format!("{} fields, expected {} as in the header", rec.len(), cols.len()),
            ));
        }
        let f = |k: usize| rec.get(index[k]).unwrap_or("").trim();
        let point = point_col.and_then(|c| rec.get(c)).unwrap_or("").trim();
        let point = canonical_point(point).map_err(|m| err(file, line, m))?;
        let fields = Fields {
            scenario: f(0),
            variant: f(1),
            seed: f(2),
            step: f(3),
            layer: f(4),
            point: &point,
            metric: f(5),
            value: f(6),
        };
        runs.push(file, line, &fields)?;
    }
    Ok(runs.finish())
}

fn parse_json_lines(file: &str, text: &str) -> Result<Vec<Records>> {
    use serde_json::Value;
    let mut runs = Runs::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let obj: serde_json::Map<String, Value> = serde_json::from_str(&quote_bare_non_finite(raw))
            .map_err(|e| err(file, line, format!("not a JSON object: {e}")))?;
        let mut fields: [String; 7] = Default::default();
        for (k, name) in COLUMNS.iter().enumerate() {
            fields[k] = match obj.get(*name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Null) if *name == "value" => "NaN".into(),
                Some(other) => {
                    return Err(err(file, line, format!("`{name}` is {other}, expected a string or number")));
                }
                None => {
                    return Err(err(
                        file,
                        line,
                        format!(
                            "missing key `{name}`; expected keys {} (and `point`, optional)",
                            COLUMNS.join(", ")
                        ),
                    ));
                }
            };
        }
        let point = match obj.get("point") {
            None | Some(Value::Null) => String::new(),
            Some(Value::Object(coords)) => {
                let mut pairs = Vec::with_capacity(coords.len());
                for (k, v) in coords {
                    let text = match v {
                        Value::Number(n) => n.to_string(),
                        Value::String(s) => s.clone(),
                        other => {
                            return Err(err(
                                file,
                                line,
                                format!("point coordinate `{k}` is {other}, expected a number"),
                            ));
                        }
                    };
                    pairs.push(format!("{k}={text}"));
                }
                canonical_point(&pairs.join(";")).map_err(|m| err(file, line, m))?
            }
            Some(Value::String(s)) => canonical_point(s).map_err(|m| err(file, line, m))?,
            Some(other) => {
                return Err(err(
                    file,
                    line,
                    format!("`point` is {other}, expected an object of coordinates like {{\"t\":12}}"),
                ));
            }
        };
        let fields = Fields {
            scenario: &fields[0],
            variant: &fields[1],
            seed: &fields[2],
            step: &fields[3],
            layer: &fields[4],
            point: &point,
            metric: &fields[5],
            value: &fields[6],
        };
        runs.push(file, line, &fields)?;
    }
    Ok(runs.finish())
}

/// JSON has no NaN or infinity, but Python's `json.dumps` writes them bare
/// (`NaN`, `Infinity`, `-Infinity`): quote such tokens outside strings so
/// the value reader sees its usual spellings.
fn quote_bare_non_finite(line: &str) -> std::borrow::Cow<'_, str> {
    if !(line.contains("NaN") || line.contains("Infinity")) {
        return line.into();
    }
    let mut out = String::with_capacity(line.len() + 8);
    let (mut in_str, mut escaped) = (false, false);
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_str {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_str = true;
        }
        let token = ["-Infinity", "Infinity", "NaN"].into_iter().find(|t| rest.starts_with(t));
        match token {
            Some(t) => {
                out.push('"');
                out.push_str(t);
                out.push('"');
                rest = &rest[t.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out.into()
}

/// A point's text in canonical form (coordinates sorted by key, numbers as
/// the writers spell them), so `t=1.0` and `t=1` are the same point.
fn canonical_point(text: &str) -> std::result::Result<String, String> {
    let mut coords: Vec<(String, f64)> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            format!("point `{text}`: `{part}` is not `key=value`; expected pairs like `t=12;depth=3`")
        })?;
        let (k, v) = (k.trim(), v.trim());
        let x = Some(v)
            .filter(|v| !k.is_empty() && !v.is_empty())
            .and_then(parse_value)
            .ok_or_else(|| format!("point `{text}`: `{part}` needs a key and a number, like `t=12`"))?;
        if coords.iter().any(|(c, _)| c == k) {
            return Err(format!("point `{text}`: coordinate `{k}` appears twice"));
        }
        coords.push((k.to_owned(), x));
    }
    coords.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(coords.iter().map(|(k, v)| format!("{k}={}", fmt_coordinate(*v))).collect::<Vec<_>>().join(";"))
}

/// Accumulates rows into runs, keeping first-seen order. Names are interned
/// through hash maps (one set per run), so reading stays linear however many
/// distinct layers, metrics or points a file holds.
#[derive(Default)]
struct Runs {
    runs: Vec<Records>,
    ids: Vec<RunIds>,
}

/// A run's name → id maps, mirroring its `layers`, `metrics` and `points`.
#[derive(Default)]
struct RunIds {
    layers: HashMap<String, u32>,
    metrics: HashMap<String, u32>,
    points: HashMap<String, u32>,
}

/// The id of `name` in `map`, interning it in the run through `add` on first sight.
fn id_of(map: &mut HashMap<String, u32>, name: &str, add: impl FnOnce(&str) -> u32) -> u32 {
    if let Some(&id) = map.get(name) {
        return id;
    }
    let id = add(name);
    map.insert(name.to_owned(), id);
    id
}

impl Runs {
    fn push(&mut self, file: &str, line: usize, f: &Fields<'_>) -> Result<()> {
        let count = |what: &str, s: &str| {
            parse_count(s).ok_or_else(|| {
                err(file, line, format!("{what} `{s}` is not a whole number >= 0 (e.g. 0, 12 or 12.0)"))
            })
        };
        let seed = count("seed", f.seed)?;
        let step = count("step", f.step)?;
        let value = parse_value(f.value).ok_or_else(|| {
            err(
                file,
                line,
                format!("value `{}` is not a number (nor NaN, inf, -inf, null or empty)", f.value),
            )
        })?;
        if f.layer.is_empty() {
            return Err(err(
                file,
                line,
                "empty layer; expected a layer name, or `*` for a whole-network row",
            ));
        }
        if f.metric.is_empty() {
            return Err(err(file, line, "empty metric; expected a metric name such as `grad_norm`"));
        }
        let found = self
            .runs
            .iter()
            .rposition(|r| r.scenario == f.scenario && r.variant == f.variant && r.seed == seed);
        let i = found.unwrap_or_else(|| {
            self.runs.push(Records::new(f.scenario, f.variant, seed));
            self.ids.push(RunIds::default());
            self.runs.len() - 1
        });
        let (run, ids) = (&mut self.runs[i], &mut self.ids[i]);
        let layer = id_of(&mut ids.layers, f.layer, |n| run.layer_id(n));
        let metric = id_of(&mut ids.metrics, f.metric, |n| run.metric_id(n));
        let point = if f.point.is_empty() { 0 } else { id_of(&mut ids.points, f.point, |n| run.point_id(n)) };
        run.push_at(step, layer, point, metric, value);
        Ok(())
    }

    fn finish(self) -> Vec<Records> {
        self.runs
    }
}

/// An unsigned integer, also written as an integral float (`12.0`).
fn parse_count(s: &str) -> Option<u64> {
    s.parse::<u64>().ok().or_else(|| {
        let x: f64 = s.parse().ok()?;
        (x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < 2f64.powi(53)).then_some(x as u64)
    })
}

/// A value: a number, `NaN`/`nan`, `inf`/`Infinity` with either sign; `null`
/// and the empty field are a missing value, read as NaN.
fn parse_value(s: &str) -> Option<f64> {
    // Rust's float parser already takes `NaN`, `inf` and `infinity` in any case and with a sign, and
    // allocates nothing; only the missing-value spellings need saying.
    if s.is_empty() || s.eq_ignore_ascii_case("null") { Some(f64::NAN) } else { s.parse().ok() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::record::{point, write_csv, write_json_lines};

    fn sample() -> Records {
        let mut r = Records::new("deep_sigmoid", "sigmoid, random_normal", 7);
        r.push_named(0, "1:dense", "grad_norm", 1.25e-9);
        r.push_named(0, "2:dense", "grad_norm", 0.5);
        r.push_named(1, "*", "loss", f64::NAN);
        r.push_named(1, "*", "global_grad_norm", f64::NEG_INFINITY);
        r.push_named(2, "a,b", "grad_norm", 1.0 / 3.0);
        r.push_named_at(2, "1:simple_rnn(tanh)", &point(&[("t", 12.0)]), "hidden_grad_norm", 2.5);
        r.push_named_at(0, "*", &point(&[("sigma_w", 1.5), ("depth", 20.0)]), "log10_ratio", -0.25);
        r.push_named_at(0, "1:dense", &point(&[("bin", -3.25)]), "grad_log10_hist", 4.0);
        r
    }

    fn assert_same(a: &Records, b: &Records) {
        assert_eq!(
            (a.scenario.as_str(), a.variant.as_str(), a.seed),
            (b.scenario.as_str(), b.variant.as_str(), b.seed)
        );
        let (orig, got): (Vec<_>, Vec<_>) = (a.tidy().collect(), b.tidy().collect());
        assert_eq!(orig.len(), got.len());
        for (o, g) in orig.iter().zip(&got) {
            assert_eq!((o.step, o.layer, o.point, o.metric), (g.step, g.layer, g.point, g.metric));
            assert!(o.value.to_bits() == g.value.to_bits() || (o.value.is_nan() && g.value.is_nan()));
        }
    }

    #[test]
    fn a_json_array_is_refused_with_what_to_write_instead() {
        let text = "\n[{\"scenario\":\"s\",\"variant\":\"v\",\"seed\":0,\"step\":0,\"layer\":\"*\",\"metric\":\"loss\",\"value\":1}]\n";
        let e = parse_records("runs.json", text).unwrap_err().to_string();
        assert!(e.contains("runs.json") && e.contains('2') && e.contains("JSON lines"), "{e}");
    }

    #[test]
    fn csv_and_json_lines_round_trip_bit_exactly_with_points() {
        let r = sample();
        for text in [r.to_csv(), r.to_json_lines()] {
            let back = parse_records("mem", &text).unwrap();
            assert_eq!(back.len(), 1);
            assert_same(&r, &back[0]);
        }
    }

    #[test]
    fn points_are_written_one_way_in_each_format() {
        let csv = sample().to_csv();
        assert!(csv.starts_with("scenario,variant,seed,step,layer,point,metric,value\n"), "{csv}");
        assert!(csv.contains(",0,*,depth=20;sigma_w=1.5,log10_ratio,-0.25\n"), "{csv}");
        assert!(csv.contains(",1,*,,loss,NaN\n") && csv.contains(",global_grad_norm,-inf\n"), "{csv}");
        let json = sample().to_json_lines();
        assert!(json.contains("\"point\":{\"depth\":20,\"sigma_w\":1.5}"), "{json}");
        assert!(json.contains("\"point\":{\"bin\":-3.25}"), "{json}");
        assert!(json.contains("\"metric\":\"loss\",\"value\":\"NaN\""), "{json}");
        let plain = json.lines().next().unwrap();
        assert!(!plain.contains("point"), "an empty point is left out: {plain}");
    }

    #[test]
    fn several_runs_share_one_table() {
        let mut other = sample();
        other.seed = 8;
        let runs = [sample(), other];
        for text in [write_csv(&runs), write_json_lines(&runs)] {
            let back = parse_records("mem", &text).unwrap();
            assert_eq!(back.len(), 2);
            assert_same(&runs[0], &back[0]);
            assert_same(&runs[1], &back[1]);
        }
        assert_eq!(write_csv(&runs).matches("scenario,").count(), 1, "one header");
    }

    #[test]
    fn other_tools_spellings_are_read() {
        let csv = "scenario,variant,seed,step,layer,metric,value\n\
                   s,v,1,0,*,loss,nan\n\
                   s,v,1,1.0,*,loss,Infinity\n\
                   s,v,1,2,*,loss,-Infinity\n\
                   s,v,1,3,*,loss,\n\
                   s,v,1,4,*,loss,null\n";
        let r = &parse_records("old.csv", csv).unwrap()[0];
        let loss = r.series("*", "loss");
        assert_eq!(loss.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert!(loss[0].1.is_nan() && loss[3].1.is_nan() && loss[4].1.is_nan());
        assert_eq!((loss[1].1, loss[2].1), (f64::INFINITY, f64::NEG_INFINITY));

        let json = "{\"scenario\":\"s\",\"variant\":\"v\",\"seed\":1,\"step\":0.0,\"layer\":\"*\",\"metric\":\"loss\",\"value\":NaN}\n\
                    {\"scenario\":\"s\",\"variant\":\"v NaN\",\"seed\":1,\"step\":1,\"layer\":\"*\",\"metric\":\"loss\",\"value\":-Infinity}\n\
                    {\"scenario\":\"s\",\"variant\":\"v\",\"seed\":1,\"step\":2,\"layer\":\"1:rnn\",\"point\":{\"t\":3.0},\"metric\":\"m\",\"value\":null}\n";
        let runs = parse_records("py.jsonl", json).unwrap();
        assert_eq!(runs.len(), 2, "a NaN inside a string is text");
        assert_eq!(runs[1].variant, "v NaN");
        assert!(runs[0].series("*", "loss")[0].1.is_nan());
        assert_eq!(runs[1].series("*", "loss")[0].1, f64::NEG_INFINITY);
        assert_eq!(runs[0].tidy().nth(1).unwrap().point, "t=3", "a coordinate reads back canonical");
    }

    #[test]
    fn malformed_rows_name_the_line_and_what_was_expected() {
        let h = "scenario,variant,seed,step,layer,point,metric,value\n";
        let bad = |body: &str| {
            parse_records("r.csv", &format!("{h}s,v,1,0,l,,grad_norm,0.5\n{body}")).unwrap_err().to_string()
        };
        let e = bad("s,v,1,1,l,,grad_norm,abc\n");
        assert!(e.starts_with("r.csv:3:") && e.contains("abc") && e.contains("not a number"), "{e}");
        let e = bad("s,v,1,1.5,l,,grad_norm,1\n");
        assert!(e.starts_with("r.csv:3:") && e.contains("step `1.5`") && e.contains("whole number"), "{e}");
        let e = bad("s,v,1,1,,,grad_norm,1\n");
        assert!(e.starts_with("r.csv:3:") && e.contains("`*` for a whole-network row"), "{e}");
        let e = bad("s,v,1,1,l,t12,grad_norm,1\n");
        assert!(e.starts_with("r.csv:3:") && e.contains("`key=value`"), "{e}");
        let e = bad("s,v,1,1,l,t=x,grad_norm,1\n");
        assert!(e.starts_with("r.csv:3:") && e.contains("a key and a number"), "{e}");

        let truncated = format!("{h}s,v,1,0,l,,grad_norm\n");
        let e = parse_records("r.csv", &truncated).unwrap_err().to_string();
        assert!(e.starts_with("r.csv:2:"), "{e}");

        let no_header = "s,v,1,0,l,grad_norm,0.5\n";
        let e = parse_records("r.csv", no_header).unwrap_err().to_string();
        assert!(e.contains("header lacks column"), "{e}");

        let json = "{\"scenario\":\"s\",\"variant\":\"v\",\"seed\":1,\"step\":0,\"layer\":\"l\",\"metric\":\"m\",\"value\":1}\n{\"scenario\":\"s\"";
        let e = parse_records("r.jsonl", json).unwrap_err().to_string();
        assert!(e.starts_with("r.jsonl:2:"), "{e}");
        let json =
            "{\"scenario\":\"s\",\"variant\":\"v\",\"seed\":1,\"step\":0,\"metric\":\"m\",\"value\":1}\n";
        let e = parse_records("r.jsonl", json).unwrap_err().to_string();
        assert!(e.starts_with("r.jsonl:1:") && e.contains("missing key `layer`; expected keys"), "{e}");
        let json = "{\"scenario\":\"s\",\"variant\":\"v\",\"seed\":1,\"step\":0,\"layer\":\"l\",\"point\":[1],\"metric\":\"m\",\"value\":1}\n";
        let e = parse_records("r.jsonl", json).unwrap_err().to_string();
        assert!(e.starts_with("r.jsonl:1:") && e.contains("object of coordinates"), "{e}");
    }

    #[test]
    fn rows_group_into_runs_by_scenario_variant_seed() {
        let text = "scenario,variant,seed,step,layer,metric,value\ns,a,1,0,l,m,1\ns,b,1,0,l,m,2\ns,a,2,0,l,m,3\ns,a,1,1,l,m,4\n";
        let runs = parse_records("r.csv", text).unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].series("l", "m"), vec![(0, 1.0), (1, 4.0)]);
    }

    /// Fuzzing: arbitrary bytes and valid files with one mutation (a byte replaced, inserted or
    /// removed, a line cut) read back or give a `Data` error that names the file and a line inside
    /// it; never a panic.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn check(text: &str) -> std::result::Result<(), TestCaseError> {
            if let Err(e) = parse_records("f.csv", text) {
                match e {
                    Error::Data { file, line, msg } => {
                        prop_assert_eq!(file, "f.csv");
                        prop_assert!(line >= 1 && line <= text.lines().count().max(1), "line {line}: {msg}");
                        prop_assert!(!msg.is_empty());
                    }
                    other => prop_assert!(false, "not a data error: {other}"),
                }
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                check(&String::from_utf8_lossy(&bytes))?;
            }

            #[test]
            fn mutated_valid_files_never_panic(
                json in any::<bool>(),
                at in any::<prop::sample::Index>(),
                byte in any::<u8>(),
                how in 0..4u8,
            ) {
                let r = sample();
                let mut text = if json { r.to_json_lines() } else { r.to_csv() }.into_bytes();
                let i = at.index(text.len());
                match how {
                    0 => text[i] = byte,
                    1 => text.insert(i, byte),
                    2 => { text.remove(i); }
                    _ => text.truncate(i),
                }
                check(&String::from_utf8_lossy(&text))?;
            }
        }
    }
}

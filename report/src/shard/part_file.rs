//! A unit's output on disk: its records in the one format (`ID.records.csv`, the engine's writer, so
//! `report diagnose` and pandas read a unit like any records file) and `ID.json` with what the one format
//! does not hold: each run's interning order (so a table read back is the table that was written), the
//! key figures of a runner that does not split, the training steps and the runner's own numbers, all
//! floats as exact text ([`crate::exact`]).
use crate::error::{ReportError, Result};
use crate::exact;
use crate::experiments::Part;
use crate::record::{KeyFigure, Records};
use engine::monitor::{parse_records, write_csv};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The unit's two files' contents: (records CSV, meta JSON).
pub fn encode(part: &Part) -> (String, String) {
    let runs: Vec<Value> = part
        .records
        .iter()
        .map(|r| {
            json!({
                "scenario": r.scenario, "variant": r.variant, "seed": r.seed,
                "layers": r.layers, "points": r.points, "metrics": r.metrics, "rows": r.rows.len(),
            })
        })
        .collect();
    let figures: Vec<Value> = part
        .key_figures
        .iter()
        .map(|k| json!({ "key": k.key, "label": k.label, "value": exact::f(k.value) }))
        .collect();
    let meta = json!({ "runs": runs, "key_figures": figures, "steps": part.steps, "data": part.data });
    let mut meta = serde_json::to_string_pretty(&meta).expect("a part serialises");
    meta.push('\n');
    (write_csv(&part.records), meta)
}

/// The part back from its files; `name` (the unit's id) is in every error. The records are checked by
/// writing them again: the text must be the file's, byte for byte.
pub fn decode(name: &str, csv: &str, meta: &str) -> Result<Part> {
    let bad = |what: String| ReportError::Usage(format!("unit {name}: {what}"));
    let meta: Value = serde_json::from_str(meta).map_err(|e| bad(format!("{name}.json: {e}")))?;
    let parsed = parse_records(&format!("{name}.records.csv"), csv).map_err(|e| bad(e.to_string()))?;
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect()
    };
    let mut records = Vec::new();
    for run in meta["runs"].as_array().ok_or_else(|| bad("no `runs` in its json".into()))? {
        let (Some(scenario), Some(variant), Some(seed), Some(layers), Some(points), Some(metrics)) = (
            run["scenario"].as_str(),
            run["variant"].as_str(),
            run["seed"].as_u64(),
            strings(&run["layers"]),
            strings(&run["points"]),
            strings(&run["metrics"]),
        ) else {
            return Err(bad(format!("a malformed run in its json: {run}")));
        };
        let mut r = Records {
            scenario: scenario.into(),
            variant: variant.into(),
            seed,
            layers,
            points,
            metrics,
            rows: Vec::new(),
        };
        if let Some(p) =
            parsed.iter().find(|p| p.scenario == r.scenario && p.variant == r.variant && p.seed == seed)
        {
            let index = |names: &[String]| -> HashMap<String, u32> {
                names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect()
            };
            let (li, pi, mi) = (index(&r.layers), index(&r.points), index(&r.metrics));
            for row in &p.rows {
                let layer = li.get(&p.layers[row.layer as usize]);
                let metric = mi.get(&p.metrics[row.metric as usize]);
                let point =
                    if row.point == 0 { Some(0) } else { pi.get(p.point_name(row.point)).map(|i| i + 1) };
                let (Some(&layer), Some(&metric), Some(point)) = (layer, metric, point) else {
                    return Err(bad("a row names a layer, point or metric its json does not list".into()));
                };
                r.rows.push(engine::monitor::record::Row { layer, metric, point, ..*row });
            }
        }
        records.push(r);
    }
    if write_csv(&records) != csv {
        return Err(bad("its records do not read back to the same text (a damaged or edited file)".into()));
    }
    let key_figures = meta["key_figures"]
        .as_array()
        .ok_or_else(|| bad("no `key_figures` in its json".into()))?
        .iter()
        .map(|k| {
            let (Some(key), Some(label), Some(value)) =
                (k["key"].as_str(), k["label"].as_str(), exact::get(&k["value"]))
            else {
                return Err(bad(format!("a malformed key figure: {k}")));
            };
            Ok(KeyFigure::new(key, label, value))
        })
        .collect::<Result<_>>()?;
    let steps = meta["steps"].as_u64().ok_or_else(|| bad("no `steps` in its json".into()))?;
    Ok(Part { records, key_figures, steps, data: meta["data"].clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_reads_back_as_written() {
        let mut r = Records::new("s", "v, with a comma", 7);
        r.push_named(0, "2:dense(relu)", "grad_norm", 0.1 + 0.2);
        r.push_named(0, "1:dense(relu)", "grad_norm", f64::NAN);
        r.push_named_at(3, "*", "depth=2;sigma_w=1.5", "log10_ratio", -1e-300);
        let part = Part {
            records: vec![r],
            key_figures: vec![KeyFigure::new("k.v", "a {=0.3}", 1.0 / 3.0)],
            steps: 12,
            data: json!({ "x": exact::f(2.5) }),
        };
        let (csv, meta) = encode(&part);
        let back = decode("s.0", &csv, &meta).unwrap();
        assert_eq!(back.records[0].layers, part.records[0].layers);
        assert_eq!(back.records[0].rows.len(), 3);
        assert_eq!(back.records[0].rows[0], part.records[0].rows[0]);
        assert!(back.records[0].rows[1].value.is_nan());
        assert_eq!(back.key_figures, part.key_figures);
        assert_eq!((back.steps, back.data), (12, part.data));
        // A row the json does not account for is caught, naming the unit.
        let edited = csv.replace("log10_ratio", "another_metric");
        assert!(decode("s.0", &edited, &meta).unwrap_err().to_string().contains("unit s.0"));
    }
}

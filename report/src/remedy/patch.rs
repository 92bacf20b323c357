//! Remedies as edits of the scenario file's own text, made with `toml_edit` so the written file keeps
//! the user's comments, key order and layout, and the diff shows the change and nothing else. A
//! variant may be a `[[variants]]` table or an inline one, its model `[variants.model]` or inline, its
//! layers an inline array or `[[variants.model.layers]]` tables: each is edited where it is.
use super::catalogue::Remedy;
use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, TableLike, Value};

/// The file with only `variant` left (every variant for `None`) and nothing but what runs it: charts,
/// claims, figures and the remedy panel belong to the whole scenario and may name the variants left out.
pub fn trial(doc: &DocumentMut, variant: Option<&str>) -> DocumentMut {
    let mut d = doc.clone();
    for key in ["charts", "claims", "figures", "remedy"] {
        d.remove(key);
    }
    let Some(variant) = variant else { return d };
    let named = |v: Option<&Item>| v.and_then(Item::as_str) == Some(variant);
    match d.get_mut("variants") {
        Some(Item::ArrayOfTables(a)) => a.retain(|t| named(t.get("name"))),
        Some(Item::Value(Value::Array(a))) => a.retain(|v| {
            v.as_inline_table().and_then(|t| t.get("name")).and_then(Value::as_str) == Some(variant)
        }),
        _ => {}
    }
    d
}

/// Applies one remedy to `variant` of the document.
pub fn apply(doc: &mut DocumentMut, variant: &str, r: &Remedy) -> Result<(), String> {
    if let Remedy::Bundle { parts } = r {
        return parts.iter().try_for_each(|p| apply(doc, variant, p));
    }
    if let Remedy::Standardize { .. } = r {
        let data = doc
            .get_mut("params")
            .and_then(Item::as_table_like_mut)
            .and_then(|p| p.get_mut("data"))
            .and_then(Item::as_table_like_mut)
            .ok_or("the scenario has no `[params.data]` to standardise")?;
        set(data, "scale", Value::from("standardize"));
        data.remove("input_scale");
        return Ok(());
    }
    let v = variant_mut(doc, variant)?;
    match r {
        Remedy::LearningRate { to, .. } => {
            let o = v
                .get_mut("optimizer")
                .and_then(Item::as_table_like_mut)
                .ok_or("the variant has no `optimizer`")?;
            set(o, "learning_rate", Value::from(*to));
        }
        Remedy::ClipGlobalNorm { threshold } => {
            let mut t = InlineTable::new();
            t.insert("type", Value::from("global_norm"));
            t.insert("threshold", Value::from(*threshold));
            match v.get_mut("clipping").and_then(Item::as_table_like_mut) {
                Some(c) => {
                    set(c, "type", Value::from("global_norm"));
                    set(c, "threshold", Value::from(*threshold));
                }
                None => {
                    v.insert("clipping", Item::Value(Value::InlineTable(t)));
                }
            }
        }
        Remedy::RaiseClip { to, .. } => {
            let c = v
                .get_mut("clipping")
                .and_then(Item::as_table_like_mut)
                .ok_or("the variant has no `clipping`")?;
            set(c, "threshold", Value::from(*to));
        }
        Remedy::RemoveClip { .. } => {
            v.remove("clipping");
        }
        _ => layers(v, r)?,
    }
    Ok(())
}

fn layers(v: &mut dyn TableLike, r: &Remedy) -> Result<(), String> {
    let model = v.get_mut("model").and_then(Item::as_table_like_mut).ok_or("the variant has no `model`")?;
    let mut ls = match model.get_mut("layers") {
        Some(Item::Value(Value::Array(a))) => Layers::Inline(a),
        Some(Item::ArrayOfTables(t)) => Layers::Tables(t),
        _ => return Err("the model has no `layers`".into()),
    };
    match r {
        Remedy::CriticalInit { entries } => {
            for (i, init) in entries {
                let e = ls.entry(*i)?;
                set_init(e, init);
            }
        }
        Remedy::ReluHe { entries } => {
            for &i in entries {
                let e = ls.entry(i)?;
                set(e, "activation", Value::from("relu"));
                e.remove("alpha");
                set_init(e, "he_normal");
            }
        }
        Remedy::LeakyRelu { entries, kernel } => {
            for &i in entries {
                let e = ls.entry(i)?;
                set(e, "activation", Value::from("leaky_relu"));
                set_init(e, kernel);
            }
        }
        Remedy::ZeroBias { entries } => {
            for &i in entries {
                ls.entry(i)?.remove("bias_initializer");
            }
        }
        Remedy::ForgetBias { entries, bias, .. } => {
            for &i in entries {
                set(ls.entry(i)?, "forget_bias", Value::from(*bias));
            }
        }
        Remedy::OrthogonalRecurrent { entries } => {
            for &i in entries {
                set(ls.entry(i)?, "recurrent_initializer", Value::from("orthogonal"));
            }
        }
        Remedy::ToLstm { entries, forget_bias, .. } => {
            for &i in entries {
                let e = ls.entry(i)?;
                set(e, "type", Value::from("lstm"));
                set(e, "forget_bias", Value::from(*forget_bias));
                // The state reaches back in time only through the recurrent kernel, whatever the cell
                // keeps: the LSTM gets its default (orthogonal) one.
                e.remove("recurrent_initializer");
            }
        }
        Remedy::BatchNorm { entries } => {
            // From the last entry back, so the earlier indices stay valid as entries multiply.
            for &i in entries.iter().rev() {
                let e = ls.inline(i)?;
                let repeat = e.get("repeat").and_then(Value::as_integer).unwrap_or(1).max(1);
                let mut dense = e.clone();
                let act = dense.remove("activation");
                let alpha = dense.remove("alpha");
                dense.remove("repeat");
                let mut bn = InlineTable::new();
                bn.insert("type", Value::from("batch_normalization"));
                let mut a = InlineTable::new();
                a.insert("type", Value::from("activation"));
                a.extend(act.map(|v| ("activation", bare(v))));
                a.extend(alpha.map(|v| ("alpha", bare(v))));
                let block = [dense, bn, a];
                let with: Vec<InlineTable> = (0..repeat).flat_map(|_| block.iter().cloned()).collect();
                ls.splice(i, with);
            }
        }
        Remedy::Residual { entries } => {
            for (i, init) in entries.iter().rev() {
                let i = *i;
                let e = ls.inline(i)?;
                let k = e.get("repeat").and_then(Value::as_integer).unwrap_or(1);
                // The first layer stays dense (it maps the input width); the others pair into blocks of
                // two dense layers around a skip, an odd one out staying dense.
                let mut first = e.clone();
                first.remove("repeat");
                if 1 + (k - 1) % 2 > 1 {
                    first.insert("repeat", Value::from(1 + (k - 1) % 2));
                }
                let mut res = InlineTable::new();
                res.insert("type", Value::from("residual"));
                for key in ["units", "activation", "alpha", "bias_initializer"] {
                    if let Some(v) = e.get(key) {
                        res.insert(key, bare(v.clone()));
                    }
                }
                res.insert("kernel_initializer", Value::from(init.as_str()));
                res.insert("repeat", Value::from((k - 1) / 2));
                ls.splice(i, vec![first, res]);
            }
        }
        _ => return Err(format!("`{}` is not a change to the layers", r.name())),
    }
    Ok(())
}

/// A value without the spacing it had in its old place (it is written with the default spacing).
fn bare(mut v: Value) -> Value {
    v.decor_mut().clear();
    v
}

/// Sets `key`, keeping the spacing of the value it replaces.
fn set(t: &mut dyn TableLike, key: &str, mut v: Value) {
    if let Some(old) = t.get(key).and_then(Item::as_value) {
        *v.decor_mut() = old.decor().clone();
    }
    t.insert(key, Item::Value(v));
}

/// The kernel initialiser, under whichever of its two names the file uses.
fn set_init(t: &mut dyn TableLike, init: &str) {
    let key = if t.contains_key("initializer") { "initializer" } else { "kernel_initializer" };
    t.remove("scale");
    set(t, key, Value::from(init));
}

fn variant_mut<'d>(doc: &'d mut DocumentMut, name: &str) -> Result<&'d mut dyn TableLike, String> {
    let named = |v: Option<&Item>| v.and_then(Item::as_str) == Some(name);
    let found: Option<&mut dyn TableLike> = match doc.get_mut("variants") {
        Some(Item::ArrayOfTables(a)) => {
            a.iter_mut().find(|t| named(t.get("name"))).map(|t| t as &mut dyn TableLike)
        }
        Some(Item::Value(Value::Array(a))) => a
            .iter_mut()
            .filter_map(Value::as_inline_table_mut)
            .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
            .map(|t| t as &mut dyn TableLike),
        _ => None,
    };
    found.ok_or_else(|| format!("no variant `{name}` in the file"))
}

/// A model's layers as the file writes them.
enum Layers<'d> {
    Inline(&'d mut toml_edit::Array),
    Tables(&'d mut ArrayOfTables),
}

impl Layers<'_> {
    fn entry(&mut self, i: usize) -> Result<&mut dyn TableLike, String> {
        let e: Option<&mut dyn TableLike> = match self {
            Layers::Inline(a) => {
                a.get_mut(i).and_then(Value::as_inline_table_mut).map(|t| t as &mut dyn TableLike)
            }
            Layers::Tables(t) => t.get_mut(i).map(|t| t as &mut dyn TableLike),
        };
        e.ok_or_else(|| format!("the model has no layer entry {i}"))
    }

    /// Entry `i` as an inline table (a copy), whichever way it is written.
    fn inline(&self, i: usize) -> Result<InlineTable, String> {
        let e = match self {
            Layers::Inline(a) => a.get(i).and_then(Value::as_inline_table).cloned(),
            Layers::Tables(t) => t.get(i).map(|t| t.clone().into_inline_table()),
        };
        e.ok_or_else(|| format!("the model has no layer entry {i}"))
    }

    /// Replaces entry `i` by `with`, each new entry spaced as the one it replaces.
    fn splice(&mut self, i: usize, with: Vec<InlineTable>) {
        match self {
            Layers::Inline(a) => {
                let prefix = a.get(i).map(|v| v.decor().prefix().cloned());
                a.remove(i);
                for (k, mut t) in with.into_iter().enumerate() {
                    t.fmt();
                    let mut v = Value::InlineTable(t);
                    if let Some(Some(p)) = &prefix {
                        v.decor_mut().set_prefix(p.clone());
                    }
                    a.insert_formatted(i + k, v);
                }
            }
            Layers::Tables(t) => {
                t.remove(i);
                for (k, e) in with.into_iter().enumerate() {
                    t.insert(i + k, e.into_table());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# a user's file
title = "t"

[[variants]]
name = "a"
optimizer = { type = "sgd", learning_rate = 0.05 } # their rate
[variants.model]
inputs = 10
layers = [
  { type = "dense", units = 16, activation = "tanh", kernel_initializer = "random_normal(stddev=0.1)", repeat = 2 },
  { type = "dense", units = 1, activation = "sigmoid" },
]

[[variants]]
name = "b"
optimizer = { type = "sgd", learning_rate = 0.05 }
[variants.model]
inputs = 10

[[variants.model.layers]]
type = "dense"
units = 4
activation = "relu"
bias_initializer = "constant(-3)"
"#;

    fn doc() -> DocumentMut {
        FILE.parse().unwrap()
    }

    #[test]
    fn an_edit_keeps_comments_and_layout_and_touches_only_its_variant() {
        let mut d = doc();
        apply(&mut d, "a", &Remedy::CriticalInit { entries: vec![(0, "glorot_normal".into())] }).unwrap();
        apply(&mut d, "a", &Remedy::LearningRate { from: 0.05, to: 0.001, update_ratio: 0.05, target: 1e-3 })
            .unwrap();
        let out = d.to_string();
        assert!(out.contains("# a user's file") && out.contains("# their rate"), "{out}");
        assert!(out.contains(r#"kernel_initializer = "glorot_normal", repeat = 2 }"#), "{out}");
        assert!(out.contains("learning_rate = 0.001 } # their rate"), "{out}");
        assert_eq!(out.matches("learning_rate = 0.05").count(), 1, "variant b keeps its rate");
    }

    #[test]
    fn batch_norm_expands_a_repeated_entry_and_tables_are_edited_too() {
        let mut d = doc();
        apply(&mut d, "a", &Remedy::BatchNorm { entries: vec![0] }).unwrap();
        apply(&mut d, "b", &Remedy::ZeroBias { entries: vec![0] }).unwrap();
        let out = d.to_string();
        assert_eq!(out.matches("batch_normalization").count(), 2, "{out}");
        assert_eq!(out.matches(r#"{ type = "activation", activation = "tanh" }"#).count(), 2, "{out}");
        assert!(!out.contains("constant(-3)"), "{out}");
        // The patched file still reads as a scenario's variant would.
        let t: toml::Table = toml::from_str(&out).unwrap();
        let layers = t["variants"].as_array().unwrap()[0]["model"]["layers"].as_array().unwrap().len();
        assert_eq!(layers, 7);
    }

    #[test]
    fn a_trial_keeps_one_variant_and_drops_what_names_the_others() {
        let mut d = doc();
        d.insert("charts", Item::ArrayOfTables(ArrayOfTables::new()));
        let t = trial(&d, Some("b")).to_string();
        assert!(!t.contains("name = \"a\"") && t.contains("name = \"b\"") && !t.contains("charts"), "{t}");
    }

    #[test]
    fn clipping_is_added_beside_the_optimizer_and_a_missing_variant_is_named() {
        let mut d = doc();
        apply(&mut d, "a", &Remedy::ClipGlobalNorm { threshold: 2.5 }).unwrap();
        let out = d.to_string();
        assert!(out.contains("clipping = { type = \"global_norm\", threshold = 2.5 }"), "{out}");
        let err = apply(&mut d, "zzz", &Remedy::RemoveClip { from: 1.0 }).unwrap_err();
        assert!(err.contains("zzz"), "{err}");
    }
}

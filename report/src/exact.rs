//! Floats in a unit's file as text that reads back to the same bits: Rust's shortest round-trip form
//! (`0.1`, `1e-40`, `NaN`, `inf`, `-inf`), parsed with `str::parse`, which is exact. JSON numbers are
//! not used for floats, since a JSON reader may round them and cannot hold NaN or infinities.
use serde_json::Value;

pub fn f(v: f64) -> Value {
    Value::String(format!("{v:?}"))
}

pub fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, f)
}

pub fn vec(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|&x| f(x)).collect())
}

pub fn get(v: &Value) -> Option<f64> {
    v.as_str()?.parse().ok()
}

/// `Some(None)` for null, `None` when the value is neither null nor a float's text.
pub fn get_opt(v: &Value) -> Option<Option<f64>> {
    if v.is_null() { Some(None) } else { get(v).map(Some) }
}

pub fn get_vec(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(get).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bit_survives_text() {
        for x in [0.1 + 0.2, 1e-40, 5e-324, -3.0, f64::MAX, f64::INFINITY, f64::NEG_INFINITY, -0.0] {
            assert_eq!(get(&f(x)).unwrap().to_bits(), x.to_bits(), "{x:?}");
        }
        assert!(get(&f(f64::NAN)).unwrap().is_nan());
        assert_eq!(get_opt(&Value::Null), Some(None));
        assert_eq!(get_opt(&Value::Bool(true)), None);
    }
}

//! The source's claims against the measurements: each claim names a key figure and, where it states a
//! number, a value with a tolerance or a range. Judged the same way for every runner.
use crate::error::Result;
use crate::record::KeyFigure;
use crate::scenario::{Claim, Scenario};
use serde::Serialize;
use toml::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimVerdict {
    /// The measurement meets the claim's criterion.
    Agrees,
    /// It does not.
    Contradicted,
    /// The claim states no number to compare with.
    NotTestable,
}

/// A source claim next to the measured figure it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimResult {
    pub key: String,
    pub label: String,
    pub source_says: String,
    pub measured: f64,
    pub expected: Option<f64>,
    pub range: Option<[f64; 2]>,
    pub criterion: Option<String>,
    pub verdict: ClaimVerdict,
}

/// Judges one claim against the runner's key figures; a claim about a figure the runner did not measure
/// points at the claim in the scenario file.
pub fn judge(s: &Scenario, spanned: &Spanned<Claim>, figures: &[KeyFigure]) -> Result<ClaimResult> {
    let c = spanned.get_ref();
    let fig = figures.iter().find(|f| f.key == c.key).ok_or_else(|| {
        let keys: Vec<&str> = figures.iter().map(|f| f.key.as_str()).collect();
        s.error_at(
            spanned.span(),
            format!(
                "claim about `{}`, but the runner measured no such figure; it has: {}",
                c.key,
                keys.join(", ")
            ),
        )
    })?;
    let m = fig.value;
    let verdict = match (c.expected, c.range) {
        (Some(e), _) => {
            let tol = c.rel_tol.unwrap_or(1e-3) * e.abs().max(f64::MIN_POSITIVE);
            if (m - e).abs() <= tol { ClaimVerdict::Agrees } else { ClaimVerdict::Contradicted }
        }
        (None, Some([lo, hi])) => {
            if (lo..=hi).contains(&m) {
                ClaimVerdict::Agrees
            } else {
                ClaimVerdict::Contradicted
            }
        }
        (None, None) => ClaimVerdict::NotTestable,
    };
    Ok(ClaimResult {
        key: c.key.clone(),
        label: fig.label.clone(),
        source_says: c.source_says.clone(),
        measured: m,
        expected: c.expected,
        range: c.range,
        criterion: c.criterion.clone(),
        verdict,
    })
}

//! The source's claims against the measurements: each claim names a key figure and, where it states a
//! number, a value with a tolerance or a range. Judged the same way for every runner. Beside the verdict
//! (does the measurement meet the criterion) each claim gets a standing for the page's tally: whether
//! the source is right, wrong, or not testable; a measurement at a setting the source did not use
//! neither confirms nor refutes it.
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

/// What a verdict says about the source, for the page's tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Contradicted at the source's own setting.
    SourceWrong,
    /// Agrees at the source's own setting.
    SourceRight,
    /// No number to test, or measured only at a setting the source did not use.
    NotTestable,
}

impl Standing {
    pub fn of(verdict: ClaimVerdict, at_source_setting: bool) -> Standing {
        match (verdict, at_source_setting) {
            (ClaimVerdict::NotTestable, _) | (_, false) => Standing::NotTestable,
            (ClaimVerdict::Agrees, true) => Standing::SourceRight,
            (ClaimVerdict::Contradicted, true) => Standing::SourceWrong,
        }
    }
}

/// How many claims fall in each standing, over every scenario; `elsewhere` counts the not-testable ones
/// that were measured, but only at a setting the source did not use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub source_wrong: usize,
    pub source_right: usize,
    pub not_testable: usize,
    pub elsewhere: usize,
}

impl Tally {
    pub fn of<'a>(claims: impl IntoIterator<Item = &'a ClaimResult>) -> Tally {
        let mut t = Tally::default();
        for c in claims {
            match c.standing {
                Standing::SourceWrong => t.source_wrong += 1,
                Standing::SourceRight => t.source_right += 1,
                Standing::NotTestable => t.not_testable += 1,
            }
            if !c.at_source_setting && c.verdict != ClaimVerdict::NotTestable {
                t.elsewhere += 1;
            }
        }
        t
    }
}

/// A source claim next to the measured figure it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimResult {
    pub key: String,
    pub label: String,
    pub source_says: String,
    pub quote: String,
    pub source_setting: String,
    pub argument: String,
    pub at_source_setting: bool,
    pub measured: f64,
    pub expected: Option<f64>,
    pub range: Option<[f64; 2]>,
    pub criterion: Option<String>,
    pub verdict: ClaimVerdict,
    pub standing: Standing,
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
        quote: c.quote.clone(),
        source_setting: c.source_setting.clone(),
        argument: c.argument.clone(),
        at_source_setting: c.at_source_setting,
        measured: m,
        expected: c.expected,
        range: c.range,
        criterion: c.criterion.clone(),
        verdict,
        standing: Standing::of(verdict, c.at_source_setting),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contradiction_counts_against_the_source_only_at_its_setting() {
        use ClaimVerdict::*;
        assert_eq!(Standing::of(Contradicted, true), Standing::SourceWrong);
        assert_eq!(Standing::of(Contradicted, false), Standing::NotTestable);
        assert_eq!(Standing::of(Agrees, true), Standing::SourceRight);
        assert_eq!(Standing::of(Agrees, false), Standing::NotTestable);
        assert_eq!(Standing::of(NotTestable, true), Standing::NotTestable);
    }

    #[test]
    fn the_tally_counts_each_standing_and_the_measurements_elsewhere() {
        use ClaimVerdict::*;
        let claim = |verdict, at_source_setting| ClaimResult {
            key: "k".into(),
            label: "l".into(),
            source_says: "s".into(),
            quote: "q".into(),
            source_setting: "t".into(),
            argument: "a".into(),
            at_source_setting,
            measured: 1.0,
            expected: None,
            range: None,
            criterion: None,
            verdict,
            standing: Standing::of(verdict, at_source_setting),
        };
        let all = [
            claim(Contradicted, true),
            claim(Contradicted, false),
            claim(Agrees, true),
            claim(Agrees, true),
            claim(Agrees, false),
            claim(NotTestable, true),
            claim(NotTestable, false),
        ];
        let t = Tally::of(&all);
        assert_eq!(t, Tally { source_wrong: 1, source_right: 2, not_testable: 4, elsewhere: 2 });
    }
}

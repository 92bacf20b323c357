//! A verdict: what is wrong (or that nothing is), where, the rule that fired
//! with its thresholds, the measured evidence, and what to change.
use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    NonFinite,
    Exploding,
    DeadUnits,
    Vanishing,
    VanishingOverTime,
    Saturation,
    UpdateRatioLow,
    UpdateRatioHigh,
    ClippingTooAggressive,
    ClippingNeverActs,
    Healthy,
    NotEnoughData,
}

impl Kind {
    /// Failure kinds; `Healthy`, `ClippingNeverActs` (informational) and
    /// `NotEnoughData` are not failures.
    pub fn is_failure(self) -> bool {
        !matches!(self, Kind::Healthy | Kind::ClippingNeverActs | Kind::NotEnoughData)
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::NonFinite => "non-finite",
            Kind::Exploding => "exploding",
            Kind::DeadUnits => "dying ReLU",
            Kind::Vanishing => "vanishing",
            Kind::VanishingOverTime => "vanishing over time",
            Kind::Saturation => "saturation",
            Kind::UpdateRatioLow => "update ratio too low",
            Kind::UpdateRatioHigh => "update ratio too high",
            Kind::ClippingTooAggressive => "clipping too aggressive",
            Kind::ClippingNeverActs => "clipping never acts",
            Kind::Healthy => "healthy",
            Kind::NotEnoughData => "not enough data",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub kind: Kind,
    pub severity: Severity,
    /// Layers concerned, in network order.
    pub layers: Vec<String>,
    /// First and last recorded step concerned.
    pub steps: Option<(u64, u64)>,
    /// The rule that fired, with its thresholds.
    pub rule: String,
    /// Measured figures, not adjectives.
    pub evidence: Vec<String>,
    pub suggestion: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.label())?;
        if !self.layers.is_empty() {
            write!(f, " in {}", layer_span(&self.layers))?;
        }
        if let Some((a, b)) = self.steps {
            if a == b { write!(f, " at step {a}")? } else { write!(f, " from step {a} to {b}")? }
        }
        if !self.evidence.is_empty() {
            write!(f, ": {}", self.evidence.join("; "))?;
        }
        if !self.suggestion.is_empty() {
            write!(f, "; {}", self.suggestion)?;
        }
        write!(f, " [rule: {}]", self.rule)
    }
}

/// "layers 1-6" when the names are numbered `N:...` and contiguous,
/// otherwise the names themselves.
pub fn layer_span(layers: &[String]) -> String {
    let nums: Vec<Option<u64>> =
        layers.iter().map(|l| l.split(':').next().and_then(|n| n.parse().ok())).collect();
    if let (Some(Some(first)), true) = (nums.first(), nums.iter().all(Option::is_some)) {
        let contiguous = nums.windows(2).all(|w| w[1] == w[0].map(|n| n + 1));
        let last = nums[nums.len() - 1].unwrap_or(*first);
        if contiguous {
            return if first == &last { format!("layer {first}") } else { format!("layers {first}-{last}") };
        }
    }
    if layers.len() == 1 { format!("layer {}", layers[0]) } else { format!("layers {}", layers.join(", ")) }
}

/// Scientific notation with two significant digits, as the evidence prints.
pub fn sci(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let s = format!("{v:.1e}");
    s.replace("e0", "").replace(".0e", "e")
}

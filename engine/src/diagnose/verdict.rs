//! A verdict: what is wrong (or that nothing is), where, the rule that fired
//! with its thresholds, the measured evidence, and what to change.
use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Inputs far from unit scale: the cause of the first layer's trouble.
    InputScale,
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
    /// Gradient norms that grow while nothing shows harm: a note, not a failure.
    GradientGrowth,
    Healthy,
    NotEnoughData,
}

impl Kind {
    /// Every kind, in the order of the enum.
    pub const ALL: [Kind; 14] = [
        Kind::InputScale,
        Kind::NonFinite,
        Kind::Exploding,
        Kind::DeadUnits,
        Kind::Vanishing,
        Kind::VanishingOverTime,
        Kind::Saturation,
        Kind::UpdateRatioLow,
        Kind::UpdateRatioHigh,
        Kind::ClippingTooAggressive,
        Kind::ClippingNeverActs,
        Kind::GradientGrowth,
        Kind::Healthy,
        Kind::NotEnoughData,
    ];

    /// The snake-case name, as scenario files and JSON write it (`dead_units`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::InputScale => "input_scale",
            Kind::NonFinite => "non_finite",
            Kind::Exploding => "exploding",
            Kind::DeadUnits => "dead_units",
            Kind::Vanishing => "vanishing",
            Kind::VanishingOverTime => "vanishing_over_time",
            Kind::Saturation => "saturation",
            Kind::UpdateRatioLow => "update_ratio_low",
            Kind::UpdateRatioHigh => "update_ratio_high",
            Kind::ClippingTooAggressive => "clipping_too_aggressive",
            Kind::ClippingNeverActs => "clipping_never_acts",
            Kind::GradientGrowth => "gradient_growth",
            Kind::Healthy => "healthy",
            Kind::NotEnoughData => "not_enough_data",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Failure kinds; `Healthy`, `ClippingNeverActs` (informational) and
    /// `NotEnoughData` are not failures.
    pub fn is_failure(self) -> bool {
        !matches!(self, Kind::Healthy | Kind::ClippingNeverActs | Kind::GradientGrowth | Kind::NotEnoughData)
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::InputScale => "unscaled inputs",
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
            Kind::GradientGrowth => "gradient growth (note)",
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

/// Two significant digits, as the evidence prints them: plain between 0.01 and 1000 (`0.01`, `1.9`,
/// `11`, `250`), scientific outside (`3e-7`, `1.3e-4`, `8.5e20`).
pub fn sci(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let s = format!("{v:.1e}");
    // Decide on the rounded value, so 0.0099999 (a clipped f32 norm) prints as 0.01.
    let rounded: f64 = s.parse().unwrap_or(v);
    if (1e-2..1e3).contains(&rounded.abs()) {
        let decimals = (1 - rounded.abs().log10().floor() as i32).max(0) as usize;
        let p = format!("{rounded:.decimals$}");
        return if p.contains('.') { p.trim_end_matches('0').trim_end_matches('.').to_string() } else { p };
    }
    s.replace("e0", "").replace(".0e", "e")
}

#[cfg(test)]
mod tests {
    use super::sci;

    #[test]
    fn two_significant_digits_plain_in_the_middle_scientific_outside() {
        let cases = [
            (0.01, "0.01"),
            (0.009_999_9, "0.01"),
            (999.7, "1e3"),
            (1.94, "1.9"),
            (2.0, "2"),
            (11.2, "11"),
            (250.0, "250"),
            (0.64, "0.64"),
            (9.96, "10"),
            (-0.5, "-0.5"),
            (1e3, "1e3"),
            (3e-7, "3e-7"),
            (1.24e-4, "1.2e-4"),
            (8.5e20, "8.5e20"),
            (0.0, "0"),
        ];
        for (v, want) in cases {
            assert_eq!(sci(v), want, "{v}");
        }
    }
}

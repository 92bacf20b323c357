//! Key figures declared in a scenario (`[[figures]]`): each reads one number per run from the run's
//! records (a metric at a step and a layer, optionally reduced over several cells and divided by
//! another selection), and the runner reports the median over seeds with the min and max. A figure
//! may instead be the ratio of two other figures (`ratio_of`), e.g. one variant's against another's.
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Which step or which layer: `"first"`, `"last"`, `"all"`, a number (a step, or a layer's position
/// from 1 as in `3:dense`), or, for layers, `"*"` (the whole-network rows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pick {
    First,
    Last,
    All,
    At(f64),
    Global,
}

impl<'de> Deserialize<'de> for Pick {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(f64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Pick::At(n)),
            Raw::S(s) => match s.as_str() {
                "first" => Ok(Pick::First),
                "last" => Ok(Pick::Last),
                "all" => Ok(Pick::All),
                "*" => Ok(Pick::Global),
                _ => Err(D::Error::custom(format!(
                    "unknown pick `{s}`, expected \"first\", \"last\", \"all\", \"*\" (layers) or a number"
                ))),
            },
        }
    }
}

/// How the selected cells (in step order, then layer order) become one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FigureReduce {
    Max,
    Min,
    Mean,
    Median,
    Sum,
    Count,
    /// How many cells exceed the threshold.
    CountAbove(f64),
    /// The step of the first cell (e.g. where a run stopped).
    FirstStep,
    /// The step of the first cell above the threshold.
    FirstStepAbove(f64),
    /// The largest absolute value.
    MaxAbs,
    /// The share of values within ±x.
    ShareWithin(f64),
    /// The first cell over the last (e.g. how much of the last time step's gradient reaches the first).
    FirstOverLast,
}

impl FigureReduce {
    fn parse(s: &str) -> Option<FigureReduce> {
        let arg = |name: &str| {
            s.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')?.trim().parse::<f64>().ok()
        };
        Some(match s {
            "max" => FigureReduce::Max,
            "min" => FigureReduce::Min,
            "mean" => FigureReduce::Mean,
            "median" => FigureReduce::Median,
            "sum" => FigureReduce::Sum,
            "count" => FigureReduce::Count,
            "first_step" => FigureReduce::FirstStep,
            "max_abs" => FigureReduce::MaxAbs,
            "first_over_last" => FigureReduce::FirstOverLast,
            _ => match (arg("count_above"), arg("share_within")) {
                (Some(x), _) => FigureReduce::CountAbove(x),
                (_, Some(x)) => FigureReduce::ShareWithin(x),
                _ => FigureReduce::FirstStepAbove(arg("first_step_above")?),
            },
        })
    }
}

impl<'de> Deserialize<'de> for FigureReduce {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FigureReduce::parse(&s).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown reduce `{s}`, expected max, min, mean, median, sum, count, count_above(X), \
                 first_step, first_step_above(X), max_abs, share_within(X) or first_over_last"
            ))
        })
    }
}

/// Cells of one run's records: a metric, at which steps, which layers and (optionally) which
/// coordinates of the `point` column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub metric: Option<String>,
    /// Default: `"last"`, or `"all"` when the figure has a `reduce`.
    pub step: Option<Pick>,
    /// Default: `"*"` (the whole-network rows).
    pub layer: Option<Pick>,
    /// Only rows at these coordinates (default: any).
    #[serde(default)]
    pub point: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureSpec {
    /// The key figure's key; per-run figures get `.VARIANT` (and `.VARIANT.min`, `.VARIANT.max`).
    pub key: String,
    /// What it is, in words (the page's label).
    pub what: String,
    pub metric: Option<String>,
    pub step: Option<Pick>,
    pub layer: Option<Pick>,
    #[serde(default)]
    pub point: BTreeMap<String, f64>,
    pub reduce: Option<FigureReduce>,
    /// A denominator: the same selection with these fields replaced (and reduced the same way).
    pub over: Option<Selection>,
    /// Instead of a selection: the ratio of two key figures, `["grad_h1.a", "grad_h1.b"]`.
    pub ratio_of: Option<[String; 2]>,
    /// One figure for the whole scenario instead of one per variant: each variant's median over seeds,
    /// reduced across the variants (e.g. `max_abs`, `share_within(0.1)`).
    pub across: Option<FigureReduce>,
    /// Only these variants (default: every variant that has the cells).
    #[serde(default)]
    pub variants: Vec<String>,
    /// One figure per value of this coordinate of the records' `point` column (a sweep's, e.g. `T`):
    /// `KEY_T10.VARIANT` reads the cells at `T = 10`.
    pub per: Option<String>,
}

impl FigureSpec {
    /// A figure the runner declares itself (its built-in figures use the same machinery).
    pub fn new(key: &str, what: &str, metric: &str, step: Pick, layer: Pick) -> FigureSpec {
        FigureSpec {
            key: key.into(),
            what: what.into(),
            metric: Some(metric.into()),
            step: Some(step),
            layer: Some(layer),
            point: BTreeMap::new(),
            reduce: None,
            over: None,
            ratio_of: None,
            across: None,
            variants: Vec::new(),
            per: None,
        }
    }

    pub fn over(mut self, layer: Pick) -> FigureSpec {
        self.over = Some(Selection { metric: None, step: None, layer: Some(layer), point: BTreeMap::new() });
        self
    }

    /// The numerator's cells (the same fields as a `Selection`).
    pub fn select(&self) -> Selection {
        let point = self.point.clone();
        Selection { metric: self.metric.clone(), step: self.step, layer: self.layer, point }
    }

    pub(super) fn check(&self) -> Result<(), String> {
        let k = &self.key;
        if k.is_empty() {
            return Err("a figure needs a non-empty `key`".into());
        }
        match (&self.ratio_of, &self.metric) {
            (Some(_), Some(_)) => Err(format!("figure `{k}`: give `metric` or `ratio_of`, not both")),
            (None, None) => Err(format!("figure `{k}`: needs a `metric` (or `ratio_of`)")),
            (Some(_), None)
                if self.over.is_some()
                    || self.reduce.is_some()
                    || self.across.is_some()
                    || self.per.is_some()
                    || !self.variants.is_empty() =>
            {
                Err(format!(
                    "figure `{k}`: `ratio_of` takes no `over`, `reduce`, `across`, `per` or `variants`"
                ))
            }
            _ if self.per.is_some() && self.across.is_some() => {
                Err(format!("figure `{k}`: give `per` or `across`, not both"))
            }
            _ => Ok(()),
        }
    }
}

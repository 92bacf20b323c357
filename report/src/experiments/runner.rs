//! What a runner is: a `kind`, and how a scenario of that kind becomes a plan that runs. A leaf of the
//! experiments: every runner imports it, it imports no runner (the registry in `mod.rs` lists them).
use crate::error::{ReportError, Result};
use crate::record::Output;
use crate::scenario::Scenario;

/// A scenario `kind`: how its scenario becomes a plan that runs.
pub struct Runner {
    pub kind: &'static str,
    pub about: &'static str,
    /// Reads the kind-specific parts of a scenario (`[params]` once, with `[params.quick]` laid over it in
    /// a quick run, and the variants' fields), checks every value, and returns the typed plan that runs.
    /// Nothing is measured here, so every scenario is prepared before any runs.
    pub prepare: for<'s> fn(&'s Scenario, &RunOptions) -> Result<Box<dyn Experiment + 's>>,
}

/// A scenario's validated plan: running it needs no further parsing or checking of the scenario file.
///
/// A plan runs as a fixed list of work units ([`Experiment::units`]); a unit's [`Part`] depends only on
/// the unit's coordinates (its seed is the scenario seed it names, every other random stream derived from
/// that), never on where or beside which other units it ran. [`Experiment::finish`] turns the parts, in
/// unit order, into the scenario's output, so a single run and a merge of shards (`report merge`) compute
/// the key figures the same way from the same parts. A runner that does not split is one unit.
pub trait Experiment: Send + Sync {
    /// The plan's units, in their fixed order (default: the whole scenario as one unit).
    fn units(&self) -> Vec<Unit> {
        vec![Unit::whole()]
    }
    /// Runs unit `i` of [`Experiment::units`].
    fn run_unit(&self, i: usize) -> Result<Part>;
    /// The scenario's output from every unit's part, in unit order.
    fn finish(&self, parts: Vec<Part>) -> Result<Output>;
}

/// Runs every unit of a plan (in parallel, collected in unit order) and finishes it.
pub fn run_plan(plan: &dyn Experiment) -> Result<Output> {
    use rayon::prelude::*;
    let n = plan.units().len();
    let parts = (0..n).into_par_iter().map(|i| plan.run_unit(i)).collect::<Result<Vec<_>>>()?;
    plan.finish(parts)
}

/// One unit of work: where it sits in the scenario's grid and what it is estimated to cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Its coordinates, `variant=relu_he seed=0`, `seed=1 sigma_w=1.5`, or `all` for a whole scenario.
    pub coords: String,
    /// Estimated cost in multiply-adds (floating-point work), used only to balance shards.
    pub cost: f64,
}

/// What a scenario that runs as one unit is estimated to cost: about a second of one core.
pub const WHOLE_SCENARIO_COST: f64 = 1e9;

impl Unit {
    pub fn whole() -> Self {
        Unit { coords: "all".into(), cost: WHOLE_SCENARIO_COST }
    }
}

/// What one unit hands to [`Experiment::finish`]: records in the one format, key figures (a runner that
/// does not split computes them in its one unit), the training steps it ran, and any numbers of the
/// runner's own that finishing needs (floats as [`crate::exact`] text, so a part read back from a shard's
/// file is the part that was written).
#[derive(Debug, Default)]
pub struct Part {
    pub records: Vec<crate::record::Records>,
    pub key_figures: Vec<crate::record::KeyFigure>,
    pub steps: u64,
    pub data: serde_json::Value,
}

/// A runner's plan is usually its typed values moved into a closure: `Box::new(move || run(&plan))`,
/// which runs as one unit.
impl<F: Fn() -> Result<Output> + Send + Sync> Experiment for F {
    fn run_unit(&self, _: usize) -> Result<Part> {
        let Output { records, key_figures, steps } = self()?;
        Ok(Part { records, key_figures, steps, data: serde_json::Value::Null })
    }

    fn finish(&self, parts: Vec<Part>) -> Result<Output> {
        let Some(Part { records, key_figures, steps, .. }) = parts.into_iter().next() else {
            return Err(ReportError::Usage("a one-unit plan finished without its unit".into()));
        };
        Ok(Output { records, key_figures, steps })
    }
}

/// Options every runner receives.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Smaller sizes for a fast look: each scenario's `[params.quick]` laid over its `[params]` (what is
    /// measured stays the same, only how much).
    pub quick: bool,
    /// Replaces every scenario's seed list with this one seed.
    pub seed: Option<u64>,
}

impl RunOptions {
    pub fn seeds(&self, s: &Scenario) -> Vec<u64> {
        self.seed.map_or_else(|| s.spec.seeds.clone(), |seed| vec![seed])
    }
}

/// Wraps an engine error with the scenario it happened in.
pub(crate) fn engine_err(s: &Scenario) -> impl Fn(engine::Error) -> ReportError + '_ {
    move |source| ReportError::Engine { scenario: s.name.clone(), source }
}

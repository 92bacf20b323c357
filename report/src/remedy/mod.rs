//! Verified remedies. Each failure verdict kind maps to an ordered list of concrete changes to the
//! scenario (`catalogue`), whose numbers are measured from the failing runs' records (`measure`) and
//! which are applied as edits of the file's own text (`patch`). `cure` tries them one at a time on the
//! same seeds and data and keeps the first after which the diagnosis finds nothing and the loss falls;
//! `fix` is `report fix` (the patched file and its `diff`), `panel` the page's before-and-after panel.
mod catalogue;
pub mod cure;
mod diff;
pub mod fix;
mod measure;
pub mod panel;
mod patch;

pub use catalogue::Remedy;
pub use cure::{Attempt, Cure, SeedResult};
pub use diff::unified;
pub use fix::{FixReport, fix};

pub use crate::scenario::RemedySpec;

/// Remedies tried per failing variant when neither the command line nor the scenario says.
pub const DEFAULT_MAX_REMEDIES: usize = 3;

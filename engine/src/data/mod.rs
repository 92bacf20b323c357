//! Data sets: the two real digit sets shipped under `data/` (validated on
//! load) and seeded synthetic generators. Every sample is a row of `features`
//! f32 values; targets are class labels or real-valued rows.

pub mod batch;
pub mod csv;
pub mod matrix;
pub mod random;
pub mod scale;
pub mod sequence;
pub mod shipped;
pub mod split;
pub mod synthetic;

pub use batch::Batches;
pub use matrix::{Matrix, MatrixView};
pub use scale::Standardizer;
pub use shipped::{data_dir, digits, mnist_5k};
pub use split::Split;

/// What a model is trained to predict.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// One class label per sample, each below `classes`.
    Classes { labels: Vec<usize>, classes: usize },
    /// `width` real values per sample, row-major.
    Values { y: Vec<f32>, width: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: String,
    /// Values per sample; `x` holds `len() × features` values, row-major.
    pub features: usize,
    pub x: Vec<f32>,
    pub targets: Targets,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.x.len().checked_div(self.features).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The inputs as a `len() × features` view.
    pub fn x_view(&self) -> MatrixView<'_, f32> {
        MatrixView::leading_rows(&self.x, self.features)
    }
}

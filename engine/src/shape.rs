//! Two-dimensional shapes: every tensor on the tape is a row-major matrix
//! (batch × features); a scalar is 1 × 1.
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Shape {
    pub rows: usize,
    pub cols: usize,
}

impl Shape {
    pub const SCALAR: Shape = Shape { rows: 1, cols: 1 };

    pub const fn new(rows: usize, cols: usize) -> Self {
        Shape { rows, cols }
    }

    pub const fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub const fn transposed(&self) -> Self {
        Shape { rows: self.cols, cols: self.rows }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.rows, self.cols)
    }
}

/// The axis a reduction runs over, numpy-style: `Rows` reduces over the rows
/// (the batch) and leaves `1 × cols`; `Cols` reduces over the columns and
/// leaves `rows × 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    Rows,
    Cols,
}

//! Row-major matrices of samples: [`Matrix`] owns its values, [`MatrixView`]
//! borrows them. Both know their rows and columns, so a data set is never a
//! flat slice with its width passed beside it.
use crate::error::{Error, Result};

/// `rows × cols` values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    rows: usize,
    cols: usize,
    values: Vec<T>,
}

/// A borrowed `rows × cols` matrix, row-major.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatrixView<'a, T> {
    rows: usize,
    cols: usize,
    values: &'a [T],
}

fn shape_error(len: usize, cols: usize) -> Error {
    Error::invalid("matrix", format!("{len} values are not a whole number of rows of {cols} columns"))
}

impl<T> Matrix<T> {
    /// Rows of `cols` values from `values`; an error when `cols` is 0 or does not divide the length.
    pub fn new(values: Vec<T>, cols: usize) -> Result<Self> {
        if cols == 0 || !values.len().is_multiple_of(cols) {
            return Err(shape_error(values.len(), cols));
        }
        Ok(Matrix { rows: values.len() / cols, cols, values })
    }

    /// One row per inner array.
    pub fn from_rows<const C: usize>(rows: &[[T; C]]) -> Result<Self>
    where
        T: Copy,
    {
        Matrix::new(rows.iter().flatten().copied().collect(), C)
    }

    pub fn view(&self) -> MatrixView<'_, T> {
        MatrixView { rows: self.rows, cols: self.cols, values: &self.values }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn values(&self) -> &[T] {
        &self.values
    }

    pub fn into_values(self) -> Vec<T> {
        self.values
    }
}

impl<'a, T> MatrixView<'a, T> {
    /// Rows of `cols` values of `values`; an error when `cols` is 0 or does not divide the length.
    pub fn new(values: &'a [T], cols: usize) -> Result<Self> {
        if cols == 0 || !values.len().is_multiple_of(cols) {
            return Err(shape_error(values.len(), cols));
        }
        Ok(MatrixView { rows: values.len() / cols, cols, values })
    }

    /// Whole rows of `cols` values, any remainder left out (checked by the
    /// caller that knows the expected row count, e.g. `fit`).
    pub(crate) fn leading_rows(values: &'a [T], cols: usize) -> Self {
        MatrixView { rows: values.len().checked_div(cols).unwrap_or(0), cols, values }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn values(&self) -> &'a [T] {
        self.values
    }

    /// The first `n` rows (all of them when there are fewer).
    pub fn head(&self, n: usize) -> Self {
        let rows = n.min(self.rows);
        MatrixView {
            rows,
            cols: self.cols,
            values: &self.values[..(rows * self.cols).min(self.values.len())],
        }
    }

    /// Row `i` (panics when out of range, like slice indexing).
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// Whether the values are exactly `rows × cols` (a view made by `new` always is).
    pub fn is_whole(&self) -> bool {
        self.cols > 0 && self.values.len() == self.rows * self.cols
    }
}

impl<'a, T> From<&'a Matrix<T>> for MatrixView<'a, T> {
    fn from(m: &'a Matrix<T>) -> Self {
        m.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked_and_rows_read_back() {
        let m = Matrix::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).unwrap();
        assert_eq!((m.rows(), m.cols()), (3, 2));
        assert_eq!(m.view().row(1), &[3.0, 4.0]);
        assert!(Matrix::new(vec![1.0; 5], 2).unwrap_err().to_string().contains("5 values"));
        assert!(MatrixView::new(&[1.0f32; 4], 0).is_err());
        let v = MatrixView::new(&[0u8; 0], 3).unwrap();
        assert_eq!((v.rows(), v.cols()), (0, 3));
        assert!(!MatrixView::leading_rows(&[1.0; 5], 2).is_whole());
        let head = m.view().head(2);
        assert_eq!((head.rows(), head.values()), (2, &[1.0, 2.0, 3.0, 4.0][..]));
        assert_eq!(m.view().head(9).rows(), 3);
    }
}

//! Per-feature standardisation: fit the mean and standard deviation on the
//! training rows only, then apply the same transform to train and test.
use crate::error::{Error, Result};

/// Below this standard deviation a feature counts as constant (e.g. MNIST's
/// always-black border pixels) and is only centred, not divided: dividing by
/// a near-zero spread would turn rounding noise into huge values.
pub const MIN_STD: f64 = 1e-8;

/// Per-feature `(x − mean) / std`, fitted on one set of rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    /// Population standard deviation (divides by n), or 1 for constant features.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits on `x` (`features` values per row, row-major); sums run in f64
    /// in row order, so the result does not depend on threads.
    pub fn fit(x: &[f32], features: usize) -> Result<Self> {
        let rows = rows_of(x, features, "standardize::fit")?;
        if rows == 0 {
            return Err(Error::invalid("standardize::fit", "no rows to fit on"));
        }
        let mut mean = vec![0.0f64; features];
        for row in x.chunks_exact(features) {
            mean.iter_mut().zip(row).for_each(|(m, &v)| *m += f64::from(v));
        }
        mean.iter_mut().for_each(|m| *m /= rows as f64);
        // Two passes (mean first) avoid the cancellation of E[x²] − E[x]².
        let mut var = vec![0.0f64; features];
        for row in x.chunks_exact(features) {
            for ((s, &m), &v) in var.iter_mut().zip(&mean).zip(row) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        let std = var
            .iter()
            .map(|&s| {
                let sd = (s / rows as f64).sqrt();
                if sd > MIN_STD { sd as f32 } else { 1.0 }
            })
            .collect();
        if let Some(i) = mean.iter().position(|m| !m.is_finite()) {
            return Err(Error::NonFinite { pass: "standardize", place: format!("feature {i}") });
        }
        Ok(Self { mean: mean.iter().map(|&m| m as f32).collect(), std })
    }

    pub fn features(&self) -> usize {
        self.mean.len()
    }

    /// Standardises `x` in place (any number of rows of the fitted width).
    pub fn apply(&self, x: &mut [f32]) -> Result<()> {
        let f = self.features();
        rows_of(x, f, "standardize::apply")?;
        for row in x.chunks_exact_mut(f) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }
}

fn rows_of(x: &[f32], features: usize, op: &'static str) -> Result<usize> {
    if x.len().checked_rem(features) != Some(0) {
        return Err(Error::invalid(
            op,
            format!("{} values are not whole rows of {features} features", x.len()),
        ));
    }
    Ok(x.len() / features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_rows_get_zero_mean_unit_std() {
        // Feature 0: 1,2,3,4; feature 1: constant 7; feature 2: 10,10,30,30.
        let train = [1.0, 7.0, 10.0, 2.0, 7.0, 10.0, 3.0, 7.0, 30.0, 4.0, 7.0, 30.0];
        let s = Standardizer::fit(&train, 3).unwrap();
        assert_eq!(s.mean, vec![2.5, 7.0, 20.0]);
        assert!((s.std[0] - 1.25f32.sqrt()).abs() < 1e-6);
        assert_eq!(s.std[1], 1.0, "constant feature only centred");
        assert_eq!(s.std[2], 10.0);
        let mut x = train;
        s.apply(&mut x).unwrap();
        for f in 0..3 {
            let col: Vec<f64> = x.iter().skip(f).step_by(3).map(|&v| f64::from(v)).collect();
            let mean = col.iter().sum::<f64>() / 4.0;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
            assert!(mean.abs() < 1e-6, "feature {f} mean {mean}");
            let want = if f == 1 { 0.0 } else { 1.0 };
            assert!((var - want).abs() < 1e-5, "feature {f} variance {var}");
        }
    }

    #[test]
    fn test_rows_use_the_training_statistics() {
        let s = Standardizer::fit(&[0.0, 2.0], 1).unwrap();
        let mut test = [5.0, -1.0];
        s.apply(&mut test).unwrap();
        assert_eq!(test, [4.0, -2.0]);
    }

    #[test]
    fn ragged_or_empty_input_is_an_error() {
        assert!(Standardizer::fit(&[], 3).is_err());
        assert!(Standardizer::fit(&[1.0, 2.0], 0).is_err());
        assert!(Standardizer::fit(&[1.0, 2.0], 3).unwrap_err().to_string().contains("not whole rows of 3"));
        let s = Standardizer::fit(&[1.0, 2.0], 2).unwrap();
        assert!(s.apply(&mut [1.0, 2.0, 3.0]).is_err());
        assert!(Standardizer::fit(&[f32::INFINITY, 1.0], 1).is_err());
    }
}

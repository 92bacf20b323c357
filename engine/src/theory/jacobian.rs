//! The input–output Jacobian `J = ∂x_L/∂x₀` of a random deep network at
//! initialisation (Pennington, Schoenholz & Ganguli 2017), measured with the
//! tape (one reverse pass per output), and its singular-value spectrum via
//! nalgebra's SVD. Mean-field theory predicts `mean(s²) = ‖J‖²_F / n ≈ χ₁^L`
//! for equal widths `n` and an input at the variance fixed point; dynamical
//! isometry is all `s` near 1, which orthogonal weights give at criticality.
use super::network::DeepNet;
use crate::error::{Error, Result};
use crate::tape::Tape;
use nalgebra::DMatrix;

/// A dense row-major `rows × cols` Jacobian: `data[i·cols + j] = ∂outᵢ/∂inⱼ`.
#[derive(Clone, Debug)]
pub struct Jacobian {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Jacobian {
    /// Singular values, largest first.
    pub fn singular_values(&self) -> Vec<f64> {
        let m = DMatrix::from_row_slice(self.rows, self.cols, &self.data);
        let mut s: Vec<f64> = m.singular_values().iter().copied().collect();
        s.sort_by(|a, b| b.total_cmp(a));
        s
    }

    /// `‖J‖²_F`.
    pub fn frobenius_sq(&self) -> f64 {
        self.data.iter().map(|v| v * v).sum()
    }
}

impl DeepNet {
    /// `∂x_L/∂x₀` at the single input `x0` (`widths[0]` values), where
    /// `x_L = φ(h_L)`: row `i` is the input gradient of a backward pass seeded
    /// with the unit vector `eᵢ` at the output.
    pub fn jacobian(&self, x0: &[f64]) -> Result<Jacobian> {
        let (n_in, n_out) = (self.widths[0], *self.widths.last().expect("≥ 2 widths"));
        if x0.len() != n_in {
            return Err(Error::invalid(
                "DeepNet::jacobian",
                format!("input needs {n_in} values, got {}", x0.len()),
            ));
        }
        let mut tape = Tape::new();
        let rec = self.record(&mut tape, x0, 1)?;
        let mut data = Vec::with_capacity(n_out * n_in);
        let mut seed = vec![0.0; n_out];
        for i in 0..n_out {
            seed[i] = 1.0;
            tape.backward_with_seed(rec.output, &seed)?;
            seed[i] = 0.0;
            data.extend_from_slice(tape.grad(rec.input).expect("input leaf carries a gradient"));
        }
        Ok(Jacobian { rows: n_out, cols: n_in, data })
    }
}

/// Summary of a singular-value spectrum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrumStats {
    pub count: usize,
    /// `mean(s²)`, the quantity mean-field theory predicts (`χ₁^L`).
    pub mean_sq: f64,
    pub max: f64,
    pub min: f64,
    /// `log10(max/min)`, with `min` raised to the SVD's resolution floor
    /// `max·count·ε` (singular values below it are rounding noise).
    pub log10_spread: f64,
    /// Standard deviation of `log10 s`, each `s` raised to the same floor.
    pub log10_std: f64,
    /// How many singular values fell below the floor.
    pub unresolved: usize,
}

impl SpectrumStats {
    pub fn of(s: &[f64]) -> Result<Self> {
        if s.is_empty() || s.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::invalid("SpectrumStats::of", "need ≥ 1 finite, non-negative singular value"));
        }
        let n = s.len() as f64;
        let max = s.iter().copied().fold(f64::MIN, f64::max);
        let min = s.iter().copied().fold(f64::MAX, f64::min);
        // An SVD is backward stable: each singular value is good to ~ε·max.
        let floor = (max * n * f64::EPSILON).max(f64::MIN_POSITIVE);
        let logs: Vec<f64> = s.iter().map(|v| v.max(floor).log10()).collect();
        let mean_log = logs.iter().sum::<f64>() / n;
        let log10_std = (logs.iter().map(|l| (l - mean_log).powi(2)).sum::<f64>() / n).sqrt();
        Ok(SpectrumStats {
            count: s.len(),
            mean_sq: s.iter().map(|v| v * v).sum::<f64>() / n,
            max,
            min,
            log10_spread: (max / min.max(floor)).log10(),
            log10_std,
            unresolved: s.iter().filter(|v| **v < floor).count(),
        })
    }
}

/// Counts of `values` in `bins` equal bins over `[lo, hi)`; values outside
/// are clamped into the end bins so that the counts always sum to `values.len()`.
pub fn histogram(values: &[f64], bins: usize, lo: f64, hi: f64) -> Result<Vec<usize>> {
    if bins == 0 || !lo.is_finite() || !hi.is_finite() || lo >= hi {
        return Err(Error::invalid(
            "histogram",
            format!("need bins ≥ 1 and finite lo < hi, got {bins}, [{lo}, {hi})"),
        ));
    }
    let mut counts = vec![0; bins];
    let width = (hi - lo) / bins as f64;
    for &v in values {
        let k = ((v - lo) / width).floor();
        // NaN and −∞ land in the first bin, +∞ in the last.
        let k = if k.is_nan() { 0 } else { k.clamp(0.0, (bins - 1) as f64) as usize };
        counts[k] += 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Activation;

    #[test]
    fn jacobian_of_a_linear_net_is_the_weight_product() {
        // widths 2 → 3 → 2, linear: J = (W₁W₂)ᵀ in the row-vector convention.
        let w1 = vec![1.0, 2.0, 0.5, -1.0, 0.0, 3.0];
        let w2 = vec![1.0, 0.0, -2.0, 1.0, 0.5, 0.25];
        let net = DeepNet::from_parts(
            &[2, 3, 2],
            Activation::Linear,
            vec![w1.clone(), w2.clone()],
            vec![vec![0.1; 3], vec![0.2; 2]],
        )
        .unwrap();
        let j = net.jacobian(&[0.3, -0.7]).unwrap();
        let a = DMatrix::from_row_slice(2, 3, &w1) * DMatrix::from_row_slice(3, 2, &w2);
        for i in 0..2 {
            for k in 0..2 {
                assert!((j.data[i * 2 + k] - a[(k, i)]).abs() < 1e-14, "J[{i},{k}]");
            }
        }
    }

    #[test]
    fn stats_and_histogram() {
        let st = SpectrumStats::of(&[0.1, 1.0, 10.0]).unwrap();
        assert!((st.log10_spread - 2.0).abs() < 1e-12 && (st.mean_sq - 101.01 / 3.0).abs() < 1e-12);
        assert!((st.log10_std - (2.0f64 / 3.0).sqrt()).abs() < 1e-12 && st.unresolved == 0);
        // A zero singular value sits at the floor 2·ε·1, not at −∞.
        let st = SpectrumStats::of(&[1.0, 0.0]).unwrap();
        assert!(st.unresolved == 1 && (st.log10_spread + (2.0 * f64::EPSILON).log10()).abs() < 1e-12);
        assert_eq!(histogram(&[-5.0, 0.1, 0.6, 0.99, 7.0], 2, 0.0, 1.0).unwrap(), vec![2, 3]);
        assert!(histogram(&[1.0], 0, 0.0, 1.0).is_err());
        assert!(SpectrumStats::of(&[]).is_err());
    }
}

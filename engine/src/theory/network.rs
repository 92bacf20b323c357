//! Random deep fully connected networks at initialisation, recorded on the
//! engine's own tape, to hold the mean-field predictions against: per-layer
//! pre-activation variances and backpropagated gradient norms.
//!
//! Layer `l` computes `hₗ = xₗ₋₁·Wₗ + bₗ`, `xₗ = φ(hₗ)` on a batch of row
//! vectors; `Wₗ` is `fan_in × fan_out`, row-major, as the tape's matmul takes it.
use crate::data::random::normal;
use crate::error::{Error, Result};
use crate::init::Initializer;
use crate::kernels::Activation;
use crate::shape::Shape;
use crate::tape::{NodeId, Tape};
use rand_chacha::ChaCha8Rng;

/// How the weight matrices are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightKind {
    /// `Wᵢⱼ ~ N(0, σ_w²/fan_in)`.
    Gaussian,
    /// `σ_w·Q`, `Q` (semi-)orthogonal from the QR decomposition of a Gaussian
    /// matrix with the signs of `diag(R)` folded in, so `Q` is Haar-distributed.
    /// For square layers `‖xW‖ = σ_w‖x‖`, matching the Gaussian case on average.
    Orthogonal,
}

/// `rows × cols` (row-major) of `N(0, std²)` draws, from the shared sampler.
pub fn gaussian_matrix(rows: usize, cols: usize, std: f64, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..rows * cols).map(|_| std * normal(rng)).collect()
}

/// A Haar (semi-)orthogonal `rows × cols` matrix times `gain`, row-major: its
/// columns are orthonormal when `rows ≥ cols`, its rows otherwise. The
/// `orthogonal(gain)` initialiser's draw (QR of a Gaussian matrix with the
/// signs of `diag(R)` folded in, which is what makes `Q` Haar). A non-finite
/// `gain` is an error.
pub fn orthogonal_matrix(rows: usize, cols: usize, gain: f64, rng: &mut ChaCha8Rng) -> Result<Vec<f64>> {
    Initializer::Orthogonal { gain }.sample(Shape::new(rows, cols), rng)
}

/// A deep network's parameters: `weights[l]` is `widths[l] × widths[l+1]`.
#[derive(Clone, Debug)]
pub struct DeepNet {
    pub widths: Vec<usize>,
    pub act: Activation,
    pub weights: Vec<Vec<f64>>,
    pub biases: Vec<Vec<f64>>,
}

/// The ids of one recorded forward pass.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub input: NodeId,
    /// `h₁ … h_L`, the pre-activations.
    pub pre: Vec<NodeId>,
    /// `x_L = φ(h_L)`.
    pub output: NodeId,
}

impl DeepNet {
    /// Checks that the parameter sizes fit `widths` (input width first).
    pub fn from_parts(
        widths: &[usize],
        act: Activation,
        weights: Vec<Vec<f64>>,
        biases: Vec<Vec<f64>>,
    ) -> Result<Self> {
        const OP: &str = "DeepNet::from_parts";
        if widths.len() < 2 || widths.contains(&0) {
            return Err(Error::invalid(OP, format!("need ≥ 2 positive widths, got {widths:?}")));
        }
        let layers = widths.len() - 1;
        if weights.len() != layers || biases.len() != layers {
            return Err(Error::invalid(
                OP,
                format!(
                    "{layers} layers need {layers} weights and biases, got {} and {}",
                    weights.len(),
                    biases.len()
                ),
            ));
        }
        for l in 0..layers {
            let (n, m) = (widths[l], widths[l + 1]);
            if weights[l].len() != n * m || biases[l].len() != m {
                return Err(Error::invalid(
                    OP,
                    format!(
                        "layer {}: weight needs {n}×{m} = {} values and bias {m}, got {} and {}",
                        l + 1,
                        n * m,
                        weights[l].len(),
                        biases[l].len()
                    ),
                ));
            }
        }
        Ok(DeepNet { widths: widths.to_vec(), act, weights, biases })
    }

    /// Weights by `kind` with scale σ_w, biases `N(0, σ_b²)`, all from `rng`.
    pub fn random(
        widths: &[usize],
        act: Activation,
        sigma_w: f64,
        sigma_b: f64,
        kind: WeightKind,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        if !(sigma_w.is_finite() && sigma_w >= 0.0 && sigma_b.is_finite() && sigma_b >= 0.0) {
            return Err(Error::invalid(
                "DeepNet::random",
                format!("sigma_w and sigma_b must be finite and ≥ 0, got {sigma_w}, {sigma_b}"),
            ));
        }
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for pair in widths.windows(2) {
            let (n, m) = (pair[0], pair[1]);
            weights.push(match kind {
                WeightKind::Gaussian => gaussian_matrix(n, m, sigma_w / (n as f64).sqrt(), rng),
                WeightKind::Orthogonal => orthogonal_matrix(n, m, sigma_w, rng)?,
            });
            biases.push(gaussian_matrix(1, m, sigma_b, rng));
        }
        Self::from_parts(widths, act, weights, biases)
    }

    pub fn depth(&self) -> usize {
        self.widths.len() - 1
    }

    /// Records the forward pass of a `batch × widths[0]` input on `tape`; the
    /// input is a gradient-carrying leaf so every `hₗ` receives a gradient.
    pub fn record(&self, tape: &mut Tape<f64>, x: &[f64], batch: usize) -> Result<Recorded> {
        let input = tape.param(Shape::new(batch, self.widths[0]), x)?;
        let mut cur = input;
        let mut pre = Vec::with_capacity(self.depth());
        for l in 0..self.depth() {
            let (n, m) = (self.widths[l], self.widths[l + 1]);
            let w = tape.input(Shape::new(n, m), &self.weights[l])?;
            let b = tape.input(Shape::new(1, m), &self.biases[l])?;
            let z = tape.matmul(cur, w)?;
            let h = tape.add(z, b)?;
            pre.push(h);
            cur = tape.act(h, self.act)?;
        }
        Ok(Recorded { input, pre, output: cur })
    }

    /// Mean of `hₗ²` over batch and units, `l = 1..=L`: the measured `qₗ`.
    pub fn pre_activation_variances(&self, x: &[f64], batch: usize) -> Result<Vec<f64>> {
        let mut tape = Tape::new();
        let rec = self.record(&mut tape, x, batch)?;
        Ok(rec.pre.iter().map(|&h| mean_square(tape.value(h))).collect())
    }

    /// `‖∂L/∂hₗ‖` (Frobenius over the batch), `l = 1..=L`, for the loss
    /// `L = ⟨g, h_L⟩`, i.e. one backward pass seeded with `∂L/∂h_L = g`.
    pub fn gradient_norms(&self, x: &[f64], batch: usize, g: &[f64]) -> Result<Vec<f64>> {
        let mut tape = Tape::new();
        let rec = self.record(&mut tape, x, batch)?;
        let top = *rec.pre.last().expect("depth ≥ 1");
        tape.backward_with_seed(top, g)?;
        rec.pre
            .iter()
            .enumerate()
            .map(|(l, &h)| {
                let gh = tape.grad(h).ok_or_else(|| {
                    Error::invalid("DeepNet::gradient_norms", format!("no gradient reached h_{}", l + 1))
                })?;
                Ok(gh.iter().map(|v| v * v).sum::<f64>().sqrt())
            })
            .collect()
    }
}

pub(crate) fn mean_square(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;
    use rand_core::SeedableRng;

    #[test]
    fn orthogonal_matrices_are_orthogonal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (r, c) in [(7, 7), (9, 4), (4, 9)] {
            let w = orthogonal_matrix(r, c, 2.0, &mut rng).unwrap();
            let m = DMatrix::from_row_slice(r, c, &w);
            let gram = if r >= c { m.transpose() * &m } else { &m * m.transpose() };
            let k = r.min(c);
            let err = (gram - DMatrix::<f64>::identity(k, k) * 4.0).abs().max();
            assert!(err < 1e-12, "{r}×{c}: ‖WᵀW − 4I‖∞ = {err}");
        }
        assert!(orthogonal_matrix(3, 3, f64::NAN, &mut rng).is_err());
    }

    #[test]
    fn normal_sampler_has_unit_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let v = gaussian_matrix(1, 200_000, 1.0, &mut rng);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = mean_square(&v) - mean * mean;
        let kurt = v.iter().map(|x| x.powi(4)).sum::<f64>() / v.len() as f64;
        // Standard errors: mean 0.0022, variance 0.0032, fourth moment 0.021.
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.015 && (kurt - 3.0).abs() < 0.1,
            "{mean} {var} {kurt}"
        );
    }

    #[test]
    fn from_parts_rejects_wrong_sizes() {
        let act = Activation::Tanh;
        assert!(DeepNet::from_parts(&[2, 3], act, vec![vec![0.0; 5]], vec![vec![0.0; 3]]).is_err());
        assert!(DeepNet::from_parts(&[2, 3], act, vec![vec![0.0; 6]], vec![vec![0.0; 2]]).is_err());
        assert!(DeepNet::from_parts(&[2], act, vec![], vec![]).is_err());
        assert!(DeepNet::from_parts(&[2, 3], act, vec![vec![0.0; 6]], vec![vec![0.0; 3]]).is_ok());
    }
}

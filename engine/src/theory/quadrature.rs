//! Gauss quadrature rules computed here: Gauss–Hermite (probabilists'
//! convention) for Gaussian expectations of smooth functions, and
//! Gauss–Legendre panels for the piecewise-smooth ones (activations with a
//! kink at 0), where a Hermite rule across the kink converges only slowly.
//!
//! Both rules come from Golub–Welsch (the eigenvalues of the Jacobi matrix of
//! the orthogonal polynomials, via nalgebra's `SymmetricEigen`), then each node
//! is polished by Newton steps on the polynomial's three-term recurrence and its
//! weight recomputed from the Christoffel formula: eigenvector components give
//! the tiny tail weights only to an absolute, not a relative, accuracy.
use crate::error::{Error, Result};
use nalgebra::{DMatrix, SymmetricEigen};

/// Largest rule we build: beyond it the tail weights (about e^{−2n}) leave f64.
pub const MAX_NODES: usize = 256;

/// Newton steps after Golub–Welsch; the eigenvalues are already close, two or
/// three steps reach the floating-point limit.
const NEWTON_STEPS: usize = 4;

/// Nodes of the monic Jacobi matrix with zero diagonal and off-diagonal `beta`.
fn jacobi_eigenvalues(beta: &[f64]) -> Vec<f64> {
    let n = beta.len() + 1;
    let mut m = DMatrix::<f64>::zeros(n, n);
    for (k, &b) in beta.iter().enumerate() {
        m[(k, k + 1)] = b;
        m[(k + 1, k)] = b;
    }
    let mut x: Vec<f64> = SymmetricEigen::new(m).eigenvalues.iter().copied().collect();
    x.sort_by(f64::total_cmp);
    x
}

fn check_n(op: &'static str, n: usize) -> Result<()> {
    if n == 0 || n > MAX_NODES {
        return Err(Error::invalid(op, format!("number of nodes must be in 1..={MAX_NODES}, got {n}")));
    }
    Ok(())
}

/// Gauss–Hermite rule in the probabilists' convention: for z ~ N(0, 1),
/// `E[g(z)] = ∫ g(z) e^{−z²/2}/√(2π) dz ≈ Σ wᵢ g(zᵢ)`, with `Σ wᵢ = 1`; exact
/// for polynomials of degree ≤ 2n − 1. (The physicists' nodes are `zᵢ/√2`.)
#[derive(Clone, Debug)]
pub struct GaussHermite {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

/// Orthonormal probabilists' Hermite polynomials `p_k = He_k/√k!` at `x`:
/// returns `(p_n, p_{n−1})`.
fn hermite_pair(n: usize, x: f64) -> (f64, f64) {
    let (mut prev, mut cur) = (0.0, 1.0);
    for k in 0..n {
        // x·He_k = He_{k+1} + k·He_{k−1}, normalised.
        let next = (x * cur - (k as f64).sqrt() * prev) / ((k + 1) as f64).sqrt();
        prev = cur;
        cur = next;
    }
    (cur, prev)
}

impl GaussHermite {
    pub fn new(n: usize) -> Result<Self> {
        check_n("GaussHermite::new", n)?;
        let beta: Vec<f64> = (1..n).map(|k| (k as f64).sqrt()).collect();
        let mut nodes = jacobi_eigenvalues(&beta);
        let nf = n as f64;
        let mut weights = Vec::with_capacity(n);
        for x in &mut nodes {
            for _ in 0..NEWTON_STEPS {
                // p_n' = √n·p_{n−1}
                let (p, q) = hermite_pair(n, *x);
                *x -= p / (nf.sqrt() * q);
            }
            // Christoffel–Darboux: 1/wᵢ = Σ_{k<n} p_k(xᵢ)² = n·p_{n−1}(xᵢ)².
            let (_, q) = hermite_pair(n, *x);
            weights.push(1.0 / (nf * q * q));
        }
        // The rule is symmetric; enforce it exactly so odd moments vanish.
        for i in 0..n / 2 {
            let j = n - 1 - i;
            let x = 0.5 * (nodes[j] - nodes[i]);
            let w = 0.5 * (weights[i] + weights[j]);
            (nodes[i], nodes[j], weights[i], weights[j]) = (-x, x, w, w);
        }
        if n % 2 == 1 {
            nodes[n / 2] = 0.0;
        }
        Ok(GaussHermite { nodes, weights })
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// `E[f(h)]` for `h ~ N(0, q)`, `q ≥ 0`.
    pub fn expect(&self, q: f64, f: impl Fn(f64) -> f64) -> f64 {
        let s = q.max(0.0).sqrt();
        self.nodes.iter().zip(&self.weights).map(|(&z, &w)| w * f(s * z)).sum()
    }

    /// `E[f(z₁, z₂)]` for independent standard normals (tensor-product rule).
    pub fn expect2(&self, f: impl Fn(f64, f64) -> f64) -> f64 {
        let mut total = 0.0;
        for (&z1, &w1) in self.nodes.iter().zip(&self.weights) {
            let row: f64 = self.nodes.iter().zip(&self.weights).map(|(&z2, &w2)| w2 * f(z1, z2)).sum();
            total += w1 * row;
        }
        total
    }
}

/// Gauss–Legendre rule on [−1, 1]: `∫ g(x) dx ≈ Σ wᵢ g(xᵢ)`, exact to degree 2n − 1.
#[derive(Clone, Debug)]
pub struct GaussLegendre {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

/// Legendre `(P_n(x), P_n'(x))` from `(k+1)P_{k+1} = (2k+1)x·P_k − k·P_{k−1}`.
fn legendre_with_derivative(n: usize, x: f64) -> (f64, f64) {
    let (mut prev, mut cur) = (0.0, 1.0);
    for k in 0..n {
        let kf = k as f64;
        let next = ((2.0 * kf + 1.0) * x * cur - kf * prev) / (kf + 1.0);
        prev = cur;
        cur = next;
    }
    // Nodes lie strictly inside (−1, 1), so 1 − x² > 0.
    let d = n as f64 * (prev - x * cur) / (1.0 - x * x);
    (cur, d)
}

impl GaussLegendre {
    pub fn new(n: usize) -> Result<Self> {
        check_n("GaussLegendre::new", n)?;
        let beta: Vec<f64> = (1..n)
            .map(|k| {
                let k = k as f64;
                k / (4.0 * k * k - 1.0).sqrt()
            })
            .collect();
        let mut nodes = jacobi_eigenvalues(&beta);
        let mut weights = Vec::with_capacity(n);
        for x in &mut nodes {
            for _ in 0..NEWTON_STEPS {
                let (p, d) = legendre_with_derivative(n, *x);
                *x -= p / d;
            }
            let (_, d) = legendre_with_derivative(n, *x);
            weights.push(2.0 / ((1.0 - *x * *x) * d * d));
        }
        Ok(GaussLegendre { nodes, weights })
    }

    /// Composite rule on `[a, b]` split into `panels` equal panels: `(node, weight)` pairs.
    pub fn composite(&self, a: f64, b: f64, panels: usize) -> Vec<(f64, f64)> {
        let h = (b - a) / panels as f64;
        let mut out = Vec::with_capacity(panels * self.nodes.len());
        for p in 0..panels {
            let mid = a + (p as f64 + 0.5) * h;
            for (&x, &w) in self.nodes.iter().zip(&self.weights) {
                out.push((mid + 0.5 * h * x, 0.5 * h * w));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hermite_weights_sum_to_one_and_nodes_are_roots() {
        for n in [1, 2, 5, 20, 64, 128] {
            let gh = GaussHermite::new(n).unwrap();
            let s: f64 = gh.weights.iter().sum();
            assert!((s - 1.0).abs() < 1e-13, "n={n}: Σw = {s}");
            for &x in &gh.nodes {
                let (p, q) = hermite_pair(n, x);
                assert!(p.abs() < 1e-9 * q.abs().max(1.0), "n={n}: p_n({x}) = {p}");
            }
        }
    }

    /// `E[h^k]` for `h ~ N(0, q)`: 0 for odd k, `(k−1)!!·q^{k/2}` for even k.
    fn normal_moment(k: u32, q: f64) -> f64 {
        if k % 2 == 1 {
            return 0.0;
        }
        (1..k).step_by(2).map(f64::from).product::<f64>() * q.powi(k as i32 / 2)
    }

    #[test]
    fn hermite_reproduces_normal_moments_up_to_degree_2n_minus_1() {
        for n in [3, 10, 32, 96] {
            let gh = GaussHermite::new(n).unwrap();
            for q in [0.3, 1.0, 2.5] {
                for k in 0..(2 * n as u32).min(24) {
                    let got = gh.expect(q, |h| h.powi(k as i32));
                    let want = normal_moment(k, q);
                    let scale = normal_moment(k + k % 2, q);
                    assert!((got - want).abs() <= 1e-12 * scale, "n={n} q={q} E[h^{k}] = {got}, want {want}");
                }
            }
        }
        // One degree past exactness the rule is off, so the test above can fail.
        let gh = GaussHermite::new(3).unwrap();
        let got = gh.expect(1.0, |h| h.powi(6));
        assert!((got - 15.0).abs() > 1.0, "E[z^6] with 3 nodes = {got}");
    }

    #[test]
    fn legendre_integrates_polynomials_exactly() {
        let gl = GaussLegendre::new(8).unwrap();
        for k in 0..16u32 {
            let got: f64 = gl.nodes.iter().zip(&gl.weights).map(|(&x, &w)| w * x.powi(k as i32)).sum();
            let want = if k % 2 == 1 { 0.0 } else { 2.0 / (k as f64 + 1.0) };
            assert!((got - want).abs() < 1e-14, "∫x^{k}: {got} vs {want}");
        }
        // Degree 2n is no longer exact: the test can fail.
        let got: f64 = gl.nodes.iter().zip(&gl.weights).map(|(&x, &w)| w * x.powi(16)).sum();
        assert!((got - 2.0 / 17.0).abs() > 1e-6);
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(GaussHermite::new(0).is_err());
        assert!(GaussLegendre::new(MAX_NODES + 1).is_err());
    }
}

//! Gaussian expectations in one and two dimensions for the mean-field maps,
//! by panels of Gauss–Legendre nodes with an edge on every kink and panels
//! graded towards the region where the activation bends.
//!
//! Why not Gauss–Hermite: for `E[tanh(√q z)²]` a 96-node Hermite rule is off
//! by 1e-11 at q = 1 but 6e-6 at q = 4 and 1e-2 at q = 25, because the
//! integrand turns into a step on the scale `1/√q` (and has poles that close
//! to the real axis); across a ReLU kink it converges only algebraically.
//! Panels whose width follows `1/√q` near the bend converge exponentially in
//! every case. The Hermite rule stays the tool for smooth, unscaled integrands.
use super::quadrature::GaussLegendre;
use crate::error::Result;

/// Cut-off in standard deviations: the Gaussian mass beyond it (≈ 4e-33) is
/// far below f64 resolution.
const RADIUS: f64 = 12.0;
/// Gauss–Legendre nodes per panel.
const PANEL_NODES: usize = 16;
/// Below this `√(1 − c²)` the two pre-activations are taken as equal.
const PERP_MIN: f64 = 1e-12;

const INV_SQRT_TAU: f64 = 0.398_942_280_401_432_7;

#[derive(Clone, Debug)]
pub struct Integrator {
    gl: GaussLegendre,
}

impl Integrator {
    pub fn new() -> Result<Self> {
        Ok(Integrator { gl: GaussLegendre::new(PANEL_NODES)? })
    }

    /// Panel edges on `[−R, R]`: unit panels on `[−4, 4]`, where the Gaussian
    /// holds its mass, width 2 beyond; plus an edge at `center` with panels of
    /// width `w = min(1, 1/scale)` next to it, doubling outwards (the
    /// activation bends within a few `1/scale` of `center`).
    fn edges(center: f64, scale: f64) -> Vec<f64> {
        const COARSE: [f64; 17] =
            [-12., -10., -8., -6., -4., -3., -2., -1., 0., 1., 2., 3., 4., 6., 8., 10., 12.];
        let mut e: Vec<f64> = COARSE.to_vec();
        if center.abs() < RADIUS {
            e.push(center);
            let mut w = if scale > 1.0 { 1.0 / scale } else { 1.0 };
            while w < 1.0 {
                e.push(center - w);
                e.push(center + w);
                w *= 2.0;
            }
        }
        e.retain(|x| x.abs() <= RADIUS);
        e.sort_by(f64::total_cmp);
        e.dedup_by(|a, b| (*a - *b).abs() < 1e-14);
        e
    }

    /// `∫ g(z)·φ(z) dz` over the panels of `edges(center, scale)`.
    fn gauss(&self, center: f64, scale: f64, g: impl Fn(f64) -> f64) -> f64 {
        let e = Self::edges(center, scale);
        let mut total = 0.0;
        for pair in e.windows(2) {
            let (mid, half) = (0.5 * (pair[0] + pair[1]), 0.5 * (pair[1] - pair[0]));
            for (&x, &w) in self.gl.nodes.iter().zip(&self.gl.weights) {
                let z = mid + half * x;
                total += half * w * INV_SQRT_TAU * (-0.5 * z * z).exp() * g(z);
            }
        }
        total
    }

    /// `E[g(h)]` for `h ~ N(0, q)`; `g` may have a kink at 0 and bends near 0.
    pub fn e1(&self, q: f64, g: impl Fn(f64) -> f64) -> f64 {
        let s = q.max(0.0).sqrt();
        self.gauss(0.0, s, |z| g(s * z))
    }

    /// `E[a(u₁)·b(u₂)]` for `u₁ = √q z₁`, `u₂ = √q(c z₁ + √(1−c²) z₂)`: the
    /// inner integral over `z₂` has its edge where `u₂ = 0`, the outer one at
    /// `z₁ = 0`. The inner result, `b` smoothed by a Gaussian of width
    /// `√q·√(1−c²)`, bends on the scale `√(1−c²)/|c|` in `z₁`: the outer panels
    /// are graded down to that scale too (`b` may be as sharp as a step).
    pub fn e2(&self, q: f64, c: f64, a: impl Fn(f64) -> f64, b: impl Fn(f64) -> f64) -> f64 {
        let s = q.max(0.0).sqrt();
        let c = c.clamp(-1.0, 1.0);
        let perp = (1.0 - c * c).sqrt();
        if perp < PERP_MIN {
            return self.gauss(0.0, s, |z| a(s * z) * b(s * c * z));
        }
        let outer = s.max((c.abs() / perp).min(1e8));
        self.gauss(0.0, outer, |z1| {
            let inner = self.gauss(-c * z1 / perp, s * perp, |z2| b(s * (c * z1 + perp * z2)));
            a(s * z1) * inner
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::quadrature::GaussHermite;
    use std::f64::consts::{PI, TAU};

    #[test]
    fn kinked_integrands_match_closed_forms() {
        let it = Integrator::new().unwrap();
        // Kinks at 0: E|h| = √(2q/π), E[max(h,0)³] = 2q^{3/2}/√(2π).
        for q in [1e-6, 1.0, 400.0] {
            let abs = it.e1(q, f64::abs);
            assert!((abs / (2.0 * q / PI).sqrt() - 1.0).abs() < 1e-13, "q={q}: {abs}");
            let cube = it.e1(q, |h| h.max(0.0).powi(3));
            assert!((cube / (2.0 * INV_SQRT_TAU * q.powf(1.5)) - 1.0).abs() < 1e-13, "q={q}: {cube}");
        }
        // Orthant probability P(u₁ > 0, u₂ > 0) = 1/4 + asin(c)/(2π).
        let step = |x: f64| f64::from(u8::from(x > 0.0));
        for c in [-0.95, 0.3, 0.999] {
            let p = it.e2(2.0, c, step, step);
            let want = 0.25 + f64::asin(c) / TAU;
            assert!((p - want).abs() < 1e-13, "c={c}: {p} vs {want}");
        }
    }

    #[test]
    fn smooth_integrands_agree_with_gauss_hermite_where_it_converges() {
        // At q = 1 a 128-node Hermite rule is accurate to ~1e-13 for tanh².
        let (it, gh) = (Integrator::new().unwrap(), GaussHermite::new(128).unwrap());
        let g = |h: f64| h.tanh().powi(2) + 0.1 * h.sin();
        let (a, b) = (it.e1(1.0, g), gh.expect(1.0, g));
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        let c: f64 = 0.6;
        let p = (1.0 - c * c).sqrt();
        let want = gh.expect2(|x, y| (0.9 * x).tanh() * (0.9 * (c * x + p * y)).tanh());
        let got = it.e2(1.0, c, |u| (0.9 * u).tanh(), |u| (0.9 * u).tanh());
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn saturating_integrand_at_large_variance() {
        // E[tanh(√q z)²] at q = 25, reference 0.8429617595625437 (mpmath, 30 digits).
        let it = Integrator::new().unwrap();
        let got = it.e1(25.0, |h| h.tanh().powi(2));
        assert!((got - 0.842_961_759_562_543_7).abs() < 1e-13, "{got}");
    }
}

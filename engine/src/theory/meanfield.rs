//! Mean-field theory of deep random networks (Poole et al. 2016, Schoenholz et
//! al. 2017): how the pre-activation variance, the correlation of two inputs
//! and the backpropagated gradient evolve with depth at initialisation.
//!
//! Network: `h₁ = W₁x + b₁`, `hₗ₊₁ = Wₗ₊₁φ(hₗ) + bₗ₊₁`, with `Wᵢⱼ ~ N(0, σ_w²/fan_in)`
//! and `bᵢ ~ N(0, σ_b²)`. In the wide limit every unit of `hₗ` is `N(0, qₗ)`:
//! - variance map `qₗ₊₁ = V(qₗ) = σ_w²·E[φ(√qₗ z)²] + σ_b²`, fixed point `q*`;
//! - gradient factor `χ₁ = σ_w²·E[φ'(√q* z)²]`: `E‖∂L/∂hₗ‖² = χ₁·E‖∂L/∂hₗ₊₁‖²`,
//!   so the *norm* ratio `‖∂L/∂hₗ‖ / ‖∂L/∂h_L‖ ≈ χ₁^((L−l)/2)` (the variance ratio
//!   is `χ₁^(L−l)`);
//! - correlation map `cₗ₊₁ = (σ_w²·E[φ(u₁)φ(u₂)] + σ_b²)/q*` with `u₁ = √q* z₁`,
//!   `u₂ = √q*(c z₁ + √(1−c²) z₂)`, fixed point `c*`, slope `χ_c = σ_w²·E[φ'(u₁)φ'(u₂)]`;
//! - depth scales `ξ_q = −1/ln χ_q` (`χ_q = V'(q*)`), `ξ_c = −1/ln χ_c(c*)` (equal to
//!   `−1/ln χ₁` in the ordered phase, where `c* = 1`), and the signed gradient
//!   scale `ξ_∇ = −1/ln χ₁`: gradient *variance* changes by `e^{−(L−l)/ξ_∇}`,
//!   vanishing when `ξ_∇ > 0`, exploding when `ξ_∇ < 0`.
//!
//! φ and φ' are the engine's own reference functions, so theory and
//! measurement differentiate the same activation.
use super::integrate::Integrator;
use crate::error::{Error, Result};
use crate::kernels::Activation;
use crate::kernels::activation::reference::{df, f};

/// The variance is said to diverge past this value.
pub const Q_MAX: f64 = 1e12;
/// Stand-in for `q → 0⁺`: quantities at `q* = 0` are taken as this limit, so
/// that e.g. ReLU's `χ₁` is `σ_w²/2` and not `σ_w²·φ'(0)²`.
pub const Q_MIN: f64 = 1e-200;
/// Layers the variance map is iterated before falling back to a bracketing
/// solve (an approach slower than this is algebraic: the network is marginal).
pub const MAX_LAYERS: usize = 1000;
/// Iteration stops when a layer changes `q` by less than this, relative to `max(q, 1)`.
const ITER_TOL: f64 = 1e-12;

/// Where the variance map goes from `q0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VarianceFixedPoint {
    /// A finite fixed point; `layers` is how many layers the iteration took to
    /// settle (within 1e-12 relative), `None` when it had not after
    /// [`MAX_LAYERS`] (a marginal, algebraic approach, e.g. tanh at σ_w = 1, σ_b = 0).
    Finite { q_star: f64, layers: Option<usize> },
    /// No finite fixed point: `q` grows without bound (past [`Q_MAX`] after
    /// `layers`, or, when `layers` is `None`, too slowly to get there within
    /// [`MAX_LAYERS`] but with nothing to stop it, e.g. ReLU at σ_w = √2, σ_b > 0).
    Divergent { layers: Option<usize>, last_q: f64 },
}

impl VarianceFixedPoint {
    pub fn q_star(&self) -> Option<f64> {
        match *self {
            VarianceFixedPoint::Finite { q_star, .. } => Some(q_star),
            VarianceFixedPoint::Divergent { .. } => None,
        }
    }
}

/// Everything the theory predicts at the variance fixed point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Analysis {
    pub q_star: f64,
    /// Layers the variance took to settle from `q0` (see [`VarianceFixedPoint`]).
    pub q_layers: Option<usize>,
    pub chi1: f64,
    /// `V'(q*)`, the rate at which `q` approaches `q*`.
    pub chi_q: f64,
    pub c_star: f64,
    pub chi_c: f64,
    pub xi_q: f64,
    pub xi_c: f64,
    /// Signed: `−1/ln χ₁` (∞ at `χ₁ = 1`).
    pub xi_grad: f64,
}

/// The mean-field maps of one (activation, σ_w, σ_b).
#[derive(Clone, Debug)]
pub struct MeanField {
    pub act: Activation,
    pub sigma_w: f64,
    pub sigma_b: f64,
    quad: Integrator,
}

/// `−1/ln χ`, infinite at `χ ≥ 1` for contracting scales.
fn depth_scale(chi: f64) -> f64 {
    if chi >= 1.0 { f64::INFINITY } else { -1.0 / chi.ln() }
}

impl MeanField {
    pub fn new(act: Activation, sigma_w: f64, sigma_b: f64) -> Result<Self> {
        if !(sigma_w.is_finite() && sigma_w > 0.0) {
            return Err(Error::invalid(
                "MeanField::new",
                format!("sigma_w must be finite and > 0, got {sigma_w}"),
            ));
        }
        if !(sigma_b.is_finite() && sigma_b >= 0.0) {
            return Err(Error::invalid(
                "MeanField::new",
                format!("sigma_b must be finite and ≥ 0, got {sigma_b}"),
            ));
        }
        if let Activation::LeakyRelu { alpha } | Activation::Elu { alpha } = act
            && !alpha.is_finite()
        {
            return Err(Error::invalid("MeanField::new", format!("{act}: alpha must be finite")));
        }
        Ok(MeanField { act, sigma_w, sigma_b, quad: Integrator::new()? })
    }

    fn phi(&self, x: f64) -> f64 {
        f(self.act, x)
    }

    fn dphi(&self, x: f64) -> f64 {
        df(self.act, x, f(self.act, x))
    }

    fn check_q(op: &'static str, q: f64) -> Result<()> {
        if q.is_finite() && q >= 0.0 {
            Ok(())
        } else {
            Err(Error::invalid(op, format!("variance must be finite and ≥ 0, got {q}")))
        }
    }

    /// `V(q) = σ_w²·E[φ(√q z)²] + σ_b²`.
    pub fn variance_map(&self, q: f64) -> f64 {
        let m = self.quad.e1(q, |h| self.phi(h).powi(2));
        self.sigma_w * self.sigma_w * m + self.sigma_b * self.sigma_b
    }

    /// `[q₁, …, q_depth]` from the first layer's pre-activation variance `q1`.
    pub fn variance_trajectory(&self, q1: f64, depth: usize) -> Result<Vec<f64>> {
        Self::check_q("MeanField::variance_trajectory", q1)?;
        let mut out = Vec::with_capacity(depth);
        let mut q = q1;
        for _ in 0..depth {
            out.push(q);
            q = self.variance_map(q);
        }
        Ok(out)
    }

    /// Iterates the variance map from `q0` (what a deep network does layer by
    /// layer), then pins the fixed point down by bisection on `V(q) − q`, so
    /// that a slow, marginal approach still yields `q*` to full precision.
    pub fn variance_fixed_point(&self, q0: f64) -> Result<VarianceFixedPoint> {
        Self::check_q("MeanField::variance_fixed_point", q0)?;
        let mut q = q0;
        for layer in 1..=MAX_LAYERS {
            let next = self.variance_map(q);
            if !next.is_finite() || next > Q_MAX {
                return Ok(VarianceFixedPoint::Divergent { layers: Some(layer), last_q: next });
            }
            let settled = (next - q).abs() <= ITER_TOL * next.max(1.0);
            q = next;
            if settled {
                return Ok(match self.solve_fixed_point(q) {
                    Some(q_star) => VarianceFixedPoint::Finite { q_star, layers: Some(layer) },
                    None => VarianceFixedPoint::Divergent { layers: None, last_q: q },
                });
            }
        }
        Ok(match self.solve_fixed_point(q) {
            Some(q_star) => VarianceFixedPoint::Finite { q_star, layers: None },
            None => VarianceFixedPoint::Divergent { layers: None, last_q: q },
        })
    }

    /// The fixed point the iteration from `q` moves towards: bracket it by
    /// doubling or halving in that direction (`V` is increasing for these
    /// activations, so the iteration cannot jump past it), then bisect.
    /// `None`: no finite one.
    fn solve_fixed_point(&self, q: f64) -> Option<f64> {
        // A direct comparison keeps full relative precision even at q ~ 1e-150,
        // where V(x) − x would underflow against an absolute tolerance.
        let above = |x: f64| self.variance_map(x) > x;
        let (mut lo, mut hi);
        if above(q) {
            lo = q;
            hi = q.max(Q_MIN);
            loop {
                hi *= 2.0;
                if hi > Q_MAX {
                    return None;
                }
                if !above(hi) {
                    break;
                }
                lo = hi;
            }
        } else {
            hi = q;
            lo = q;
            loop {
                lo *= 0.5;
                if lo < Q_MIN {
                    return Some(0.0);
                }
                if above(lo) {
                    break;
                }
                hi = lo;
            }
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if above(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(0.5 * (lo + hi))
    }

    /// `χ₁(q) = σ_w²·E[φ'(√q z)²]`, the per-layer factor of the gradient's
    /// squared norm at variance `q` (`q = 0` is read as `q → 0⁺`).
    pub fn chi1_at(&self, q: f64) -> f64 {
        self.sigma_w * self.sigma_w * self.quad.e1(q.max(Q_MIN), |h| self.dphi(h).powi(2))
    }

    /// `χ_q = V'(q) = σ_w²·E[φ(h)φ'(h)h]/q` (Stein's lemma turns the textbook
    /// `σ_w²·E[φ'² + φφ'']` into this, with no second derivative needed).
    pub fn chi_q_at(&self, q: f64) -> f64 {
        let q = q.max(Q_MIN);
        let m = self.quad.e1(q, |h| self.phi(h) * self.dphi(h) * h);
        self.sigma_w * self.sigma_w * m / q
    }

    /// `E[ψ(u₁)ψ(u₂)]` at variance `q` and correlation `c`.
    fn joint(&self, q: f64, c: f64, psi: impl Fn(f64) -> f64) -> f64 {
        self.quad.e2(q.max(Q_MIN), c, &psi, &psi)
    }

    /// The correlation map `C(c)` at variance `q` (normally `q*`).
    pub fn correlation_map(&self, q: f64, c: f64) -> f64 {
        let q = q.max(Q_MIN);
        let m = self.joint(q, c, |x| self.phi(x));
        (self.sigma_w * self.sigma_w * m + self.sigma_b * self.sigma_b) / q
    }

    /// `χ_c = C'(c) = σ_w²·E[φ'(u₁)φ'(u₂)]`; at `c = 1` it equals `χ₁`.
    pub fn chi_c_at(&self, q: f64, c: f64) -> f64 {
        self.sigma_w * self.sigma_w * self.joint(q, c, |x| self.dphi(x))
    }

    /// `[c₁, …, c_depth]` from `c1`, at fixed variance `q`.
    pub fn correlation_trajectory(&self, q: f64, c1: f64, depth: usize) -> Result<Vec<f64>> {
        Self::check_q("MeanField::correlation_trajectory", q)?;
        if !(-1.0..=1.0).contains(&c1) {
            return Err(Error::invalid("MeanField::correlation_trajectory", format!("c1 = {c1} ∉ [−1, 1]")));
        }
        let mut out = Vec::with_capacity(depth);
        let mut c = c1;
        for _ in 0..depth {
            out.push(c);
            c = self.correlation_map(q, c);
        }
        Ok(out)
    }

    /// The stable correlation fixed point at variance `q`: `1` in the ordered
    /// phase (`χ₁ ≤ 1`, all inputs end up aligned); below 1 in the chaotic
    /// phase, found by bisection on `C(c) − c` over `[0, 1)` (`C(0) ≥ 0` always,
    /// and `C(c) < c` just below 1 when `χ₁ > 1`).
    pub fn correlation_fixed_point(&self, q: f64) -> f64 {
        if self.chi1_at(q) <= 1.0 {
            return 1.0;
        }
        let g = |c: f64| self.correlation_map(q, c) - c;
        let g_lo = g(0.0);
        if g_lo <= 0.0 {
            return 0.0;
        }
        let mut hi = None;
        let mut delta = 1e-3;
        while delta >= 1e-12 {
            let v = g(1.0 - delta);
            if v < 0.0 {
                hi = Some((1.0 - delta, v));
                break;
            }
            delta *= 0.1;
        }
        // None: numerically indistinguishable from 1 (χ₁ barely above 1).
        let Some((b, g_hi)) = hi else { return 1.0 };
        illinois(g, (0.0, g_lo), (b, g_hi), 1e-14)
    }

    /// The predicted ‖∂L/∂hₗ‖ / ‖∂L/∂h_L‖ for `l = 1..=depth` with the first
    /// layer's variance `q1`, layer by layer along the variance trajectory:
    /// `∏_{k=l}^{L−1} √χ₁(q_k)`. At `q1 = q*` this is `χ₁^((L−l)/2)`.
    pub fn gradient_norm_ratios(&self, q1: f64, depth: usize) -> Result<Vec<f64>> {
        let qs = self.variance_trajectory(q1, depth)?;
        let mut out = vec![1.0; depth];
        for l in (0..depth.saturating_sub(1)).rev() {
            out[l] = out[l + 1] * self.chi1_at(qs[l]).sqrt();
        }
        Ok(out)
    }

    /// Fixed points, slopes and depth scales, starting the variance at `q0`.
    /// Errors when the variance has no finite fixed point (then nothing else is defined).
    pub fn analyse(&self, q0: f64) -> Result<Analysis> {
        let (q_star, q_layers) = match self.variance_fixed_point(q0)? {
            VarianceFixedPoint::Finite { q_star, layers } => (q_star, layers),
            VarianceFixedPoint::Divergent { layers, last_q } => {
                return Err(Error::invalid(
                    "MeanField::analyse",
                    format!(
                        "{} with sigma_w={}, sigma_b={}: the variance has no finite fixed point \
                         (q={last_q:.3e} after {} layers from q0={q0})",
                        self.act,
                        self.sigma_w,
                        self.sigma_b,
                        layers.map_or_else(|| format!("more than {MAX_LAYERS}"), |l| l.to_string())
                    ),
                ));
            }
        };
        let chi1 = self.chi1_at(q_star);
        let chi_q = self.chi_q_at(q_star);
        let c_star = self.correlation_fixed_point(q_star);
        let chi_c = self.chi_c_at(q_star, c_star);
        let xi_grad = if chi1 == 1.0 { f64::INFINITY } else { -1.0 / chi1.ln() };
        Ok(Analysis {
            q_star,
            q_layers,
            chi1,
            chi_q,
            c_star,
            chi_c,
            xi_q: depth_scale(chi_q),
            xi_c: depth_scale(chi_c),
            xi_grad,
        })
    }
}

/// Root of `g` in `[a, b]` where `g(a) > 0 > g(b)`: regula falsi with the
/// Illinois modification (superlinear, and the bracket is kept, so it cannot
/// wander off as a plain secant could). Each `C(c)` is a 2-D integral, so the
/// ~10 evaluations this takes instead of bisection's ~45 matter.
fn illinois(
    g: impl Fn(f64) -> f64,
    (mut a, mut ga): (f64, f64),
    (mut b, mut gb): (f64, f64),
    tol: f64,
) -> f64 {
    let mut side = 0i8;
    for _ in 0..100 {
        let c = (a * gb - b * ga) / (gb - ga);
        if !(c > a && c < b) || b - a <= tol {
            break;
        }
        let gc = g(c);
        if gc == 0.0 {
            return c;
        }
        if gc > 0.0 {
            (a, ga) = (c, gc);
            if side == 1 {
                gb *= 0.5;
            }
            side = 1;
        } else {
            (b, gb) = (c, gc);
            if side == -1 {
                ga *= 0.5;
            }
            side = -1;
        }
        if (b - a).abs() <= tol {
            break;
        }
    }
    (a * gb - b * ga) / (gb - ga)
}

/// `χ₁^((L−l)/2)`: the predicted gradient *norm* ratio ‖∂L/∂hₗ‖ / ‖∂L/∂h_L‖ at the fixed point.
pub fn gradient_norm_ratio(chi1: f64, l: usize, depth: usize) -> f64 {
    chi1.powf((depth as f64 - l as f64) / 2.0)
}

/// Whether `χ₁ > 1` at σ_w (a variance without finite fixed point counts as
/// exploding: the forward signal and, for these activations, the gradient grow),
/// with the `χ₁` it decided on (at `q*`, or at [`Q_MAX`] when `q` diverges).
fn chaotic(act: Activation, sigma_w: f64, sigma_b: f64) -> Result<(bool, f64)> {
    let mf = MeanField::new(act, sigma_w, sigma_b)?;
    Ok(match mf.solve_fixed_point(1.0) {
        Some(q) => {
            let chi1 = mf.chi1_at(q);
            (chi1 > 1.0, chi1)
        }
        None => (true, mf.chi1_at(Q_MAX)),
    })
}

/// The edge of chaos: the σ_w where `χ₁(q*(σ_w), σ_w) = 1` at the given σ_b,
/// by bisection inside `[lo, hi]` (which must straddle it), the variance
/// started at `q0 = 1`. Tanh at σ_b = 0 gives 1, ReLU gives √2 for any σ_b
/// (He initialisation). Errors when the switch found is not a `χ₁ = 1`
/// crossing: e.g. GELU at σ_b = 0 has an unstable variance fixed point, and
/// the switch is between collapse to 0 (χ₁ = σ_w²/4) and divergence.
pub fn critical_sigma_w(act: Activation, sigma_b: f64, lo: f64, hi: f64) -> Result<f64> {
    const OP: &str = "critical_sigma_w";
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Err(Error::invalid(OP, format!("need 0 < lo < hi < ∞, got [{lo}, {hi}]")));
    }
    if chaotic(act, lo, sigma_b)?.0 || !chaotic(act, hi, sigma_b)?.0 {
        return Err(Error::invalid(
            OP,
            format!("{act}, sigma_b={sigma_b}: chi1 - 1 does not change sign over sigma_w in [{lo}, {hi}]"),
        ));
    }
    let (mut a, mut b) = (lo, hi);
    while b - a > 1e-13 * b {
        let m = 0.5 * (a + b);
        if chaotic(act, m, sigma_b)?.0 {
            b = m;
        } else {
            a = m;
        }
    }
    // χ₁ is continuous through a true edge; 1e-3 leaves room for activations
    // like softplus whose q* diverges there, so χ₁ → 1 only as 1 − O(1/√q*).
    let (chi_a, chi_b) = (chaotic(act, a, sigma_b)?.1, chaotic(act, b, sigma_b)?.1);
    if (chi_a - 1.0).abs() > 1e-3 && (chi_b - 1.0).abs() > 1e-3 {
        return Err(Error::invalid(
            OP,
            format!(
                "{act}, sigma_b={sigma_b}: at sigma_w={a} the variance (from q0=1) switches between two \
                 regimes with chi1={chi_a:.4} and {chi_b:.4}; there is no chi1 = 1 crossing there"
            ),
        ));
    }
    Ok(0.5 * (a + b))
}

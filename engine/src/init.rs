//! Weight initialisers by their Keras names and formulas, every draw from a
//! seeded [`ChaCha8Rng`]. The fans of a parameter of shape `[rows, cols]` are
//! `fan_in = rows`, `fan_out = cols` (a dense kernel is `[in, out]`).
//!
//! | name | draw |
//! |---|---|
//! | `zeros`, `ones`, `constant(v)` | the value |
//! | `random_normal(mean, stddev)` | N(mean, stddev²) (Keras default 0, 0.05) |
//! | `random_uniform(min, max)` | U[min, max) (Keras default −0.05, 0.05) |
//! | `truncated_normal(mean, stddev)` | N(mean, stddev²), redrawn beyond 2 stddev |
//! | `glorot_normal` | truncated, stddev √(2/(fan_in+fan_out)) / 0.8796… |
//! | `glorot_uniform` | U(±√(6/(fan_in+fan_out))) |
//! | `he_normal` / `he_uniform` | truncated √(2/fan_in)/0.8796… / U(±√(6/fan_in)) |
//! | `lecun_normal` / `lecun_uniform` | truncated √(1/fan_in)/0.8796… / U(±√(3/fan_in)) |
//! | `orthogonal(gain)` | gain·Q of a Gaussian matrix's QR, signs fixed by diag(R) |
//!
//! 0.87962566103423978 is the standard deviation of a unit normal truncated to
//! ±2; Keras divides by it so the truncated draw keeps the intended variance.
use crate::data::random::{normal, truncated_normal, uniform};
use crate::error::{Error, Result};
use crate::real::Real;
use crate::shape::Shape;
use rand_chacha::ChaCha8Rng;

/// Dropout draws its mask from here; re-exported so the one uniform sampler
/// is reached by the same path it always was.
pub(crate) use crate::data::random::uniform01;

/// Standard deviation of N(0, 1) truncated to [−2, 2].
pub const TRUNCATED_STDDEV: f64 = 0.879_625_661_034_239_8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initializer {
    Zeros,
    Ones,
    Constant(f64),
    RandomNormal { mean: f64, stddev: f64 },
    RandomUniform { min: f64, max: f64 },
    TruncatedNormal { mean: f64, stddev: f64 },
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal { gain: f64 },
}

impl Initializer {
    pub const ALL_NAMES: [&'static str; 13] = [
        "zeros",
        "ones",
        "constant",
        "random_normal",
        "random_uniform",
        "truncated_normal",
        "glorot_normal",
        "glorot_uniform",
        "he_normal",
        "he_uniform",
        "lecun_normal",
        "lecun_uniform",
        "orthogonal",
    ];

    /// Parses a Keras name with Keras' default parameters (constant 0,
    /// random_normal/truncated_normal stddev 0.05, random_uniform ±0.05,
    /// orthogonal gain 1), or with parameters in parentheses, positional or by
    /// Keras keyword: `random_normal(stddev=0.01)`, `random_uniform(-0.1, 0.1)`,
    /// `truncated_normal(mean=0, stddev=0.5)`, `constant(0.5)`, `orthogonal(gain=2)`.
    /// `xavier_*` and `kaiming_*` are accepted aliases.
    pub fn from_name(name: &str) -> Result<Self> {
        let name = name.trim();
        let (base, args) = match name.find('(') {
            Some(open) => {
                let inner = name[open + 1..].strip_suffix(')').ok_or_else(|| unknown(name))?;
                (name[..open].trim(), Some(inner))
            }
            None => (name, None),
        };
        let mut init = match base {
            "zeros" | "zero" => Initializer::Zeros,
            "ones" | "one" => Initializer::Ones,
            "constant" => Initializer::Constant(0.0),
            "random_normal" => Initializer::RandomNormal { mean: 0.0, stddev: 0.05 },
            "random_uniform" => Initializer::RandomUniform { min: -0.05, max: 0.05 },
            "truncated_normal" => Initializer::TruncatedNormal { mean: 0.0, stddev: 0.05 },
            "glorot_normal" | "xavier_normal" => Initializer::GlorotNormal,
            "glorot_uniform" | "xavier_uniform" => Initializer::GlorotUniform,
            "he_normal" | "kaiming_normal" => Initializer::HeNormal,
            "he_uniform" | "kaiming_uniform" => Initializer::HeUniform,
            "lecun_normal" => Initializer::LecunNormal,
            "lecun_uniform" => Initializer::LecunUniform,
            "orthogonal" => Initializer::Orthogonal { gain: 1.0 },
            _ => return Err(unknown(name)),
        };
        if let Some(args) = args.filter(|a| !a.trim().is_empty()) {
            for (pos, arg) in args.split(',').enumerate() {
                let (key, value) = match arg.split_once('=') {
                    Some((k, v)) => (Some(k.trim()), v.trim()),
                    None => (None, arg.trim()),
                };
                let v: f64 = value.parse().map_err(|_| {
                    Error::invalid("initializer", format!("{name:?}: {value:?} is not a number"))
                })?;
                let slot = init.slot(key, pos).ok_or_else(|| {
                    let what = key.map_or(format!("argument {}", pos + 1), |k| format!("argument {k:?}"));
                    Error::invalid("initializer", format!("{name:?}: {base} takes no {what}"))
                })?;
                *slot = v;
            }
        }
        Ok(init)
    }

    /// The parameter a keyword (Keras' name) or a position sets.
    fn slot(&mut self, key: Option<&str>, pos: usize) -> Option<&mut f64> {
        let slots: Vec<(&[&str], &mut f64)> = match self {
            Initializer::Constant(v) => vec![(&["value"], v)],
            Initializer::RandomNormal { mean, stddev } | Initializer::TruncatedNormal { mean, stddev } => {
                vec![(&["mean"], mean), (&["stddev"], stddev)]
            }
            Initializer::RandomUniform { min, max } => {
                vec![(&["minval", "min"], min), (&["maxval", "max"], max)]
            }
            Initializer::Orthogonal { gain } => vec![(&["gain"], gain)],
            _ => Vec::new(),
        };
        slots
            .into_iter()
            .enumerate()
            .find(|(i, (names, _))| key.map_or(*i == pos, |k| names.contains(&k)))
            .map(|(_, (_, v))| v)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Initializer::Zeros => "zeros",
            Initializer::Ones => "ones",
            Initializer::Constant(_) => "constant",
            Initializer::RandomNormal { .. } => "random_normal",
            Initializer::RandomUniform { .. } => "random_uniform",
            Initializer::TruncatedNormal { .. } => "truncated_normal",
            Initializer::GlorotNormal => "glorot_normal",
            Initializer::GlorotUniform => "glorot_uniform",
            Initializer::HeNormal => "he_normal",
            Initializer::HeUniform => "he_uniform",
            Initializer::LecunNormal => "lecun_normal",
            Initializer::LecunUniform => "lecun_uniform",
            Initializer::Orthogonal { .. } => "orthogonal",
        }
    }

    /// Checks the parameters: finite values, stddev ≥ 0, min ≤ max.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::invalid("initializer", msg));
        match *self {
            Initializer::Constant(v) if !v.is_finite() => bad(format!("constant value {v} is not finite")),
            Initializer::RandomNormal { mean, stddev } | Initializer::TruncatedNormal { mean, stddev }
                if !(mean.is_finite() && stddev.is_finite() && stddev >= 0.0) =>
            {
                bad(format!("{}: mean {mean}, stddev {stddev} (needs finite, stddev >= 0)", self.name()))
            }
            Initializer::RandomUniform { min, max }
                if !(min.is_finite() && max.is_finite() && min <= max) =>
            {
                bad(format!("random_uniform: min {min}, max {max} (needs finite, min <= max)"))
            }
            Initializer::Orthogonal { gain } if !gain.is_finite() => {
                bad(format!("orthogonal gain {gain} is not finite"))
            }
            _ => Ok(()),
        }
    }

    /// Fills `out` (a parameter of `shape`, row-major) with fresh draws, in
    /// row-major order, each from the shared primitives of [`crate::data::random`].
    pub fn fill<T: Real>(&self, shape: Shape, rng: &mut ChaCha8Rng, out: &mut [T]) -> Result<()> {
        self.validate()?;
        if out.len() != shape.len() {
            return Err(Error::invalid(
                "initializer",
                format!("{}: buffer of {} values for shape {shape}", self.name(), out.len()),
            ));
        }
        let (fan_in, fan_out) = (shape.rows.max(1) as f64, shape.cols.max(1) as f64);
        let mut each = |f: &mut dyn FnMut(&mut ChaCha8Rng) -> f64| {
            for o in out.iter_mut() {
                *o = T::c(f(rng));
            }
        };
        // Keras' variance-scaling normals are truncated at two standard
        // deviations and rescaled so the kept draws have the target stddev.
        let truncated = |target: f64| {
            let stddev = target / TRUNCATED_STDDEV;
            move |r: &mut ChaCha8Rng| stddev * truncated_normal(r, 2.0)
        };
        let symmetric = |limit: f64| move |r: &mut ChaCha8Rng| limit * (2.0 * uniform01(r) - 1.0);
        match *self {
            Initializer::Zeros => each(&mut |_| 0.0),
            Initializer::Ones => each(&mut |_| 1.0),
            Initializer::Constant(v) => each(&mut |_| v),
            Initializer::RandomNormal { mean, stddev } => each(&mut |r| mean + stddev * normal(r)),
            Initializer::RandomUniform { min, max } => each(&mut |r| uniform(r, min, max)),
            Initializer::TruncatedNormal { mean, stddev } => {
                each(&mut |r| mean + stddev * truncated_normal(r, 2.0))
            }
            Initializer::GlorotNormal => each(&mut truncated((2.0 / (fan_in + fan_out)).sqrt())),
            Initializer::HeNormal => each(&mut truncated((2.0 / fan_in).sqrt())),
            Initializer::LecunNormal => each(&mut truncated((1.0 / fan_in).sqrt())),
            Initializer::GlorotUniform => each(&mut symmetric((6.0 / (fan_in + fan_out)).sqrt())),
            Initializer::HeUniform => each(&mut symmetric((6.0 / fan_in).sqrt())),
            Initializer::LecunUniform => each(&mut symmetric((3.0 / fan_in).sqrt())),
            Initializer::Orthogonal { gain } => orthogonal(shape, gain, rng, out),
        }
        Ok(())
    }

    /// A fresh parameter of `shape`.
    pub fn sample<T: Real>(&self, shape: Shape, rng: &mut ChaCha8Rng) -> Result<Vec<T>> {
        let mut v = vec![T::zero(); shape.len()];
        self.fill(shape, rng, &mut v)?;
        Ok(v)
    }
}

fn unknown(name: &str) -> Error {
    Error::invalid(
        "initializer",
        format!("unknown initializer {name:?}; known: {}", Initializer::ALL_NAMES.join(", ")),
    )
}

/// The parseable form: `he_normal`, `random_normal(mean=0, stddev=0.01)`.
impl std::fmt::Display for Initializer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name();
        match *self {
            Initializer::Constant(v) => write!(f, "{name}(value={v})"),
            Initializer::RandomNormal { mean, stddev } | Initializer::TruncatedNormal { mean, stddev } => {
                write!(f, "{name}(mean={mean}, stddev={stddev})")
            }
            Initializer::RandomUniform { min, max } => write!(f, "{name}(minval={min}, maxval={max})"),
            Initializer::Orthogonal { gain } => write!(f, "{name}(gain={gain})"),
            _ => f.write_str(name),
        }
    }
}

/// Keras' orthogonal: QR of a Gaussian matrix of shape (max, min), Q's
/// columns multiplied by sign(diag R) so the result is uniformly distributed
/// (Mezzadri 2007), transposed when the parameter is wider than tall.
fn orthogonal<T: Real>(shape: Shape, gain: f64, rng: &mut ChaCha8Rng, out: &mut [T]) {
    let (rows, cols) = (shape.rows, shape.cols);
    if rows == 0 || cols == 0 {
        return;
    }
    let (tall, short) = (rows.max(cols), rows.min(cols));
    // Drawn row-major, like every other initialiser's values.
    let draws: Vec<f64> = (0..tall * short).map(|_| normal(rng)).collect();
    let a = nalgebra::DMatrix::<f64>::from_row_slice(tall, short, &draws);
    let qr = a.qr();
    let (q, r) = (qr.q(), qr.r());
    for i in 0..rows {
        for j in 0..cols {
            // q is tall × short; a wide parameter takes qᵀ.
            let (qi, qj) = if rows >= cols { (i, j) } else { (j, i) };
            let sign = if r[(qj, qj)] < 0.0 { -1.0 } else { 1.0 };
            out[i * cols + j] = T::c(gain * sign * q[(qi, qj)]);
        }
    }
}

/// The scale mean-field theory reads off an initialiser.
impl Initializer {
    /// σ_w² = fan_in·Var(W) on a `fan_in × fan_out` kernel: the weight variance in units of 1/fan_in,
    /// the quantity mean-field theory is written in. `None` for initialisers without a zero-mean scale
    /// (constants, shifted or asymmetric draws, orthogonal on a non-square kernel).
    pub fn sigma_w2(&self, fan_in: usize, fan_out: usize) -> Option<f64> {
        let (i, o) = (fan_in as f64, fan_out as f64);
        Some(match *self {
            Initializer::RandomNormal { mean: 0.0, stddev } => i * stddev * stddev,
            // Keras does not rescale `truncated_normal`: cutting at ±2 stddev leaves 0.7737·stddev² of
            // the variance (the named initialisers divide by TRUNCATED_STDDEV to undo exactly this).
            Initializer::TruncatedNormal { mean: 0.0, stddev } => {
                i * stddev * stddev * TRUNCATED_STDDEV.powi(2)
            }
            Initializer::RandomUniform { min, max } if min == -max => i * max * max / 3.0,
            Initializer::GlorotNormal | Initializer::GlorotUniform => 2.0 * i / (i + o),
            Initializer::HeNormal | Initializer::HeUniform => 2.0,
            Initializer::LecunNormal | Initializer::LecunUniform => 1.0,
            Initializer::Orthogonal { gain } if fan_in == fan_out => gain * gain,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    fn stats(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    fn draw(init: Initializer, shape: Shape, seed: u64) -> Vec<f64> {
        init.sample(shape, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
    }

    #[test]
    fn truncated_constant_is_the_stddev_of_the_truncated_unit_normal() {
        // truncated_normal(0, 1) keeps the truncated draws unscaled.
        let v = draw(Initializer::TruncatedNormal { mean: 0.0, stddev: 1.0 }, Shape::new(400, 500), 2);
        assert!(v.iter().all(|z| z.abs() <= 2.0));
        let (m, s) = stats(&v);
        assert!(m.abs() < 0.01 && (s - TRUNCATED_STDDEV).abs() < 0.005, "mean {m}, stddev {s}");
    }

    #[test]
    fn draws_are_the_shared_samplers_stream_in_row_major_order() {
        let shape = Shape::new(3, 5);
        let mut r = ChaCha8Rng::seed_from_u64(12);
        let want: Vec<f64> = (0..15).map(|_| 0.5 + 2.0 * normal(&mut r)).collect();
        assert_eq!(draw(Initializer::RandomNormal { mean: 0.5, stddev: 2.0 }, shape, 12), want);
        let mut r = ChaCha8Rng::seed_from_u64(13);
        let limit = (6.0f64 / 8.0).sqrt();
        let want: Vec<f64> = (0..15).map(|_| limit * (2.0 * uniform01(&mut r) - 1.0)).collect();
        assert_eq!(draw(Initializer::GlorotUniform, shape, 13), want);
        let mut r = ChaCha8Rng::seed_from_u64(14);
        let sd = (2.0f64 / 3.0).sqrt() / TRUNCATED_STDDEV;
        let want: Vec<f64> = (0..15).map(|_| sd * truncated_normal(&mut r, 2.0)).collect();
        assert_eq!(draw(Initializer::HeNormal, shape, 14), want);
    }

    #[test]
    fn variance_scaling_initialisers_hit_their_keras_stddev() {
        let shape = Shape::new(200, 300);
        let cases = [
            (Initializer::GlorotNormal, (2.0f64 / 500.0).sqrt()),
            (Initializer::GlorotUniform, (2.0f64 / 500.0).sqrt()),
            (Initializer::HeNormal, (2.0f64 / 200.0).sqrt()),
            (Initializer::HeUniform, (2.0f64 / 200.0).sqrt()),
            (Initializer::LecunNormal, (1.0f64 / 200.0).sqrt()),
            (Initializer::LecunUniform, (1.0f64 / 200.0).sqrt()),
            (Initializer::RandomNormal { mean: 0.0, stddev: 0.05 }, 0.05),
            (Initializer::TruncatedNormal { mean: 0.0, stddev: 0.05 }, 0.05 * TRUNCATED_STDDEV),
        ];
        for (init, want) in cases {
            let (m, s) = stats(&draw(init, shape, 3));
            assert!(m.abs() < 0.02 * want * 10.0, "{init:?}: mean {m}");
            assert!((s - want).abs() < 0.02 * want, "{init:?}: stddev {s}, want {want}");
        }
    }

    #[test]
    fn uniform_limits_and_truncation_bounds_hold() {
        let shape = Shape::new(30, 50);
        let limit = (6.0f64 / 80.0).sqrt();
        assert!(draw(Initializer::GlorotUniform, shape, 4).iter().all(|v| v.abs() <= limit));
        let bound = 2.0 * (2.0f64 / 30.0).sqrt() / TRUNCATED_STDDEV;
        assert!(draw(Initializer::HeNormal, shape, 4).iter().all(|v| v.abs() <= bound));
        let u = draw(Initializer::RandomUniform { min: 1.0, max: 3.0 }, shape, 4);
        assert!(u.iter().all(|&v| (1.0..3.0).contains(&v)));
        let t = draw(Initializer::TruncatedNormal { mean: 5.0, stddev: 0.5 }, shape, 4);
        assert!(t.iter().all(|&v| (v - 5.0).abs() <= 1.0));
    }

    #[test]
    fn orthogonal_is_orthonormal_in_both_orientations() {
        for (rows, cols) in [(6, 4), (4, 6), (5, 5)] {
            let w = draw(Initializer::Orthogonal { gain: 2.0 }, Shape::new(rows, cols), 5);
            let m = nalgebra::DMatrix::from_row_slice(rows, cols, &w);
            // The short side's Gram matrix is gain² · I.
            let g = if rows >= cols { m.transpose() * &m } else { &m * m.transpose() };
            for i in 0..g.nrows() {
                for j in 0..g.ncols() {
                    let want = if i == j { 4.0 } else { 0.0 };
                    assert!((g[(i, j)] - want).abs() < 1e-12, "{rows}x{cols}: gram[{i},{j}] = {}", g[(i, j)]);
                }
            }
        }
    }

    #[test]
    fn constants_names_and_determinism() {
        assert!(draw(Initializer::Zeros, Shape::new(3, 3), 0).iter().all(|&v| v == 0.0));
        assert!(draw(Initializer::Ones, Shape::new(3, 3), 0).iter().all(|&v| v == 1.0));
        assert!(draw(Initializer::Constant(0.25), Shape::new(3, 3), 0).iter().all(|&v| v == 0.25));
        for name in Initializer::ALL_NAMES {
            assert_eq!(Initializer::from_name(name).unwrap().name(), name);
        }
        let parsed = [
            ("random_normal(stddev=0.01)", Initializer::RandomNormal { mean: 0.0, stddev: 0.01 }),
            ("random_normal(1, 0.5)", Initializer::RandomNormal { mean: 1.0, stddev: 0.5 }),
            ("truncated_normal(mean=2)", Initializer::TruncatedNormal { mean: 2.0, stddev: 0.05 }),
            ("random_uniform(minval=-1, maxval=1)", Initializer::RandomUniform { min: -1.0, max: 1.0 }),
            ("constant(0.5)", Initializer::Constant(0.5)),
            ("orthogonal(gain=2)", Initializer::Orthogonal { gain: 2.0 }),
            ("he_normal()", Initializer::HeNormal),
        ];
        for (name, want) in parsed {
            let got = Initializer::from_name(name).unwrap();
            assert_eq!(got, want, "{name}");
            assert_eq!(Initializer::from_name(&got.to_string()).unwrap(), got, "{got}");
        }
        for bad in [
            "random_normal(stddev=x)",
            "he_normal(2)",
            "random_normal(1, 2, 3)",
            "constant(gain=1)",
            "orthogonal(1",
        ] {
            assert!(Initializer::from_name(bad).is_err(), "{bad} accepted");
        }
        let err = Initializer::from_name("glorot").unwrap_err().to_string();
        assert!(err.contains("\"glorot\""), "{err}");
        let a = draw(Initializer::HeNormal, Shape::new(8, 8), 9);
        assert_eq!(a, draw(Initializer::HeNormal, Shape::new(8, 8), 9));
        assert_ne!(a, draw(Initializer::HeNormal, Shape::new(8, 8), 10));
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let bad = [
            Initializer::RandomNormal { mean: 0.0, stddev: -1.0 },
            Initializer::TruncatedNormal { mean: f64::NAN, stddev: 1.0 },
            Initializer::RandomUniform { min: 1.0, max: 0.0 },
            Initializer::Constant(f64::INFINITY),
        ];
        for init in bad {
            let err = init.sample::<f64>(Shape::new(2, 2), &mut ChaCha8Rng::seed_from_u64(0));
            assert!(err.is_err(), "{init:?} accepted");
        }
        let msg = Initializer::RandomNormal { mean: 0.0, stddev: -1.0 }.validate().unwrap_err().to_string();
        assert!(msg.contains("-1"), "{msg}");
    }

    #[test]
    fn sigma_w2_follows_the_keras_formulas() {
        let sw2 = |name: &str| Initializer::from_name(name).unwrap().sigma_w2(256, 256).unwrap();
        assert_eq!(sw2("glorot_normal"), 1.0);
        assert_eq!(sw2("he_uniform"), 2.0);
        assert_eq!(sw2("lecun_normal"), 1.0);
        assert!((sw2("random_normal") - 256.0 * 0.0025).abs() < 1e-12);
        assert!((sw2("truncated_normal") - 256.0 * 0.0025 * TRUNCATED_STDDEV.powi(2)).abs() < 1e-12);
        assert!((sw2("random_uniform(-0.1, 0.1)") - 256.0 * 0.01 / 3.0).abs() < 1e-12);
        assert_eq!(Initializer::GlorotUniform.sigma_w2(100, 300), Some(0.5));
        assert_eq!(Initializer::Ones.sigma_w2(4, 4), None);
        assert_eq!(Initializer::Orthogonal { gain: 2.0 }.sigma_w2(4, 8), None);
    }
}

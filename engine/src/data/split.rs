//! Seeded train/test splits: stratified by class for labelled data (every
//! class split in the same proportion), a plain shuffled split otherwise.
use super::random::shuffle;
use super::{Dataset, Targets};
use crate::error::{Error, Result};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// Row indices of the two parts, each in ascending order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// Splits sample indices `0..labels.len()` so that every class sends the
/// same share of its samples to the test part: `round(n · test_fraction)`
/// test samples in all, each class `c` (with `n_c` samples) giving
/// `floor(n_c · test_fraction)` of them plus one more for the classes with
/// the largest fractional remainders (ties to the lower class), so each
/// class's test count is within one sample of `n_c · test_fraction`. Which
/// samples go is chosen by a seeded shuffle of each class's indices, in class
/// order from one `ChaCha8Rng` seeded with `seed`: the same labels, fraction
/// and seed always give the same split.
pub fn stratified(labels: &[usize], classes: usize, test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let mut by_class = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class
            .get_mut(l)
            .ok_or_else(|| {
                Error::invalid("split", format!("label {l} of sample {i} is not below {classes}"))
            })?
            .push(i);
    }
    let sizes: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let n_test = class_test_counts(&sizes, test_fraction);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut split = Split { train: Vec::new(), test: Vec::new() };
    for (mut idx, t) in by_class.into_iter().zip(n_test) {
        shuffle(&mut rng, &mut idx);
        split.test.extend_from_slice(&idx[..t]);
        split.train.extend_from_slice(&idx[t..]);
    }
    split.train.sort_unstable();
    split.test.sort_unstable();
    Ok(split)
}

/// Largest-remainder allocation of `round(n · fraction)` test samples over
/// classes of the given sizes (see [`stratified`]).
fn class_test_counts(sizes: &[usize], fraction: f64) -> Vec<usize> {
    let total = test_count(sizes.iter().sum(), fraction);
    let mut counts: Vec<usize> =
        sizes.iter().map(|&n| ((n as f64 * fraction).floor() as usize).min(n)).collect();
    let mut by_remainder: Vec<usize> = (0..sizes.len()).filter(|&c| counts[c] < sizes[c]).collect();
    let rem = |c: usize| sizes[c] as f64 * fraction - counts[c] as f64;
    by_remainder.sort_by(|&a, &b| rem(b).total_cmp(&rem(a)).then(a.cmp(&b)));
    let missing = total.saturating_sub(counts.iter().sum());
    by_remainder.iter().take(missing).for_each(|&c| counts[c] += 1);
    counts
}

/// Splits `0..n` at random, `round(n · test_fraction)` indices to the test part.
pub fn shuffled(n: usize, test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let mut idx: Vec<usize> = (0..n).collect();
    shuffle(&mut ChaCha8Rng::seed_from_u64(seed), &mut idx);
    let n_test = test_count(n, test_fraction);
    let mut split = Split { test: idx[..n_test].to_vec(), train: idx[n_test..].to_vec() };
    split.train.sort_unstable();
    split.test.sort_unstable();
    Ok(split)
}

impl Dataset {
    /// `(train, test)` data sets: [`stratified`] for class targets,
    /// [`shuffled`] for real-valued targets.
    pub fn train_test(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        let split = match &self.targets {
            Targets::Classes { labels, classes } => stratified(labels, *classes, test_fraction, seed)?,
            Targets::Values { .. } => shuffled(self.len(), test_fraction, seed)?,
        };
        Ok((self.subset(&split.train, "train")?, self.subset(&split.test, "test")?))
    }

    /// The rows `idx` (in that order) as a new data set named `name/part`.
    pub fn subset(&self, idx: &[usize], part: &str) -> Result<Dataset> {
        let n = self.len();
        if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
            return Err(Error::invalid(
                "subset",
                format!("row {bad} out of range for {n} rows of {}", self.name),
            ));
        }
        let f = self.features;
        let mut x = Vec::with_capacity(idx.len() * f);
        idx.iter().for_each(|&i| x.extend_from_slice(&self.x[i * f..(i + 1) * f]));
        let targets = match &self.targets {
            Targets::Classes { labels, classes } => {
                Targets::Classes { labels: idx.iter().map(|&i| labels[i]).collect(), classes: *classes }
            }
            Targets::Values { y, width } => {
                let mut out = Vec::with_capacity(idx.len() * width);
                idx.iter().for_each(|&i| out.extend_from_slice(&y[i * width..(i + 1) * width]));
                Targets::Values { y: out, width: *width }
            }
        };
        Ok(Dataset { name: format!("{}/{part}", self.name), features: f, x, targets })
    }
}

fn check_fraction(f: f64) -> Result<()> {
    if (0.0..=1.0).contains(&f) {
        Ok(())
    } else {
        Err(Error::invalid("split", format!("test fraction must be in [0, 1], got {f}")))
    }
}

fn test_count(n: usize, fraction: f64) -> usize {
    ((n as f64 * fraction).round() as usize).min(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(counts: &[usize]) -> Vec<usize> {
        // Interleaved so that classes are not contiguous runs.
        let mut out = Vec::new();
        let mut left = counts.to_vec();
        while left.iter().any(|&c| c > 0) {
            for (c, l) in left.iter_mut().enumerate() {
                if *l > 0 {
                    out.push(c);
                    *l -= 1;
                }
            }
        }
        out
    }

    fn check_partition(split: &Split, n: usize) {
        let mut all: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "disjoint and covering");
    }

    #[test]
    fn each_class_keeps_its_proportion() {
        let counts = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];
        let y = labels(&counts);
        let split = stratified(&y, 10, 0.2, 42).unwrap();
        check_partition(&split, y.len());
        assert_eq!(split.test.len(), 359, "round(1797 · 0.2)");
        for (c, &n_c) in counts.iter().enumerate() {
            let in_test = split.test.iter().filter(|&&i| y[i] == c).count();
            assert!((in_test as f64 - n_c as f64 * 0.2).abs() < 1.0, "class {c}: {in_test} of {n_c}");
        }
        // Equal classes at a fraction that divides them: exact shares.
        let even = stratified(&labels(&[50; 4]), 4, 0.3, 1).unwrap();
        assert_eq!(even.test.len(), 60);
        assert!((0..4).all(|c| even.test.iter().filter(|&&i| i % 4 == c).count() == 15));
    }

    #[test]
    fn same_seed_same_split_other_seed_other_split() {
        let y = labels(&[50, 60, 70]);
        let a = stratified(&y, 3, 0.3, 9).unwrap();
        assert_eq!(a, stratified(&y, 3, 0.3, 9).unwrap());
        assert_ne!(a, stratified(&y, 3, 0.3, 10).unwrap());
        let s = shuffled(100, 0.25, 9).unwrap();
        check_partition(&s, 100);
        assert_eq!(s.test.len(), 25);
        assert_eq!(s, shuffled(100, 0.25, 9).unwrap());
        assert_ne!(s, shuffled(100, 0.25, 8).unwrap());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(stratified(&[0, 1, 5], 3, 0.5, 0).unwrap_err().to_string().contains("label 5 of sample 2"));
        for f in [-0.1, 1.5, f64::NAN] {
            assert!(stratified(&[0, 1], 2, f, 0).is_err());
            assert!(shuffled(4, f, 0).is_err());
        }
        let ds = Dataset {
            name: "d".into(),
            features: 1,
            x: vec![0.0, 1.0],
            targets: Targets::Classes { labels: vec![0, 1], classes: 2 },
        };
        assert!(ds.subset(&[0, 2], "p").unwrap_err().to_string().contains("row 2 out of range"));
    }

    #[test]
    fn train_test_carries_rows_with_their_targets() {
        let n = 40;
        let ds = Dataset {
            name: "d".into(),
            features: 2,
            x: (0..2 * n).map(|v| v as f32).collect(),
            targets: Targets::Classes { labels: (0..n).map(|i| i % 4).collect(), classes: 4 },
        };
        let (train, test) = ds.train_test(0.25, 1).unwrap();
        assert_eq!((train.len(), test.len(), train.name.as_str()), (30, 10, "d/train"));
        for part in [&train, &test] {
            let Targets::Classes { labels, .. } = &part.targets else { unreachable!() };
            for (r, &l) in labels.iter().enumerate() {
                let row = part.x[2 * r] as usize / 2;
                assert_eq!(part.x[2 * r + 1], part.x[2 * r] + 1.0);
                assert_eq!(l, row % 4, "row {row} kept its label");
            }
        }
        let reg = Dataset {
            name: "r".into(),
            features: 1,
            x: (0..10).map(|v| v as f32).collect(),
            targets: Targets::Values { y: (0..10).map(|v| 2.0 * v as f32).collect(), width: 1 },
        };
        let (tr, te) = reg.train_test(0.3, 2).unwrap();
        assert_eq!((tr.len(), te.len()), (7, 3));
        let Targets::Values { y, .. } = &te.targets else { unreachable!() };
        assert!(te.x.iter().zip(y).all(|(&x, &y)| y == 2.0 * x));
    }

    proptest! {
        #[test]
        fn stratified_split_is_a_partition(
            y in proptest::collection::vec(0usize..5, 0..200), f in 0.0f64..=1.0, seed in any::<u64>()) {
            let split = stratified(&y, 5, f, seed).unwrap();
            check_partition(&split, y.len());
            prop_assert_eq!(split.test.len(), (y.len() as f64 * f).round() as usize);
            for c in 0..5 {
                let n_c = y.iter().filter(|&&l| l == c).count();
                let t = split.test.iter().filter(|&&i| y[i] == c).count();
                prop_assert!((t as f64 - n_c as f64 * f).abs() < 1.0, "class {}: {} of {}", c, t, n_c);
            }
        }
    }
}

//! Seeded, shuffled mini-batches that allocate nothing once running: the
//! iterator fills the caller's index buffer, and the gathers copy rows into
//! the caller's batch buffers (which keep their capacity from step to step).
use super::random::shuffle;
use super::{Dataset, Targets};
use crate::error::{Error, Result};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// Mini-batch indices over `0..n`, reshuffled at the start of every epoch.
///
/// Epoch `e`'s order is the `e`-th Fisher–Yates shuffle of the previous
/// order, all drawn from one `ChaCha8Rng` seeded with `seed`: the whole
/// sequence of batches is fixed by `(n, batch_size, seed)`.
#[derive(Clone, Debug)]
pub struct Batches {
    order: Vec<usize>,
    batch_size: usize,
    drop_last: bool,
    pos: usize,
    epoch: usize,
    rng: ChaCha8Rng,
}

impl Batches {
    /// Batches of `batch_size` over `n` samples; with `drop_last` a final
    /// short batch is skipped, otherwise it is returned.
    pub fn new(n: usize, batch_size: usize, drop_last: bool, seed: u64) -> Result<Self> {
        if batch_size == 0 || n == 0 || (drop_last && batch_size > n) {
            return Err(Error::invalid(
                "batches",
                format!("batch size {batch_size} over {n} samples (drop_last {drop_last}) gives no batch"),
            ));
        }
        let mut b = Batches {
            order: (0..n).collect(),
            batch_size,
            drop_last,
            pos: 0,
            epoch: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        };
        shuffle(&mut b.rng, &mut b.order);
        Ok(b)
    }

    /// Writes the next batch's indices into `out` (cleared first; no
    /// allocation once `out` has held one batch) and returns `true`; at the end
    /// of an epoch returns `false` with `out` empty, and reshuffles, so the
    /// next call starts the next epoch: `while b.next_into(&mut idx) { .. }`
    /// runs exactly one epoch.
    pub fn next_into(&mut self, out: &mut Vec<usize>) -> bool {
        out.clear();
        let n = self.order.len();
        let end = (self.pos + self.batch_size).min(n);
        if self.pos >= n || (self.drop_last && end - self.pos < self.batch_size) {
            self.pos = 0;
            self.epoch += 1;
            shuffle(&mut self.rng, &mut self.order);
            return false;
        }
        out.extend_from_slice(&self.order[self.pos..end]);
        self.pos = end;
        true
    }

    /// Batches per epoch.
    pub fn per_epoch(&self) -> usize {
        let n = self.order.len();
        if self.drop_last { n / self.batch_size } else { n.div_ceil(self.batch_size) }
    }

    /// Epochs completed so far.
    pub fn epoch(&self) -> usize {
        self.epoch
    }
}

impl Dataset {
    /// Copies the rows `idx` into `out` (cleared first), row-major.
    pub fn gather_x(&self, idx: &[usize], out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        let f = self.features;
        for &i in idx {
            let row = self.x.get(i * f..(i + 1) * f).ok_or_else(|| self.out_of_range(i))?;
            out.extend_from_slice(row);
        }
        Ok(())
    }

    /// Copies the class labels of rows `idx` into `out` (cleared first).
    pub fn gather_labels(&self, idx: &[usize], out: &mut Vec<usize>) -> Result<()> {
        out.clear();
        let Targets::Classes { labels, .. } = &self.targets else {
            return Err(Error::invalid("gather_labels", format!("{} has real-valued targets", self.name)));
        };
        for &i in idx {
            out.push(*labels.get(i).ok_or_else(|| self.out_of_range(i))?);
        }
        Ok(())
    }

    /// Target rows of `idx` as floats into `out` (cleared first): the values
    /// for real-valued targets, one-hot rows of width `classes` for labels.
    pub fn gather_y(&self, idx: &[usize], out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        match &self.targets {
            Targets::Values { y, width } => {
                for &i in idx {
                    let row = y.get(i * width..(i + 1) * width).ok_or_else(|| self.out_of_range(i))?;
                    out.extend_from_slice(row);
                }
            }
            Targets::Classes { labels, classes } => {
                for &i in idx {
                    let l = *labels.get(i).ok_or_else(|| self.out_of_range(i))?;
                    let start = out.len();
                    out.resize(start + classes, 0.0);
                    if let Some(v) = out.get_mut(start + l) {
                        *v = 1.0;
                    }
                }
            }
        }
        Ok(())
    }

    fn out_of_range(&self, i: usize) -> Error {
        Error::invalid("gather", format!("row {i} out of range for {} rows of {}", self.len(), self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(b: &mut Batches) -> Vec<Vec<usize>> {
        let mut idx = Vec::new();
        let mut out = Vec::new();
        while b.next_into(&mut idx) {
            out.push(idx.clone());
        }
        assert!(idx.is_empty());
        out
    }

    #[test]
    fn an_epoch_visits_every_sample_once() {
        let mut b = Batches::new(10, 3, false, 5).unwrap();
        assert_eq!(b.per_epoch(), 4);
        let e0 = epoch(&mut b);
        assert_eq!(e0.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        let mut all: Vec<usize> = e0.concat();
        assert_ne!(all, (0..10).collect::<Vec<_>>(), "shuffled");
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(b.epoch(), 1);
        let e1 = epoch(&mut b);
        assert_ne!(e0, e1, "reshuffled each epoch");
        let mut d = Batches::new(10, 3, true, 5).unwrap();
        assert_eq!(d.per_epoch(), 3);
        assert_eq!(epoch(&mut d), e0[..3].to_vec(), "drop_last skips only the short tail");
    }

    #[test]
    fn same_seed_same_batches() {
        let (mut a, mut b) = (Batches::new(50, 8, false, 1).unwrap(), Batches::new(50, 8, false, 1).unwrap());
        let mut c = Batches::new(50, 8, false, 2).unwrap();
        for _ in 0..3 {
            let ea = epoch(&mut a);
            assert_eq!(ea, epoch(&mut b));
            assert_ne!(ea, epoch(&mut c));
        }
    }

    #[test]
    fn the_index_buffer_is_reused() {
        let mut b = Batches::new(100, 16, false, 3).unwrap();
        let mut idx = Vec::with_capacity(16);
        let ptr = idx.as_ptr();
        for _ in 0..30 {
            b.next_into(&mut idx);
            assert_eq!(idx.as_ptr(), ptr, "no reallocation");
        }
    }

    #[test]
    fn impossible_batching_is_an_error() {
        assert!(Batches::new(10, 0, false, 0).is_err());
        assert!(Batches::new(0, 4, false, 0).is_err());
        assert!(Batches::new(3, 4, true, 0).is_err());
        assert_eq!(Batches::new(3, 4, false, 0).unwrap().per_epoch(), 1);
    }

    #[test]
    fn gathers_copy_the_chosen_rows() {
        let ds = Dataset {
            name: "d".into(),
            features: 2,
            x: vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0],
            targets: Targets::Classes { labels: vec![2, 0, 1], classes: 3 },
        };
        let (mut x, mut l, mut y) = (Vec::new(), Vec::new(), Vec::new());
        ds.gather_x(&[2, 0], &mut x).unwrap();
        ds.gather_labels(&[2, 0], &mut l).unwrap();
        ds.gather_y(&[2, 0], &mut y).unwrap();
        assert_eq!(x, vec![20.0, 21.0, 0.0, 1.0]);
        assert_eq!(l, vec![1, 2]);
        assert_eq!(y, vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(ds.gather_x(&[3], &mut x).unwrap_err().to_string().contains("row 3 out of range"));
        assert!(ds.gather_y(&[5], &mut y).is_err());
        let reg = Dataset { targets: Targets::Values { y: vec![1.0, 2.0, 3.0], width: 1 }, ..ds };
        reg.gather_y(&[1, 1], &mut y).unwrap();
        assert_eq!(y, vec![2.0, 2.0]);
        assert!(reg.gather_labels(&[0], &mut l).is_err());
    }
}

//! End-to-end checks of the data pipeline on the shipped sets: load, split,
//! standardise, batch; and a nearest-centroid classifier proving that pixels
//! and labels line up (misaligned rows would score near chance, 10%).
use gradlab::data::{Batches, Dataset, Standardizer, Targets, data_dir, digits, mnist_5k};

fn labels(ds: &Dataset) -> &[usize] {
    match &ds.targets {
        Targets::Classes { labels, .. } => labels,
        Targets::Values { .. } => panic!("class targets expected"),
    }
}

/// Test accuracy of classifying each test row by its nearest class mean of the training rows.
fn nearest_centroid_accuracy(train: &Dataset, test: &Dataset) -> f64 {
    let f = train.features;
    let mut centres = vec![0.0f64; 10 * f];
    let mut counts = [0.0f64; 10];
    for (i, &c) in labels(train).iter().enumerate() {
        counts[c] += 1.0;
        for j in 0..f {
            centres[c * f + j] += f64::from(train.x[i * f + j]);
        }
    }
    for c in 0..10 {
        centres[c * f..(c + 1) * f].iter_mut().for_each(|v| *v /= counts[c]);
    }
    let correct = labels(test)
        .iter()
        .enumerate()
        .filter(|&(i, &label)| {
            let row = &test.x[i * f..(i + 1) * f];
            let dist = |c: usize| -> f64 {
                row.iter().zip(&centres[c * f..(c + 1) * f]).map(|(&a, b)| (f64::from(a) - b).powi(2)).sum()
            };
            (0..10).min_by(|&a, &b| dist(a).total_cmp(&dist(b))) == Some(label)
        })
        .count();
    correct as f64 / test.len() as f64
}

#[test]
fn shipped_sets_are_learnable_by_nearest_centroid() {
    // Published nearest-centroid accuracies are about 0.90 (digits) and 0.82 (MNIST).
    for (ds, floor) in [(digits(data_dir()).unwrap(), 0.85), (mnist_5k(data_dir()).unwrap(), 0.75)] {
        let (train, test) = ds.train_test(0.2, 7).unwrap();
        assert_eq!(train.len() + test.len(), ds.len());
        let acc = nearest_centroid_accuracy(&train, &test);
        println!("{}: nearest-centroid test accuracy {acc:.3} on {} rows", ds.name, test.len());
        assert!(acc > floor, "{}: accuracy {acc}", ds.name);
    }
}

#[test]
fn standardise_on_train_then_batch_the_test_rows() {
    let ds = digits(data_dir()).unwrap();
    let (mut train, mut test) = ds.train_test(0.25, 3).unwrap();
    let s = Standardizer::fit(&train.x, train.features).unwrap();
    s.apply(&mut train.x).unwrap();
    s.apply(&mut test.x).unwrap();
    // Training columns are centred exactly; test columns only approximately.
    let f = train.features;
    for (part, tol) in [(&train, 1e-4), (&test, 0.25)] {
        for j in 0..f {
            let mean = (0..part.len()).map(|i| f64::from(part.x[i * f + j])).sum::<f64>() / part.len() as f64;
            assert!(mean.abs() < tol, "{} column {j} mean {mean}", part.name);
        }
    }
    let mut batches = Batches::new(test.len(), 64, false, 1).unwrap();
    let (mut idx, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = vec![0usize; test.len()];
    while batches.next_into(&mut idx) {
        test.gather_x(&idx, &mut x).unwrap();
        test.gather_labels(&idx, &mut y).unwrap();
        assert_eq!((x.len(), y.len()), (idx.len() * f, idx.len()));
        idx.iter().for_each(|&i| seen[i] += 1);
    }
    assert!(seen.iter().all(|&n| n == 1), "one epoch visits every test row once");
}

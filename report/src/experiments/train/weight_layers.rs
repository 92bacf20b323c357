//! Per-layer snapshots numbered by weight layer: `init_grad_norm_wl`, `final_grad_norm_wl` (and the same
//! for `grad_rms`) copy the runner's `init_`/`final_` snapshots with the layer column renumbered 1, 2, ...
//! over the layers that have weights. The plain layer column counts every layer of the stack, so a network
//! with a batch-norm or dropout layer after each dense layer would put its dense layers at 1, 3, 5, ...
//! and could not share an axis with the same network without them.
use crate::record::Record;
use engine::monitor::metric as m;

/// The snapshots that get a weight-layer copy (each must exist only for layers with weights).
const SNAPSHOTS: [&str; 4] = ["init_grad_norm", "final_grad_norm", "init_grad_rms", "final_grad_rms"];

/// Suffix of the renumbered copies.
pub const SUFFIX: &str = "_wl";

/// Adds the renumbered copies to one run's records (every record of one variant and seed).
pub fn add_weight_layer_snapshots(records: &mut Vec<Record>) {
    let mut weighted: Vec<u32> =
        records.iter().filter(|r| r.metric == m::GRAD_NORM).filter_map(|r| r.layer).collect();
    weighted.sort_unstable();
    weighted.dedup();
    let copies: Vec<Record> = records
        .iter()
        .filter(|r| SNAPSHOTS.contains(&r.metric.as_str()))
        .filter_map(|r| {
            let k = weighted.binary_search(&r.layer?).ok()?;
            Some(Record { metric: format!("{}{SUFFIX}", r.metric), layer: Some(k as u32 + 1), ..r.clone() })
        })
        .collect();
    records.extend(copies);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(layer: Option<u32>, metric: &str, value: f64) -> Record {
        Record {
            scenario: "s".into(),
            variant: "v".into(),
            seed: 0,
            step: 0,
            layer,
            metric: metric.into(),
            value,
            layer_name: None,
        }
    }

    #[test]
    fn dense_layers_between_norm_layers_are_numbered_consecutively() {
        // Stack: 1 dense, 2 batch norm (no weights), 3 dense, 4 dropout, 5 dense.
        let mut r = vec![
            rec(Some(1), m::GRAD_NORM, 1.0),
            rec(Some(3), m::GRAD_NORM, 2.0),
            rec(Some(5), m::GRAD_NORM, 3.0),
            rec(Some(1), "init_grad_norm", 10.0),
            rec(Some(3), "init_grad_norm", 20.0),
            rec(Some(5), "init_grad_norm", 30.0),
            rec(Some(2), "init_act_std", 0.5),
            rec(None, "loss", 2.3),
        ];
        add_weight_layer_snapshots(&mut r);
        let wl: Vec<(Option<u32>, f64)> =
            r.iter().filter(|x| x.metric == "init_grad_norm_wl").map(|x| (x.layer, x.value)).collect();
        assert_eq!(wl, vec![(Some(1), 10.0), (Some(2), 20.0), (Some(3), 30.0)]);
        assert!(!r.iter().any(|x| x.metric == "init_act_std_wl"), "only gradient snapshots are copied");
        assert_eq!(r.len(), 8 + 3);
    }

    #[test]
    fn a_snapshot_of_a_layer_without_gradient_rows_is_not_copied() {
        let mut r = vec![rec(Some(2), m::GRAD_NORM, 1.0), rec(Some(4), "final_grad_norm", 5.0)];
        add_weight_layer_snapshots(&mut r);
        assert!(r.iter().all(|x| !x.metric.ends_with(SUFFIX)));
    }
}

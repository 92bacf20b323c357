//! Per-layer snapshots numbered by weight layer: `init_grad_norm_wl`, `final_grad_norm_wl` (and the same
//! for `grad_rms`) copy the runner's `init_`/`final_` snapshots at the point `weight_layer=K`, K = 1, 2,
//! ... over the layers that have weights. A layer's name counts every layer of the stack, so a network
//! with a batch-norm or dropout layer after each dense layer has its dense layers at 1, 3, 5, ... and
//! could not share an axis with the same network without them; `x = "point.weight_layer"` can.
use engine::monitor::{Records, Row, layer_position, metric as m, point};

/// The snapshots that get a weight-layer copy (each must exist only for layers with weights).
const SNAPSHOTS: [&str; 4] = ["init_grad_norm", "final_grad_norm", "init_grad_rms", "final_grad_rms"];

/// Suffix of the renumbered copies.
pub const SUFFIX: &str = "_wl";

/// Adds the renumbered copies to one run's records.
pub fn add_weight_layer_snapshots(r: &mut Records) {
    let Some(grad) = r.metrics.iter().position(|x| x == m::GRAD_NORM) else { return };
    let mut weighted: Vec<u32> = Vec::new();
    for row in r.rows.iter().filter(|row| row.metric as usize == grad && row.point == 0) {
        if !weighted.contains(&row.layer) {
            weighted.push(row.layer);
        }
    }
    let pos = |r: &Records, l: u32| layer_position(&r.layers[l as usize]).unwrap_or(f64::INFINITY);
    weighted.sort_by(|&a, &b| pos(r, a).total_cmp(&pos(r, b)).then(a.cmp(&b)));
    let at: Vec<u32> =
        (1..=weighted.len()).map(|k| r.point_id(&point(&[("weight_layer", k as f64)]))).collect();
    let mut copies = Vec::new();
    for name in SNAPSHOTS {
        let Some(from) = r.metrics.iter().position(|x| x == name) else { continue };
        let to = r.metric_id(&format!("{name}{SUFFIX}"));
        for row in r.rows.iter().filter(|row| row.metric as usize == from && row.point == 0) {
            if let Some(k) = weighted.iter().position(|&l| l == row.layer) {
                copies.push(Row { metric: to, point: at[k], ..*row });
            }
        }
    }
    r.rows.extend(copies);
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::monitor::coordinate;

    #[test]
    fn dense_layers_between_norm_layers_are_numbered_consecutively() {
        // Stack: 1 dense, 2 batch norm (no weights), 3 dense, 4 dropout, 5 dense.
        let mut r = Records::new("s", "v", 0);
        for (l, v) in [("1:dense", 1.0), ("3:dense", 2.0), ("5:dense", 3.0)] {
            r.push_named(0, l, m::GRAD_NORM, v);
        }
        for (l, v) in [("1:dense", 10.0), ("3:dense", 20.0), ("5:dense", 30.0)] {
            r.push_named(0, l, "init_grad_norm", v);
        }
        r.push_named(0, "2:batch_normalization", "init_act_std", 0.5);
        r.push_named(0, "*", "loss", 2.3);
        add_weight_layer_snapshots(&mut r);
        let wl: Vec<(f64, &str, f64)> = r
            .tidy()
            .filter(|x| x.metric == "init_grad_norm_wl")
            .map(|x| (coordinate(x.point, "weight_layer").unwrap(), x.layer, x.value))
            .collect();
        assert_eq!(wl, vec![(1.0, "1:dense", 10.0), (2.0, "3:dense", 20.0), (3.0, "5:dense", 30.0)]);
        assert!(!r.tidy().any(|x| x.metric == "init_act_std_wl"), "only gradient snapshots are copied");
        assert_eq!(r.rows.len(), 8 + 3);
    }

    #[test]
    fn a_snapshot_of_a_layer_without_gradient_rows_is_not_copied() {
        let mut r = Records::new("s", "v", 0);
        r.push_named(0, "2:dense", m::GRAD_NORM, 1.0);
        r.push_named(0, "4:dense", "final_grad_norm", 5.0);
        add_weight_layer_snapshots(&mut r);
        assert!(r.tidy().all(|x| !x.metric.ends_with(SUFFIX)));
    }
}

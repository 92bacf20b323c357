//! The monitor as a training hook: [`MonitorHook`] plugs a [`Monitor`] into
//! [`Model::fit`](crate::model::Model::fit). It probes every layer (nested
//! ones included), records at the configured steps, measures each update's
//! size one step later, and turns the first NaN or infinity into a clean stop
//! that names the step, layer, tensor and pass, keeping every record so far.
use super::observe::{LayerProbe, Monitor, MonitorConfig, NonFinite};
use super::record::{GLOBAL, Records, metric as m};
use super::stats;
use crate::clip::ClipReport;
use crate::error::{Error, Result};
use crate::layers::Layer;
use crate::model::{Model, StepHook, StepView};
use crate::params::{ParamId, ParamStore};
use crate::tape::NodeId;

pub struct MonitorHook {
    monitor: Monitor,
    /// Each probed layer's output node in the current step, refilled in place.
    outputs: Vec<Option<NodeId>>,
    /// The step whose pre-update weights were snapshotted, awaiting its update ratio.
    pending_update: Option<u64>,
    /// Each step's clipping report, written as rows when the fit ends.
    clips: Vec<ClipReport>,
}

impl MonitorHook {
    /// Probes every layer of `model`: top-level layers are named `N:kind(act)`
    /// with N counting from 1, a nested layer `N.J:kind(act)`.
    pub fn new(model: &Model<f32>, config: MonitorConfig, records: Records) -> Self {
        let mut probes = Vec::new();
        let params = model.params();
        walk(model.layers(), &mut |path, layer| probes.push(probe(path, layer, params)));
        let n = probes.len();
        MonitorHook {
            monitor: Monitor::new(config, records, probes),
            outputs: vec![None; n],
            pending_update: None,
            clips: Vec::new(),
        }
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    pub fn records(&self) -> &Records {
        &self.monitor.records
    }

    /// Where the first non-finite value appeared, if training stopped on one.
    pub fn first_non_finite(&self) -> Option<&NonFinite> {
        self.monitor.first_non_finite()
    }

    /// Records the update ratio of the last monitored step, whose update the
    /// hook could not see, then the clipping rows (step k = the k-th report).
    fn finish(&mut self, params: &ParamStore<f32>) {
        if let Some(step) = self.pending_update.take() {
            self.monitor.record_update(step, params);
        }
        let r = &mut self.monitor.records;
        for (step, c) in self.clips.drain(..).enumerate() {
            let step = step as u64;
            r.push_named(step, GLOBAL, m::CLIP_NORM_BEFORE, c.norm_before);
            r.push_named(step, GLOBAL, m::CLIP_NORM_AFTER, c.norm_after);
            r.push_named(step, GLOBAL, m::CLIP_ACTED, f64::from(u8::from(c.clipped)));
        }
    }

    pub fn into_records(self) -> Records {
        self.monitor.records
    }

    fn collect_outputs(&mut self, layers: &[Box<dyn Layer<f32>>]) {
        let mut k = 0;
        let outputs = &mut self.outputs;
        walk(layers, &mut |_, layer| {
            outputs[k] = layer.recorded().output;
            k += 1;
        });
    }

    /// Scans the step for a non-finite value; on one, records it as a
    /// `non_finite:PASS:TENSOR` row (first, so it is the step's first bad
    /// row) and returns the error that stops training.
    fn stop_if_non_finite(&mut self, view: &StepView<'_, f32>) -> Result<()> {
        if self.step_is_finite(view) {
            return Ok(());
        }
        let outputs = &self.outputs;
        let found =
            self.monitor.check_finite(view.step as u64, view.loss, view.tape, |i| outputs[i], view.params);
        let Some(event) = found else {
            // Only in parameters no layer owns: the model's own check names those.
            return Ok(());
        };
        let metric = format!("{}{}:{}", m::NON_FINITE_PREFIX, event.pass, event.tensor);
        self.monitor.records.push_named(event.step, &event.layer, &metric, f64::NAN);
        Err(Error::NonFinite { pass: event.pass, place: event.to_string() })
    }

    /// The vectorised test of every probed output, signal and gradient; the
    /// scan that names the place runs only when it fails.
    fn step_is_finite(&self, view: &StepView<'_, f32>) -> bool {
        let tape = view.tape;
        view.loss.is_finite()
            && self
                .outputs
                .iter()
                .flatten()
                .all(|&o| stats::all_finite(tape.value(o)) && tape.grad(o).is_none_or(stats::all_finite))
            && view.params.iter().all(|(_, p)| stats::all_finite(&p.grad))
    }
}

impl StepHook<f32> for MonitorHook {
    fn on_step(&mut self, view: &StepView<'_, f32>) -> Result<()> {
        let step = view.step as u64;
        // The optimiser has applied the previous step's update by now.
        if let Some(prev) = self.pending_update.take() {
            self.monitor.record_update(prev, view.params);
        }
        self.collect_outputs(view.layers);
        if !self.monitor.is_due(step) {
            return self.stop_if_non_finite(view);
        }
        // On a recorded step the statistics double as the finiteness check
        // (one pass over every tensor, not two); a bad step's rows are taken
        // back before the exact scan names the place.
        let mark = self.monitor.records.rows.len();
        self.monitor.record_loss(step, view.loss);
        let mut finite = self.monitor.record_gradients(step, view.params) && view.loss.is_finite();
        let mut k = 0;
        let monitor = &mut self.monitor;
        walk(view.layers, &mut |_, layer| {
            finite &= monitor.record_layer(step, k, view.tape, layer.recorded());
            k += 1;
        });
        if !finite || self.monitor.records.rows[mark..].iter().any(|r| !r.value.is_finite()) {
            self.monitor.records.rows.truncate(mark);
            self.stop_if_non_finite(view)?;
            // Nothing a probe holds is bad: the model's own check will name the parameter.
            return Ok(());
        }
        self.monitor.snapshot_weights(view.params);
        self.pending_update = Some(step);
        Ok(())
    }

    fn on_non_finite(&mut self, view: &StepView<'_, f32>) -> Result<()> {
        self.pending_update = None;
        self.collect_outputs(view.layers);
        self.stop_if_non_finite(view)
    }

    fn on_clip(&mut self, _step: usize, report: &ClipReport) -> Result<()> {
        self.clips.push(*report);
        Ok(())
    }

    fn on_fit_end(&mut self, params: &ParamStore<f32>) -> Result<()> {
        self.finish(params);
        Ok(())
    }
}

/// What [`walk`] calls for each layer: its position path and the layer.
type Visit<'a> = dyn FnMut(&[usize], &dyn Layer<f32>) + 'a;

/// Visits every layer depth-first, parents before their children, with its
/// 1-based position path (`[3]`, `[3, 1]`).
fn walk(layers: &[Box<dyn Layer<f32>>], f: &mut Visit<'_>) {
    fn go(layers: &[Box<dyn Layer<f32>>], path: &mut Vec<usize>, f: &mut Visit<'_>) {
        for (i, layer) in layers.iter().enumerate() {
            path.push(i + 1);
            f(path, layer.as_ref());
            go(layer.children(), path, f);
            path.pop();
        }
    }
    // The path buffer is the only allocation, and it is reused across layers.
    go(layers, &mut Vec::with_capacity(4), f);
}

/// A layer's name in the records: its 1-based position path and its kind,
/// with its unit activation when it has one (`3:dense(sigmoid)`, `3.1:dense`).
pub fn layer_name<T: crate::real::Real>(path: &[usize], layer: &dyn Layer<T>) -> String {
    let pos: Vec<String> = path.iter().map(usize::to_string).collect();
    match layer.unit_activation() {
        Some(a) => format!("{}:{}({a})", pos.join("."), layer.kind()),
        None => format!("{}:{}", pos.join("."), layer.kind()),
    }
}

/// A layer's probe: kernels (dense, recurrent, projection) are its weights;
/// biases and normalisation scales and shifts are reported with the biases,
/// so per-layer weight-gradient norms compare like with like. A block's own
/// probe leaves out what its nested layers hold, which have probes of their own.
fn probe(path: &[usize], layer: &dyn Layer<f32>, params: &ParamStore<f32>) -> LayerProbe {
    let act = layer.unit_activation();
    let name = layer_name(path, layer);
    let nested: Vec<ParamId> = layer.children().iter().flat_map(|c| c.params()).collect();
    let own = layer.params().into_iter().filter(|id| !nested.contains(id));
    let is_vector = |id: &ParamId| {
        let n = &params.get(*id).name;
        [".bias", ".beta", ".gamma"].iter().any(|s| n.ends_with(s))
    };
    let (biases, weights): (Vec<ParamId>, Vec<ParamId>) = own.partition(is_vector);
    LayerProbe { name, weights, biases, activation: act }
}

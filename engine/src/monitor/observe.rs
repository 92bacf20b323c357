//! The monitor attached to training: at every N-th step it reads every
//! layer's gradients, backpropagated signal and activations off the tape and
//! the parameter store, and appends them to [`Records`]. It also finds the
//! first non-finite value, naming the step, layer, tensor and pass.
use super::record::{GLOBAL, Records, metric as m, point};
use super::stats::{
    self, ACT_HIST_BINS, ACT_HIST_LO, ACT_HIST_WIDTH, LOG10_HIST_BINS, LOG10_HIST_LO, LOG10_HIST_WIDTH,
};
use crate::kernels::{Activation, moments};
use crate::layers::Recorded;
use crate::params::{ParamId, ParamStore};
use crate::tape::{NodeId, Tape};

/// What the monitor reads of one layer.
#[derive(Clone, Debug)]
pub struct LayerProbe {
    /// Display name, e.g. `3:dense(sigmoid)`.
    pub name: String,
    /// Kernels (weights); their gradients are the per-layer gradient metrics.
    pub weights: Vec<ParamId>,
    /// Biases (and batch-norm shifts), reported separately.
    pub biases: Vec<ParamId>,
    /// The layer's activation, for saturation and dead-unit counts.
    pub activation: Option<Activation>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonitorConfig {
    /// Record at steps 0, N, 2N, ... (1 = every step).
    pub every: u64,
    /// Also record histograms: log10 |g| of each layer's weight gradient and
    /// each layer's output values.
    pub histograms: bool,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig { every: 1, histograms: false }
    }
}

/// Where the first NaN or infinity appeared.
#[derive(Clone, Debug, PartialEq)]
pub struct NonFinite {
    pub step: u64,
    pub pass: &'static str,
    pub layer: String,
    pub tensor: String,
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "first non-finite value at step {}, layer {}, tensor {}, {} pass",
            self.step, self.layer, self.tensor, self.pass
        )
    }
}

/// Interned metric ids, so a step does no name lookups.
struct Ids {
    grad_norm: u32,
    grad_rms: u32,
    grad_mean_abs: u32,
    grad_max_abs: u32,
    bias_grad_norm: u32,
    global: u32,
    global_grad_norm: u32,
    signal_norm: u32,
    act_mean: u32,
    act_std: u32,
    saturated: u32,
    dead: u32,
    update_ratio: u32,
    loss: u32,
    hidden_grad: u32,
    hidden_norm: u32,
    grad_hist: u32,
    act_hist: u32,
    /// Point ids of the histogram bins (`bin=LO`).
    hist_bins: Vec<u32>,
    act_bins: Vec<u32>,
}

pub struct Monitor {
    pub config: MonitorConfig,
    pub records: Records,
    probes: Vec<LayerProbe>,
    layer_ids: Vec<u32>,
    /// Interned point ids `t=K` of the recurrent time steps seen so far.
    time_ids: Vec<u32>,
    ids: Ids,
    /// Weights before the optimiser step, for the update ratio (buffers reused).
    before: Vec<Vec<f32>>,
    hist: [u64; LOG10_HIST_BINS],
    act_counts: [u64; ACT_HIST_BINS],
    first_non_finite: Option<NonFinite>,
}

impl Monitor {
    pub fn new(config: MonitorConfig, mut records: Records, probes: Vec<LayerProbe>) -> Self {
        let layer_ids = probes.iter().map(|p| records.layer_id(&p.name)).collect();
        let mut id = |name: &str| records.metric_id(name);
        let ids = Ids {
            grad_norm: id(m::GRAD_NORM),
            grad_rms: id(m::GRAD_RMS),
            grad_mean_abs: id(m::GRAD_MEAN_ABS),
            grad_max_abs: id(m::GRAD_MAX_ABS),
            bias_grad_norm: id(m::BIAS_GRAD_NORM),
            global_grad_norm: id(m::GLOBAL_GRAD_NORM),
            signal_norm: id(m::SIGNAL_NORM),
            act_mean: id(m::ACT_MEAN),
            act_std: id(m::ACT_STD),
            saturated: id(m::SATURATED_FRAC),
            dead: id(m::DEAD_FRAC),
            update_ratio: id(m::UPDATE_RATIO),
            loss: id(m::LOSS),
            hidden_grad: id(m::HIDDEN_GRAD_NORM),
            hidden_norm: id(m::HIDDEN_NORM),
            grad_hist: id(m::GRAD_LOG10_HIST),
            act_hist: id(m::ACT_HIST),
            global: 0,
            hist_bins: Vec::new(),
            act_bins: Vec::new(),
        };
        let mut bins = |lo: f64, width: f64, n: usize| -> Vec<u32> {
            (0..n).map(|k| records.point_id(&point(&[("bin", lo + k as f64 * width)]))).collect()
        };
        let hist_bins = bins(LOG10_HIST_LO, LOG10_HIST_WIDTH, LOG10_HIST_BINS);
        let act_bins = bins(ACT_HIST_LO, ACT_HIST_WIDTH, ACT_HIST_BINS);
        let global = records.layer_id(GLOBAL);
        Monitor {
            config,
            records,
            probes,
            layer_ids,
            time_ids: Vec::new(),
            ids: Ids { global, hist_bins, act_bins, ..ids },
            before: Vec::new(),
            hist: [0; LOG10_HIST_BINS],
            act_counts: [0; ACT_HIST_BINS],
            first_non_finite: None,
        }
    }

    pub fn probes(&self) -> &[LayerProbe] {
        &self.probes
    }

    pub fn is_due(&self, step: u64) -> bool {
        self.config.every <= 1 || step.is_multiple_of(self.config.every)
    }

    pub fn first_non_finite(&self) -> Option<&NonFinite> {
        self.first_non_finite.as_ref()
    }

    pub fn record_loss(&mut self, step: u64, loss: f64) {
        self.records.push(step, self.ids.global, self.ids.loss, loss);
    }

    /// Per-layer weight and bias gradient statistics and the global norm.
    /// Returns whether every gradient value was finite.
    pub fn record_gradients(&mut self, step: u64, params: &ParamStore<f32>) -> bool {
        let mut global_sq = 0.0;
        let mut bad = 0;
        for (i, probe) in self.probes.iter().enumerate() {
            let layer = self.layer_ids[i];
            let (mut sq, mut abs, mut max, mut n) = (0.0f64, 0.0f64, 0.0f64, 0usize);
            for &w in &probe.weights {
                let s = stats::tensor_stats(&params.get(w).grad);
                bad += s.non_finite;
                sq += s.l2 * s.l2;
                abs += s.mean_abs * params.get(w).grad.len() as f64;
                max = max.max(s.max_abs);
                n += params.get(w).grad.len();
            }
            if n > 0 {
                let nf = n as f64;
                self.records.push(step, layer, self.ids.grad_norm, sq.sqrt());
                self.records.push(step, layer, self.ids.grad_rms, (sq / nf).sqrt());
                self.records.push(step, layer, self.ids.grad_mean_abs, abs / nf);
                self.records.push(step, layer, self.ids.grad_max_abs, max);
            }
            let bias_sq: f64 = probe.biases.iter().map(|&b| stats::l2(&params.get(b).grad).powi(2)).sum();
            if !probe.biases.is_empty() {
                self.records.push(step, layer, self.ids.bias_grad_norm, bias_sq.sqrt());
            }
            global_sq += sq + bias_sq;
            if self.config.histograms && n > 0 {
                self.hist.iter_mut().for_each(|c| *c = 0);
                let mut part = [0u64; LOG10_HIST_BINS];
                for &w in &probe.weights {
                    stats::log10_histogram(&params.get(w).grad, &mut part);
                    self.hist.iter_mut().zip(&part).for_each(|(h, p)| *h += p);
                }
                for (k, &c) in self.hist.iter().enumerate() {
                    self.records.push_at(step, layer, self.ids.hist_bins[k], self.ids.grad_hist, c as f64);
                }
            }
        }
        // Parameters that belong to no probed layer still count globally.
        let probed = |id| self.probes.iter().any(|p| p.weights.contains(&id) || p.biases.contains(&id));
        for (id, p) in params.iter() {
            if !probed(id) {
                global_sq += stats::l2(&p.grad).powi(2);
            }
        }
        self.records.push(step, self.ids.global, self.ids.global_grad_norm, global_sq.sqrt());
        // The bias and unprobed norms are non-finite when a value is; the weights' statistics are not.
        bad == 0 && global_sq.is_finite()
    }

    /// Signal norm ||dL/dh|| at the layer's output, activation statistics,
    /// and for recurrent layers ||h_t|| and ||dL/dh_t|| at every time step.
    /// Returns whether every output value was finite (the statistics
    /// summarise the finite ones; the signal and hidden-state norms are
    /// themselves non-finite when a value is).
    pub fn record_layer(&mut self, step: u64, layer: usize, tape: &Tape<f32>, rec: &Recorded) -> bool {
        let lid = self.layer_ids[layer];
        let mut finite = true;
        if let Some(out) = rec.output {
            if let Some(g) = tape.grad(out) {
                self.records.push(step, lid, self.ids.signal_norm, stats::l2(g));
            }
            let y = tape.value(out);
            let s = stats::tensor_stats(y);
            finite = s.non_finite == 0;
            self.records.push(step, lid, self.ids.act_mean, s.mean);
            self.records.push(step, lid, self.ids.act_std, s.std);
            if self.config.histograms {
                stats::act_histogram(y, &mut self.act_counts);
                for (k, &c) in self.act_counts.iter().enumerate() {
                    self.records.push_at(step, lid, self.ids.act_bins[k], self.ids.act_hist, c as f64);
                }
            }
            if let Some(act) = self.probes[layer].activation {
                if let Some(f) = stats::saturated_fraction(act, y) {
                    self.records.push(step, lid, self.ids.saturated, f);
                }
                if let Some(f) = stats::dead_fraction(act, tape.shape(out).cols, y) {
                    self.records.push(step, lid, self.ids.dead, f);
                }
            }
        }
        for (t, &h) in rec.hidden.iter().enumerate() {
            while self.time_ids.len() <= t {
                let id = self.records.point_id(&point(&[("t", self.time_ids.len() as f64)]));
                self.time_ids.push(id);
            }
            let tid = self.time_ids[t];
            self.records.push_at(step, lid, tid, self.ids.hidden_norm, stats::l2(tape.value(h)));
            if let Some(g) = tape.grad(h) {
                self.records.push_at(step, lid, tid, self.ids.hidden_grad, stats::l2(g));
            }
        }
        finite
    }

    /// Copies the weights before the optimiser step.
    pub fn snapshot_weights(&mut self, params: &ParamStore<f32>) {
        let ids = self.probes.iter().flat_map(|p| p.weights.iter().copied());
        for (k, id) in ids.enumerate() {
            if self.before.len() == k {
                self.before.push(Vec::new());
            }
            let buf = &mut self.before[k];
            buf.clear();
            buf.extend_from_slice(&params.get(id).value);
        }
    }

    /// ||Δw|| / ||w|| per layer over the step since [`Monitor::snapshot_weights`].
    pub fn record_update(&mut self, step: u64, params: &ParamStore<f32>) {
        let mut k = 0;
        for (i, probe) in self.probes.iter().enumerate() {
            let (mut dsq, mut wsq) = (0.0f64, 0.0f64);
            for &w in &probe.weights {
                let (d, n) = moments::diff_and_norm_sq_f32(&params.get(w).value, &self.before[k]);
                dsq += d;
                wsq += n;
                k += 1;
            }
            if !probe.weights.is_empty() && wsq > 0.0 {
                self.records.push(step, self.layer_ids[i], self.ids.update_ratio, (dsq / wsq).sqrt());
            }
        }
    }

    /// `output_of(i)` gives layer i's output node in this step.
    /// Scans the loss and every layer's output (forward), then every
    /// parameter gradient and recorded signal (backward), and remembers the
    /// first non-finite value. Returns it if one is found at this step.
    pub fn check_finite(
        &mut self,
        step: u64,
        loss: f64,
        tape: &Tape<f32>,
        output_of: impl Fn(usize) -> Option<NodeId>,
        params: &ParamStore<f32>,
    ) -> Option<NonFinite> {
        if self.first_non_finite.is_some() {
            return self.first_non_finite.clone();
        }
        let found = self.find_non_finite(step, loss, tape, output_of, params);
        self.first_non_finite.clone_from(&found);
        found
    }

    fn find_non_finite(
        &self,
        step: u64,
        loss: f64,
        tape: &Tape<f32>,
        output_of: impl Fn(usize) -> Option<NodeId>,
        params: &ParamStore<f32>,
    ) -> Option<NonFinite> {
        let bad = |x: &[f32]| x.iter().any(|v| !v.is_finite());
        let event = |pass, layer: &str, tensor: &str| {
            Some(NonFinite { step, pass, layer: layer.to_owned(), tensor: tensor.to_owned() })
        };
        for (i, probe) in self.probes.iter().enumerate() {
            if let Some(out) = output_of(i)
                && bad(tape.value(out))
            {
                return event("forward", &probe.name, "output");
            }
        }
        if !loss.is_finite() {
            return event("forward", GLOBAL, "loss");
        }
        // Backward runs from the last layer to the first: report the first
        // layer the sweep reached with a bad gradient.
        for (i, probe) in self.probes.iter().enumerate().rev() {
            if let Some(g) = output_of(i).and_then(|o| tape.grad(o))
                && bad(g)
            {
                return event("backward", &probe.name, "dL/d(output)");
            }
            for &w in probe.weights.iter().chain(&probe.biases) {
                if bad(&params.get(w).grad) {
                    return event("backward", &probe.name, &params.get(w).name);
                }
            }
        }
        None
    }
}

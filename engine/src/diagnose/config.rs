//! The diagnosis thresholds, each with its default and the reason for it.
//! A scenario's TOML file can override any of them in a `[diagnose]` table.
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiagnoseConfig {
    /// Weight-gradient RMS below which a layer cannot learn at usual learning
    /// rates (an update of 1e-3·1e-7 is below f32 resolution of weights near
    /// 0.1). The absolute test: it catches networks whose ratios look fine
    /// while every gradient is tiny.
    pub vanish_rms: f64,
    /// First/last layer weight-gradient norm ratio below which early layers
    /// learn at least 1000× slower than late ones.
    pub vanish_ratio: f64,
    /// Global gradient norm above which a step counts as an explosion event
    /// (100, the seed 003 lecture's threshold).
    pub explode_norm: f64,
    /// Growth of the global norm over its first recorded value that counts
    /// as explosion even under `explode_norm` (a fixed threshold measures the
    /// loss scale; growth does not).
    pub explode_growth: f64,
    /// First/last layer norm ratio above which gradients grow towards the
    /// input: explosion through depth (the mirror of `vanish_ratio`).
    pub explode_ratio: f64,
    /// Fraction of saturated sigmoid/tanh outputs that makes a layer
    /// saturated (half the units have derivative under 0.01).
    pub saturated_frac: f64,
    /// Fraction of ReLU units dead for the whole batch that makes a layer
    /// lose most of its capacity.
    pub dead_frac: f64,
    /// Update-to-weight ratio band; the rule of thumb puts healthy training
    /// near 1e-3, two orders either side is out of band.
    pub update_low: f64,
    pub update_high: f64,
    /// Clipping that acts on more than this fraction of steps, with the
    /// median norm before clipping `clip_scale`× above the threshold, is too
    /// aggressive: the threshold, not the gradient, sets every step.
    pub clip_acted_frac: f64,
    pub clip_scale: f64,
    /// ||dL/dh_0|| / ||dL/dh_T|| below which a recurrent layer forgets the
    /// start of its sequence (at `persist_frac` of the recorded steps).
    pub time_ratio: f64,
    /// Input standard deviation above which the inputs count as unscaled: standardised inputs have
    /// 1, pixels in [0, 1] about 0.3; the default initialisers assume inputs of order 1, so at 5x
    /// that the first layer's pre-activations are 5x what its initialiser planned for.
    pub input_std: f64,
    /// A condition must hold at this fraction of recorded steps to count,
    /// so one noisy batch is no verdict.
    pub persist_frac: f64,
}

impl Default for DiagnoseConfig {
    fn default() -> Self {
        DiagnoseConfig {
            vanish_rms: 1e-7,
            vanish_ratio: 1e-3,
            explode_norm: 100.0,
            explode_growth: 1e3,
            explode_ratio: 1e3,
            saturated_frac: 0.5,
            dead_frac: 0.5,
            update_low: 1e-5,
            update_high: 1e-1,
            clip_acted_frac: 0.9,
            clip_scale: 10.0,
            time_ratio: 1e-3,
            input_std: 5.0,
            persist_frac: 0.5,
        }
    }
}

//! `Dropout(rate)`: in training, each value is kept with probability 1 − rate
//! and scaled by 1/(1 − rate) (inverted dropout, so inference is the
//! identity); the mask is drawn from the step's seeded generator and is a
//! constant on the tape, so the gradient is g·mask.
use super::{Builder, Layer, LayerConfig, Recorded};
use crate::data::random::{fill_u64, uniform01_of};
use crate::error::{Error, Result};
use crate::params::ParamId;
use crate::real::Real;
use crate::tape::NodeId;

const KIND: &str = "dropout";

#[derive(Clone, Debug, PartialEq)]
pub struct Dropout {
    pub rate: f64,
}

impl Dropout {
    pub fn new(rate: f64) -> Self {
        Dropout { rate }
    }
}

impl<T: Real> LayerConfig<T> for Dropout {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, b: &mut Builder<'_, T>, width: usize) -> Result<Box<dyn Layer<T>>> {
        if !(0.0..1.0).contains(&self.rate) {
            return Err(b.error(KIND, format!("rate must lie in [0, 1), got {}", self.rate)));
        }
        Ok(Box::new(DropoutLayer {
            name: b.place.clone(),
            rate: self.rate,
            width,
            mask: Vec::new(),
            bits: Vec::new(),
            recorded: Recorded::default(),
        }))
    }
}

/// A built dropout layer; its mask buffer is reused from step to step.
pub struct DropoutLayer<T> {
    name: String,
    rate: f64,
    width: usize,
    mask: Vec<T>,
    /// The step's draws, one `next_u64` per value, read in one block.
    bits: Vec<u64>,
    recorded: Recorded,
}

impl<T: Real> DropoutLayer<T> {
    /// The mask of the last training pass (0 or 1/(1 − rate) per value).
    pub fn last_mask(&self) -> &[T] {
        &self.mask
    }
}

impl<T: Real> Layer<T> for DropoutLayer<T> {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn output_width(&self, input_width: usize) -> Result<usize> {
        if input_width != self.width {
            return Err(Error::Config {
                layer: format!("{} ({KIND})", self.name),
                msg: format!("built for input width {}, given {input_width}", self.width),
            });
        }
        Ok(input_width)
    }

    fn forward(&mut self, ctx: &mut super::Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let y = if ctx.training && self.rate > 0.0 {
            let s = ctx.tape.shape(x);
            let keep = T::c(1.0 / (1.0 - self.rate));
            self.mask.resize(s.len(), T::zero());
            self.bits.resize(s.len(), 0);
            // The draws `uniform01` would make per value, in one bulk read of
            // the stream (the per-call bookkeeping was most of the layer's time).
            fill_u64(ctx.rng, &mut self.bits);
            // Every element is written, by a select rather than a branch: a kept
            // or dropped unit is a coin flip the branch predictor loses.
            let kept = [T::zero(), keep];
            for (m, &u) in self.mask.iter_mut().zip(&self.bits) {
                *m = kept[usize::from(uniform01_of(u) >= self.rate)];
            }
            let mask = ctx.tape.input(s, &self.mask)?;
            ctx.tape.mul(x, mask)?
        } else {
            x
        };
        self.recorded.output = Some(y);
        Ok(y)
    }

    fn params(&self) -> Vec<ParamId> {
        Vec::new()
    }

    fn recorded(&self) -> &Recorded {
        &self.recorded
    }
}

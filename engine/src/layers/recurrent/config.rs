//! The recurrent layers as [`Sequential`](crate::model::Sequential) entries:
//! `Sequential::new(steps · features).add(Recurrent::lstm(units, features))`,
//! named like every other layer by position (`layers.{i}.lstm.kernel`, or
//! nested under a residual block), with the input width checked at build time.
use super::{Gru, Lstm, RecurrentConfig, SimpleRnn};
use crate::error::Result;
use crate::layers::{Builder, Layer, LayerConfig};
use crate::real::Real;

/// Which recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecurrentKind {
    SimpleRnn,
    Lstm,
    Gru,
}

/// A recurrent layer's configuration (Keras `SimpleRNN`, `LSTM`, `GRU`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recurrent {
    pub kind: RecurrentKind,
    pub config: RecurrentConfig,
}

impl Recurrent {
    /// `units` tanh units over steps of `features` values (last state only).
    pub fn simple_rnn(units: usize, features: usize) -> Self {
        Recurrent { kind: RecurrentKind::SimpleRnn, config: RecurrentConfig::new(units, features) }
    }

    /// An LSTM (forget-gate bias 1, Keras' default).
    pub fn lstm(units: usize, features: usize) -> Self {
        Recurrent { kind: RecurrentKind::Lstm, config: RecurrentConfig::new(units, features) }
    }

    pub fn gru(units: usize, features: usize) -> Self {
        Recurrent { kind: RecurrentKind::Gru, config: RecurrentConfig::new(units, features) }
    }

    /// Output every step's state (`steps · units` values) instead of the last.
    pub fn return_sequences(mut self, yes: bool) -> Self {
        self.config.return_sequences = yes;
        self
    }

    /// LSTM only: start the forget-gate bias at 1 (default) or 0.
    pub fn unit_forget_bias(mut self, yes: bool) -> Self {
        self.config = self.config.unit_forget_bias(yes);
        self
    }

    /// The whole configuration (initialisers, forget bias), e.g. from a model spec.
    pub fn with_config(mut self, config: RecurrentConfig) -> Self {
        self.config = config;
        self
    }
}

impl<T: Real> LayerConfig<T> for Recurrent {
    fn kind(&self) -> &'static str {
        match self.kind {
            RecurrentKind::SimpleRnn => SimpleRnn::KIND,
            RecurrentKind::Lstm => Lstm::KIND,
            RecurrentKind::Gru => Gru::KIND,
        }
    }

    fn build(&self, b: &mut Builder<'_, T>, input_width: usize) -> Result<Box<dyn Layer<T>>> {
        let (params, prefix, rng, cfg) = (&mut *b.params, b.prefix.as_str(), &mut *b.rng, self.config);
        let layer: Box<dyn Layer<T>> = match self.kind {
            RecurrentKind::SimpleRnn => Box::new(SimpleRnn::at(params, prefix, cfg, rng)?),
            RecurrentKind::Lstm => Box::new(Lstm::at(params, prefix, cfg, rng)?),
            RecurrentKind::Gru => Box::new(Gru::at(params, prefix, cfg, rng)?),
        };
        // A width that is not a whole number of steps is a build error, here.
        layer.output_width(input_width)?;
        Ok(layer)
    }
}

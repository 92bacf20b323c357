//! `Activation`: a layer that only applies an activation, y = act(x), so a
//! normalisation can sit between a dense layer's product and its squash
//! (`Dense(linear) → BatchNormalization → Activation(relu)`). No parameters;
//! the tape's activation and softmax ops carry the gradient. As the last
//! layer of a model a sigmoid or softmax emits its input (the logits), like
//! a dense output layer, so the loss is computed stably from logits.
use super::dense::{DenseAct, parse_activation};
use super::{Builder, Layer, LayerConfig, OutputAct, Recorded};
use crate::error::{Error, Result};
use crate::kernels::Activation as Act;
use crate::params::ParamId;
use crate::real::Real;
use crate::tape::NodeId;

const KIND: &str = "activation";

/// `Activation::new("relu")`, `Activation::new("leaky_relu(0.1)")`, `Activation::new("softmax")`.
#[derive(Clone, Debug, PartialEq)]
pub struct Activation {
    /// An element-wise activation name (with its alpha) or `softmax`.
    pub activation: String,
}

impl Activation {
    pub fn new(name: &str) -> Self {
        Activation { activation: name.to_string() }
    }

    /// A typed activation (with its parameter, e.g. `LeakyRelu { alpha: 0.1 }`).
    pub fn act(act: Act) -> Self {
        Activation { activation: act.to_string() }
    }
}

impl<T: Real> LayerConfig<T> for Activation {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, b: &mut Builder<'_, T>, input_width: usize) -> Result<Box<dyn Layer<T>>> {
        if input_width == 0 {
            return Err(b.error(KIND, "input width is 0"));
        }
        let act = parse_activation(&self.activation).map_err(|m| b.error(KIND, m))?;
        Ok(Box::new(ActivationLayer {
            name: b.place.clone(),
            width: input_width,
            act,
            logits: false,
            recorded: Recorded::default(),
        }))
    }
}

/// A built activation layer.
pub struct ActivationLayer {
    name: String,
    width: usize,
    act: DenseAct,
    /// Emit the input (logits) as output; see [`Layer::emit_logits`].
    logits: bool,
    recorded: Recorded,
}

impl ActivationLayer {
    pub fn activation(&self) -> DenseAct {
        self.act
    }
}

impl<T: Real> Layer<T> for ActivationLayer {
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
        Ok(self.width)
    }

    fn forward(&mut self, ctx: &mut super::Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let y = match self.act {
            DenseAct::Elementwise(Act::Linear) => x,
            DenseAct::Elementwise(Act::Sigmoid) | DenseAct::Softmax if self.logits => x,
            DenseAct::Elementwise(a) => ctx.tape.act(x, a)?,
            DenseAct::Softmax => ctx.tape.softmax(x)?,
        };
        self.recorded.pre_activation = Some(x);
        self.recorded.output = Some(y);
        Ok(y)
    }

    fn params(&self) -> Vec<ParamId> {
        Vec::new()
    }

    fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    fn unit_activation(&self) -> Option<Act> {
        match self.act {
            DenseAct::Elementwise(Act::Linear) | DenseAct::Softmax => None,
            DenseAct::Elementwise(_) if self.logits => None,
            DenseAct::Elementwise(a) => Some(a),
        }
    }

    fn output_act(&self) -> OutputAct {
        match self.act {
            DenseAct::Elementwise(Act::Sigmoid) => OutputAct::Sigmoid,
            DenseAct::Softmax => OutputAct::Softmax,
            DenseAct::Elementwise(_) => OutputAct::Other,
        }
    }

    fn emit_logits(&mut self, on: bool) -> bool {
        let can = <Self as Layer<T>>::output_act(self) != OutputAct::Other;
        self.logits = on && can;
        can
    }
}

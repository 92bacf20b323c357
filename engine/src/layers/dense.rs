//! `Dense`: y = act(x·W + b), W of shape `[in, out]` (row-major), b `[1, out]`.
//! Parameters are named from the layer's position: `layers.{i}.dense.weight`
//! and `layers.{i}.dense.bias`. Recorded nodes: `pre_activation` is x·W + b,
//! `output` the activation; a model's sigmoid/softmax output layer emits its
//! logits, so there both are x·W + b (the model squashes for `predict`).
use super::{Builder, InitArg, Layer, LayerConfig, OutputAct, Recorded, parse_init};
use crate::error::{Error, Result};
use crate::kernels::Activation;
use crate::params::ParamId;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::NodeId;

const KIND: &str = "dense";

/// Keras-like configuration: `Dense::new(8).activation("relu")`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub units: usize,
    /// `linear`, `sigmoid`, `tanh`, `relu`, `leaky_relu` or `leaky_relu(alpha)`,
    /// `elu` or `elu(alpha)`, `gelu`, `softplus`, `softmax`.
    pub activation: String,
    pub kernel_initializer: InitArg,
    pub bias_initializer: InitArg,
    pub use_bias: bool,
}

impl Dense {
    /// Keras defaults: linear, glorot_uniform kernel, zero bias.
    pub fn new(units: usize) -> Self {
        Dense {
            units,
            activation: "linear".into(),
            kernel_initializer: "glorot_uniform".into(),
            bias_initializer: "zeros".into(),
            use_bias: true,
        }
    }

    pub fn activation(mut self, name: &str) -> Self {
        self.activation = name.to_string();
        self
    }

    /// A typed activation (with its parameter, e.g. `LeakyRelu { alpha: 0.1 }`).
    pub fn act(mut self, act: Activation) -> Self {
        self.activation = act.to_string();
        self
    }

    pub fn kernel_initializer(mut self, init: impl Into<InitArg>) -> Self {
        self.kernel_initializer = init.into();
        self
    }

    pub fn bias_initializer(mut self, init: impl Into<InitArg>) -> Self {
        self.bias_initializer = init.into();
        self
    }

    pub fn use_bias(mut self, on: bool) -> Self {
        self.use_bias = on;
        self
    }
}

/// A dense layer's squash: an element-wise activation or a row softmax.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DenseAct {
    Elementwise(Activation),
    Softmax,
}

/// Parses `relu`, `leaky_relu(0.1)`, `softmax`, ...; the error says what was given.
pub fn parse_activation(name: &str) -> std::result::Result<DenseAct, String> {
    let name = name.trim();
    if name == "softmax" {
        return Ok(DenseAct::Softmax);
    }
    let unknown = || {
        format!(
            "unknown activation {name:?}; known: {}, softmax (alpha as e.g. elu(0.5))",
            Activation::ALL_NAMES.join(", ")
        )
    };
    let Some(open) = name.find('(') else {
        return Activation::from_name(name).map(DenseAct::Elementwise).ok_or_else(unknown);
    };
    let (base, rest) = (&name[..open], &name[open + 1..]);
    let arg = rest.strip_suffix(')').ok_or_else(unknown)?;
    let alpha: f64 =
        arg.trim().parse().map_err(|_| format!("activation {name:?}: alpha {arg:?} is not a number"))?;
    if !alpha.is_finite() {
        return Err(format!("activation {name:?}: alpha {alpha} is not finite"));
    }
    match base {
        "leaky_relu" => Ok(DenseAct::Elementwise(Activation::LeakyRelu { alpha })),
        "elu" => Ok(DenseAct::Elementwise(Activation::Elu { alpha })),
        _ => Err(unknown()),
    }
}

impl<T: Real> LayerConfig<T> for Dense {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, b: &mut Builder<'_, T>, input_width: usize) -> Result<Box<dyn Layer<T>>> {
        if self.units == 0 {
            return Err(b.error(KIND, "units must be positive, got 0"));
        }
        if input_width == 0 {
            return Err(b.error(KIND, "input width is 0"));
        }
        let act = parse_activation(&self.activation).map_err(|m| b.error(KIND, m))?;
        let kernel_init = parse_init(b, KIND, "kernel_initializer", &self.kernel_initializer)?;
        let bias_init = parse_init(b, KIND, "bias_initializer", &self.bias_initializer)?;
        let weight = b.param(KIND, "weight", Shape::new(input_width, self.units), &kernel_init)?;
        let bias = match self.use_bias {
            true => Some(b.param(KIND, "bias", Shape::new(1, self.units), &bias_init)?),
            false => None,
        };
        Ok(Box::new(DenseLayer {
            name: b.place.clone(),
            input: input_width,
            units: self.units,
            act,
            weight,
            bias,
            logits: false,
            recorded: Recorded::default(),
        }))
    }
}

/// A built dense layer.
pub struct DenseLayer {
    name: String,
    input: usize,
    units: usize,
    act: DenseAct,
    weight: ParamId,
    bias: Option<ParamId>,
    /// Emit the pre-activation (logits) as output; see [`Layer::emit_logits`].
    logits: bool,
    recorded: Recorded,
}

impl DenseLayer {
    pub fn activation(&self) -> DenseAct {
        self.act
    }

    pub fn weight(&self) -> ParamId {
        self.weight
    }

    pub fn bias(&self) -> Option<ParamId> {
        self.bias
    }
}

impl<T: Real> Layer<T> for DenseLayer {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn output_width(&self, input_width: usize) -> Result<usize> {
        if input_width != self.input {
            return Err(Error::Config {
                layer: format!("{} ({KIND})", self.name),
                msg: format!("built for input width {}, given {input_width}", self.input),
            });
        }
        Ok(self.units)
    }

    fn forward(&mut self, ctx: &mut super::Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.tape.shape(x);
        if s.cols != self.input {
            return Err(Error::ShapeMismatch { op: KIND, lhs: s, rhs: Shape::new(self.input, self.units) });
        }
        let w = ctx.param(self.weight)?;
        let z = match self.bias {
            Some(b) => {
                let b = ctx.param(b)?;
                ctx.tape.linear(x, w, b)?
            }
            None => ctx.tape.matmul(x, w)?,
        };
        let y = match self.act {
            DenseAct::Elementwise(Activation::Linear) => z,
            DenseAct::Elementwise(Activation::Sigmoid) | DenseAct::Softmax if self.logits => z,
            DenseAct::Elementwise(a) => ctx.tape.act(z, a)?,
            DenseAct::Softmax => ctx.tape.softmax(z)?,
        };
        self.recorded.pre_activation = Some(z);
        self.recorded.output = Some(y);
        Ok(y)
    }

    fn params(&self) -> Vec<ParamId> {
        self.bias.iter().fold(vec![self.weight], |mut v, &b| {
            v.push(b);
            v
        })
    }

    fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    fn unit_activation(&self) -> Option<Activation> {
        match self.act {
            DenseAct::Elementwise(Activation::Linear) | DenseAct::Softmax => None,
            DenseAct::Elementwise(_) if self.logits => None,
            DenseAct::Elementwise(a) => Some(a),
        }
    }

    fn output_act(&self) -> OutputAct {
        match self.act {
            DenseAct::Elementwise(Activation::Sigmoid) => OutputAct::Sigmoid,
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

//! `Residual`: y = F(x) + x around any stack of layers F. When F changes the
//! width, the skip path is a learned linear projection x·P (P `[in, out]`,
//! no bias), as in ResNet's projection shortcut. With the skip off, y = F(x):
//! a plain block (kind `block`), so a plain net can repeat the same stack. Names nest under the block:
//! `layers.{i}.residual.layers.{j}.dense.weight`, `layers.{i}.residual.projection.weight`.
use super::{Buffer, Builder, InitArg, Layer, LayerConfig, Recorded, parse_init};
use crate::error::{Error, Result};
use crate::params::ParamId;
use crate::real::Real;
use crate::shape::Shape;
use crate::tape::NodeId;

const KIND: &str = "residual";

/// A residual block's configuration: the stack F and the projection's initialiser.
pub struct Residual<T: Real> {
    pub layers: Vec<Box<dyn LayerConfig<T>>>,
    pub projection_initializer: InitArg,
    /// Add the input to F(x) (on unless [`Residual::skip`] turns it off).
    pub skip: bool,
}

impl<T: Real> Default for Residual<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> Residual<T> {
    pub fn new() -> Self {
        Residual { layers: Vec::new(), projection_initializer: "glorot_uniform".into(), skip: true }
    }

    /// Whether the block adds its input (a plain block without).
    pub fn skip(mut self, on: bool) -> Self {
        self.skip = on;
        self
    }

    /// Appends a layer to F (named after Keras' `model.add`).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl LayerConfig<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends an already boxed layer configuration (what a model spec builds).
    pub fn add_boxed(mut self, layer: Box<dyn LayerConfig<T>>) -> Self {
        self.layers.push(layer);
        self
    }

    pub fn projection_initializer(mut self, init: impl Into<InitArg>) -> Self {
        self.projection_initializer = init.into();
        self
    }
}

impl<T: Real> LayerConfig<T> for Residual<T> {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, b: &mut Builder<'_, T>, input_width: usize) -> Result<Box<dyn Layer<T>>> {
        if self.layers.is_empty() {
            return Err(b.error(KIND, "the block needs at least one layer"));
        }
        let mut inner = Vec::with_capacity(self.layers.len());
        let mut width = input_width;
        for (j, cfg) in self.layers.iter().enumerate() {
            let layer = cfg.build(&mut b.nested(KIND, j), width)?;
            width = layer.output_width(width)?;
            inner.push(layer);
        }
        let projection = if width != input_width && self.skip {
            let init = parse_init(b, KIND, "projection_initializer", &self.projection_initializer)?;
            Some(b.param(KIND, "projection.weight", Shape::new(input_width, width), &init)?)
        } else {
            None
        };
        Ok(Box::new(ResidualLayer {
            name: b.place.clone(),
            input: input_width,
            output: width,
            inner,
            projection,
            skip: self.skip,
            recorded: Recorded::default(),
        }))
    }
}

/// A built residual block.
pub struct ResidualLayer<T: Real> {
    name: String,
    input: usize,
    output: usize,
    inner: Vec<Box<dyn Layer<T>>>,
    projection: Option<ParamId>,
    skip: bool,
    recorded: Recorded,
}

impl<T: Real> ResidualLayer<T> {
    pub fn projection(&self) -> Option<ParamId> {
        self.projection
    }
}

impl<T: Real> Layer<T> for ResidualLayer<T> {
    fn kind(&self) -> &'static str {
        if self.skip { KIND } else { "block" }
    }

    fn output_width(&self, input_width: usize) -> Result<usize> {
        if input_width != self.input {
            return Err(Error::Config {
                layer: format!("{} ({KIND})", self.name),
                msg: format!("built for input width {}, given {input_width}", self.input),
            });
        }
        Ok(self.output)
    }

    fn forward(&mut self, ctx: &mut super::Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let mut h = x;
        for layer in &mut self.inner {
            h = layer.forward(ctx, h)?;
        }
        let y = match (self.skip, self.projection) {
            (false, _) => h,
            (true, Some(p)) => {
                let p = ctx.param(p)?;
                let skip = ctx.tape.matmul(x, p)?;
                ctx.tape.add(h, skip)?
            }
            (true, None) => ctx.tape.add(h, x)?,
        };
        // F(x) before the sum stands where other layers keep their pre-activation.
        self.recorded.pre_activation = Some(h);
        self.recorded.output = Some(y);
        Ok(y)
    }

    fn params(&self) -> Vec<ParamId> {
        let mut ids: Vec<ParamId> = self.inner.iter().flat_map(|l| l.params()).collect();
        ids.extend(self.projection);
        ids
    }

    fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    fn children(&self) -> &[Box<dyn Layer<T>>] {
        &self.inner
    }

    fn visit_buffers(&self, f: &mut dyn FnMut(&Buffer<T>)) {
        self.inner.iter().for_each(|l| l.visit_buffers(f));
    }

    fn visit_buffers_mut(&mut self, f: &mut dyn FnMut(&mut Buffer<T>)) {
        self.inner.iter_mut().for_each(|l| l.visit_buffers_mut(f));
    }
}

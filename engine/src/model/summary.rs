//! The Keras-like summary: one row per layer with its output shape and its
//! trainable and non-trainable parameter counts, then the totals.
use super::Model;
use crate::layers::Layer;
use crate::real::Real;
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// Position, e.g. `layers.2`.
    pub name: String,
    pub kind: &'static str,
    pub output_width: usize,
    /// Scalars in the layer's trainable parameters.
    pub trainable: usize,
    /// Scalars in its buffers (batch norm's moving statistics).
    pub non_trainable: usize,
}

impl<T: Real> Model<T> {
    pub fn summary_rows(&self) -> Vec<SummaryRow> {
        self.layers
            .iter()
            .zip(&self.widths)
            .enumerate()
            .map(|(i, (layer, &output_width))| SummaryRow {
                name: format!("layers.{i}"),
                kind: layer.kind(),
                output_width,
                trainable: layer.params().iter().map(|&p| self.params().get(p).value.len()).sum(),
                non_trainable: buffer_len(layer.as_ref()),
            })
            .collect()
    }

    /// The table as text, for printing.
    pub fn summary(&self) -> String {
        let rows = self.summary_rows();
        let mut s = String::new();
        let line = "-".repeat(72);
        let _ = writeln!(s, "{:<36}{:<18}{:>18}", "Layer (type)", "Output Shape", "Param #");
        let _ = writeln!(s, "{line}");
        let _ = writeln!(s, "{:<36}{:<18}{:>18}", "input", format!("(None, {})", self.input_width), 0);
        for r in &rows {
            let name = format!("{} ({})", r.name, r.kind);
            let _ = writeln!(
                s,
                "{name:<36}{:<18}{:>18}",
                format!("(None, {})", r.output_width),
                r.trainable + r.non_trainable
            );
        }
        let trainable: usize = rows.iter().map(|r| r.trainable).sum();
        let frozen: usize = rows.iter().map(|r| r.non_trainable).sum();
        let _ = writeln!(s, "{line}");
        let _ = writeln!(s, "Total params: {}", trainable + frozen);
        let _ = writeln!(s, "Trainable params: {trainable}");
        let _ = writeln!(s, "Non-trainable params: {frozen}");
        s
    }
}

fn buffer_len<T: Real>(layer: &dyn Layer<T>) -> usize {
    let mut n = 0;
    layer.visit_buffers(&mut |b| n += b.value.len());
    n
}

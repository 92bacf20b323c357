//! Checkpoints in the safetensors format (names and layout in the README, "Checkpoints"):
//! every parameter and buffer by its dotted name, optionally each gathered
//! gradient as `{name}.grad`; kernels `[in, out]`, vectors (`rows == 1`) 1-D,
//! little-endian, row-major, in the model's float type (F32 or F64).
use super::Model;
use crate::error::{Error, Result};
use crate::real::Real;
use crate::shape::Shape;
use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashMap;

/// Re-exported so readers of our files need no extra dependency.
pub use safetensors;

const OP: &str = "checkpoint";

/// One tensor's bytes, ready to serialise.
struct Blob {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for Blob {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn dtype_of<T: Real>() -> Dtype {
    if T::NAME == "f64" { Dtype::F64 } else { Dtype::F32 }
}

/// Vectors are stored 1-D, as Keras and PyTorch keep biases and scales.
fn dims(shape: Shape) -> Vec<usize> {
    if shape.rows == 1 { vec![shape.cols] } else { vec![shape.rows, shape.cols] }
}

fn blob<T: Real>(shape: Shape, values: &[T]) -> Blob {
    let dtype = dtype_of::<T>();
    let bytes = match dtype {
        Dtype::F64 => values.iter().flat_map(|v| v.as_f64().to_le_bytes()).collect(),
        _ => values.iter().flat_map(|v| (v.as_f64() as f32).to_le_bytes()).collect(),
    };
    Blob { dtype, shape: dims(shape), bytes }
}

impl<T: Real> Model<T> {
    /// Every parameter and buffer (and, with `grads`, every parameter's
    /// gathered gradient as `{name}.grad`) as safetensors bytes.
    pub fn to_safetensors(&self, grads: bool) -> Result<Vec<u8>> {
        let mut tensors: Vec<(String, Blob)> = Vec::new();
        for (_, p) in self.params().iter() {
            tensors.push((p.name.clone(), blob(p.shape, &p.value)));
            if grads {
                tensors.push((format!("{}.grad", p.name), blob(p.shape, &p.grad)));
            }
        }
        for layer in &self.layers {
            layer.visit_buffers(&mut |b| tensors.push((b.name.clone(), blob(b.shape, &b.value))));
        }
        let meta = HashMap::from([("format".to_string(), "gradlab".to_string())]);
        safetensors::serialize(tensors, Some(meta)).map_err(|e| Error::invalid(OP, e.to_string()))
    }

    pub fn save_safetensors(&self, path: impl AsRef<std::path::Path>, grads: bool) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_safetensors(grads)?;
        std::fs::write(path, bytes).map_err(|source| Error::Io { path: path.display().to_string(), source })
    }

    /// Loads every parameter and buffer by name (F32 or F64, shapes must
    /// match); `.grad` tensors are ignored, any other unknown name is an error.
    pub fn load_safetensors_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::invalid(OP, e.to_string()))?;
        let mut expected: Vec<String> = Vec::new();
        for (_, p) in self.params_mut().iter_mut() {
            read_into(&st, &p.name, p.shape, &mut p.value)?;
            expected.push(p.name.clone());
        }
        let mut result = Ok(());
        for layer in &mut self.layers {
            layer.visit_buffers_mut(&mut |b| {
                if result.is_ok() {
                    result = read_into(&st, &b.name, b.shape, &mut b.value);
                    expected.push(b.name.clone());
                }
            });
        }
        result?;
        let unknown: Vec<&str> = st
            .names()
            .into_iter()
            .filter(|n| !n.ends_with(".grad") && !expected.iter().any(|e| e == n))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::invalid(
                OP,
                format!("the checkpoint holds tensors this model lacks: {unknown:?}"),
            ));
        }
        Ok(())
    }

    pub fn load_safetensors(&mut self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        self.load_safetensors_bytes(&bytes)
            .map_err(|e| Error::invalid(OP, format!("{}: {e}", path.display())))
    }
}

fn read_into<T: Real>(st: &SafeTensors<'_>, name: &str, shape: Shape, out: &mut [T]) -> Result<()> {
    let t = st.tensor(name).map_err(|_| Error::invalid(OP, format!("tensor {name} is missing")))?;
    let ok_shape = t.shape() == dims(shape).as_slice() || t.shape() == [shape.rows, shape.cols];
    if !ok_shape {
        return Err(Error::invalid(
            OP,
            format!("tensor {name} has shape {:?}, the model needs {shape}", t.shape()),
        ));
    }
    let data = t.data();
    match t.dtype() {
        Dtype::F32 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(4)) {
                *o = T::c(f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64);
            }
        }
        Dtype::F64 => {
            for (o, c) in out.iter_mut().zip(data.chunks_exact(8)) {
                *o = T::c(f64::from_le_bytes(c.try_into().expect("8 bytes")));
            }
        }
        other => {
            return Err(Error::invalid(
                OP,
                format!("tensor {name} has dtype {other:?}, expected F32 or F64"),
            ));
        }
    }
    Ok(())
}

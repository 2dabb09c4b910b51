//! Checkpoints in safetensors format: every parameter under its PyTorch-style name, Adam's
//! moments as `optim.m.<name>` / `optim.v.<name>`, and the model and training configuration
//! as JSON in the header's metadata (key `gengpu`). Written atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use thiserror::Error;

use crate::nn::ParamLayout;

/// The metadata key holding the JSON description.
const META_KEY: &str = "gengpu";

/// What can go wrong reading or writing a checkpoint.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("cannot read checkpoint {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write checkpoint {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid safetensors file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path} is a safetensors file but not a gengpu checkpoint (no `gengpu` metadata)")]
    NotOurs { path: PathBuf },
    #[error("{path}: tensor {name}: {reason}")]
    Tensor {
        path: PathBuf,
        name: String,
        reason: String,
    },
    #[error("{path}: bad configuration: {reason}")]
    Config { path: PathBuf, reason: String },
}

/// The host copy of one parameter store: parameters and Adam's moments, flat.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreState {
    pub params: Vec<f32>,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

/// One tensor to save.
pub struct Named<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: &'a [f32],
}

/// The tensors of `layout` in the flat `values`, each named `{prefix}{entry name}`.
pub fn layout_tensors<'a>(layout: &ParamLayout, prefix: &str, values: &'a [f32]) -> Vec<Named<'a>> {
    layout
        .entries()
        .iter()
        .map(|e| Named {
            name: format!("{prefix}{}", e.name),
            shape: e.shape(),
            values: &values[e.offset..e.offset + e.len()],
        })
        .collect()
}

/// A store's parameters under their own names and Adam's moments under `optim.m.` / `optim.v.`.
pub fn store_tensors<'a>(layout: &ParamLayout, state: &'a StoreState) -> Vec<Named<'a>> {
    let mut tensors = layout_tensors(layout, "", &state.params);
    tensors.extend(layout_tensors(layout, "optim.m.", &state.m));
    tensors.extend(layout_tensors(layout, "optim.v.", &state.v));
    tensors
}

/// Saves `tensors` and the JSON `meta`. Writes `path.tmp`, then renames, so that a crash never
/// leaves a half-written checkpoint behind.
pub fn save<M: serde::Serialize>(
    path: &Path,
    meta: &M,
    tensors: &[Named],
) -> Result<(), CheckpointError> {
    let write_error = |source| CheckpointError::Write {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_string(meta).map_err(|e| write_error(std::io::Error::other(e)))?;
    let mut views: Vec<(&str, TensorView<'_>)> = Vec::with_capacity(tensors.len());
    for t in tensors {
        let view = TensorView::new(Dtype::F32, t.shape.clone(), bytemuck::cast_slice(t.values))
            .map_err(|e| write_error(std::io::Error::other(e)))?;
        views.push((&t.name, view));
    }
    let info = HashMap::from([(META_KEY.to_string(), json)]);
    let bytes = safetensors::serialize(views, Some(info))
        .map_err(|e| write_error(std::io::Error::other(e)))?;
    crate::fsutil::write_atomically(path, &bytes).map_err(write_error)
}

/// A checkpoint read into memory.
pub struct Checkpoint {
    path: PathBuf,
    bytes: Vec<u8>,
    meta: String,
}

impl Checkpoint {
    /// Reads and checks the file's header.
    pub fn open(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let (_, header) =
            SafeTensors::read_metadata(&bytes).map_err(|e| CheckpointError::Format {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        // Also validates that every tensor's bytes are present.
        SafeTensors::deserialize(&bytes).map_err(|e| CheckpointError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let meta = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .cloned()
            .ok_or_else(|| CheckpointError::NotOurs {
                path: path.to_path_buf(),
            })?;
        Ok(Checkpoint {
            path: path.to_path_buf(),
            bytes,
            meta,
        })
    }

    /// The configuration saved with the weights.
    pub fn meta<M: serde::de::DeserializeOwned>(&self) -> Result<M, CheckpointError> {
        serde_json::from_str(&self.meta).map_err(|e| CheckpointError::Config {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// The values of `layout`'s tensors, named `{prefix}{entry name}`, checked name by name
    /// and shape by shape.
    pub fn values(&self, layout: &ParamLayout, prefix: &str) -> Result<Vec<f32>, CheckpointError> {
        let tensors =
            SafeTensors::deserialize(&self.bytes).map_err(|e| CheckpointError::Format {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let mut values = vec![0.0; layout.len()];
        for e in layout.entries() {
            let name = format!("{prefix}{}", e.name);
            let bad = |reason: String| CheckpointError::Tensor {
                path: self.path.clone(),
                name: name.clone(),
                reason,
            };
            let view = tensors.tensor(&name).map_err(|e| bad(e.to_string()))?;
            if view.dtype() != Dtype::F32 {
                return Err(bad(format!("dtype {:?}, expected F32", view.dtype())));
            }
            if view.shape() != e.shape() {
                return Err(bad(format!(
                    "shape {:?}, expected {:?}",
                    view.shape(),
                    e.shape()
                )));
            }
            // safetensors data is little-endian and may be unaligned: copy through bytes.
            for (dst, chunk) in values[e.offset..e.offset + e.len()]
                .iter_mut()
                .zip(view.data().chunks_exact(4))
            {
                *dst = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
        }
        Ok(values)
    }

    /// The parameters and Adam's moments of a store with `layout`.
    pub fn store(&self, layout: &ParamLayout) -> Result<StoreState, CheckpointError> {
        Ok(StoreState {
            params: self.values(layout, "")?,
            m: self.values(layout, "optim.m.")?,
            v: self.values(layout, "optim.v.")?,
        })
    }
}

//! Checkpoints in safetensors format: a model's named tensors (its [`State`]) and a JSON
//! description of the model and the run in the header's metadata (key `gengpu`). Written
//! atomically. What the tensors and the JSON mean is the models' and the trainer's business.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use thiserror::Error;

use crate::nn::{NamedTensor, State};

/// The metadata key holding the JSON description.
const META_KEY: &str = "gengpu";

/// What can go wrong reading or writing a checkpoint.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("cannot read checkpoint {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write checkpoint {path}")]
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

/// Saves `state` and the JSON `meta`, atomically: a crash never leaves a half-written
/// checkpoint behind.
pub fn save<M: serde::Serialize>(
    path: &Path,
    meta: &M,
    state: &State,
) -> Result<(), CheckpointError> {
    let write_error = |source| CheckpointError::Write {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_string(meta).map_err(|e| write_error(std::io::Error::other(e)))?;
    let tensors = state.tensors().iter().map(|t| RawTensor {
        name: &t.name,
        dtype: Dtype::F32,
        shape: &t.shape,
        bytes: bytemuck::cast_slice(&t.values),
    });
    write_safetensors(path, tensors, HashMap::from([(META_KEY.to_string(), json)]))
        .map_err(write_error)
}

/// One tensor as safetensors stores it: little-endian bytes of `dtype`.
pub struct RawTensor<'a> {
    pub name: &'a str,
    pub dtype: Dtype,
    pub shape: &'a [usize],
    pub bytes: &'a [u8],
}

/// Writes `tensors` and the string `metadata` as one safetensors file, atomically (a temporary
/// file, then a rename).
pub fn write_safetensors<'a>(
    path: &Path,
    tensors: impl Iterator<Item = RawTensor<'a>>,
    metadata: HashMap<String, String>,
) -> std::io::Result<()> {
    let mut views: Vec<(&str, TensorView<'_>)> = Vec::new();
    for t in tensors {
        let view =
            TensorView::new(t.dtype, t.shape.to_vec(), t.bytes).map_err(std::io::Error::other)?;
        views.push((t.name, view));
    }
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomically(path, &bytes)
}

/// A checkpoint read into memory.
pub struct Checkpoint {
    path: PathBuf,
    meta: String,
    state: State,
}

impl Checkpoint {
    /// Reads the file and decodes every tensor.
    pub fn open(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Decodes a checkpoint held in memory; `path` is what messages call it.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let format_error = |e: safetensors::SafeTensorError| CheckpointError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(format_error)?;
        let meta = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .cloned()
            .ok_or_else(|| CheckpointError::NotOurs {
                path: path.to_path_buf(),
            })?;
        // Also validates that every tensor's bytes are present.
        let tensors = SafeTensors::deserialize(bytes).map_err(format_error)?;
        let mut state = State::default();
        for (name, view) in tensors.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(CheckpointError::Tensor {
                    path: path.to_path_buf(),
                    name,
                    reason: format!("dtype {:?}, expected F32", view.dtype()),
                });
            }
            // safetensors data is little-endian and may be unaligned: copy through bytes.
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            state.push(NamedTensor {
                name,
                shape: view.shape().to_vec(),
                values,
            });
        }
        Ok(Checkpoint {
            path: path.to_path_buf(),
            meta,
            state,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The JSON description saved with the tensors.
    pub fn meta<M: serde::de::DeserializeOwned>(&self) -> Result<M, CheckpointError> {
        serde_json::from_str(&self.meta).map_err(|e| CheckpointError::Config {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// The tensors.
    pub fn state(&self) -> &State {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gengpu-ckpt-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    }

    fn state() -> State {
        [
            NamedTensor {
                name: "fc.weight".into(),
                shape: vec![2, 2],
                values: vec![1.0, -2.5, f32::MIN_POSITIVE, 4.0],
            },
            NamedTensor {
                name: "fc.bias".into(),
                shape: vec![2],
                values: vec![0.5, -0.0],
            },
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn state_and_meta_round_trip_bit_for_bit() {
        let dir = scratch("round-trip");
        let path = dir.join("c.safetensors");
        save(&path, &serde_json::json!({"epoch": 3}), &state()).unwrap();
        let file = Checkpoint::open(&path).unwrap();
        let meta: serde_json::Value = file.meta().unwrap();
        assert_eq!(meta["epoch"], 3);
        for want in state().tensors() {
            let got = file.state().get(&want.name).expect("saved");
            assert_eq!(got.shape, want.shape);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got.values), bits(&want.values), "{}", want.name);
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_truncated_file_is_refused_with_its_path() {
        let dir = scratch("truncated");
        let path = dir.join("c.safetensors");
        save(&path, &serde_json::json!({}), &state()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let error = Checkpoint::open(&path).err().expect("truncated");
        assert!(error.to_string().contains("c.safetensors"), "{error}");
        std::fs::remove_dir_all(dir).ok();
    }
}

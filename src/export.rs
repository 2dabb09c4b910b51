//! A checkpoint's weights, named and shaped as PyTorch's reference modules, so that a strict
//! `load_state_dict` takes them: examples/vae's `VAE` (`fc1, fc21, fc22, fc3, fc4`),
//! PyTorch-GAN's `Generator` and `Discriminator` (`model.<Sequential index>`, under
//! `generator.` and `discriminator.`), examples/dcgan's (`main.<Sequential index>`, likewise),
//! and the scoring classifier and the convolutional VAE's encoder and decoder as
//! `nn.Sequential`s.
//! Weights only: no Adam moments, no gengpu metadata.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::Dtype;
use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError, RawTensor, write_safetensors};
use crate::model::classifier::ClassifierConfig;
use crate::model::gan::{GanArch, GanConfig};
use crate::model::vae::{VaeArch, VaeConfig};
use crate::nn::{State, StateError};
use crate::train::{CheckpointMeta, ModelSettings};

/// What can keep a checkpoint from being exported.
#[derive(Debug, Error)]
pub enum ExportError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path} does not fit its own settings")]
    State {
        path: PathBuf,
        #[source]
        source: StateError,
    },
    /// A model PyTorch's reference has no module for.
    #[error("{0}")]
    NoReference(String),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One exported tensor's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    F32(Vec<f32>),
    /// Batch norm's `num_batches_tracked`, a 64-bit integer in PyTorch.
    I64(Vec<i64>),
}

/// One tensor of an export: its PyTorch name, shape and values.
#[derive(Clone, Debug, PartialEq)]
pub struct Exported {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Values,
}

/// The tensors PyTorch's module of the checkpoint at `path` holds, from its weights.
pub fn pytorch_tensors(path: &Path) -> Result<Vec<Exported>, ExportError> {
    let file = Checkpoint::open(path)?;
    let meta: CheckpointMeta = file.meta()?;
    let mapped = match &meta.settings {
        ModelSettings::Vae(s) => match s.config.arch {
            VaeArch::Mlp => vae(&s.config, file.state()),
            VaeArch::Conv { .. } => conv_vae(file.state()),
        },
        ModelSettings::Gan(s) => match s.config.arch {
            GanArch::Mlp => gan(&s.config, file.state(), meta.steps),
            GanArch::Dcgan { .. } => dcgan(file.state(), meta.steps),
        },
        ModelSettings::Classifier(s) => classifier(&s.config, file.state()),
    };
    mapped.map_err(|e| match e {
        Mapping::State(source) => ExportError::State {
            path: path.to_path_buf(),
            source,
        },
        Mapping::NoReference(why) => ExportError::NoReference(why),
    })
}

/// Writes the classifier checkpoint at `path` to `out` without Adam's moments: its weights under
/// gengpu's own names with its settings, the small file `gengpu score --classifier` reads (and
/// the one shipped in `assets/`). Returns the number of tensors written.
pub fn classifier_weights(path: &Path, out: &Path) -> Result<usize, ExportError> {
    let file = Checkpoint::open(path)?;
    let meta: CheckpointMeta = file.meta()?;
    if !matches!(meta.settings, ModelSettings::Classifier(_)) {
        return Err(ExportError::NoReference(format!(
            "{} holds a {}; --weights-only is for classifier checkpoints (a VAE or GAN exports \
             to PyTorch's names)",
            path.display(),
            meta.settings.kind()
        )));
    }
    let weights: State = file
        .state()
        .tensors()
        .iter()
        .filter(|t| !t.name.starts_with(crate::nn::MOMENT_PREFIX))
        .cloned()
        .collect();
    crate::checkpoint::save(out, &meta, &weights)?;
    Ok(weights.tensors().len())
}

/// Writes `tensors` to `out` as safetensors (atomically), with `format: pt` as PyTorch's own
/// safetensors files have.
pub fn write(out: &Path, tensors: &[Exported]) -> Result<(), ExportError> {
    let raw = tensors.iter().map(|t| {
        let (bytes, dtype) = match &t.values {
            Values::F32(v) => (bytemuck::cast_slice::<f32, u8>(v), Dtype::F32),
            Values::I64(v) => (bytemuck::cast_slice::<i64, u8>(v), Dtype::I64),
        };
        RawTensor {
            name: &t.name,
            dtype,
            shape: &t.shape,
            bytes,
        }
    });
    let format = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_safetensors(out, raw, format).map_err(|source| ExportError::Write {
        path: out.to_path_buf(),
        source,
    })
}

/// Why one model's tensors cannot be mapped.
enum Mapping {
    State(StateError),
    NoReference(String),
}

impl From<StateError> for Mapping {
    fn from(e: StateError) -> Self {
        Mapping::State(e)
    }
}

/// The f32 tensor `name` of `state`, with the shape it must have.
fn tensor(state: &State, name: &str, shape: &[usize]) -> Result<Vec<f32>, StateError> {
    let t = state.get(name).ok_or_else(|| StateError::Missing {
        name: name.to_string(),
    })?;
    if t.shape != shape {
        return Err(StateError::Shape {
            name: name.to_string(),
            found: t.shape.clone(),
            expected: shape.to_vec(),
        });
    }
    Ok(t.values.clone())
}

fn f32s(name: String, shape: Vec<usize>, values: Vec<f32>) -> Exported {
    Exported {
        name,
        shape,
        values: Values::F32(values),
    }
}

/// examples/vae: `fc1` (P → H), `fc21` and `fc22` (H → L: gengpu's `encoder.1` holds both,
/// mean rows first), `fc3` (L → H), `fc4` (H → P).
fn vae(config: &VaeConfig, state: &State) -> Result<Vec<Exported>, Mapping> {
    let [h] = config.hidden[..] else {
        return Err(Mapping::NoReference(format!(
            "examples/vae's VAE has one hidden layer; this one has {} ({:?}), so it has no \
             PyTorch names to export to",
            config.hidden.len(),
            config.hidden
        )));
    };
    let (p, l) = (config.pixels(), config.latent);
    let mut out = Vec::new();
    let linear = |ours: &str, theirs: &str, (n_in, n_out): (usize, usize)| {
        let weight = tensor(state, &format!("{ours}.weight"), &[n_out, n_in])?;
        let bias = tensor(state, &format!("{ours}.bias"), &[n_out])?;
        Ok::<_, StateError>((weight, bias, theirs.to_string()))
    };
    let mut push = |(weight, bias, name): (Vec<f32>, Vec<f32>, String), n_in: usize| {
        let n_out = bias.len();
        out.push(f32s(format!("{name}.weight"), vec![n_out, n_in], weight));
        out.push(f32s(format!("{name}.bias"), vec![n_out], bias));
    };
    push(linear("encoder.0", "fc1", (p, h))?, p);
    let (weight, bias, _) = linear("encoder.1", "", (h, 2 * l))?;
    let (mu_w, logvar_w) = weight.split_at(l * h);
    let (mu_b, logvar_b) = bias.split_at(l);
    push((mu_w.to_vec(), mu_b.to_vec(), "fc21".into()), h);
    push((logvar_w.to_vec(), logvar_b.to_vec(), "fc22".into()), h);
    push(linear("decoder.0", "fc3", (l, h))?, l);
    push(linear("decoder.1", "fc4", (h, p))?, h);
    Ok(out)
}

/// The convolutional VAE: `encoder` and `decoder`, each an `nn.Sequential` of `Conv2d` (or
/// `ConvTranspose2d`) and `ReLU`; the encoder's last convolution gives `[mu | logvar]` as
/// channels, the decoder's the pixels' logits.
fn conv_vae(state: &State) -> Result<Vec<Exported>, Mapping> {
    let mut out = sequential(state, "encoder", "encoder", 0)?;
    out.extend(sequential(state, "decoder", "decoder", 0)?);
    Ok(out)
}

/// examples/dcgan's `Generator` and `Discriminator` (`main.<index>`), under `generator.` and
/// `discriminator.`. Per step the generator runs once in training mode and the discriminator
/// three times (on generated images, then on them and on real images separately), as in
/// examples/dcgan.
fn dcgan(state: &State, steps: u64) -> Result<Vec<Exported>, Mapping> {
    let mut out = sequential(state, "generator", "generator.main", steps)?;
    let d_batches = steps.saturating_mul(3);
    out.extend(sequential(
        state,
        "discriminator",
        "discriminator.main",
        d_batches,
    )?);
    Ok(out)
}

/// The layers `{ours}.{i}` of a network as an `nn.Sequential` under `theirs`, each layer its
/// map (weight, bias if any), its batch norm if any (with `num_batches_tracked` =
/// `batches_tracked`), then its activation, which holds no tensors: examples/dcgan's `main`, and
/// the convolutional VAE's encoder and decoder. Weights keep their saved shapes (PyTorch's).
fn sequential(
    state: &State,
    ours: &str,
    theirs: &str,
    batches_tracked: u64,
) -> Result<Vec<Exported>, StateError> {
    let mut out = Vec::new();
    let mut index = 0;
    let copy = |out: &mut Vec<Exported>, from: &str, to: String| {
        let t = state.get(from).ok_or_else(|| StateError::Missing {
            name: from.to_string(),
        })?;
        out.push(f32s(to, t.shape.clone(), t.values.clone()));
        Ok::<_, StateError>(())
    };
    for i in 0.. {
        let layer = format!("{ours}.{i}");
        if state.get(&format!("{layer}.weight")).is_none() {
            break;
        }
        for field in ["weight", "bias"] {
            let from = format!("{layer}.{field}");
            if field == "weight" || state.get(&from).is_some() {
                copy(&mut out, &from, format!("{theirs}.{index}.{field}"))?;
            }
        }
        index += 1;
        if state.get(&format!("{layer}.bn.weight")).is_some() {
            for field in ["weight", "bias", "running_mean", "running_var"] {
                let to = format!("{theirs}.{index}.{field}");
                copy(&mut out, &format!("{layer}.bn.{field}"), to)?;
            }
            out.push(Exported {
                name: format!("{theirs}.{index}.num_batches_tracked"),
                shape: vec![],
                values: Values::I64(vec![i64::try_from(batches_tracked).unwrap_or(i64::MAX)]),
            });
            index += 1;
        }
        index += 1;
    }
    Ok(out)
}

/// An `nn.Sequential` of `Linear` and `ReLU` layers (`0`, `2`, `4`, …), the last `Linear`
/// giving the logits.
fn classifier(config: &ClassifierConfig, state: &State) -> Result<Vec<Exported>, Mapping> {
    let widths: Vec<usize> = config
        .hidden
        .iter()
        .copied()
        .chain([config.classes])
        .collect();
    let mut n_in = config.pixels();
    let mut out = Vec::new();
    for (i, &n_out) in widths.iter().enumerate() {
        let ours = format!("net.{i}");
        let weight = tensor(state, &format!("{ours}.weight"), &[n_out, n_in])?;
        let bias = tensor(state, &format!("{ours}.bias"), &[n_out])?;
        out.push(f32s(format!("{}.weight", 2 * i), vec![n_out, n_in], weight));
        out.push(f32s(format!("{}.bias", 2 * i), vec![n_out], bias));
        n_in = n_out;
    }
    Ok(out)
}

/// PyTorch-GAN's `Generator`: per hidden layer `Linear`, then `BatchNorm1d` (all but the first,
/// when batch norm is on), then `LeakyReLU`; a last `Linear` and `Tanh`. Its `Discriminator`:
/// `Linear`, `LeakyReLU` per hidden layer, a last `Linear` and `Sigmoid`. Layers gengpu keeps
/// without a bias (those before batch norm, which cancels one) get zero biases.
fn gan(config: &GanConfig, state: &State, steps: u64) -> Result<Vec<Exported>, Mapping> {
    let p = config.pixels();
    let mut out = Vec::new();

    let mut index = 0;
    let mut n_in = config.latent;
    let widths: Vec<usize> = config.g_hidden.iter().copied().chain([p]).collect();
    for (i, &n_out) in widths.iter().enumerate() {
        let ours = format!("generator.{i}");
        let hidden = i + 1 < widths.len();
        let normalized = hidden && i > 0 && config.batch_norm.is_some();
        let weight = tensor(state, &format!("{ours}.weight"), &[n_out, n_in])?;
        let bias = if normalized {
            vec![0.0; n_out]
        } else {
            tensor(state, &format!("{ours}.bias"), &[n_out])?
        };
        let theirs = format!("generator.model.{index}");
        out.push(f32s(format!("{theirs}.weight"), vec![n_out, n_in], weight));
        out.push(f32s(format!("{theirs}.bias"), vec![n_out], bias));
        index += 1;
        if normalized {
            let bn = format!("generator.model.{index}");
            for field in ["weight", "bias", "running_mean", "running_var"] {
                let values = tensor(state, &format!("{ours}.bn.{field}"), &[n_out])?;
                out.push(f32s(format!("{bn}.{field}"), vec![n_out], values));
            }
            // One training-mode forward of the generator per step.
            out.push(Exported {
                name: format!("{bn}.num_batches_tracked"),
                shape: vec![],
                values: Values::I64(vec![i64::try_from(steps).unwrap_or(i64::MAX)]),
            });
            index += 1;
        }
        // The activation (LeakyReLU, or Tanh after the last layer) holds no tensors.
        index += 1;
        n_in = n_out;
    }

    let mut n_in = p;
    let widths: Vec<usize> = config.d_hidden.iter().copied().chain([1]).collect();
    for (i, &n_out) in widths.iter().enumerate() {
        let ours = format!("discriminator.{i}");
        let theirs = format!("discriminator.model.{}", 2 * i);
        let weight = tensor(state, &format!("{ours}.weight"), &[n_out, n_in])?;
        let bias = tensor(state, &format!("{ours}.bias"), &[n_out])?;
        out.push(f32s(format!("{theirs}.weight"), vec![n_out, n_in], weight));
        out.push(f32s(format!("{theirs}.bias"), vec![n_out], bias));
        n_in = n_out;
    }
    Ok(out)
}

//! A stack of linear layers, each optionally batch-normalized, with activations: forward and
//! backward written once over any `Backend`. Activation buffers are allocated once for the
//! largest batch; smaller batches use their top rows, so a step allocates nothing.

use rand::Rng;

use super::params::{ParamLayout, ParamSlot, ParamStore, linear_init};
use crate::backend::{Activation, Backend, BatchNormHyper, MatmulForm, Result, Tensor};

/// One layer as declared: its width, its activation, and the batch normalization (if any)
/// between the linear map and the activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSpec {
    pub outputs: usize,
    pub act: Activation,
    pub batch_norm: Option<BatchNormHyper>,
}

/// Where a batch-normalized layer keeps its parameters and running statistics.
struct Norm {
    hyper: BatchNormHyper,
    /// γ; β is the next entry, so `[γ; β]` is one `2 × C` view.
    gamma: ParamSlot,
    /// Offset of `[running mean; running variance]` in the running-statistics buffer.
    running_offset: usize,
}

/// `y = act(x·Wᵀ + b)` (PyTorch's `nn.Linear` layout: W is `out × in`), or
/// `y = act(BN(x·Wᵀ))`: batch norm subtracts the batch mean, so a bias before it would have a
/// gradient of exactly zero, and Adam would turn its rounding noise into steps of full size.
struct Layer {
    weight: ParamSlot,
    bias: Option<ParamSlot>,
    norm: Option<Norm>,
    inputs: usize,
    outputs: usize,
    act: Activation,
}

/// The device buffers of an [`Mlp`] for a given batch size.
struct Buffers {
    /// Each layer's output, `batch × outputs`.
    outputs: Vec<Tensor>,
    /// Each layer's pre-activation gradient (where the activation is not the identity or the
    /// layer is normalized).
    deltas: Vec<Option<Tensor>>,
    /// Normalized layers: the linear output before normalization, the saved batch
    /// statistics, and where `[dγ; dβ]` go when parameter gradients are not wanted.
    normalized: Vec<Option<(Tensor, Tensor, Tensor)>>,
    /// Gradient with respect to layer `i`'s input, for `i ≥ 1` (index `i − 1`).
    upstream: Vec<Tensor>,
    /// The running statistics of every normalized layer, flat.
    running: Option<Tensor>,
}

/// A multi-layer perceptron.
pub struct Mlp {
    layers: Vec<Layer>,
    buffers: Option<Buffers>,
}

impl Mlp {
    /// Declares layers from `inputs` through `specs`, parameters named `{prefix}.{i}.weight`,
    /// `.bias`, `.bn.weight`, `.bn.bias` in `layout`, and running statistics
    /// `{prefix}.{i}.bn.running_mean` / `.running_var` in `running`.
    pub fn new(
        layout: &mut ParamLayout,
        running: &mut ParamLayout,
        prefix: &str,
        inputs: usize,
        specs: &[LayerSpec],
    ) -> Self {
        let mut width = inputs;
        let layers = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let (n_in, n_out) = (width, spec.outputs);
                width = n_out;
                let weight = layout.add(format!("{prefix}.{i}.weight"), n_out, n_in);
                let bias = spec
                    .batch_norm
                    .is_none()
                    .then(|| layout.add_vector(format!("{prefix}.{i}.bias"), n_out));
                let norm = spec.batch_norm.map(|hyper| {
                    let gamma = layout.add_vector(format!("{prefix}.{i}.bn.weight"), n_out);
                    layout.add_vector(format!("{prefix}.{i}.bn.bias"), n_out);
                    let running_offset = running.len();
                    running.add_vector(format!("{prefix}.{i}.bn.running_mean"), n_out);
                    running.add_vector(format!("{prefix}.{i}.bn.running_var"), n_out);
                    Norm {
                        hyper,
                        gamma,
                        running_offset,
                    }
                });
                Layer {
                    weight,
                    bias,
                    norm,
                    inputs: n_in,
                    outputs: n_out,
                    act: spec.act,
                }
            })
            .collect();
        Mlp {
            layers,
            buffers: None,
        }
    }

    /// Writes initial values into `host` (the flat parameters of `store`'s layout) and
    /// `running` (the flat running statistics): PyTorch's defaults, i.e. Linear layers uniform
    /// in ±1/√fan_in, γ = 1, β = 0, running mean 0 and variance 1.
    pub fn init(
        &self,
        store: &ParamStore,
        rng: &mut impl Rng,
        host: &mut [f32],
        running: &mut [f32],
    ) {
        for layer in &self.layers {
            for slot in std::iter::once(layer.weight).chain(layer.bias) {
                let e = store.entry(slot);
                host[e.offset..e.offset + e.len()].copy_from_slice(&linear_init(
                    rng,
                    layer.inputs,
                    e.len(),
                ));
            }
            if let Some(norm) = &layer.norm {
                let e = store.entry(norm.gamma);
                host[e.offset..e.offset + e.len()].fill(1.0);
                host[e.offset + e.len()..e.offset + 2 * e.len()].fill(0.0);
                let r = norm.running_offset;
                running[r..r + layer.outputs].fill(0.0);
                running[r + layer.outputs..r + 2 * layer.outputs].fill(1.0);
            }
        }
    }

    /// Allocates the buffers for batches of up to `batch` rows. `running` is the flat buffer
    /// of running statistics (needed with batch norm); `output`, if given, is where the last
    /// layer writes (e.g. straight into the next network's input).
    pub fn allocate(
        &mut self,
        backend: &mut dyn Backend,
        batch: usize,
        running: Option<Tensor>,
        output: Option<Tensor>,
    ) -> Result<()> {
        let last = self.layers.len() - 1;
        let mut buffers = Buffers {
            outputs: Vec::new(),
            deltas: Vec::new(),
            normalized: Vec::new(),
            upstream: Vec::new(),
            running,
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let out = match output {
                Some(out) if i == last => out,
                _ => backend.alloc(batch, layer.outputs)?,
            };
            buffers.outputs.push(out);
            let needs_delta = layer.act != Activation::Identity || layer.norm.is_some();
            buffers.deltas.push(if needs_delta {
                Some(backend.alloc(batch, layer.outputs)?)
            } else {
                None
            });
            buffers.normalized.push(if layer.norm.is_some() {
                Some((
                    backend.alloc(batch, layer.outputs)?,
                    backend.alloc(2, layer.outputs)?,
                    backend.alloc(2, layer.outputs)?,
                ))
            } else {
                None
            });
            if i > 0 {
                buffers.upstream.push(backend.alloc(batch, layer.inputs)?);
            }
        }
        self.buffers = Some(buffers);
        Ok(())
    }

    fn buffers(&self) -> &Buffers {
        self.buffers
            .as_ref()
            .expect("Mlp::allocate runs before forward and backward")
    }

    /// `[γ; β]` of a normalized layer in `flat` (the parameters or their gradients).
    fn gamma_beta(store: &ParamStore, flat: &Tensor, norm: &Norm, width: usize) -> Tensor {
        flat.view(store.entry(norm.gamma).offset, 2, width)
    }

    /// `[running mean; running variance]` of a normalized layer.
    fn running(&self, norm: &Norm, width: usize) -> Tensor {
        self.buffers()
            .running
            .expect("a network with batch norm is allocated with its running statistics")
            .view(norm.running_offset, 2, width)
    }

    /// The output of layer `layer` of the last forward, for its first `rows` rows.
    pub fn output_of(&self, layer: usize, rows: usize) -> Tensor {
        self.buffers().outputs[layer].top_rows(rows)
    }

    /// Runs the layers on `x` (batch statistics and running-average updates with `training`,
    /// running averages otherwise); returns the output, valid until the next forward.
    pub fn forward(
        &self,
        backend: &mut dyn Backend,
        store: &ParamStore,
        x: &Tensor,
        training: bool,
    ) -> Result<Tensor> {
        let batch = x.rows;
        let buffers = self.buffers();
        let mut input = *x;
        for (i, layer) in self.layers.iter().enumerate() {
            let out = buffers.outputs[i].top_rows(batch);
            let weight = store.param(layer.weight);
            let bias = layer.bias.map(|slot| store.param(slot));
            match (&layer.norm, &buffers.normalized[i]) {
                (Some(norm), Some((pre, saved, _))) => {
                    let pre = pre.top_rows(batch);
                    backend.matmul(
                        MatmulForm::NT,
                        &input,
                        &weight,
                        None,
                        Activation::Identity,
                        &pre,
                    )?;
                    let gb = Self::gamma_beta(store, &store.params, norm, layer.outputs);
                    let running = self.running(norm, layer.outputs);
                    backend.batch_norm(
                        &pre, &gb, saved, &running, layer.act, norm.hyper, training, &out,
                    )?;
                }
                _ => backend.matmul(
                    MatmulForm::NT,
                    &input,
                    &weight,
                    bias.as_ref(),
                    layer.act,
                    &out,
                )?,
            }
            input = out;
        }
        Ok(input)
    }

    /// Backpropagates `d_output` (the loss gradient with respect to this MLP's output) after a
    /// training forward on `x`: the parameter gradients into `store.grads` if `param_grads`,
    /// and the gradient with respect to `x` into `d_input` if asked for.
    pub fn backward(
        &self,
        backend: &mut dyn Backend,
        store: &ParamStore,
        x: &Tensor,
        d_output: &Tensor,
        d_input: Option<&Tensor>,
        param_grads: bool,
    ) -> Result<()> {
        let batch = x.rows;
        let buffers = self.buffers();
        let mut d_out = *d_output;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let d_pre = match (&layer.norm, &buffers.normalized[i], &buffers.deltas[i]) {
                (Some(norm), Some((pre, saved, discarded)), Some(delta)) => {
                    let delta = delta.top_rows(batch);
                    let gb = Self::gamma_beta(store, &store.params, norm, layer.outputs);
                    let dgb = if param_grads {
                        Self::gamma_beta(store, &store.grads, norm, layer.outputs)
                    } else {
                        *discarded
                    };
                    let pre = pre.top_rows(batch);
                    backend
                        .batch_norm_backward(&pre, &gb, saved, layer.act, &d_out, &delta, &dgb)?;
                    delta
                }
                (_, _, Some(delta)) => {
                    let delta = delta.top_rows(batch);
                    let out = buffers.outputs[i].top_rows(batch);
                    backend.activation_backward(layer.act, &out, &d_out, &delta)?;
                    delta
                }
                _ => d_out,
            };
            if param_grads {
                let input = if i == 0 {
                    *x
                } else {
                    buffers.outputs[i - 1].top_rows(batch)
                };
                let dw = store.grad(layer.weight);
                backend.matmul(
                    MatmulForm::TN,
                    &d_pre,
                    &input,
                    None,
                    Activation::Identity,
                    &dw,
                )?;
                if let Some(bias) = layer.bias {
                    backend.column_sum(&d_pre, &store.grad(bias))?;
                }
            }
            let d_in = match (i, d_input) {
                (0, Some(d)) => *d,
                (0, None) => break,
                _ => buffers.upstream[i - 1].top_rows(batch),
            };
            let weight = store.param(layer.weight);
            backend.matmul(
                MatmulForm::NN,
                &d_pre,
                &weight,
                None,
                Activation::Identity,
                &d_in,
            )?;
            d_out = d_in;
        }
        Ok(())
    }
}

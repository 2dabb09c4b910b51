//! A stack of layers — linear maps, convolutions, transposed convolutions — each optionally
//! batch-normalized, with activations: forward and backward written once over any `Backend`.
//! Activation buffers are allocated once for the largest batch; smaller batches use their top
//! rows, so a step allocates nothing.

use rand::Rng;

use super::layer::{ImageShape, LayerKind, Map};
use super::params::{ParamLayout, ParamSlot, ParamStore, linear_init, normal_init};
use crate::backend::{Activation, Backend, BackendError, BatchNormHyper, Result, Tensor};

/// One layer as declared: its map, its width (values, or channels of a convolution), its
/// activation, the batch normalization (if any) between the map and the activation, and
/// whether the map adds a bias.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSpec {
    pub kind: LayerKind,
    pub outputs: usize,
    pub act: Activation,
    pub batch_norm: Option<BatchNormHyper>,
    /// A bias per output channel. Never with batch norm: it subtracts the batch mean, so a bias
    /// before it would have a gradient of exactly zero, and Adam would turn its rounding noise
    /// into steps of full size.
    pub bias: bool,
}

impl LayerSpec {
    /// A linear layer, with a bias unless batch-normalized (as PyTorch's models write them).
    pub fn linear(outputs: usize, act: Activation, batch_norm: Option<BatchNormHyper>) -> Self {
        LayerSpec {
            kind: LayerKind::Linear,
            outputs,
            act,
            batch_norm,
            bias: batch_norm.is_none(),
        }
    }
}

/// How a network's parameters start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// PyTorch's defaults: weights and biases uniform in ±1/√fan_in, γ = 1, β = 0.
    PyTorch,
    /// DCGAN's (Radford et al.; PyTorch's examples/dcgan `weights_init`): weights from
    /// N(0, 0.02²), γ from N(1, 0.02²), β = 0.
    Dcgan,
}

/// Where a batch-normalized layer keeps its parameters and running statistics.
struct Norm {
    hyper: BatchNormHyper,
    /// γ; β is the next entry, so `[γ; β]` is one `2 × C` view.
    gamma: ParamSlot,
    /// Offset of `[running mean; running variance]` in the running-statistics buffer.
    running_offset: usize,
}

/// `y = act(map(x) + b)` or `y = act(BN(map(x)))`.
struct Layer {
    map: Map,
    weight: ParamSlot,
    bias: Option<ParamSlot>,
    norm: Option<Norm>,
    input: ImageShape,
    output: ImageShape,
    act: Activation,
}

impl Layer {
    /// Rows of the `rows × channels` view of `batch` outputs (what batch norm and the bias
    /// work on: one row per output pixel).
    fn channel_rows(&self, batch: usize) -> usize {
        batch * self.output.pixels()
    }
}

/// The device buffers of a [`Network`] for a given batch size.
struct Buffers {
    /// Each layer's output, `batch × output.len()`.
    outputs: Vec<Tensor>,
    /// Each layer's pre-activation gradient (where the activation is not the identity or the
    /// layer is normalized).
    deltas: Vec<Option<Tensor>>,
    /// Normalized layers: the map's output before normalization, the saved batch statistics
    /// (`2 × C` per group), and where `[dγ; dβ]` go per group before they are summed (`groups
    /// × 2C`) or when parameter gradients are not wanted.
    normalized: Vec<Option<(Tensor, Tensor, Tensor)>>,
    /// Convolutions: their patches (or columns), see [`Map::scratch`].
    scratch: Vec<Option<Tensor>>,
    /// Gradient with respect to layer `i`'s input, for `i ≥ 1` (index `i − 1`).
    upstream: Vec<Tensor>,
    /// The running statistics of every normalized layer, flat.
    running: Option<Tensor>,
}

/// A feed-forward network.
pub struct Network {
    layers: Vec<Layer>,
    buffers: Option<Buffers>,
    /// Examples per batch-norm group: batch statistics are taken over each group of this many
    /// consecutive examples on its own (`None`: over the whole batch). See
    /// [`Network::allocate_grouped`].
    norm_group: Option<usize>,
}

/// A network that cannot be built: its message says which layer and why.
fn shape_error(detail: String) -> BackendError {
    BackendError::Shape {
        op: "network",
        detail,
    }
}

/// The shape each layer of `specs` outputs for examples of shape `input`, or why a layer has
/// none: how a model checks its configuration before anything is allocated.
pub fn output_shapes(
    input: ImageShape,
    specs: &[LayerSpec],
) -> std::result::Result<Vec<ImageShape>, String> {
    let mut shape = input;
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            if spec.outputs == 0 {
                return Err(format!("layer {i} has no outputs"));
            }
            if spec.bias && spec.batch_norm.is_some() {
                return Err(format!("layer {i} has a bias before batch norm"));
            }
            let (_, out) = spec.kind.resolve(shape, spec.outputs).map_err(|e| {
                format!(
                    "layer {i} on {}×{}×{}: {e}",
                    shape.height, shape.width, shape.channels
                )
            })?;
            shape = out;
            Ok(out)
        })
        .collect()
}

impl Network {
    /// Declares layers from examples of shape `input` through `specs`, parameters named
    /// `{prefix}.{i}.weight`, `.bias`, `.bn.weight`, `.bn.bias` in `layout`, and running
    /// statistics `{prefix}.{i}.bn.running_mean` / `.running_var` in `running`.
    pub fn new(
        layout: &mut ParamLayout,
        running: &mut ParamLayout,
        prefix: &str,
        input: ImageShape,
        specs: &[LayerSpec],
    ) -> Result<Self> {
        let shapes = output_shapes(input, specs).map_err(shape_error)?;
        let inputs = std::iter::once(input).chain(shapes.iter().copied());
        let layers = specs
            .iter()
            .zip(inputs)
            .enumerate()
            .map(|(i, (spec, input))| {
                let (map, output) = spec
                    .kind
                    .resolve(input, spec.outputs)
                    .map_err(shape_error)?;
                let shape = map.weight_shape(input.channels, spec.outputs);
                let weight = match shape[..] {
                    [a, b, kh, kw] => {
                        layout.add_kernel(format!("{prefix}.{i}.weight"), [a, b, kh, kw])
                    }
                    _ => layout.add(format!("{prefix}.{i}.weight"), shape[0], shape[1]),
                };
                let bias = spec
                    .bias
                    .then(|| layout.add_vector(format!("{prefix}.{i}.bias"), spec.outputs));
                let norm = spec.batch_norm.map(|hyper| {
                    let c = spec.outputs;
                    let gamma = layout.add_vector(format!("{prefix}.{i}.bn.weight"), c);
                    layout.add_vector(format!("{prefix}.{i}.bn.bias"), c);
                    let running_offset = running.len();
                    running.add_vector(format!("{prefix}.{i}.bn.running_mean"), c);
                    running.add_vector(format!("{prefix}.{i}.bn.running_var"), c);
                    Norm {
                        hyper,
                        gamma,
                        running_offset,
                    }
                });
                Ok(Layer {
                    map,
                    weight,
                    bias,
                    norm,
                    input,
                    output,
                    act: spec.act,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Network {
            layers,
            buffers: None,
            norm_group: None,
        })
    }

    /// The shape of one output example.
    pub fn output_shape(&self) -> ImageShape {
        self.layers.last().map_or(ImageShape::flat(0), |l| l.output)
    }

    /// Writes initial values into `host` (the flat parameters of `store`'s layout) and
    /// `running` (the flat running statistics) as `init` says; running means start at 0 and
    /// variances at 1.
    pub fn init(
        &self,
        store: &ParamStore,
        rng: &mut impl Rng,
        init: Init,
        host: &mut [f32],
        running: &mut [f32],
    ) {
        for layer in &self.layers {
            let fan_in = layer
                .map
                .fan_in(layer.input.channels, layer.output.channels);
            let e = store.entry(layer.weight);
            host[e.offset..e.offset + e.len()].copy_from_slice(&match init {
                Init::PyTorch => linear_init(rng, fan_in, e.len()),
                Init::Dcgan => normal_init(rng, 0.0, 0.02, e.len()),
            });
            if let Some(slot) = layer.bias {
                let e = store.entry(slot);
                host[e.offset..e.offset + e.len()].copy_from_slice(&match init {
                    Init::PyTorch => linear_init(rng, fan_in, e.len()),
                    Init::Dcgan => vec![0.0; e.len()],
                });
            }
            if let Some(norm) = &layer.norm {
                let e = store.entry(norm.gamma);
                host[e.offset..e.offset + e.len()].copy_from_slice(&match init {
                    Init::PyTorch => vec![1.0; e.len()],
                    Init::Dcgan => normal_init(rng, 1.0, 0.02, e.len()),
                });
                host[e.offset + e.len()..e.offset + 2 * e.len()].fill(0.0);
                let (r, c) = (norm.running_offset, layer.output.channels);
                running[r..r + c].fill(0.0);
                running[r + c..r + 2 * c].fill(1.0);
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
        self.allocate_grouped(backend, batch, batch, running, output)
    }

    /// [`Network::allocate`], with batch norm taking its statistics over each group of `group`
    /// consecutive examples separately (each group updating the running statistics in turn), as
    /// if the groups were run one after the other: how a GAN's discriminator sees a batch of
    /// generated images and one of real images in one pass, yet normalizes each on its own as
    /// PyTorch's examples/dcgan does (its two calls of the discriminator). Batches must then be
    /// whole groups.
    pub fn allocate_grouped(
        &mut self,
        backend: &mut dyn Backend,
        batch: usize,
        group: usize,
        running: Option<Tensor>,
        output: Option<Tensor>,
    ) -> Result<()> {
        let groups = batch.div_ceil(group.max(1));
        self.norm_group = (groups > 1).then_some(group);
        let last = self.layers.len() - 1;
        let mut buffers = Buffers {
            outputs: Vec::new(),
            deltas: Vec::new(),
            normalized: Vec::new(),
            scratch: Vec::new(),
            upstream: Vec::new(),
            running,
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let width = layer.output.len();
            let out = match output {
                Some(out) if i == last => out,
                _ => backend.alloc(batch, width)?,
            };
            buffers.outputs.push(out);
            let needs_delta = layer.act != Activation::Identity || layer.norm.is_some();
            buffers.deltas.push(if needs_delta {
                Some(backend.alloc(batch, width)?)
            } else {
                None
            });
            let channels = layer.output.channels;
            buffers.normalized.push(if layer.norm.is_some() {
                Some((
                    backend.alloc(batch, width)?,
                    backend.alloc(2 * groups, channels)?,
                    backend.alloc(groups, 2 * channels)?,
                ))
            } else {
                None
            });
            buffers.scratch.push(match layer.map.scratch(batch) {
                Some((rows, cols)) => Some(backend.alloc(rows, cols)?),
                None => None,
            });
            if i > 0 {
                buffers
                    .upstream
                    .push(backend.alloc(batch, layer.input.len())?);
            }
        }
        self.buffers = Some(buffers);
        Ok(())
    }

    fn buffers(&self) -> &Buffers {
        self.buffers
            .as_ref()
            .expect("Network::allocate runs before forward and backward")
    }

    /// The batch-norm groups of a batch of `batch` examples at `layer`: their number, and the
    /// rows of each in the layer's `rows × channels` view.
    fn groups(&self, layer: &Layer, batch: usize) -> Result<(usize, usize)> {
        let group = self.norm_group.unwrap_or(batch).min(batch);
        if group == 0 || !batch.is_multiple_of(group) {
            return Err(shape_error(format!(
                "a batch of {batch} is not whole batch-norm groups of {group}"
            )));
        }
        Ok((batch / group, layer.channel_rows(group)))
    }

    /// `[γ; β]` of a normalized layer in `flat` (the parameters or their gradients).
    fn gamma_beta(store: &ParamStore, flat: &Tensor, norm: &Norm, channels: usize) -> Tensor {
        flat.view(store.entry(norm.gamma).offset, 2, channels)
    }

    /// `[running mean; running variance]` of a normalized layer.
    fn running(&self, norm: &Norm, channels: usize) -> Tensor {
        self.buffers()
            .running
            .expect("a network with batch norm is allocated with its running statistics")
            .view(norm.running_offset, 2, channels)
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
            let scratch = buffers.scratch[i].as_ref();
            match (&layer.norm, &buffers.normalized[i]) {
                (Some(norm), Some((pre, saved, _))) => {
                    let pre = pre.top_rows(batch);
                    let none = Activation::Identity;
                    layer
                        .map
                        .forward(backend, &input, &weight, None, none, scratch, &pre)?;
                    let c = layer.output.channels;
                    let gb = Self::gamma_beta(store, &store.params, norm, c);
                    let running = self.running(norm, c);
                    let (groups, rows) = self.groups(layer, batch)?;
                    for g in 0..groups {
                        let part = |t: &Tensor| t.view(g * rows * c, rows, c);
                        backend.batch_norm(
                            &part(&pre),
                            &gb,
                            &saved.view(g * 2 * c, 2, c),
                            &running,
                            layer.act,
                            norm.hyper,
                            training,
                            &part(&out),
                        )?;
                    }
                }
                _ => layer.map.forward(
                    backend,
                    &input,
                    &weight,
                    bias.as_ref(),
                    layer.act,
                    scratch,
                    &out,
                )?,
            }
            input = out;
        }
        Ok(input)
    }

    /// Backpropagates `d_output` (the loss gradient with respect to this network's output) after
    /// a training forward on `x`: the parameter gradients into `store.grads` if `param_grads`,
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
                (Some(norm), Some((pre, saved, per_group)), Some(delta)) => {
                    let c = layer.output.channels;
                    let (groups, rows) = self.groups(layer, batch)?;
                    let delta = delta.top_rows(batch);
                    let gb = Self::gamma_beta(store, &store.params, norm, c);
                    let dgb = Self::gamma_beta(store, &store.grads, norm, c);
                    for g in 0..groups {
                        let part = |t: &Tensor| t.view(g * rows * c, rows, c);
                        // One group writes [dγ; dβ] straight into the gradients; several
                        // write theirs side by side, summed below.
                        let target = if param_grads && groups == 1 {
                            dgb
                        } else {
                            per_group.view(g * 2 * c, 2, c)
                        };
                        backend.batch_norm_backward(
                            &part(pre),
                            &gb,
                            &saved.view(g * 2 * c, 2, c),
                            layer.act,
                            &part(&d_out),
                            &part(&delta),
                            &target,
                        )?;
                    }
                    if param_grads && groups > 1 {
                        let sums = per_group.top_rows(groups);
                        backend.column_sum(&sums, &dgb.reshape(1, 2 * c))?;
                    }
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
            let input = if i == 0 {
                *x
            } else {
                buffers.outputs[i - 1].top_rows(batch)
            };
            let (dw, db) = (store.grad(layer.weight), layer.bias.map(|b| store.grad(b)));
            let grads = param_grads.then_some((&dw, db.as_ref()));
            let d_in = match (i, d_input) {
                (0, d) => d.copied(),
                _ => Some(buffers.upstream[i - 1].top_rows(batch)),
            };
            layer.map.backward(
                backend,
                &input,
                &store.param(layer.weight),
                &d_pre,
                buffers.scratch[i].as_ref(),
                grads,
                d_in.as_ref(),
            )?;
            match d_in {
                Some(d) => d_out = d,
                None => break,
            }
        }
        Ok(())
    }
}

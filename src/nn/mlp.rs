//! A stack of linear layers with activations, forward and backward written once over any
//! `Backend`. Activation buffers are allocated once for the largest batch; smaller batches
//! use their top rows, so a step allocates nothing.

use rand::Rng;

use super::params::{ParamLayout, ParamSlot, ParamStore, linear_init};
use crate::backend::{Activation, Backend, MatmulForm, Result, Tensor};

/// One `y = act(x·Wᵀ + b)` layer (PyTorch's `nn.Linear` layout: W is `out × in`).
struct Layer {
    weight: ParamSlot,
    bias: ParamSlot,
    inputs: usize,
    outputs: usize,
    act: Activation,
}

/// The device buffers of an [`Mlp`] for a given batch size.
struct Buffers {
    /// Each layer's output, `batch × outputs`.
    outputs: Vec<Tensor>,
    /// Each layer's pre-activation gradient (used where the activation is not the identity).
    deltas: Vec<Tensor>,
    /// Gradient with respect to layer `i`'s input, for `i ≥ 1` (index `i − 1`).
    upstream: Vec<Tensor>,
}

/// A multi-layer perceptron.
pub struct Mlp {
    layers: Vec<Layer>,
    buffers: Option<Buffers>,
}

impl Mlp {
    /// Declares the layers `sizes[0] → sizes[1] → …` with `acts[i]` after layer `i`, their
    /// parameters named `{prefix}.{i}.weight` / `.bias`.
    pub fn new(
        layout: &mut ParamLayout,
        prefix: &str,
        sizes: &[usize],
        acts: &[Activation],
    ) -> Self {
        assert_eq!(sizes.len(), acts.len() + 1, "one activation per layer");
        let layers = sizes
            .windows(2)
            .zip(acts)
            .enumerate()
            .map(|(i, (pair, &act))| Layer {
                weight: layout.add(format!("{prefix}.{i}.weight"), pair[1], pair[0]),
                bias: layout.add(format!("{prefix}.{i}.bias"), 1, pair[1]),
                inputs: pair[0],
                outputs: pair[1],
                act,
            })
            .collect();
        Mlp {
            layers,
            buffers: None,
        }
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    /// Writes PyTorch-default initial values of this MLP's parameters into `host`, the flat
    /// parameter vector of `store`'s layout.
    pub fn init(&self, store: &ParamStore, rng: &mut impl Rng, host: &mut [f32]) {
        for layer in &self.layers {
            for slot in [layer.weight, layer.bias] {
                let e = store.entry(slot);
                host[e.offset..e.offset + e.len()].copy_from_slice(&linear_init(
                    rng,
                    layer.inputs,
                    e.len(),
                ));
            }
        }
    }

    /// Allocates the activation and gradient buffers for batches of up to `batch` rows.
    pub fn allocate(&mut self, backend: &mut dyn Backend, batch: usize) -> Result<()> {
        let mut buffers = Buffers {
            outputs: Vec::new(),
            deltas: Vec::new(),
            upstream: Vec::new(),
        };
        for (i, layer) in self.layers.iter().enumerate() {
            buffers.outputs.push(backend.alloc(batch, layer.outputs)?);
            let delta_cols = if layer.act == Activation::Identity {
                1
            } else {
                layer.outputs
            };
            buffers.deltas.push(backend.alloc(batch, delta_cols)?);
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

    /// Runs the layers on the first `x.rows` rows; returns the output (a view of this MLP's
    /// buffer, valid until the next forward).
    pub fn forward(
        &self,
        backend: &mut dyn Backend,
        store: &ParamStore,
        x: &Tensor,
    ) -> Result<Tensor> {
        let batch = x.rows;
        let buffers = self.buffers();
        let mut input = *x;
        for (layer, out) in self.layers.iter().zip(&buffers.outputs) {
            let out = out.top_rows(batch);
            backend.matmul(
                MatmulForm::NT,
                &input,
                &store.param(layer.weight),
                Some(&store.param(layer.bias)),
                layer.act,
                &out,
            )?;
            input = out;
        }
        Ok(input)
    }

    /// The output of the last forward, for `batch` rows.
    pub fn output(&self, batch: usize) -> Tensor {
        self.buffers().outputs[self.layers.len() - 1].top_rows(batch)
    }

    /// Backpropagates `d_output` (the loss gradient with respect to this MLP's output) after a
    /// forward on `x`: writes every parameter gradient into `store.grads`, and the gradient with
    /// respect to `x` into `d_input` if asked for.
    pub fn backward(
        &self,
        backend: &mut dyn Backend,
        store: &ParamStore,
        x: &Tensor,
        d_output: &Tensor,
        d_input: Option<&Tensor>,
    ) -> Result<()> {
        let batch = x.rows;
        let buffers = self.buffers();
        let mut d_out = *d_output;
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let out = buffers.outputs[i].top_rows(batch);
            let d_pre = if layer.act == Activation::Identity {
                d_out
            } else {
                let delta = buffers.deltas[i].top_rows(batch);
                backend.activation_backward(layer.act, &out, &d_out, &delta)?;
                delta
            };
            let input = if i == 0 {
                *x
            } else {
                buffers.outputs[i - 1].top_rows(batch)
            };
            backend.matmul(
                MatmulForm::TN,
                &d_pre,
                &input,
                None,
                Activation::Identity,
                &store.grad(layer.weight),
            )?;
            backend.column_sum(&d_pre, &store.grad(layer.bias))?;
            let d_in = if i == 0 {
                match d_input {
                    Some(d) => *d,
                    None => break,
                }
            } else {
                buffers.upstream[i - 1].top_rows(batch)
            };
            backend.matmul(
                MatmulForm::NN,
                &d_pre,
                &store.param(layer.weight),
                None,
                Activation::Identity,
                &d_in,
            )?;
            d_out = d_in;
        }
        Ok(())
    }
}

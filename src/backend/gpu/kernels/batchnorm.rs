//! Batch normalization over the rows of a `batch × C` tensor with the activation fused, and
//! its backward: one invocation per feature column walks the batch.
//!
//! WGSL `shaders/batchnorm.wgsl`; CPU twin `src/backend/cpu/batchnorm.rs`; parity test
//! `tests/parity_batchnorm.rs`.

use super::{Family, Kernel, ParamsLayout, R, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Activation, BatchNormHyper, Result, Tensor};

/// Invocations (feature columns) per workgroup of both entry points.
const WORKGROUP_SIZE: u32 = 64;

shader_params! {
    /// `Params` of batchnorm.wgsl; the forward and the backward each read part of it.
    struct Params {
        rows: u32, cols: u32, x_off: u32, gb_off: u32,
        saved_off: u32, out_off: u32, dy_off: u32, grad_off: u32,
        act: u32, slope: f32, eps: f32, momentum: f32,
        training: u32, running_off: u32, _pad0: u32, _pad1: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "batchnorm",
    wgsl: include_str!("../../../../shaders/batchnorm.wgsl"),
    activation: true,
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&FORWARD, &BACKWARD],
};

static FORWARD: Kernel = Kernel {
    family: &FAMILY,
    entry: "batch_norm_forward",
    bindings: &[(1, R), (2, R), (3, W), (4, W), (8, W)],
};

static BACKWARD: Kernel = Kernel {
    family: &FAMILY,
    entry: "batch_norm_backward",
    bindings: &[(1, R), (2, R), (5, R), (6, R), (4, W), (7, W)],
};

/// `y = act(batch_norm(x))`, saving the statistics for the backward and, in training,
/// updating the running ones.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_norm(
    gpu: &mut GpuBackend,
    x: &Tensor,
    gamma_beta: &Tensor,
    saved: &Tensor,
    running: &Tensor,
    act: Activation,
    norm: BatchNormHyper,
    training: bool,
    y: &Tensor,
) -> Result<()> {
    let p = Params {
        eps: norm.eps,
        momentum: norm.momentum,
        training: u32::from(training),
        running_off: index(&FORWARD, running.offset)?,
        ..shared(&FORWARD, x, gamma_beta, saved, act, y)?
    };
    launch_linear(
        gpu,
        &FORWARD,
        WORKGROUP_SIZE,
        x.cols,
        &[
            x.buffer,
            gamma_beta.buffer,
            saved.buffer,
            y.buffer,
            running.buffer,
        ],
        &p,
    )
}

/// `dx` and `d_gamma_beta` from `dy`, the gradient of the activated output.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_norm_backward(
    gpu: &mut GpuBackend,
    x: &Tensor,
    gamma_beta: &Tensor,
    saved: &Tensor,
    act: Activation,
    dy: &Tensor,
    dx: &Tensor,
    d_gamma_beta: &Tensor,
) -> Result<()> {
    let p = Params {
        dy_off: index(&BACKWARD, dy.offset)?,
        grad_off: index(&BACKWARD, d_gamma_beta.offset)?,
        ..shared(&BACKWARD, x, gamma_beta, saved, act, dx)?
    };
    launch_linear(
        gpu,
        &BACKWARD,
        WORKGROUP_SIZE,
        x.cols,
        &[
            x.buffer,
            gamma_beta.buffer,
            saved.buffer,
            dy.buffer,
            dx.buffer,
            d_gamma_beta.buffer,
        ],
        &p,
    )
}

/// The members both passes fill alike, writing `out`; the others start at zero.
fn shared(
    kernel: &Kernel,
    x: &Tensor,
    gamma_beta: &Tensor,
    saved: &Tensor,
    act: Activation,
    out: &Tensor,
) -> Result<Params> {
    let ix = |v| index(kernel, v);
    Ok(Params {
        rows: ix(x.rows)?,
        cols: ix(x.cols)?,
        x_off: ix(x.offset)?,
        gb_off: ix(gamma_beta.offset)?,
        saved_off: ix(saved.offset)?,
        out_off: ix(out.offset)?,
        act: act.code(),
        slope: act.slope(),
        ..bytemuck::Zeroable::zeroed()
    })
}

//! Batch normalization over the rows of a `batch × C` tensor with the activation fused, and
//! its backward: one invocation per feature column walks the batch.
//!
//! No kernel binds more than 4 storage buffers (the downlevel limit), so the training forward
//! is two dispatches (statistics, then the normalized output) and so is the backward (x̂ and
//! 1/σ into the outputs, then the gradients from them); an evaluation forward is one.
//!
//! WGSL `shaders/batchnorm.wgsl`; CPU twin `src/backend/cpu/batchnorm.rs`; parity test
//! `tests/parity_batchnorm.rs`.

use super::{Family, Kernel, ParamsLayout, Prelude, R, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Activation, BatchNormHyper, BufferId, Result, Tensor};

/// Invocations (feature columns) per workgroup of every entry point.
const WORKGROUP_SIZE: u32 = 64;

shader_params! {
    /// `Params` of batchnorm.wgsl; each entry point reads part of it.
    struct Params {
        rows: u32, cols: u32, x_off: u32, gb_off: u32,
        stats_off: u32, running_off: u32, out_off: u32, dy_off: u32,
        grad_off: u32, act: u32, slope: f32, eps: f32,
        momentum: f32, training: u32, _pad0: u32, _pad1: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "batchnorm",
    wgsl: include_str!("../../../../shaders/batchnorm.wgsl"),
    preludes: &[Prelude::Activation],
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&STATS, &APPLY, &NORMALIZE, &BACKWARD],
    subgroup_lanes: None,
};

/// x → saved (batch mean, 1/σ), and the running statistics updated.
static STATS: Kernel = Kernel {
    family: &FAMILY,
    entry: "batch_norm_stats",
    bindings: &[(1, R), (3, W), (4, W)],
};

/// x, γβ and statistics (saved or running) → y.
static APPLY: Kernel = Kernel {
    family: &FAMILY,
    entry: "batch_norm_apply",
    bindings: &[(1, R), (2, R), (5, R), (6, W)],
};

/// x, saved → x̂ into dx, 1/σ into dβ.
static NORMALIZE: Kernel = Kernel {
    family: &FAMILY,
    entry: "batch_norm_normalize",
    bindings: &[(1, R), (5, R), (6, W), (8, W)],
};

/// γβ, dy, and what NORMALIZE left in dx and dβ → dx, dγβ.
static BACKWARD: Kernel = Kernel {
    family: &FAMILY,
    entry: "batch_norm_backward",
    bindings: &[(2, R), (7, R), (6, W), (8, W)],
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
    let base = Params {
        eps: norm.eps,
        momentum: norm.momentum,
        training: u32::from(training),
        ..columns(&APPLY, x)?
    };
    // In evaluation the running statistics stand where the batch's would.
    let stats = if training {
        let p = Params {
            stats_off: index(&STATS, saved.offset)?,
            running_off: index(&STATS, running.offset)?,
            ..base
        };
        run(
            gpu,
            &STATS,
            x,
            &[x.buffer, saved.buffer, running.buffer],
            &p,
        )?;
        saved
    } else {
        running
    };
    let p = Params {
        gb_off: index(&APPLY, gamma_beta.offset)?,
        stats_off: index(&APPLY, stats.offset)?,
        out_off: index(&APPLY, y.offset)?,
        act: act.code(),
        slope: act.slope(),
        ..base
    };
    let buffers = [x.buffer, gamma_beta.buffer, stats.buffer, y.buffer];
    run(gpu, &APPLY, x, &buffers, &p)
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
        stats_off: index(&NORMALIZE, saved.offset)?,
        out_off: index(&NORMALIZE, dx.offset)?,
        grad_off: index(&NORMALIZE, d_gamma_beta.offset)?,
        ..columns(&NORMALIZE, x)?
    };
    let buffers = [x.buffer, saved.buffer, dx.buffer, d_gamma_beta.buffer];
    run(gpu, &NORMALIZE, x, &buffers, &p)?;
    let p = Params {
        gb_off: index(&BACKWARD, gamma_beta.offset)?,
        dy_off: index(&BACKWARD, dy.offset)?,
        act: act.code(),
        slope: act.slope(),
        ..p
    };
    let buffers = [gamma_beta.buffer, dy.buffer, dx.buffer, d_gamma_beta.buffer];
    run(gpu, &BACKWARD, x, &buffers, &p)
}

/// The shape of `x` and its offset; the other members start at zero.
fn columns(kernel: &Kernel, x: &Tensor) -> Result<Params> {
    Ok(Params {
        rows: index(kernel, x.rows)?,
        cols: index(kernel, x.cols)?,
        x_off: index(kernel, x.offset)?,
        ..bytemuck::Zeroable::zeroed()
    })
}

/// Launches one of the family's entry points over the columns of `x`.
fn run(
    gpu: &mut GpuBackend,
    kernel: &Kernel,
    x: &Tensor,
    buffers: &[BufferId],
    p: &Params,
) -> Result<()> {
    launch_linear(gpu, kernel, WORKGROUP_SIZE, x.cols, buffers, p)
}

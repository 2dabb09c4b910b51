//! Losses on logits, forward and backward in one pass: binary cross-entropy per element and
//! softmax cross-entropy per row against a class label. One workgroup per row writes the
//! gradient of every element and the row's loss.
//!
//! WGSL `shaders/loss.wgsl`; CPU twin `src/backend/cpu/loss.rs`; parity test
//! `tests/parity_loss.rs`.

use super::{Family, Kernel, ParamsLayout, Prelude, R, W, index};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Result, Tensor};

/// Invocations per workgroup, striding over a row's columns, then summed as a tree (a power
/// of two).
const THREADS: u32 = 64;

shader_params! {
    /// `Params` of loss.wgsl.
    struct Params {
        rows: u32, cols: u32, x_off: u32, t_off: u32,
        grad_off: u32, loss_off: u32, grad_scale: f32, _pad: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "loss",
    wgsl: include_str!("../../../../shaders/loss.wgsl"),
    preludes: &[Prelude::Activation],
    constants: wgsl_constants![THREADS],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&BCE_WITH_LOGITS, &SOFTMAX_CROSS_ENTROPY],
    subgroup_lanes: None,
};

static BCE_WITH_LOGITS: Kernel = Kernel {
    family: &FAMILY,
    entry: "bce_with_logits",
    bindings: &[(1, R), (2, R), (3, W), (4, W)],
};

static SOFTMAX_CROSS_ENTROPY: Kernel = Kernel {
    family: &FAMILY,
    entry: "softmax_cross_entropy",
    bindings: &[(1, R), (2, R), (3, W), (4, W)],
};

/// `loss[r]` (the row's summed BCE) and `grad = grad_scale · (σ(x) − t)`.
pub(crate) fn bce_with_logits(
    gpu: &mut GpuBackend,
    logits: &Tensor,
    targets: &Tensor,
    grad_scale: f32,
    grad: &Tensor,
    loss: &Tensor,
) -> Result<()> {
    launch_per_row(
        &BCE_WITH_LOGITS,
        gpu,
        logits,
        targets,
        grad_scale,
        grad,
        loss,
    )
}

/// `loss[r] = log Σ_c exp(x_rc) − x_r,label` and `grad = grad_scale · (softmax(x) − one-hot)`,
/// the label of row r being `labels[r]`.
pub(crate) fn softmax_cross_entropy(
    gpu: &mut GpuBackend,
    logits: &Tensor,
    labels: &Tensor,
    grad_scale: f32,
    grad: &Tensor,
    loss: &Tensor,
) -> Result<()> {
    launch_per_row(
        &SOFTMAX_CROSS_ENTROPY,
        gpu,
        logits,
        labels,
        grad_scale,
        grad,
        loss,
    )
}

/// One workgroup per row of `logits`, for either loss.
fn launch_per_row(
    kernel: &Kernel,
    gpu: &mut GpuBackend,
    logits: &Tensor,
    targets: &Tensor,
    grad_scale: f32,
    grad: &Tensor,
    loss: &Tensor,
) -> Result<()> {
    let ix = |v| index(kernel, v);
    let p = Params {
        rows: ix(logits.rows)?,
        cols: ix(logits.cols)?,
        x_off: ix(logits.offset)?,
        t_off: ix(targets.offset)?,
        grad_off: ix(grad.offset)?,
        loss_off: ix(loss.offset)?,
        grad_scale,
        _pad: 0,
    };
    let groups = gpu.groups_for(logits.rows, 1);
    gpu.run(
        kernel,
        &[logits.buffer, targets.buffer, grad.buffer, loss.buffer],
        &p,
        groups,
    )
}

//! Adam / AdamW over one flat parameter buffer: one dispatch updates every parameter.
//!
//! WGSL `shaders/adam.wgsl`; CPU twin `src/backend/cpu/adam.rs`; parity test
//! `tests/parity_adam.rs`.

use super::{Family, Kernel, ParamsLayout, R, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{AdamStep, Result, Tensor};

/// Invocations per workgroup.
const WORKGROUP_SIZE: u32 = 256;

shader_params! {
    /// `Params` of adam.wgsl.
    struct Params {
        n: u32, p_off: u32, g_off: u32, m_off: u32,
        v_off: u32, beta1: f32, beta2: f32, eps: f32,
        lr: f32, ln_beta1: f32, ln_beta2: f32, decay: f32,
        t: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "adam",
    wgsl: include_str!("../../../../shaders/adam.wgsl"),
    preludes: &[],
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&ADAM],
    subgroup_lanes: None,
};

static ADAM: Kernel = Kernel {
    family: &FAMILY,
    entry: "adam",
    bindings: &[(1, R), (2, W), (3, W), (4, W)],
};

/// One update of `params` from `grads`, with the moments `m` and `v`.
pub(crate) fn adam(
    gpu: &mut GpuBackend,
    step: &AdamStep,
    params: &Tensor,
    grads: &Tensor,
    m: &Tensor,
    v: &Tensor,
) -> Result<()> {
    let ix = |v| index(&ADAM, v);
    let p = Params {
        n: ix(params.len())?,
        p_off: ix(params.offset)?,
        g_off: ix(grads.offset)?,
        m_off: ix(m.offset)?,
        v_off: ix(v.offset)?,
        beta1: step.beta1,
        beta2: step.beta2,
        eps: step.eps,
        lr: step.lr,
        // In f64 on the host: ln β is what the bias correction's accuracy rests on.
        ln_beta1: f64::from(step.beta1).ln() as f32,
        ln_beta2: f64::from(step.beta2).ln() as f32,
        decay: step.decay,
        t: step.t,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    launch_linear(
        gpu,
        &ADAM,
        WORKGROUP_SIZE,
        params.len(),
        &[grads.buffer, params.buffer, m.buffer, v.buffer],
        &p,
    )
}

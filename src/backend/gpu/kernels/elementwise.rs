//! Activations forward and backward, and fill: one invocation per element.
//!
//! WGSL `shaders/elementwise.wgsl`; CPU twin `src/backend/cpu/elementwise.rs`; parity test
//! `tests/parity_elementwise.rs`.

use super::{Family, Kernel, ParamsLayout, Prelude, R, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Activation, Result, Tensor};

/// Invocations per workgroup of every entry point.
const WORKGROUP_SIZE: u32 = 256;

shader_params! {
    /// `Params` of elementwise.wgsl; each entry point reads part of it.
    struct Params {
        n: u32, x_off: u32, dy_off: u32, out_off: u32,
        act: u32, slope: f32, value: f32, _pad: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "elementwise",
    wgsl: include_str!("../../../../shaders/elementwise.wgsl"),
    preludes: &[Prelude::Activation],
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&ACT_FORWARD, &ACT_BACKWARD, &FILL],
    subgroup_lanes: None,
};

static ACT_FORWARD: Kernel = Kernel {
    family: &FAMILY,
    entry: "act_forward",
    bindings: &[(1, R), (3, W)],
};

static ACT_BACKWARD: Kernel = Kernel {
    family: &FAMILY,
    entry: "act_backward",
    bindings: &[(1, R), (2, R), (3, W)],
};

static FILL: Kernel = Kernel {
    family: &FAMILY,
    entry: "fill",
    bindings: &[(3, W)],
};

/// `y = act(x)`.
pub(crate) fn activation(
    gpu: &mut GpuBackend,
    act: Activation,
    x: &Tensor,
    y: &Tensor,
) -> Result<()> {
    let p = act_params(&ACT_FORWARD, act, x, None, y)?;
    launch_linear(
        gpu,
        &ACT_FORWARD,
        WORKGROUP_SIZE,
        x.len(),
        &[x.buffer, y.buffer],
        &p,
    )
}

/// `dx = dy · act'(x)`, through the forward output `y`.
pub(crate) fn activation_backward(
    gpu: &mut GpuBackend,
    act: Activation,
    y: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
) -> Result<()> {
    let p = act_params(&ACT_BACKWARD, act, y, Some(dy), dx)?;
    launch_linear(
        gpu,
        &ACT_BACKWARD,
        WORKGROUP_SIZE,
        y.len(),
        &[y.buffer, dy.buffer, dx.buffer],
        &p,
    )
}

/// The parameters of both activation passes over the elements of `x`, which the backward
/// reads with `dy`.
fn act_params(
    kernel: &Kernel,
    act: Activation,
    x: &Tensor,
    dy: Option<&Tensor>,
    out: &Tensor,
) -> Result<Params> {
    let ix = |v| index(kernel, v);
    Ok(Params {
        n: ix(x.len())?,
        x_off: ix(x.offset)?,
        dy_off: dy.map_or(Ok(0), |dy| ix(dy.offset))?,
        out_off: ix(out.offset)?,
        act: act.code(),
        slope: act.slope(),
        value: 0.0,
        _pad: 0,
    })
}

/// Every element of `t` set to `value`.
pub(crate) fn fill(gpu: &mut GpuBackend, t: &Tensor, value: f32) -> Result<()> {
    let ix = |v| index(&FILL, v);
    let p = Params {
        n: ix(t.len())?,
        x_off: 0,
        dy_off: 0,
        out_off: ix(t.offset)?,
        act: 0,
        slope: 0.0,
        value,
        _pad: 0,
    };
    launch_linear(gpu, &FILL, WORKGROUP_SIZE, t.len(), &[t.buffer], &p)
}

//! Counter-based random numbers on the device: a draw is a pure function of (seed, stream,
//! element index), bit for bit `src/backend/rng.rs`, so both backends draw the same noise.
//!
//! WGSL `shaders/random.wgsl`; CPU twin `src/backend/cpu/random.rs`; parity test
//! `tests/parity_random.rs`.

use super::{Family, Kernel, ParamsLayout, Prelude, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Result, Tensor};

/// Invocations per workgroup of both entry points.
const WORKGROUP_SIZE: u32 = 256;

shader_params! {
    /// `Params` of random.wgsl.
    struct Params {
        n: u32, out_off: u32, seed: u32, stream: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "random",
    wgsl: include_str!("../../../../shaders/random.wgsl"),
    preludes: &[Prelude::Hash],
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&FILL_UNIFORM, &FILL_NORMAL],
    subgroup_lanes: None,
};

static FILL_UNIFORM: Kernel = Kernel {
    family: &FAMILY,
    entry: "fill_uniform",
    bindings: &[(1, W)],
};

static FILL_NORMAL: Kernel = Kernel {
    family: &FAMILY,
    entry: "fill_normal",
    bindings: &[(1, W)],
};

/// Uniform draws in (0, 1) into `t`.
pub(crate) fn fill_uniform(gpu: &mut GpuBackend, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
    fill(gpu, &FILL_UNIFORM, t, seed, stream)
}

/// Standard normal draws into `t`.
pub(crate) fn fill_normal(gpu: &mut GpuBackend, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
    fill(gpu, &FILL_NORMAL, t, seed, stream)
}

/// Both entry points take the same parameters: element `i` of `t` is draw `i` of the stream.
fn fill(gpu: &mut GpuBackend, kernel: &Kernel, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
    let ix = |v| index(kernel, v);
    let p = Params {
        n: ix(t.len())?,
        out_off: ix(t.offset)?,
        seed,
        stream,
    };
    launch_linear(gpu, kernel, WORKGROUP_SIZE, t.len(), &[t.buffer], &p)
}

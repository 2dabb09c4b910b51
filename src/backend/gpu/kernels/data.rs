//! Gathers a batch from a resident u8 dataset by an index buffer, converting to f32.
//!
//! WGSL `shaders/data.wgsl`; CPU twin `src/backend/cpu/data.rs`; parity test
//! `tests/parity_data.rs`.

use super::{Family, Kernel, ParamsLayout, R, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Bytes, Indices, Result, Tensor};

/// Invocations per workgroup.
const WORKGROUP_SIZE: u32 = 256;

shader_params! {
    /// `Params` of data.wgsl.
    struct Params {
        rows: u32, cols: u32, first: u32, out_off: u32,
        examples: u32, scale: f32, shift: f32, _pad: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "data",
    wgsl: include_str!("../../../../shaders/data.wgsl"),
    activation: false,
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&GATHER],
};

static GATHER: Kernel = Kernel {
    family: &FAMILY,
    entry: "gather",
    bindings: &[(1, R), (2, R), (3, W)],
};

/// `out[r, c] = scale · data[indices[first + r] · out.cols + c] + shift`.
pub(crate) fn gather(
    gpu: &mut GpuBackend,
    data: &Bytes,
    indices: &Indices,
    first: usize,
    scale: f32,
    shift: f32,
    out: &Tensor,
) -> Result<()> {
    let ix = |v| index(&GATHER, v);
    let p = Params {
        rows: ix(out.rows)?,
        cols: ix(out.cols)?,
        first: ix(first)?,
        out_off: ix(out.offset)?,
        examples: ix(data.len / out.cols)?,
        scale,
        shift,
        _pad: 0,
    };
    launch_linear(
        gpu,
        &GATHER,
        WORKGROUP_SIZE,
        out.len(),
        &[data.buffer, indices.buffer, out.buffer],
        &p,
    )
}

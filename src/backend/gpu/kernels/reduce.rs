//! Reductions: column sums (bias gradients), and a total added into an accumulator (losses
//! kept on the device between read-backs).
//!
//! WGSL `shaders/reduce.wgsl`; CPU twin `src/backend/cpu/reduce.rs`; parity test
//! `tests/parity_reduce.rs`.

use super::{Family, Kernel, ParamsLayout, R, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Result, Tensor};

/// Invocations (columns) per workgroup of `column_sum`.
const COLUMN_GROUP: u32 = 64;
/// Invocations of the one workgroup of `accumulate_sum`, summed as a tree (a power of two).
const SUM_THREADS: u32 = 256;

shader_params! {
    /// `Params` of reduce.wgsl.
    struct Params {
        rows: u32, cols: u32, x_off: u32, out_off: u32,
        scale: f32, _pad0: u32, _pad1: u32, _pad2: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "reduce",
    wgsl: include_str!("../../../../shaders/reduce.wgsl"),
    preludes: &[],
    constants: wgsl_constants![COLUMN_GROUP, SUM_THREADS],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&COLUMN_SUM, &ACCUMULATE_SUM],
};

static COLUMN_SUM: Kernel = Kernel {
    family: &FAMILY,
    entry: "column_sum",
    bindings: &[(1, R), (2, W)],
};

static ACCUMULATE_SUM: Kernel = Kernel {
    family: &FAMILY,
    entry: "accumulate_sum",
    bindings: &[(1, R), (2, W)],
};

/// `out[c] = Σ_r x[r, c]`: one invocation per column.
pub(crate) fn column_sum(gpu: &mut GpuBackend, x: &Tensor, out: &Tensor) -> Result<()> {
    let ix = |v| index(&COLUMN_SUM, v);
    let p = Params {
        rows: ix(x.rows)?,
        cols: ix(x.cols)?,
        x_off: ix(x.offset)?,
        out_off: ix(out.offset)?,
        scale: 0.0,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    launch_linear(
        gpu,
        &COLUMN_SUM,
        COLUMN_GROUP,
        x.cols,
        &[x.buffer, out.buffer],
        &p,
    )
}

/// `acc[0] += scale · Σ x`, in one workgroup of `SUM_THREADS`.
pub(crate) fn accumulate_sum(
    gpu: &mut GpuBackend,
    x: &Tensor,
    acc: &Tensor,
    scale: f32,
) -> Result<()> {
    let ix = |v| index(&ACCUMULATE_SUM, v);
    let p = Params {
        rows: ix(x.rows)?,
        cols: ix(x.cols)?,
        x_off: ix(x.offset)?,
        out_off: ix(acc.offset)?,
        scale,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    gpu.run(&ACCUMULATE_SUM, &[x.buffer, acc.buffer], &p, (1, 1))
}

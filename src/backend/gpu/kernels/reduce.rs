//! Reductions: column sums (bias gradients), a total added into an accumulator (losses kept on
//! the device between read-backs), and the record of the first step whose sums were not
//! finite.
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
/// Invocations of `record_non_finite`: one walks the few sums.
const RECORD_THREADS: u32 = 1;

shader_params! {
    /// `Params` of reduce.wgsl.
    struct Params {
        rows: u32, cols: u32, x_off: u32, out_off: u32,
        scale: f32, step: u32, _pad1: u32, _pad2: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "reduce",
    wgsl: include_str!("../../../../shaders/reduce.wgsl"),
    preludes: &[],
    constants: wgsl_constants![COLUMN_GROUP, SUM_THREADS, RECORD_THREADS],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&COLUMN_SUM, &ACCUMULATE_SUM, &RECORD_NON_FINITE],
    subgroup_lanes: None,
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

static RECORD_NON_FINITE: Kernel = Kernel {
    family: &FAMILY,
    entry: "record_non_finite",
    bindings: &[(3, W)],
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
        step: 0,
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
        step: 0,
        _pad1: 0,
        _pad2: 0,
    };
    gpu.run(&ACCUMULATE_SUM, &[x.buffer, acc.buffer], &p, (1, 1))
}

/// The last word of `sums` becomes `step` if it is 0 and a word before it is not finite: one
/// invocation (the sums are a few words).
pub(crate) fn record_non_finite(gpu: &mut GpuBackend, sums: &Tensor, step: u32) -> Result<()> {
    let ix = |v| index(&RECORD_NON_FINITE, v);
    let p = Params {
        rows: ix(sums.len() - 1)?,
        cols: 1,
        x_off: ix(sums.offset)?,
        out_off: ix(sums.offset + sums.len() - 1)?,
        scale: 0.0,
        step,
        _pad1: 0,
        _pad2: 0,
    };
    gpu.run(&RECORD_NON_FINITE, &[sums.buffer], &p, (1, 1))
}

//! The peak probe: independent vec4 FMA chains, the fp32 rate the device can reach, against
//! which `gengpu bench` gives every kernel and step. It computes nothing a model uses, so it
//! has no CPU twin and no parity test (the CPU backend's reference is its large GEMM).
//!
//! WGSL `shaders/probe.wgsl`.

use super::{Family, Kernel, ParamsLayout, W, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Result, Tensor};

/// Invocations per workgroup.
const PROBE_GROUP: u32 = 64;
/// Workgroups: enough to fill any device many times over.
const PROBE_GROUPS: usize = 4096;
/// Loop iterations per invocation: about 4 GFLOP in all, tens of milliseconds on llvmpipe.
const ITERATIONS: u32 = 64;
/// Independent vec4 chains per invocation, times the loop's unrolling, as in the WGSL.
const CHAINS: u64 = 8 * 4;

shader_params! {
    /// `Params` of probe.wgsl.
    struct Params {
        iterations: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "probe",
    wgsl: include_str!("../../../../shaders/probe.wgsl"),
    preludes: &[],
    constants: wgsl_constants![PROBE_GROUP],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&PEAK_PROBE],
    subgroup_lanes: None,
};

static PEAK_PROBE: Kernel = Kernel {
    family: &FAMILY,
    entry: "peak_probe",
    bindings: &[(1, W)],
};

/// Elements (f32) of the buffer the probe writes: one vec4 per invocation.
pub(crate) const SINK_LEN: usize = 4 * PROBE_GROUPS * PROBE_GROUP as usize;

/// Records the probe, writing into `sink` (at least [`SINK_LEN`] values); returns its
/// floating-point operations (an FMA is two).
pub(crate) fn peak_probe(gpu: &mut GpuBackend, sink: &Tensor) -> Result<u64> {
    let threads = PROBE_GROUPS * PROBE_GROUP as usize;
    let p = Params {
        iterations: ITERATIONS,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    launch_linear(gpu, &PEAK_PROBE, PROBE_GROUP, threads, &[sink.buffer], &p)?;
    Ok(threads as u64 * u64::from(ITERATIONS) * CHAINS * 4 * 2)
}

//! Advances the dispatch parameters on the device by per-word deltas: what makes a training
//! step upload nothing (`gpu/params.rs` decides the deltas and runs it). It is the recorder's
//! own machinery, not an operation of the backend, so it has no CPU twin and no parity test;
//! `tests/step_parity.rs` covers it through whole steps.
//!
//! WGSL `shaders/step.wgsl`.

use super::{Family, Kernel, ParamsLayout, R, W};

/// Invocations per workgroup.
pub(crate) const STEP_GROUP: u32 = 256;

shader_params! {
    /// `Params` of step.wgsl.
    struct Params {
        words: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "step",
    wgsl: include_str!("../../../../shaders/step.wgsl"),
    preludes: &[],
    constants: wgsl_constants![STEP_GROUP],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&ADVANCE_PARAMS],
    subgroup_lanes: None,
};

/// Bindings: the deltas, then the arena's storage twin.
pub(crate) static ADVANCE_PARAMS: Kernel = Kernel {
    family: &FAMILY,
    entry: "advance_params",
    bindings: &[(1, R), (2, W)],
};

/// The parameter block of a pass over `words` words.
pub(crate) fn params(words: u32) -> [u8; 16] {
    bytemuck::cast(Params {
        words,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    })
}

//! Random family, CPU twin: uniform and normal fills from the counter-based generator
//! (`src/backend/rng.rs`, shared with the GPU and with host-side sampling).
//!
//! Kernel: `shaders/random.wgsl`; GPU host: `src/backend/gpu/kernels/random.rs`; parity test:
//! `tests/parity_random.rs`.

use crate::backend::{Contraction, rng};

/// Element `i` of `out` is draw `i` of the uniform stream `(seed, stream)`.
pub(super) fn fill_uniform(seed: u32, stream: u32, out: &mut [f32]) {
    let key = rng::key(seed, stream);
    for (i, o) in out.iter_mut().enumerate() {
        *o = rng::to_unit(rng::bits(key, i as u32));
    }
}

/// Element `i` of `out` is draw `i` of the standard normal stream `(seed, stream)`.
pub(super) fn fill_normal(seed: u32, stream: u32, fma: Contraction, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = rng::normal_rounded(seed, stream, i as u32, fma);
    }
}

//! Adam family, CPU twin: one Adam (AdamW) update of every parameter.
//!
//! Kernel: `shaders/adam.wgsl`; GPU host: `src/backend/gpu/kernels/adam.rs`; parity test:
//! `tests/parity_adam.rs`.

use crate::backend::{AdamStep, Contraction};

/// One update of the parameters `p` and the moments `m` and `v` by the gradients `grads`.
///
/// The moments move by a fraction of their distance to the new value, `m + (1 − β1)·(g − m)`
/// rather than `β1·m + (1 − β1)·g`: the same number, but a fused multiply-add can then change
/// it only by a rounding of the (small) step, not of the two large terms that cancel.
pub(super) fn adam(
    step: &AdamStep,
    grads: &[f32],
    fma: Contraction,
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    for (i, &g) in grads.iter().enumerate() {
        m[i] = fma.mul_add(1.0 - step.beta1, g - m[i], m[i]);
        v[i] = fma.mul_add(1.0 - step.beta2, fma.mul_add(g, g, -v[i]), v[i]);
        let denom = fma.mul_add(v[i].sqrt(), step.inv_sqrt_bc2, step.eps);
        p[i] = fma.mul_add(p[i], step.decay, -(step.step_size * m[i] / denom));
    }
}

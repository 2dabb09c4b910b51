//! Adam family, CPU twin: one Adam (AdamW) update of every parameter.
//!
//! Kernel: `shaders/adam.wgsl`; GPU host: `src/backend/gpu/kernels/adam.rs`; parity test:
//! `tests/parity_adam.rs`.

use crate::backend::AdamStep;

/// One update of the parameters `p` and the moments `m` and `v` by the gradients `grads`.
pub(super) fn adam(step: &AdamStep, p: &mut [f32], m: &mut [f32], v: &mut [f32], grads: &[f32]) {
    for (i, &g) in grads.iter().enumerate() {
        m[i] = step.beta1 * m[i] + (1.0 - step.beta1) * g;
        v[i] = step.beta2 * v[i] + (1.0 - step.beta2) * g * g;
        let denom = v[i].sqrt() * step.inv_sqrt_bc2 + step.eps;
        p[i] = p[i] * step.decay - step.step_size * m[i] / denom;
    }
}

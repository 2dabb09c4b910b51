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
    #[cfg(target_arch = "x86_64")]
    if super::simd::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { adam_avx2(step, grads, fma, p, m, v) };
    }
    update(step, grads, fma, p, m, v);
}

/// [`update`] compiled for AVX2 and FMA: 8 parameters per instruction. Every operation is an
/// IEEE one (no contraction unless `fma` says so), so the results are the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn adam_avx2(
    step: &AdamStep,
    grads: &[f32],
    fma: Contraction,
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    update(step, grads, fma, p, m, v);
}

/// The update as one loop per rounding mode over zipped slices: no bounds check and no branch
/// per element, so the compiler vectorizes it.
#[inline(always)]
fn update(
    step: &AdamStep,
    grads: &[f32],
    fma: Contraction,
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    match fma {
        Contraction::Separate => update_with(step, grads, p, m, v, |a, b, c| a * b + c),
        Contraction::Fused => update_with(step, grads, p, m, v, f32::mul_add),
    }
}

#[inline(always)]
fn update_with(
    step: &AdamStep,
    grads: &[f32],
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    mul_add: impl Fn(f32, f32, f32) -> f32,
) {
    let parameters = p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(grads);
    for (((p, m), v), &g) in parameters {
        *m = mul_add(1.0 - step.beta1, g - *m, *m);
        *v = mul_add(1.0 - step.beta2, mul_add(g, g, -*v), *v);
        let denom = mul_add(v.sqrt(), step.inv_sqrt_bc2, step.eps);
        *p = mul_add(*p, step.decay, -(step.step_size * *m / denom));
    }
}

//! Loss family, CPU twin: binary cross-entropy on logits, forward and backward in one pass.
//!
//! Kernel: `shaders/loss.wgsl`; GPU host: `src/backend/gpu/kernels/loss.rs`; parity test:
//! `tests/parity_loss.rs`.

use crate::backend::Contraction;
use crate::backend::ops::sigmoid;

/// For rows of `cols` logits and targets: `grad = grad_scale · (σ(x) − t)` per element and
/// `loss[r]`, the row's summed [`bce_logit`].
pub(super) fn bce_with_logits(
    cols: usize,
    logits: &[f32],
    targets: &[f32],
    grad_scale: f32,
    fma: Contraction,
    grad: &mut [f32],
    loss: &mut [f32],
) {
    for (r, row_loss) in loss.iter_mut().enumerate() {
        let mut sum = 0.0;
        for i in r * cols..(r + 1) * cols {
            sum += bce_logit(logits[i], targets[i], fma);
            grad[i] = grad_scale * (sigmoid(logits[i]) - targets[i]);
        }
        *row_loss = sum;
    }
}

/// Binary cross-entropy of a logit against a target, in the form that never overflows:
/// `max(x, 0) − x·t + log(1 + exp(−|x|))`.
fn bce_logit(x: f32, t: f32, fma: Contraction) -> f32 {
    fma.mul_add(-x, t, x.max(0.0)) + (-x.abs()).exp().ln_1p()
}

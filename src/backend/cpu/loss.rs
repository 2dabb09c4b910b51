//! Loss family, CPU twin: binary cross-entropy and softmax cross-entropy on logits, forward and
//! backward in one pass.
//!
//! Kernel: `shaders/loss.wgsl`; GPU host: `src/backend/gpu/kernels/loss.rs`; parity test:
//! `tests/parity_loss.rs`.

use crate::backend::Contraction;

/// For rows of `cols` logits and targets: `grad = grad_scale · (σ(x) − t)` per element and
/// `loss[r]`, the row's summed binary cross-entropy (see [`bce_logit_and_sigmoid`]).
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
            let (value, probability) = bce_logit_and_sigmoid(logits[i], targets[i], fma);
            sum += value;
            grad[i] = grad_scale * (probability - targets[i]);
        }
        *row_loss = sum;
    }
}

/// Binary cross-entropy of a logit against a target, in the form that never overflows,
/// `max(x, 0) − x·t + log(1 + exp(−|x|))`, and σ(x), from one `exp(−|x|)`: bit for bit what
/// the two computed apart give (sigmoid's `exp(−x)` for x ≥ 0 and `exp(x)` for x < 0 are both
/// `exp(−|x|)`), at two transcendental calls per element instead of three.
fn bce_logit_and_sigmoid(x: f32, t: f32, fma: Contraction) -> (f32, f32) {
    let e = (-x.abs()).exp();
    let probability = if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (fma.mul_add(-x, t, x.max(0.0)) + e.ln_1p(), probability)
}

/// For rows of `cols` logits, each with a class label (`labels[r]`, a class index; past the
/// last class reads the last): `grad = grad_scale · (softmax(x) − one-hot)` and
/// `loss[r] = (max − x_label) + log Σ exp(x − max)`, as the kernel computes them.
pub(super) fn softmax_cross_entropy(
    cols: usize,
    logits: &[f32],
    labels: &[f32],
    grad_scale: f32,
    grad: &mut [f32],
    loss: &mut [f32],
) {
    for (r, row_loss) in loss.iter_mut().enumerate() {
        let x = &logits[r * cols..(r + 1) * cols];
        let g = &mut grad[r * cols..(r + 1) * cols];
        let top = x.iter().copied().fold(x[0], f32::max);
        let mut total = 0.0;
        for (g, &x) in g.iter_mut().zip(x) {
            *g = (x - top).exp();
            total += *g;
        }
        let label = (labels[r].max(0.0) as usize).min(cols - 1);
        for (c, g) in g.iter_mut().enumerate() {
            let one_hot = if c == label { 1.0 } else { 0.0 };
            *g = grad_scale * (*g / total - one_hot);
        }
        *row_loss = (top - x[label]) + total.ln();
    }
}

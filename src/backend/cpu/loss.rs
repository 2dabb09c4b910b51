//! Loss family, CPU twin: binary cross-entropy on logits, forward and backward in one pass.
//!
//! Kernel: `shaders/loss.wgsl`; GPU host: `src/backend/gpu/kernels/loss.rs`; parity test:
//! `tests/parity_loss.rs`.

/// For rows of `cols` logits and targets: `grad = grad_scale · (σ(x) − t)` per element and
/// `loss[r]`, the row's summed [`bce_logit`].
pub(super) fn bce_with_logits(
    cols: usize,
    logits: &[f32],
    targets: &[f32],
    grad_scale: f32,
    grad: &mut [f32],
    loss: &mut [f32],
) {
    for (r, row_loss) in loss.iter_mut().enumerate() {
        let mut sum = 0.0;
        for i in r * cols..(r + 1) * cols {
            let (value, probability) = bce_logit_and_sigmoid(logits[i], targets[i]);
            sum += value;
            grad[i] = grad_scale * (probability - targets[i]);
        }
        *row_loss = sum;
    }
}

/// Binary cross-entropy of a logit against a target, in the form that never overflows:
/// `max(x, 0) − x·t + log(1 + exp(−|x|))`.
pub fn bce_logit(x: f32, t: f32) -> f32 {
    bce_logit_and_sigmoid(x, t).0
}

/// [`bce_logit`] and σ(x) from one `exp(−|x|)`: bit for bit what `bce_logit` and
/// `ops::sigmoid` compute apart (sigmoid's `exp(−x)` for x ≥ 0 and `exp(x)` for x < 0 are both
/// `exp(−|x|)`), at two transcendental calls per element instead of three.
fn bce_logit_and_sigmoid(x: f32, t: f32) -> (f32, f32) {
    let e = (-x.abs()).exp();
    let probability = if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (x.max(0.0) - x * t + e.ln_1p(), probability)
}

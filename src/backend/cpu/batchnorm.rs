//! Batchnorm family, CPU twin: batch normalization over the rows of `x` (batch × C) with the
//! activation fused, and its backward. `gamma_beta`, `saved` (mean | 1/std of the batch) and
//! `running` (mean | variance) are 2 × C.
//!
//! Kernel: `shaders/batchnorm.wgsl`; GPU host: `src/backend/gpu/kernels/batchnorm.rs`; parity
//! test: `tests/parity_batchnorm.rs`.

use crate::backend::{Activation, BatchNormHyper, Contraction};

/// `y = act(γ·(x − μ)/√(σ² + eps) + β)` per column of the `rows × cols` input `x`. In training,
/// μ and σ² are the batch's (saved, and folded into the running statistics); otherwise they are
/// the running ones.
#[allow(clippy::too_many_arguments)]
pub(super) fn batch_norm(
    (rows, cols): (usize, usize),
    x: &[f32],
    gamma_beta: &[f32],
    act: Activation,
    norm: BatchNormHyper,
    training: bool,
    fma: Contraction,
    saved: &mut [f32],
    running: &mut [f32],
    y: &mut [f32],
) {
    let n = rows as f32;
    for c in 0..cols {
        let (mean, inv_std) = if training {
            let mean = (0..rows).map(|r| x[r * cols + c]).sum::<f32>() / n;
            let sq = (0..rows).fold(0.0, |sq, r| {
                let d = x[r * cols + c] - mean;
                fma.mul_add(d, d, sq)
            });
            let inv_std = 1.0 / (sq / n + norm.eps).sqrt();
            saved[c] = mean;
            saved[cols + c] = inv_std;
            let unbiased = sq / (n - 1.0).max(1.0);
            let m = norm.momentum;
            running[c] = fma.mul_add(1.0 - m, running[c], m * mean);
            running[cols + c] = fma.mul_add(1.0 - m, running[cols + c], m * unbiased);
            (mean, inv_std)
        } else {
            (running[c], 1.0 / (running[cols + c] + norm.eps).sqrt())
        };
        let (gamma, beta) = (gamma_beta[c], gamma_beta[cols + c]);
        for r in 0..rows {
            let i = r * cols + c;
            y[i] = act.apply(fma.mul_add(gamma * (x[i] - mean), inv_std, beta));
        }
    }
}

/// `dx` and `d_gamma_beta` from the gradient `dy` of a training-mode [`batch_norm`]'s output,
/// through the statistics it saved.
#[allow(clippy::too_many_arguments)]
pub(super) fn batch_norm_backward(
    (rows, cols): (usize, usize),
    x: &[f32],
    gamma_beta: &[f32],
    saved: &[f32],
    act: Activation,
    dy: &[f32],
    fma: Contraction,
    dx: &mut [f32],
    d_gamma_beta: &mut [f32],
) {
    let n = rows as f32;
    for c in 0..cols {
        let (mean, inv_std) = (saved[c], saved[cols + c]);
        let (gamma, beta) = (gamma_beta[c], gamma_beta[cols + c]);
        let xhat = |r: usize| (x[r * cols + c] - mean) * inv_std;
        let g = |r: usize| {
            let y = act.apply(fma.mul_add(gamma, xhat(r), beta));
            dy[r * cols + c] * act.derivative_from_output(y, fma)
        };
        let (mut sum_g, mut sum_g_xhat) = (0.0, 0.0);
        for r in 0..rows {
            sum_g += g(r);
            sum_g_xhat = fma.mul_add(g(r), xhat(r), sum_g_xhat);
        }
        d_gamma_beta[c] = sum_g_xhat;
        d_gamma_beta[cols + c] = sum_g;
        for r in 0..rows {
            dx[r * cols + c] = gamma * inv_std * (g(r) - sum_g / n - xhat(r) * sum_g_xhat / n);
        }
    }
}

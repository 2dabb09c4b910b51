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
    // Row by row, each column's sums taken in row order as a column-by-column walk would take
    // them (the same values, bit for bit), but reading memory in order.
    if training {
        let (mean, inv_std) = saved.split_at_mut(cols);
        mean.fill(0.0);
        for row in x.chunks_exact(cols) {
            mean.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        mean.iter_mut().for_each(|s| *s /= n);
        let sq = inv_std;
        sq.fill(0.0);
        for row in x.chunks_exact(cols) {
            for ((sq, v), mean) in sq.iter_mut().zip(row).zip(&*mean) {
                let d = v - mean;
                *sq = fma.mul_add(d, d, *sq);
            }
        }
        let m = norm.momentum;
        for c in 0..cols {
            let sq = saved[cols + c];
            saved[cols + c] = 1.0 / (sq / n + norm.eps).sqrt();
            let unbiased = sq / (n - 1.0).max(1.0);
            running[c] = fma.mul_add(1.0 - m, running[c], m * saved[c]);
            running[cols + c] = fma.mul_add(1.0 - m, running[cols + c], m * unbiased);
        }
    }
    let stats: Vec<(f32, f32)> = (0..cols)
        .map(|c| {
            if training {
                (saved[c], saved[cols + c])
            } else {
                (running[c], 1.0 / (running[cols + c] + norm.eps).sqrt())
            }
        })
        .collect();
    let (gamma, beta) = gamma_beta.split_at(cols);
    for (y, x) in y.chunks_exact_mut(cols).zip(x.chunks_exact(cols)) {
        for c in 0..cols {
            let (mean, inv_std) = stats[c];
            y[c] = act.apply(fma.mul_add(gamma[c] * (x[c] - mean), inv_std, beta[c]));
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
    let (mean, inv_std) = saved.split_at(cols);
    let (gamma, beta) = gamma_beta.split_at(cols);
    let (sum_g_xhat, sum_g) = d_gamma_beta.split_at_mut(cols);
    sum_g.fill(0.0);
    sum_g_xhat.fill(0.0);
    // Row by row, each column's sums in row order (as a column-by-column walk takes them); the
    // gradient through the activation waits in `dx` for the second pass.
    for ((dx, x), dy) in dx
        .chunks_exact_mut(cols)
        .zip(x.chunks_exact(cols))
        .zip(dy.chunks_exact(cols))
    {
        for c in 0..cols {
            let xhat = (x[c] - mean[c]) * inv_std[c];
            let y = act.apply(fma.mul_add(gamma[c], xhat, beta[c]));
            let g = dy[c] * act.derivative_from_output(y, fma);
            dx[c] = g;
            sum_g[c] += g;
            sum_g_xhat[c] = fma.mul_add(g, xhat, sum_g_xhat[c]);
        }
    }
    for (dx, x) in dx.chunks_exact_mut(cols).zip(x.chunks_exact(cols)) {
        for c in 0..cols {
            let xhat = (x[c] - mean[c]) * inv_std[c];
            let g = dx[c];
            dx[c] = gamma[c] * inv_std[c] * (g - sum_g[c] / n - xhat * sum_g_xhat[c] / n);
        }
    }
}

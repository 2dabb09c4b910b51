//! Latent family, CPU twin: the VAE's reparameterization, its backward (with the KL term's
//! gradient) and the KL divergence. `stats` packs `[mu | logvar]` per row (rows × 2L); `eps`,
//! `z` and `dz` are rows × L.
//!
//! Kernel: `shaders/latent.wgsl`; GPU host: `src/backend/gpu/kernels/latent.rs`; parity test:
//! `tests/parity_latent.rs`.

use crate::backend::Contraction;

/// The `[mu | logvar]` row of `stats` that sample row `r` uses: each serves `samples` rows.
fn stats_row(stats: &[f32], l: usize, samples: usize, r: usize) -> (&[f32], &[f32]) {
    let s = r / samples;
    stats[s * 2 * l..(s + 1) * 2 * l].split_at(l)
}

/// `z = mu + exp(logvar / 2) · eps`, for a latent of `l` values, each stats row serving
/// `samples` consecutive rows of `z`.
pub(super) fn reparameterize(
    l: usize,
    samples: usize,
    stats: &[f32],
    eps: &[f32],
    fma: Contraction,
    z: &mut [f32],
) {
    for (r, row) in z.chunks_exact_mut(l).enumerate() {
        let (mu, logvar) = stats_row(stats, l, samples, r);
        for j in 0..l {
            row[j] = fma.mul_add((0.5 * logvar[j]).exp(), eps[r * l + j], mu[j]);
        }
    }
}

/// `log_weight[r] = −log_weight[r] + ½ Σ_j ((eps − z)·(eps + z) + logvar)`: the row's BCE on
/// entry, its log importance weight on exit. `eps² − z²` is factored so that a dimension the
/// posterior ignores (z ≈ eps) contributes a small, accurate product rather than the difference
/// of two rounded squares; contraction then only drops that product's rounding.
pub(super) fn iw_log_weight(
    l: usize,
    samples: usize,
    stats: &[f32],
    eps: &[f32],
    z: &[f32],
    fma: Contraction,
    log_weight: &mut [f32],
) {
    for (r, w) in log_weight.iter_mut().enumerate() {
        let (_, logvar) = stats_row(stats, l, samples, r);
        let (eps, z) = (&eps[r * l..(r + 1) * l], &z[r * l..(r + 1) * l]);
        let sum = (0..l).fold(0.0, |sum, j| {
            fma.mul_add(eps[j] - z[j], eps[j] + z[j], sum + logvar[j])
        });
        *w = fma.mul_add(0.5, sum, -*w);
    }
}

/// `dstats = [dmu | dlogvar]` from the gradient `dz` of `z`, plus `kl_scale` times the gradient
/// of the KL divergence, for a latent of `l` values.
pub(super) fn latent_backward(
    l: usize,
    dz: &[f32],
    stats: &[f32],
    eps: &[f32],
    kl_scale: f32,
    fma: Contraction,
    dstats: &mut [f32],
) {
    for (r, row) in dstats.chunks_exact_mut(2 * l).enumerate() {
        let (dmu, dlogvar) = row.split_at_mut(l);
        for j in 0..l {
            let (mu, logvar) = (stats[r * 2 * l + j], stats[r * 2 * l + l + j]);
            let g = dz[r * l + j];
            dmu[j] = fma.mul_add(kl_scale, mu, g);
            dlogvar[j] = fma.mul_add(
                0.5 * g * eps[r * l + j],
                (0.5 * logvar).exp(),
                0.5 * kl_scale * (logvar.exp() - 1.0),
            );
        }
    }
}

/// Per row, `KL(N(mu, exp(logvar)) ‖ N(0, 1)) = −½ Σ (1 + logvar − mu² − exp(logvar))`, for a
/// latent of `l` values.
pub(super) fn kl_divergence(l: usize, stats: &[f32], fma: Contraction, kl: &mut [f32]) {
    for (o, row) in kl.iter_mut().zip(stats.chunks_exact(2 * l)) {
        let (mu, logvar) = row.split_at(l);
        let sum = mu.iter().zip(logvar).fold(0.0, |sum, (&m, &lv)| {
            fma.mul_add(-m, m, sum + 1.0 + lv) - lv.exp()
        });
        *o = -0.5 * sum;
    }
}

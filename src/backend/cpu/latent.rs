//! Latent family, CPU twin: the VAE's reparameterization, its backward (with the KL term's
//! gradient) and the KL divergence. `stats` packs `[mu | logvar]` per row (rows × 2L); `eps`,
//! `z` and `dz` are rows × L.
//!
//! Kernel: `shaders/latent.wgsl`; GPU host: `src/backend/gpu/kernels/latent.rs`; parity test:
//! `tests/parity_latent.rs`.

use crate::backend::Contraction;

/// `z = mu + exp(logvar / 2) · eps`, for a latent of `l` values.
pub(super) fn reparameterize(
    l: usize,
    stats: &[f32],
    eps: &[f32],
    fma: Contraction,
    z: &mut [f32],
) {
    for (r, row) in z.chunks_exact_mut(l).enumerate() {
        let (mu, logvar) = stats[r * 2 * l..(r + 1) * 2 * l].split_at(l);
        for j in 0..l {
            row[j] = fma.mul_add((0.5 * logvar[j]).exp(), eps[r * l + j], mu[j]);
        }
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

//! The Gaussian latent layer: reparameterization, its backward with the KL gradient, the
//! per-row KL divergence, and the log importance weights of samples. `stats` packs
//! `[mu | logvar]` per row.
//!
//! WGSL `shaders/latent.wgsl`; CPU twin `src/backend/cpu/latent.rs`; parity test
//! `tests/parity_latent.rs`.

use super::{Family, Kernel, ParamsLayout, R, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Result, Tensor};

/// Invocations per workgroup of every entry point.
const WORKGROUP_SIZE: u32 = 256;

shader_params! {
    /// `Params` of latent.wgsl; each entry point reads part of it.
    struct Params {
        rows: u32, l: u32, stats_off: u32, eps_off: u32,
        dz_off: u32, out_off: u32, kl_scale: f32, samples: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "latent",
    wgsl: include_str!("../../../../shaders/latent.wgsl"),
    preludes: &[],
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[
        &REPARAMETERIZE,
        &LATENT_BACKWARD,
        &KL_DIVERGENCE,
        &IW_LOG_WEIGHT,
    ],
    subgroup_lanes: None,
};

static REPARAMETERIZE: Kernel = Kernel {
    family: &FAMILY,
    entry: "reparameterize",
    bindings: &[(1, R), (2, R), (4, W)],
};

static LATENT_BACKWARD: Kernel = Kernel {
    family: &FAMILY,
    entry: "latent_backward",
    bindings: &[(1, R), (2, R), (3, R), (4, W)],
};

static KL_DIVERGENCE: Kernel = Kernel {
    family: &FAMILY,
    entry: "kl_divergence",
    bindings: &[(1, R), (4, W)],
};

static IW_LOG_WEIGHT: Kernel = Kernel {
    family: &FAMILY,
    entry: "iw_log_weight",
    // z is bound at `dz`'s slot; the weights are read and written in place.
    bindings: &[(1, R), (2, R), (3, R), (4, W)],
};

/// `z = mu + exp(logvar / 2) · eps`, each stats row serving `samples` rows of `z`: one
/// invocation per element of `z`.
pub(crate) fn reparameterize(
    gpu: &mut GpuBackend,
    stats: &Tensor,
    eps: &Tensor,
    samples: usize,
    z: &Tensor,
) -> Result<()> {
    let ix = |v| index(&REPARAMETERIZE, v);
    let p = Params {
        rows: ix(z.rows)?,
        l: ix(z.cols)?,
        stats_off: ix(stats.offset)?,
        eps_off: ix(eps.offset)?,
        dz_off: 0,
        out_off: ix(z.offset)?,
        kl_scale: 0.0,
        samples: ix(samples)?,
    };
    launch_linear(
        gpu,
        &REPARAMETERIZE,
        WORKGROUP_SIZE,
        z.len(),
        &[stats.buffer, eps.buffer, z.buffer],
        &p,
    )
}

/// `dstats = [dmu | dlogvar]` from `dz`, plus `kl_scale` times the KL gradient: one
/// invocation per element of `dz`.
pub(crate) fn latent_backward(
    gpu: &mut GpuBackend,
    dz: &Tensor,
    stats: &Tensor,
    eps: &Tensor,
    kl_scale: f32,
    dstats: &Tensor,
) -> Result<()> {
    let ix = |v| index(&LATENT_BACKWARD, v);
    let p = Params {
        rows: ix(dz.rows)?,
        l: ix(dz.cols)?,
        stats_off: ix(stats.offset)?,
        eps_off: ix(eps.offset)?,
        dz_off: ix(dz.offset)?,
        out_off: ix(dstats.offset)?,
        kl_scale,
        samples: 1,
    };
    launch_linear(
        gpu,
        &LATENT_BACKWARD,
        WORKGROUP_SIZE,
        dz.len(),
        &[stats.buffer, eps.buffer, dz.buffer, dstats.buffer],
        &p,
    )
}

/// `kl[r] = −½ Σ_j (1 + logvar − mu² − exp(logvar))`: one invocation per row.
pub(crate) fn kl_divergence(gpu: &mut GpuBackend, stats: &Tensor, kl: &Tensor) -> Result<()> {
    let ix = |v| index(&KL_DIVERGENCE, v);
    let p = Params {
        rows: ix(stats.rows)?,
        l: ix(stats.cols / 2)?,
        stats_off: ix(stats.offset)?,
        eps_off: 0,
        dz_off: 0,
        out_off: ix(kl.offset)?,
        kl_scale: 0.0,
        samples: 1,
    };
    launch_linear(
        gpu,
        &KL_DIVERGENCE,
        WORKGROUP_SIZE,
        stats.rows,
        &[stats.buffer, kl.buffer],
        &p,
    )
}

/// The log importance weights of the rows of `log_weight` (their BCE on entry), each stats
/// row serving `samples` rows: one invocation per row.
pub(crate) fn iw_log_weight(
    gpu: &mut GpuBackend,
    stats: &Tensor,
    eps: &Tensor,
    z: &Tensor,
    samples: usize,
    log_weight: &Tensor,
) -> Result<()> {
    let ix = |v| index(&IW_LOG_WEIGHT, v);
    let p = Params {
        rows: ix(z.rows)?,
        l: ix(z.cols)?,
        stats_off: ix(stats.offset)?,
        eps_off: ix(eps.offset)?,
        dz_off: ix(z.offset)?,
        out_off: ix(log_weight.offset)?,
        kl_scale: 0.0,
        samples: ix(samples)?,
    };
    launch_linear(
        gpu,
        &IW_LOG_WEIGHT,
        WORKGROUP_SIZE,
        z.rows,
        &[stats.buffer, eps.buffer, z.buffer, log_weight.buffer],
        &p,
    )
}

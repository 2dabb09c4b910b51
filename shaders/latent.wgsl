// A Gaussian latent layer (the VAE's). `stats` packs [mu | logvar] per row (rows × 2L); eps, z,
// dz are rows × L. In reparameterize and iw_log_weight each stats row serves `samples`
// consecutive sample rows (K draws per example; 1 in training).
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/latent.rs.

struct Params {
    rows: u32, l: u32, stats_off: u32, eps_off: u32,
    dz_off: u32, out_off: u32, kl_scale: f32, samples: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> eps: array<f32>;
@group(0) @binding(3) var<storage, read> dz: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// z = mu + exp(logvar / 2) · eps
@compute @workgroup_size(WORKGROUP_SIZE)
fn reparameterize(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i >= p.rows * p.l) {
        return;
    }
    let r = i / p.l;
    let j = i % p.l;
    let s = p.stats_off + (r / p.samples) * 2u * p.l + j;
    out[p.out_off + i] = stats[s] + exp(0.5 * stats[s + p.l]) * eps[p.eps_off + i];
}

// In place: out[r] holds the row's BCE on entry, and on exit
// −BCE + ½ Σ_j ((eps − z)·(eps + z) + logvar) = log p(x|z) + log p(z) − log q(z|x), the
// (L/2)·log 2π terms cancelled. `dz` holds z here. eps² − z² is factored so that a dimension the
// posterior ignores (z ≈ eps) adds a small, accurate product, not a difference of rounded
// squares. One invocation per row.
@compute @workgroup_size(WORKGROUP_SIZE)
fn iw_log_weight(@builtin(global_invocation_id) gid: vec3<u32>,
                 @builtin(num_workgroups) groups: vec3<u32>) {
    let r = linear_index(gid, groups, WORKGROUP_SIZE);
    if (r >= p.rows) {
        return;
    }
    let logvar_at = p.stats_off + (r / p.samples) * 2u * p.l + p.l;
    var sum = 0.0;
    for (var j = 0u; j < p.l; j = j + 1u) {
        let e = eps[p.eps_off + r * p.l + j];
        let z = dz[p.dz_off + r * p.l + j];
        sum = sum + stats[logvar_at + j] + (e - z) * (e + z);
    }
    out[p.out_off + r] = 0.5 * sum - out[p.out_off + r];
}

// out = [dmu | dlogvar]: the reparameterization's backward plus kl_scale · ∇KL.
@compute @workgroup_size(WORKGROUP_SIZE)
fn latent_backward(@builtin(global_invocation_id) gid: vec3<u32>,
                   @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i >= p.rows * p.l) {
        return;
    }
    let r = i / p.l;
    let j = i % p.l;
    let s = r * 2u * p.l + j;
    let mu = stats[p.stats_off + s];
    let logvar = stats[p.stats_off + s + p.l];
    let g = dz[p.dz_off + i];
    out[p.out_off + s] = g + p.kl_scale * mu;
    out[p.out_off + s + p.l] = 0.5 * g * eps[p.eps_off + i] * exp(0.5 * logvar)
        + 0.5 * p.kl_scale * (exp(logvar) - 1.0);
}

// out[r] = −½ Σ_j (1 + logvar − mu² − exp(logvar)): one invocation per row.
@compute @workgroup_size(WORKGROUP_SIZE)
fn kl_divergence(@builtin(global_invocation_id) gid: vec3<u32>,
                 @builtin(num_workgroups) groups: vec3<u32>) {
    let r = linear_index(gid, groups, WORKGROUP_SIZE);
    if (r >= p.rows) {
        return;
    }
    var sum = 0.0;
    for (var j = 0u; j < p.l; j = j + 1u) {
        let mu = stats[p.stats_off + r * 2u * p.l + j];
        let logvar = stats[p.stats_off + r * 2u * p.l + p.l + j];
        sum = sum + 1.0 + logvar - mu * mu - exp(logvar);
    }
    out[p.out_off + r] = -0.5 * sum;
}

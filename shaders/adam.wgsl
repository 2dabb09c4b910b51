// Adam / AdamW over one flat parameter buffer: one dispatch updates every parameter.
// step_size = lr / (1 − β1^t) and inv_sqrt_bc2 = 1 / sqrt(1 − β2^t) are derived here from the
// step number t (which the device advances by itself from one step to the next, so nothing is
// uploaded per step) and ln β (computed on the host in f64); the CPU backend computes them in
// f64, as PyTorch does, and the two agree within about 2e-6 relatively (see bias_correction).
// decay = 1 − lr·weight_decay (decoupled, AdamW).
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/adam.rs.

struct Params {
    n: u32, p_off: u32, g_off: u32, m_off: u32,
    v_off: u32, beta1: f32, beta2: f32, eps: f32,
    lr: f32, ln_beta1: f32, ln_beta2: f32, decay: f32,
    t: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

// 1 − β^t = 1 − exp(−y) with y = −t·ln β ≥ 0, without the cancellation of 1 − exp(−y) for
// small y (early steps with β2 = 0.999): there a Taylor series (relative error below y⁵/720,
// under 1e-8 for y < 1/8); elsewhere exp's error ((3 + 2y) ULP) grown by the subtraction, by
// e^−y/(1 − e^−y) ≤ 7.5, so under 2e-6 relatively.
fn bias_correction(t: u32, ln_beta: f32) -> f32 {
    let y = -f32(t) * ln_beta;
    if (y < 0.125) {
        return y * (1.0 - y / 2.0 * (1.0 - y / 3.0 * (1.0 - y / 4.0 * (1.0 - y / 5.0))));
    }
    return 1.0 - exp(-y);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i >= p.n) {
        return;
    }
    let step_size = p.lr / bias_correction(p.t, p.ln_beta1);
    let inv_sqrt_bc2 = inverseSqrt(bias_correction(p.t, p.ln_beta2));
    let g = grads[p.g_off + i];
    // m + (1 − β1)·(g − m), not β1·m + (1 − β1)·g: equal, but a contracted fma then rounds
    // only the small step, never two large terms that cancel (src/backend/cpu/adam.rs).
    let m0 = m[p.m_off + i];
    let v0 = v[p.v_off + i];
    let mi = m0 + (1.0 - p.beta1) * (g - m0);
    let vi = v0 + (1.0 - p.beta2) * (g * g - v0);
    m[p.m_off + i] = mi;
    v[p.v_off + i] = vi;
    let denom = sqrt(vi) * inv_sqrt_bc2 + p.eps;
    params[p.p_off + i] = params[p.p_off + i] * p.decay - step_size * mi / denom;
}

// Adam / AdamW over one flat parameter buffer: one dispatch updates every parameter.
// step_size = lr / (1 − β1^t) and inv_sqrt_bc2 = 1 / sqrt(1 − β2^t) come from the host in f64,
// as in PyTorch; decay = 1 − lr·weight_decay (decoupled, AdamW).
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/adam.rs.

struct Params {
    n: u32, p_off: u32, g_off: u32, m_off: u32,
    v_off: u32, beta1: f32, beta2: f32, eps: f32,
    step_size: f32, inv_sqrt_bc2: f32, decay: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i >= p.n) {
        return;
    }
    let g = grads[p.g_off + i];
    // m + (1 − β1)·(g − m), not β1·m + (1 − β1)·g: equal, but a contracted fma then rounds
    // only the small step, never two large terms that cancel (src/backend/cpu/adam.rs).
    let m0 = m[p.m_off + i];
    let v0 = v[p.v_off + i];
    let mi = m0 + (1.0 - p.beta1) * (g - m0);
    let vi = v0 + (1.0 - p.beta2) * (g * g - v0);
    m[p.m_off + i] = mi;
    v[p.v_off + i] = vi;
    let denom = sqrt(vi) * p.inv_sqrt_bc2 + p.eps;
    params[p.p_off + i] = params[p.p_off + i] * p.decay - p.step_size * mi / denom;
}

// Activations forward and backward, and fill. One invocation per element; large tensors are
// dispatched as a 2-d grid of workgroups (index = x + y · width).
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/elementwise.rs.

struct Params {
    n: u32, x_off: u32, dy_off: u32, out_off: u32,
    act: u32, slope: f32, value: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// out = act(x)
@compute @workgroup_size(WORKGROUP_SIZE)
fn act_forward(@builtin(global_invocation_id) gid: vec3<u32>,
               @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i < p.n) {
        out[p.out_off + i] = act_apply(p.act, p.slope, x[p.x_off + i]);
    }
}

// out = dy · act'(x), where the x binding holds the forward output y.
@compute @workgroup_size(WORKGROUP_SIZE)
fn act_backward(@builtin(global_invocation_id) gid: vec3<u32>,
                @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i < p.n) {
        out[p.out_off + i] = dy[p.dy_off + i] * act_derivative_from_output(p.act, p.slope, x[p.x_off + i]);
    }
}

// out = value
@compute @workgroup_size(WORKGROUP_SIZE)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i < p.n) {
        out[p.out_off + i] = p.value;
    }
}

// Batch normalization over the rows of x (batch × C) with the activation fused:
// y = act(γ·(x − μ)/√(σ² + eps) + β). One invocation per feature column walks the batch, so
// the statistics need no cross-invocation reduction.
//
// `saved` (2 × C) holds per feature the batch mean and 1/√(σ² + eps), for the backward;
// `running` (2 × C) the running mean and running variance, for evaluation.
// `gb` (2 × C) is γ then β, a view into the parameter buffer.
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/batchnorm.rs.

struct Params {
    rows: u32, cols: u32, x_off: u32, gb_off: u32,
    saved_off: u32, out_off: u32, dy_off: u32, grad_off: u32,
    act: u32, slope: f32, eps: f32, momentum: f32,
    training: u32, running_off: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gb: array<f32>;
@group(0) @binding(3) var<storage, read_write> saved_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> saved: array<f32>;
@group(0) @binding(6) var<storage, read> dy: array<f32>;
@group(0) @binding(7) var<storage, read_write> grads: array<f32>;
@group(0) @binding(8) var<storage, read_write> running: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_forward(@builtin(global_invocation_id) gid: vec3<u32>,
                      @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_index(gid, groups, WORKGROUP_SIZE);
    if (c >= p.cols) {
        return;
    }
    let n = f32(p.rows);
    var mean: f32;
    var inv_std: f32;
    if (p.training != 0u) {
        var sum = 0.0;
        for (var r = 0u; r < p.rows; r = r + 1u) {
            sum = sum + x[p.x_off + r * p.cols + c];
        }
        mean = sum / n;
        var sq = 0.0;
        for (var r = 0u; r < p.rows; r = r + 1u) {
            let d = x[p.x_off + r * p.cols + c] - mean;
            sq = sq + d * d;
        }
        let var_biased = sq / n;
        inv_std = 1.0 / sqrt(var_biased + p.eps);
        saved_out[p.saved_off + c] = mean;
        saved_out[p.saved_off + p.cols + c] = inv_std;
        // Running statistics as PyTorch keeps them: the unbiased variance.
        let var_unbiased = sq / max(n - 1.0, 1.0);
        let rm = p.running_off + c;
        let rv = p.running_off + p.cols + c;
        running[rm] = (1.0 - p.momentum) * running[rm] + p.momentum * mean;
        running[rv] = (1.0 - p.momentum) * running[rv] + p.momentum * var_unbiased;
    } else {
        mean = running[p.running_off + c];
        inv_std = 1.0 / sqrt(running[p.running_off + p.cols + c] + p.eps);
    }
    let gamma = gb[p.gb_off + c];
    let beta = gb[p.gb_off + p.cols + c];
    for (var r = 0u; r < p.rows; r = r + 1u) {
        let i = r * p.cols + c;
        out[p.out_off + i] = act_apply(p.act, p.slope, gamma * (x[p.x_off + i] - mean) * inv_std + beta);
    }
}

// From dy (gradient of the activated output): dx into `out`, and dγ, dβ into `grads` (2 × C,
// a view into the gradient buffer). The output is recomputed from x rather than read back.
@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_backward(@builtin(global_invocation_id) gid: vec3<u32>,
                       @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_index(gid, groups, WORKGROUP_SIZE);
    if (c >= p.cols) {
        return;
    }
    let n = f32(p.rows);
    let mean = saved[p.saved_off + c];
    let inv_std = saved[p.saved_off + p.cols + c];
    let gamma = gb[p.gb_off + c];
    let beta = gb[p.gb_off + p.cols + c];
    var sum_g = 0.0;
    var sum_g_xhat = 0.0;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        let i = r * p.cols + c;
        let xhat = (x[p.x_off + i] - mean) * inv_std;
        let y = act_apply(p.act, p.slope, gamma * xhat + beta);
        let g = dy[p.dy_off + i] * act_derivative_from_output(p.act, p.slope, y);
        sum_g = sum_g + g;
        sum_g_xhat = sum_g_xhat + g * xhat;
    }
    grads[p.grad_off + c] = sum_g_xhat;
    grads[p.grad_off + p.cols + c] = sum_g;
    let scale = gamma * inv_std;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        let i = r * p.cols + c;
        let xhat = (x[p.x_off + i] - mean) * inv_std;
        let y = act_apply(p.act, p.slope, gamma * xhat + beta);
        let g = dy[p.dy_off + i] * act_derivative_from_output(p.act, p.slope, y);
        out[p.out_off + i] = scale * (g - sum_g / n - xhat * sum_g_xhat / n);
    }
}

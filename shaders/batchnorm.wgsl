// Batch normalization over the rows of x (batch × C) with the activation fused:
// y = act(γ·(x − μ)/√(σ² + eps) + β). One invocation per feature column walks the batch, so
// the statistics need no cross-invocation reduction.
//
// `saved` (2 × C) holds per feature the batch mean and 1/√(σ² + eps), for the backward;
// `running` (2 × C) the running mean and running variance, for evaluation.
// `gb` (2 × C) is γ then β, a view into the parameter buffer; `grads` (2 × C) is dγ then dβ, a
// view into the gradient buffer.
//
// No entry point binds more than 4 storage buffers (WebGPU's downlevel limit per stage), so
// each pass is split in two: the forward into `batch_norm_stats` (training only) and
// `batch_norm_apply`; the backward into `batch_norm_normalize`, which leaves x̂ in `out` (the
// dx tensor) and 1/√(σ² + eps) in dβ's slot of `grads`, and `batch_norm_backward`, which
// reads them back in place of x and `saved`. Values pass between the two as stored f32, so
// the arithmetic is the same as in one pass.
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/batchnorm.rs.

struct Params {
    rows: u32, cols: u32, x_off: u32, gb_off: u32,
    stats_off: u32, running_off: u32, out_off: u32, dy_off: u32,
    grad_off: u32, act: u32, slope: f32, eps: f32,
    momentum: f32, training: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gb: array<f32>;
@group(0) @binding(3) var<storage, read_write> saved_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> running: array<f32>;
// [mean; 1/√(σ² + eps)] (`saved`) or, in evaluation, [mean; variance] (`running`).
@group(0) @binding(5) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read_write> grads: array<f32>;

// Training: the batch statistics of each column into `saved_out`, folded into `running`.
@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_stats(@builtin(global_invocation_id) gid: vec3<u32>,
                    @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_index(gid, groups, WORKGROUP_SIZE);
    if (c >= p.cols) {
        return;
    }
    let n = f32(p.rows);
    var sum = 0.0;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        sum = sum + x[p.x_off + r * p.cols + c];
    }
    let mean = sum / n;
    var sq = 0.0;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        let d = x[p.x_off + r * p.cols + c] - mean;
        sq = sq + d * d;
    }
    let var_biased = sq / n;
    saved_out[p.stats_off + c] = mean;
    saved_out[p.stats_off + p.cols + c] = 1.0 / sqrt(var_biased + p.eps);
    // Running statistics as PyTorch keeps them: the unbiased variance.
    let var_unbiased = sq / max(n - 1.0, 1.0);
    let rm = p.running_off + c;
    let rv = p.running_off + p.cols + c;
    running[rm] = (1.0 - p.momentum) * running[rm] + p.momentum * mean;
    running[rv] = (1.0 - p.momentum) * running[rv] + p.momentum * var_unbiased;
}

// y = act(γ·(x − μ)·inv_std + β) into `out`, with μ and inv_std from `stats`: the batch's
// (`saved`, in training) or the running ones (in evaluation, inv_std from the variance).
@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_apply(@builtin(global_invocation_id) gid: vec3<u32>,
                    @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_index(gid, groups, WORKGROUP_SIZE);
    if (c >= p.cols) {
        return;
    }
    let mean = stats[p.stats_off + c];
    let second = stats[p.stats_off + p.cols + c];
    var inv_std = second;
    if (p.training == 0u) {
        inv_std = 1.0 / sqrt(second + p.eps);
    }
    let gamma = gb[p.gb_off + c];
    let beta = gb[p.gb_off + p.cols + c];
    for (var r = 0u; r < p.rows; r = r + 1u) {
        let i = r * p.cols + c;
        out[p.out_off + i] = act_apply(p.act, p.slope, gamma * (x[p.x_off + i] - mean) * inv_std + beta);
    }
}

// Backward, first pass: x̂ = (x − μ)·inv_std into `out` (the dx tensor), and inv_std into dβ's
// slot of `grads`, both from `stats` (= `saved`); the second pass overwrites them.
@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_normalize(@builtin(global_invocation_id) gid: vec3<u32>,
                        @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_index(gid, groups, WORKGROUP_SIZE);
    if (c >= p.cols) {
        return;
    }
    let mean = stats[p.stats_off + c];
    let inv_std = stats[p.stats_off + p.cols + c];
    for (var r = 0u; r < p.rows; r = r + 1u) {
        let i = r * p.cols + c;
        out[p.out_off + i] = (x[p.x_off + i] - mean) * inv_std;
    }
    grads[p.grad_off + p.cols + c] = inv_std;
}

// Backward, second pass: from dy (gradient of the activated output) and what the first pass
// left, dx into `out` and dγ, dβ into `grads`. The output is recomputed from x̂ rather than
// read back.
@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_backward(@builtin(global_invocation_id) gid: vec3<u32>,
                       @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_index(gid, groups, WORKGROUP_SIZE);
    if (c >= p.cols) {
        return;
    }
    let n = f32(p.rows);
    let inv_std = grads[p.grad_off + p.cols + c];
    let gamma = gb[p.gb_off + c];
    let beta = gb[p.gb_off + p.cols + c];
    var sum_g = 0.0;
    var sum_g_xhat = 0.0;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        let i = r * p.cols + c;
        let xhat = out[p.out_off + i];
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
        let xhat = out[p.out_off + i];
        let y = act_apply(p.act, p.slope, gamma * xhat + beta);
        let g = dy[p.dy_off + i] * act_derivative_from_output(p.act, p.slope, y);
        out[p.out_off + i] = scale * (g - sum_g / n - xhat * sum_g_xhat / n);
    }
}

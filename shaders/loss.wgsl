// Losses on logits, forward and backward in one pass: one workgroup per row writes the gradient
// of every element and the row's loss. Binary cross-entropy against targets per element, and
// softmax cross-entropy against one class label per row. (sigmoid: activation.wgsl)
//
// THREADS, the workgroup size, is prepended by the host: src/backend/gpu/kernels/loss.rs.

struct Params {
    rows: u32, cols: u32, x_off: u32, t_off: u32,
    grad_off: u32, loss_off: u32, grad_scale: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;

var<workgroup> partial: array<f32, THREADS>;

// Combines every invocation's `value` over the workgroup as a tree (the largest with
// `largest`, else the sum) and returns the result to all. Called in uniform control flow.
fn workgroup_reduce(t: u32, value: f32, largest: bool) -> f32 {
    partial[t] = value;
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
        if (t < stride) {
            let other = partial[t + stride];
            partial[t] = select(partial[t] + other, max(partial[t], other), largest);
        }
        workgroupBarrier();
    }
    let result = partial[0];
    // Every invocation has read the result before `partial` is written again.
    workgroupBarrier();
    return result;
}

@compute @workgroup_size(THREADS)
fn bce_with_logits(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) groups: vec3<u32>,
                   @builtin(local_invocation_index) t: u32) {
    // Uniform across the workgroup, so the early return keeps barriers in uniform control flow.
    let r = wid.x + wid.y * groups.x;
    if (r >= p.rows) {
        return;
    }
    var sum = 0.0;
    for (var c = t; c < p.cols; c = c + THREADS) {
        let i = r * p.cols + c;
        let x = logits[p.x_off + i];
        let y = targets[p.t_off + i];
        // max(x, 0) − x·y + log(1 + exp(−|x|)): never overflows.
        sum = sum + max(x, 0.0) - x * y + log(1.0 + exp(-abs(x)));
        grad[p.grad_off + i] = p.grad_scale * (sigmoid(x) - y);
    }
    let total = workgroup_reduce(t, sum, false);
    if (t == 0u) {
        loss[p.loss_off + r] = total;
    }
}

// The row's largest logit, then Σ exp(x − max), each reduced over the workgroup as a tree.
// Softmax cross-entropy against the class `label` (row r of `targets`, a class index as the
// label gather writes it; past the last class reads the last): loss = (max − x_label) +
// log Σ exp(x − max), never overflowing; grad = grad_scale · (softmax − one-hot).
@compute @workgroup_size(THREADS)
fn softmax_cross_entropy(@builtin(workgroup_id) wid: vec3<u32>,
                         @builtin(num_workgroups) groups: vec3<u32>,
                         @builtin(local_invocation_index) t: u32) {
    let r = wid.x + wid.y * groups.x;
    if (r >= p.rows) {
        return;
    }
    let row = p.x_off + r * p.cols;
    var top = logits[row];
    for (var c = t; c < p.cols; c = c + THREADS) {
        top = max(top, logits[row + c]);
    }
    top = workgroup_reduce(t, top, true);
    // exp(x − max) is kept in grad, where this invocation scales it below.
    var sum = 0.0;
    for (var c = t; c < p.cols; c = c + THREADS) {
        let e = exp(logits[row + c] - top);
        grad[p.grad_off + r * p.cols + c] = e;
        sum = sum + e;
    }
    let total = workgroup_reduce(t, sum, false);
    let label = min(u32(max(targets[p.t_off + r], 0.0)), p.cols - 1u);
    for (var c = t; c < p.cols; c = c + THREADS) {
        let i = p.grad_off + r * p.cols + c;
        grad[i] = p.grad_scale * (grad[i] / total - select(0.0, 1.0, c == label));
    }
    if (t == 0u) {
        loss[p.loss_off + r] = (top - logits[row + label]) + log(total);
    }
}

// Reductions: column sums (bias gradients), a total added into an accumulator (losses kept on
// the device between read-backs), and the record of the first step whose sums were not finite.
//
// COLUMN_GROUP, SUM_THREADS and RECORD_THREADS, the workgroup sizes, are prepended by the host:
// src/backend/gpu/kernels/reduce.rs.

struct Params {
    rows: u32, cols: u32, x_off: u32, out_off: u32,
    scale: f32, step: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// The sums of record_non_finite as bits: the check and the record need no float arithmetic.
@group(0) @binding(3) var<storage, read_write> words: array<u32>;

// out[c] = Σ_r x[r, c]: one invocation per column, so neighbouring invocations read
// neighbouring addresses.
@compute @workgroup_size(COLUMN_GROUP)
fn column_sum(@builtin(global_invocation_id) gid: vec3<u32>,
              @builtin(num_workgroups) groups: vec3<u32>) {
    let col = linear_index(gid, groups, COLUMN_GROUP);
    if (col >= p.cols) {
        return;
    }
    var sum = 0.0;
    var i = p.x_off + col;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        sum = sum + x[i];
        i = i + p.cols;
    }
    out[p.out_off + col] = sum;
}

var<workgroup> partial: array<f32, SUM_THREADS>;

// out[0] += scale · Σ x over rows·cols elements, in one workgroup: strided partial sums, then a
// tree. Used on per-row losses (a few hundred values), where one workgroup is plenty.
@compute @workgroup_size(SUM_THREADS)
fn accumulate_sum(@builtin(local_invocation_index) t: u32) {
    let n = p.rows * p.cols;
    var sum = 0.0;
    for (var i = t; i < n; i = i + SUM_THREADS) {
        sum = sum + x[p.x_off + i];
    }
    partial[t] = sum;
    workgroupBarrier();
    for (var stride = SUM_THREADS / 2u; stride > 0u; stride = stride / 2u) {
        if (t < stride) {
            partial[t] = partial[t] + partial[t + stride];
        }
        workgroupBarrier();
    }
    if (t == 0u) {
        out[p.out_off] = out[p.out_off] + p.scale * partial[0];
    }
}

// words[out_off] = step if it is 0 and one of the rows words from x_off is not finite. The
// test is on the bits (exponent all ones: an infinity or a NaN), not a float comparison, which
// WGSL lets a compiler assume never meets a NaN or an infinity.
@compute @workgroup_size(RECORD_THREADS)
fn record_non_finite() {
    if (words[p.out_off] != 0u) {
        return;
    }
    for (var i = 0u; i < p.rows; i = i + 1u) {
        if ((words[p.x_off + i] & 0x7f800000u) == 0x7f800000u) {
            words[p.out_off] = p.step;
            return;
        }
    }
}

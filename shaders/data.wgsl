// Gathers a batch from the resident u8 dataset (packed four bytes to a u32) by an index
// buffer, converting to f32: out[r, c] = scale · data[indices[first + r] · cols + c] + shift.
//
// A dataset larger than one storage binding is held in chunks of whole examples, one buffer
// each (src/backend/gpu/kernels/data.rs). One dispatch reads one chunk, examples
// chunk_first .. chunk_first + chunk_examples, and writes only the rows whose example lies in
// it: the host dispatches once per chunk, and a dataset of one chunk takes one dispatch.
//
// No index overflows u32: examples < 2^32 (the host refuses more), so the example numbers are
// u32; the byte index is taken within the chunk, (example − chunk_first) · cols + c, which is
// below the chunk's size, at most 2^32 bytes (the host caps chunks there).
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/data.rs.

struct Params {
    rows: u32, cols: u32, first: u32, out_off: u32,
    examples: u32, scale: f32, shift: f32, chunk_first: u32,
    chunk_examples: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i >= p.rows * p.cols) {
        return;
    }
    let r = i / p.cols;
    let c = i % p.cols;
    // An index past the dataset is clamped rather than read out of bounds.
    let example = min(indices[p.first + r], p.examples - 1u);
    // Another chunk's dispatch writes this row. (Subtracting first: no sum can wrap.)
    if (example < p.chunk_first || example - p.chunk_first >= p.chunk_examples) {
        return;
    }
    let byte = (example - p.chunk_first) * p.cols + c;
    let value = (data[byte / 4u] >> ((byte % 4u) * 8u)) & 0xffu;
    out[p.out_off + i] = p.scale * f32(value) + p.shift;
}

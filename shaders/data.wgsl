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
    chunk_examples: u32, width: u32, max_shift: u32, binarize: u32,
    shift_key: u32, binarize_key: u32, _pad0: u32, _pad1: u32,
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
    // The pixel this one shows: the row's shift back, if it lies inside the image.
    var source = c;
    var inside = true;
    if (p.max_shift > 0u) {
        let side = 2u * p.max_shift + 1u;
        let bits = random_bits(p.shift_key, p.first + r);
        let x = i32(c % p.width) - (i32(bits % side) - i32(p.max_shift));
        let y = i32(c / p.width) - (i32((bits / side) % side) - i32(p.max_shift));
        inside = x >= 0 && x < i32(p.width) && y >= 0 && y < i32(p.cols / p.width);
        source = u32(y) * p.width + u32(x);
    }
    var value = 0u;
    if (inside) {
        let byte = (example - p.chunk_first) * p.cols + source;
        value = (data[byte / 4u] >> ((byte % 4u) * 8u)) & 0xffu;
        if (p.binarize != 0u) {
            // 255 with probability value/255 (to 2^-24): 24 random bits · 255 < value · 2^24.
            let bits = random_bits(p.binarize_key, example * p.cols + source);
            value = select(0u, 255u, (bits >> 8u) * 255u < (value << 24u));
        }
    }
    out[p.out_off + i] = p.scale * f32(value) + p.shift;
}

// Prepended to the matmul families (shaders/matmul.wgsl, shaders/matmul_subgroup.wgsl): the
// parameters every variant takes, the operands' bindings (as floats, and as vec4s for the
// variants that load four at a time), and the epilogue that writes C: bias and activation
// fused, rows and columns past the edge skipped.

struct Params {
    m: u32, n: u32, k: u32, has_bias: u32,
    a_off: u32, b_off: u32, bias_off: u32, c_off: u32,
    a_row: u32, a_k: u32, b_k: u32, b_col: u32,
    act: u32, slope: f32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> b4: array<vec4<f32>>;

fn store_row(row: u32, c0: u32, v: vec4<f32>) {
    if (row >= p.m) {
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        let col = c0 + j;
        if (col < p.n) {
            var y = v[j];
            if (p.has_bias != 0u) {
                y = y + bias[p.bias_off + col];
            }
            c[p.c_off + row * p.n + col] = act_apply(p.act, p.slope, y);
        }
    }
}

fn store_block(r0: u32, c0: u32, acc0: vec4<f32>, acc1: vec4<f32>, acc2: vec4<f32>, acc3: vec4<f32>) {
    store_row(r0, c0, acc0);
    store_row(r0 + 1u, c0, acc1);
    store_row(r0 + 2u, c0, acc2);
    store_row(r0 + 3u, c0, acc3);
}

// Row i (0..3) of the block starting at r0, clamped to the last row.
fn clamped_row(r0: u32, i: u32) -> u32 {
    return min(r0 + i, p.m - 1u);
}

fn clamped_col(c0: u32, j: u32) -> u32 {
    return min(c0 + j, p.n - 1u);
}

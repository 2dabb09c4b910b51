// C = act(op(A)·op(B) + bias), one kernel for every transpose form: the operands are walked
// with strides (Rust: MatmulForm::strides). Each invocation computes a 4×4 block of C in
// registers with no workgroup memory and no barrier (on llvmpipe this beat shared-memory tiles
// by 7×); rows and columns past the edge are clamped on load and skipped on store, so the inner
// loop has no branch.

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

@compute @workgroup_size(8, 8)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r0 = gid.y * 4u;
    let c0 = gid.x * 4u;
    if (r0 >= p.m || c0 >= p.n) {
        return;
    }
    // Start offsets of the four rows of op(A) and the four columns of op(B), clamped.
    var ai = vec4<u32>(
        p.a_off + min(r0, p.m - 1u) * p.a_row,
        p.a_off + min(r0 + 1u, p.m - 1u) * p.a_row,
        p.a_off + min(r0 + 2u, p.m - 1u) * p.a_row,
        p.a_off + min(r0 + 3u, p.m - 1u) * p.a_row);
    var bi = vec4<u32>(
        p.b_off + min(c0, p.n - 1u) * p.b_col,
        p.b_off + min(c0 + 1u, p.n - 1u) * p.b_col,
        p.b_off + min(c0 + 2u, p.n - 1u) * p.b_col,
        p.b_off + min(c0 + 3u, p.n - 1u) * p.b_col);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk = kk + 1u) {
        let bv = vec4<f32>(b[bi.x], b[bi.y], b[bi.z], b[bi.w]);
        acc0 = fma(vec4<f32>(a[ai.x]), bv, acc0);
        acc1 = fma(vec4<f32>(a[ai.y]), bv, acc1);
        acc2 = fma(vec4<f32>(a[ai.z]), bv, acc2);
        acc3 = fma(vec4<f32>(a[ai.w]), bv, acc3);
        ai = ai + vec4<u32>(p.a_k);
        bi = bi + vec4<u32>(p.b_k);
    }
    store_row(r0, c0, acc0);
    store_row(r0 + 1u, c0, acc1);
    store_row(r0 + 2u, c0, acc2);
    store_row(r0 + 3u, c0, acc3);
}

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

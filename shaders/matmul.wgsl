// C = act(op(A)·op(B) + bias). Each invocation computes a 4×4 block of C in registers, with no
// workgroup memory and no barrier (on llvmpipe this beat shared-memory tiles by 7×).
//
// `matmul` serves every transpose form by walking the operands with strides
// (Rust: MatmulForm::strides); rows and columns past the edge are clamped on load and skipped
// on store, so its inner loop has no branch. The `_vec4` entry points are the same product for
// one form each when the contiguous dimensions and offsets are multiples of 4: they read A and
// B as vec4s, four times fewer loads.
//
// Each entry point is a variant the host may choose by timing them on the device in use
// (src/backend/gpu/tune.rs): register blocks of several sizes (llvmpipe wants few loads per FMA
// and no barriers), and `matmul_tiled`, workgroup-memory tiles shared by 256 invocations
// (what GPUs with fast shared memory want).
//
// GROUP_SIDE, the side of a square workgroup of the register-blocked kernels, and TILE_SIDE,
// that of `matmul_tiled`, are prepended by the host: src/backend/gpu/kernels/matmul.rs; the
// parameters, bindings and the fused epilogue are shaders/matmul_io.wgsl, shared with the
// variants of shaders/matmul_subgroup.wgsl.

@compute @workgroup_size(GROUP_SIDE, GROUP_SIDE)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r0 = gid.y * 4u;
    let c0 = gid.x * 4u;
    if (r0 >= p.m || c0 >= p.n) {
        return;
    }
    var ai = vec4<u32>(
        p.a_off + clamped_row(r0, 0u) * p.a_row,
        p.a_off + clamped_row(r0, 1u) * p.a_row,
        p.a_off + clamped_row(r0, 2u) * p.a_row,
        p.a_off + clamped_row(r0, 3u) * p.a_row);
    var bi = vec4<u32>(
        p.b_off + clamped_col(c0, 0u) * p.b_col,
        p.b_off + clamped_col(c0, 1u) * p.b_col,
        p.b_off + clamped_col(c0, 2u) * p.b_col,
        p.b_off + clamped_col(c0, 3u) * p.b_col);
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
    store_block(r0, c0, acc0, acc1, acc2, acc3);
}

// A·Bᵀ with A (m × k) and B (n × k) both contiguous along k: k % 4 == 0, offsets % 4 == 0.
@compute @workgroup_size(GROUP_SIDE, GROUP_SIDE)
fn matmul_nt_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r0 = gid.y * 4u;
    let c0 = gid.x * 4u;
    if (r0 >= p.m || c0 >= p.n) {
        return;
    }
    let k4 = p.k / 4u;
    let a0 = p.a_off / 4u + clamped_row(r0, 0u) * k4;
    let a1 = p.a_off / 4u + clamped_row(r0, 1u) * k4;
    let a2 = p.a_off / 4u + clamped_row(r0, 2u) * k4;
    let a3 = p.a_off / 4u + clamped_row(r0, 3u) * k4;
    let b0 = p.b_off / 4u + clamped_col(c0, 0u) * k4;
    let b1 = p.b_off / 4u + clamped_col(c0, 1u) * k4;
    let b2 = p.b_off / 4u + clamped_col(c0, 2u) * k4;
    let b3 = p.b_off / 4u + clamped_col(c0, 3u) * k4;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < k4; kk = kk + 1u) {
        let bv0 = b4[b0 + kk];
        let bv1 = b4[b1 + kk];
        let bv2 = b4[b2 + kk];
        let bv3 = b4[b3 + kk];
        let av0 = a4[a0 + kk];
        let av1 = a4[a1 + kk];
        let av2 = a4[a2 + kk];
        let av3 = a4[a3 + kk];
        acc0 = acc0 + vec4<f32>(dot(av0, bv0), dot(av0, bv1), dot(av0, bv2), dot(av0, bv3));
        acc1 = acc1 + vec4<f32>(dot(av1, bv0), dot(av1, bv1), dot(av1, bv2), dot(av1, bv3));
        acc2 = acc2 + vec4<f32>(dot(av2, bv0), dot(av2, bv1), dot(av2, bv2), dot(av2, bv3));
        acc3 = acc3 + vec4<f32>(dot(av3, bv0), dot(av3, bv1), dot(av3, bv2), dot(av3, bv3));
    }
    store_block(r0, c0, acc0, acc1, acc2, acc3);
}

// A·B with A (m × k) and B (k × n) contiguous along k and n: k % 4 == 0, n % 8 == 0,
// offsets % 4 == 0. Each invocation computes a 4×8 block, four steps of k per iteration: one
// vec4 of each row of A, two vec4s of each of four rows of B.
@compute @workgroup_size(GROUP_SIDE, GROUP_SIDE)
fn matmul_nn_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r0 = gid.y * 4u;
    let c0 = gid.x * 8u;
    if (r0 >= p.m || c0 >= p.n) {
        return;
    }
    let k4 = p.k / 4u;
    let n4 = p.n / 4u;
    var ai = vec4<u32>(
        p.a_off / 4u + clamped_row(r0, 0u) * k4,
        p.a_off / 4u + clamped_row(r0, 1u) * k4,
        p.a_off / 4u + clamped_row(r0, 2u) * k4,
        p.a_off / 4u + clamped_row(r0, 3u) * k4);
    var bi = p.b_off / 4u + c0 / 4u;
    var acc = array<vec4<f32>, 8>();
    for (var kk = 0u; kk < k4; kk = kk + 1u) {
        let b0 = b4[bi];
        let b1 = b4[bi + n4];
        let b2 = b4[bi + 2u * n4];
        let b3 = b4[bi + 3u * n4];
        let b4l = b4[bi + 1u];
        let b5 = b4[bi + n4 + 1u];
        let b6 = b4[bi + 2u * n4 + 1u];
        let b7 = b4[bi + 3u * n4 + 1u];
        for (var i = 0u; i < 4u; i = i + 1u) {
            let av = a4[ai[i]];
            acc[i] = fma(vec4<f32>(av.x), b0, fma(vec4<f32>(av.y), b1, fma(vec4<f32>(av.z), b2, fma(vec4<f32>(av.w), b3, acc[i]))));
            acc[i + 4u] = fma(vec4<f32>(av.x), b4l, fma(vec4<f32>(av.y), b5, fma(vec4<f32>(av.z), b6, fma(vec4<f32>(av.w), b7, acc[i + 4u]))));
        }
        ai = ai + vec4<u32>(1u);
        bi = bi + 4u * n4;
    }
    store_block(r0, c0, acc[0], acc[1], acc[2], acc[3]);
    store_block(r0, c0 + 4u, acc[4], acc[5], acc[6], acc[7]);
}

// Aᵀ·B with A (k × m) and B (k × n) contiguous along m and n: m % 4 == 0, n % 8 == 0,
// offsets % 4 == 0. Each invocation computes a 4×8 block: per step of k, one vec4 of A and
// two of B feed eight vec4 FMAs.
@compute @workgroup_size(GROUP_SIDE, GROUP_SIDE)
fn matmul_tn_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r0 = gid.y * 4u;
    let c0 = gid.x * 8u;
    if (r0 >= p.m || c0 >= p.n) {
        return;
    }
    let m4 = p.m / 4u;
    let n4 = p.n / 4u;
    var ai = p.a_off / 4u + r0 / 4u;
    var bi = p.b_off / 4u + c0 / 4u;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk = kk + 1u) {
        let av = a4[ai];
        let bl = b4[bi];
        let br = b4[bi + 1u];
        acc0 = fma(vec4<f32>(av.x), bl, acc0);
        acc1 = fma(vec4<f32>(av.y), bl, acc1);
        acc2 = fma(vec4<f32>(av.z), bl, acc2);
        acc3 = fma(vec4<f32>(av.w), bl, acc3);
        acc4 = fma(vec4<f32>(av.x), br, acc4);
        acc5 = fma(vec4<f32>(av.y), br, acc5);
        acc6 = fma(vec4<f32>(av.z), br, acc6);
        acc7 = fma(vec4<f32>(av.w), br, acc7);
        ai = ai + m4;
        bi = bi + n4;
    }
    store_block(r0, c0, acc0, acc1, acc2, acc3);
    store_block(r0, c0 + 4u, acc4, acc5, acc6, acc7);
}

// A·B as matmul_nn_vec4, with 8×8 blocks: per four steps of k, one vec4 of each of 8 rows of A
// and two vec4s of each of four rows of B feed 64 vec4 FMAs. n % 8 == 0, k % 4 == 0.
@compute @workgroup_size(GROUP_SIDE, GROUP_SIDE)
fn matmul_nn_8x8(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r0 = gid.y * 8u;
    let c0 = gid.x * 8u;
    if (r0 >= p.m || c0 >= p.n) {
        return;
    }
    let k4 = p.k / 4u;
    let n4 = p.n / 4u;
    var ai = array<u32, 8>();
    for (var i = 0u; i < 8u; i = i + 1u) {
        ai[i] = p.a_off / 4u + clamped_row(r0, i) * k4;
    }
    var bi = p.b_off / 4u + c0 / 4u;
    var acc = array<vec4<f32>, 16>();
    for (var kk = 0u; kk < k4; kk = kk + 1u) {
        var bl = array<vec4<f32>, 4>();
        var br = array<vec4<f32>, 4>();
        for (var j = 0u; j < 4u; j = j + 1u) {
            bl[j] = b4[bi + j * n4];
            br[j] = b4[bi + j * n4 + 1u];
        }
        for (var i = 0u; i < 8u; i = i + 1u) {
            let av = a4[ai[i] + kk];
            acc[i] = fma(vec4<f32>(av.x), bl[0], fma(vec4<f32>(av.y), bl[1], fma(vec4<f32>(av.z), bl[2], fma(vec4<f32>(av.w), bl[3], acc[i]))));
            acc[i + 8u] = fma(vec4<f32>(av.x), br[0], fma(vec4<f32>(av.y), br[1], fma(vec4<f32>(av.z), br[2], fma(vec4<f32>(av.w), br[3], acc[i + 8u]))));
        }
        bi = bi + 4u * n4;
    }
    for (var i = 0u; i < 8u; i = i + 1u) {
        store_row(r0 + i, c0, acc[i]);
        store_row(r0 + i, c0 + 4u, acc[i + 8u]);
    }
}

// A·Bᵀ as matmul_nt_vec4, with 8×4 blocks: per four steps of k, one vec4 of each of 8 rows of
// A and of 4 rows of B feed 32 dot products. k % 4 == 0.
@compute @workgroup_size(GROUP_SIDE, GROUP_SIDE)
fn matmul_nt_8x4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r0 = gid.y * 8u;
    let c0 = gid.x * 4u;
    if (r0 >= p.m || c0 >= p.n) {
        return;
    }
    let k4 = p.k / 4u;
    var ai = array<u32, 8>();
    for (var i = 0u; i < 8u; i = i + 1u) {
        ai[i] = p.a_off / 4u + clamped_row(r0, i) * k4;
    }
    var bi = array<u32, 4>();
    for (var j = 0u; j < 4u; j = j + 1u) {
        bi[j] = p.b_off / 4u + clamped_col(c0, j) * k4;
    }
    var acc = array<vec4<f32>, 8>();
    for (var kk = 0u; kk < k4; kk = kk + 1u) {
        let bv0 = b4[bi[0] + kk];
        let bv1 = b4[bi[1] + kk];
        let bv2 = b4[bi[2] + kk];
        let bv3 = b4[bi[3] + kk];
        for (var i = 0u; i < 8u; i = i + 1u) {
            let av = a4[ai[i] + kk];
            acc[i] = acc[i] + vec4<f32>(dot(av, bv0), dot(av, bv1), dot(av, bv2), dot(av, bv3));
        }
    }
    for (var i = 0u; i < 8u; i = i + 1u) {
        store_row(r0 + i, c0, acc[i]);
    }
}

// Aᵀ·B as matmul_tn_vec4, with 8×8 blocks: per step of k, two vec4s of A and two of B feed
// 16 vec4 FMAs. m % 8 == 0, n % 8 == 0.
@compute @workgroup_size(GROUP_SIDE, GROUP_SIDE)
fn matmul_tn_8x8(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r0 = gid.y * 8u;
    let c0 = gid.x * 8u;
    if (r0 >= p.m || c0 >= p.n) {
        return;
    }
    let m4 = p.m / 4u;
    let n4 = p.n / 4u;
    var ai = p.a_off / 4u + r0 / 4u;
    var bi = p.b_off / 4u + c0 / 4u;
    var acc = array<vec4<f32>, 16>();
    for (var kk = 0u; kk < p.k; kk = kk + 1u) {
        let a_lo = a4[ai];
        let a_hi = a4[ai + 1u];
        let bl = b4[bi];
        let br = b4[bi + 1u];
        for (var i = 0u; i < 4u; i = i + 1u) {
            acc[i] = fma(vec4<f32>(a_lo[i]), bl, acc[i]);
            acc[i + 4u] = fma(vec4<f32>(a_hi[i]), bl, acc[i + 4u]);
            acc[i + 8u] = fma(vec4<f32>(a_lo[i]), br, acc[i + 8u]);
            acc[i + 12u] = fma(vec4<f32>(a_hi[i]), br, acc[i + 12u]);
        }
        ai = ai + m4;
        bi = bi + n4;
    }
    for (var i = 0u; i < 8u; i = i + 1u) {
        store_row(r0 + i, c0, acc[i]);
        store_row(r0 + i, c0 + 4u, acc[i + 8u]);
    }
}

// Workgroup-memory tiles, for every form (strided loads) and any shape: TILE_SIDE² invocations
// share a (4·TILE_SIDE)² tile of C, each computing a 4×4 block of it, over slices of
// TILE_K steps of k staged in workgroup memory (zeros past the edges of A and B): 4 KiB, so
// that gengpu asks for no more workgroup memory than the smallest devices offer.
const TILE_K: u32 = 8u;
var<workgroup> tile_a: array<vec4<f32>, TILE_K * TILE_SIDE>;
var<workgroup> tile_b: array<vec4<f32>, TILE_K * TILE_SIDE>;

@compute @workgroup_size(TILE_SIDE, TILE_SIDE)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
    let side = 4u * TILE_SIDE;
    let row0 = wid.y * side;
    let col0 = wid.x * side;
    var acc = array<vec4<f32>, 4>();
    for (var k0 = 0u; k0 < p.k; k0 = k0 + TILE_K) {
        // Each invocation stages TILE_K·side / TILE_SIDE² values of A and of B.
        for (var e = li; e < TILE_K * side; e = e + TILE_SIDE * TILE_SIDE) {
            let r = e % side;
            let kk = e / side;
            let k = k0 + kk;
            var av = 0.0;
            var bv = 0.0;
            if (k < p.k) {
                av = a[p.a_off + min(row0 + r, p.m - 1u) * p.a_row + k * p.a_k];
                bv = b[p.b_off + k * p.b_k + min(col0 + r, p.n - 1u) * p.b_col];
            }
            tile_a[kk * TILE_SIDE + r / 4u][r % 4u] = av;
            tile_b[kk * TILE_SIDE + r / 4u][r % 4u] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk = kk + 1u) {
            let av = tile_a[kk * TILE_SIDE + lid.y];
            let bv = tile_b[kk * TILE_SIDE + lid.x];
            acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
            acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
            acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
            acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
        }
        workgroupBarrier();
    }
    store_block(row0 + 4u * lid.y, col0 + 4u * lid.x, acc[0], acc[1], acc[2], acc[3]);
}

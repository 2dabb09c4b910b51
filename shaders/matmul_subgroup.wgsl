// Matmul variants that share loads across a subgroup: C = act(op(A)·op(B) + bias), as
// shaders/matmul.wgsl computes it, for devices whose subgroups are exactly 8 invocations wide
// (llvmpipe on 256-bit SIMD; the host builds this family only there).
//
// On a CPU driver such as llvmpipe a storage load costs about as much as 16 vec4 FMAs (one
// SIMD lane at a time, docs/PERFORMANCE.md), so a kernel's speed is its FMAs per load. Here the
// 8 invocations of a subgroup share the rows of A: each loads one vec4 of two of the 16 rows
// per four steps of k, and `subgroupBroadcast` (a register shuffle) hands every row to every
// invocation, which also loads its own 4 columns of B: 64 vec4 FMAs per 6 loads, against 32
// per 12 for the register-blocked kernels. Each subgroup computes 16 rows × 32 columns, a
// workgroup SUBGROUP_ROWS × SUBGROUP_COLS subgroups' tiles (host constants,
// src/backend/gpu/kernels/matmul.rs, as is the SUBGROUP_LANES = 8 the broadcasts spell out).
//
// Every invocation takes part in every broadcast: rows and columns past the edge are clamped
// on load and skipped on store, never branched around.
//
// The broadcasts are written out one per lane: WGSL requires `subgroupBroadcast`'s lane to be
// a const-expression, so no loop can name it.

// One step of four k for a row: a (4 values of k) times four rows of B (k … k + 3).
fn fmas(a: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>, acc: vec4<f32>) -> vec4<f32> {
    return fma(vec4<f32>(a.x), b0, fma(vec4<f32>(a.y), b1, fma(vec4<f32>(a.z), b2, fma(vec4<f32>(a.w), b3, acc))));
}

// One step of four k for a row against four columns of Bᵀ: their dot products.
fn dots(a: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
}

// A·B with A (m × k) and B (k × n) contiguous along k and n: k % 4 == 0, n % 4 == 0, offsets
// % 4 == 0.
@compute @workgroup_size(SUBGROUP_LANES * SUBGROUP_ROWS * SUBGROUP_COLS)
fn matmul_nn_sg8(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(subgroup_invocation_id) lane: u32,
                 @builtin(subgroup_id) sg: u32) {
    let r0 = (wid.y * SUBGROUP_ROWS + sg / SUBGROUP_COLS) * 2u * SUBGROUP_LANES;
    let c0 = ((wid.x * SUBGROUP_COLS + sg % SUBGROUP_COLS) * SUBGROUP_LANES + lane) * 4u;
    let k4 = p.k / 4u;
    let n4 = p.n / 4u;
    let a_lo = p.a_off / 4u + clamped_row(r0, lane) * k4;
    let a_hi = p.a_off / 4u + clamped_row(r0, lane + SUBGROUP_LANES) * k4;
    var bi = p.b_off / 4u + min(c0, p.n - 4u) / 4u;
    var acc = array<vec4<f32>, 16>();
    for (var kk = 0u; kk < k4; kk = kk + 1u) {
        let b0 = b4[bi];
        let b1 = b4[bi + n4];
        let b2 = b4[bi + 2u * n4];
        let b3 = b4[bi + 3u * n4];
        let lo = a4[a_lo + kk];
        let hi = a4[a_hi + kk];
        acc[0] = fmas(subgroupBroadcast(lo, 0u), b0, b1, b2, b3, acc[0]);
        acc[1] = fmas(subgroupBroadcast(lo, 1u), b0, b1, b2, b3, acc[1]);
        acc[2] = fmas(subgroupBroadcast(lo, 2u), b0, b1, b2, b3, acc[2]);
        acc[3] = fmas(subgroupBroadcast(lo, 3u), b0, b1, b2, b3, acc[3]);
        acc[4] = fmas(subgroupBroadcast(lo, 4u), b0, b1, b2, b3, acc[4]);
        acc[5] = fmas(subgroupBroadcast(lo, 5u), b0, b1, b2, b3, acc[5]);
        acc[6] = fmas(subgroupBroadcast(lo, 6u), b0, b1, b2, b3, acc[6]);
        acc[7] = fmas(subgroupBroadcast(lo, 7u), b0, b1, b2, b3, acc[7]);
        acc[8] = fmas(subgroupBroadcast(hi, 0u), b0, b1, b2, b3, acc[8]);
        acc[9] = fmas(subgroupBroadcast(hi, 1u), b0, b1, b2, b3, acc[9]);
        acc[10] = fmas(subgroupBroadcast(hi, 2u), b0, b1, b2, b3, acc[10]);
        acc[11] = fmas(subgroupBroadcast(hi, 3u), b0, b1, b2, b3, acc[11]);
        acc[12] = fmas(subgroupBroadcast(hi, 4u), b0, b1, b2, b3, acc[12]);
        acc[13] = fmas(subgroupBroadcast(hi, 5u), b0, b1, b2, b3, acc[13]);
        acc[14] = fmas(subgroupBroadcast(hi, 6u), b0, b1, b2, b3, acc[14]);
        acc[15] = fmas(subgroupBroadcast(hi, 7u), b0, b1, b2, b3, acc[15]);
        bi = bi + 4u * n4;
    }
    if (c0 < p.n) {
        for (var i = 0u; i < 16u; i = i + 1u) {
            store_row(r0 + i, c0, acc[i]);
        }
    }
}

// A·Bᵀ with A (m × k) and B (n × k) both contiguous along k: k % 4 == 0, offsets % 4 == 0.
@compute @workgroup_size(SUBGROUP_LANES * SUBGROUP_ROWS * SUBGROUP_COLS)
fn matmul_nt_sg8(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(subgroup_invocation_id) lane: u32,
                 @builtin(subgroup_id) sg: u32) {
    let r0 = (wid.y * SUBGROUP_ROWS + sg / SUBGROUP_COLS) * 2u * SUBGROUP_LANES;
    let c0 = ((wid.x * SUBGROUP_COLS + sg % SUBGROUP_COLS) * SUBGROUP_LANES + lane) * 4u;
    let k4 = p.k / 4u;
    let a_lo = p.a_off / 4u + clamped_row(r0, lane) * k4;
    let a_hi = p.a_off / 4u + clamped_row(r0, lane + SUBGROUP_LANES) * k4;
    let bi0 = p.b_off / 4u + clamped_col(c0, 0u) * k4;
    let bi1 = p.b_off / 4u + clamped_col(c0, 1u) * k4;
    let bi2 = p.b_off / 4u + clamped_col(c0, 2u) * k4;
    let bi3 = p.b_off / 4u + clamped_col(c0, 3u) * k4;
    var acc = array<vec4<f32>, 16>();
    for (var kk = 0u; kk < k4; kk = kk + 1u) {
        let b0 = b4[bi0 + kk];
        let b1 = b4[bi1 + kk];
        let b2 = b4[bi2 + kk];
        let b3 = b4[bi3 + kk];
        let lo = a4[a_lo + kk];
        let hi = a4[a_hi + kk];
        acc[0] = acc[0] + dots(subgroupBroadcast(lo, 0u), b0, b1, b2, b3);
        acc[1] = acc[1] + dots(subgroupBroadcast(lo, 1u), b0, b1, b2, b3);
        acc[2] = acc[2] + dots(subgroupBroadcast(lo, 2u), b0, b1, b2, b3);
        acc[3] = acc[3] + dots(subgroupBroadcast(lo, 3u), b0, b1, b2, b3);
        acc[4] = acc[4] + dots(subgroupBroadcast(lo, 4u), b0, b1, b2, b3);
        acc[5] = acc[5] + dots(subgroupBroadcast(lo, 5u), b0, b1, b2, b3);
        acc[6] = acc[6] + dots(subgroupBroadcast(lo, 6u), b0, b1, b2, b3);
        acc[7] = acc[7] + dots(subgroupBroadcast(lo, 7u), b0, b1, b2, b3);
        acc[8] = acc[8] + dots(subgroupBroadcast(hi, 0u), b0, b1, b2, b3);
        acc[9] = acc[9] + dots(subgroupBroadcast(hi, 1u), b0, b1, b2, b3);
        acc[10] = acc[10] + dots(subgroupBroadcast(hi, 2u), b0, b1, b2, b3);
        acc[11] = acc[11] + dots(subgroupBroadcast(hi, 3u), b0, b1, b2, b3);
        acc[12] = acc[12] + dots(subgroupBroadcast(hi, 4u), b0, b1, b2, b3);
        acc[13] = acc[13] + dots(subgroupBroadcast(hi, 5u), b0, b1, b2, b3);
        acc[14] = acc[14] + dots(subgroupBroadcast(hi, 6u), b0, b1, b2, b3);
        acc[15] = acc[15] + dots(subgroupBroadcast(hi, 7u), b0, b1, b2, b3);
    }
    if (c0 < p.n) {
        for (var i = 0u; i < 16u; i = i + 1u) {
            store_row(r0 + i, c0, acc[i]);
        }
    }
}

// Aᵀ·B with A (k × m) and B (k × n) contiguous along m and n: m % 4 == 0, n % 4 == 0, offsets
// % 4 == 0. Four steps of k per iteration (steps past k read as zeros): lane l loads rows 0–7
// (l even) or 8–15 (l odd) of A at step l / 2, as two vec4s; each row's accumulator then takes
// its four steps as one chain of FMAs, as in the NN kernel (one FMA on each of 16 accumulators
// per step kept 4× as many spilled accumulators moving).
@compute @workgroup_size(SUBGROUP_LANES * SUBGROUP_ROWS * SUBGROUP_COLS)
fn matmul_tn_sg8(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(subgroup_invocation_id) lane: u32,
                 @builtin(subgroup_id) sg: u32) {
    let r0 = (wid.y * SUBGROUP_ROWS + sg / SUBGROUP_COLS) * 2u * SUBGROUP_LANES;
    let c0 = ((wid.x * SUBGROUP_COLS + sg % SUBGROUP_COLS) * SUBGROUP_LANES + lane) * 4u;
    let m4 = p.m / 4u;
    let n4 = p.n / 4u;
    let a_x = p.a_off / 4u + min(r0 / 4u + 2u * (lane % 2u), m4 - 1u);
    let a_y = p.a_off / 4u + min(r0 / 4u + 2u * (lane % 2u) + 1u, m4 - 1u);
    let b_col = p.b_off / 4u + min(c0, p.n - 4u) / 4u;
    let zero = vec4<f32>(0.0);
    var acc = array<vec4<f32>, 16>();
    for (var k = 0u; k < p.k; k = k + 4u) {
        let ka = k + lane / 2u;
        let a_row = min(ka, p.k - 1u) * m4;
        let ax = select(zero, a4[a_x + a_row], ka < p.k);
        let ay = select(zero, a4[a_y + a_row], ka < p.k);
        let b0 = b4[b_col + k * n4];
        let b1 = select(zero, b4[b_col + min(k + 1u, p.k - 1u) * n4], k + 1u < p.k);
        let b2 = select(zero, b4[b_col + min(k + 2u, p.k - 1u) * n4], k + 2u < p.k);
        let b3 = select(zero, b4[b_col + min(k + 3u, p.k - 1u) * n4], k + 3u < p.k);
        {
            let v0 = subgroupBroadcast(ax, 0u);
            let v1 = subgroupBroadcast(ax, 2u);
            let v2 = subgroupBroadcast(ax, 4u);
            let v3 = subgroupBroadcast(ax, 6u);
            acc[0] = fma(vec4<f32>(v0.x), b0, fma(vec4<f32>(v1.x), b1, fma(vec4<f32>(v2.x), b2, fma(vec4<f32>(v3.x), b3, acc[0]))));
            acc[1] = fma(vec4<f32>(v0.y), b0, fma(vec4<f32>(v1.y), b1, fma(vec4<f32>(v2.y), b2, fma(vec4<f32>(v3.y), b3, acc[1]))));
            acc[2] = fma(vec4<f32>(v0.z), b0, fma(vec4<f32>(v1.z), b1, fma(vec4<f32>(v2.z), b2, fma(vec4<f32>(v3.z), b3, acc[2]))));
            acc[3] = fma(vec4<f32>(v0.w), b0, fma(vec4<f32>(v1.w), b1, fma(vec4<f32>(v2.w), b2, fma(vec4<f32>(v3.w), b3, acc[3]))));
        }
        {
            let v0 = subgroupBroadcast(ay, 0u);
            let v1 = subgroupBroadcast(ay, 2u);
            let v2 = subgroupBroadcast(ay, 4u);
            let v3 = subgroupBroadcast(ay, 6u);
            acc[4] = fma(vec4<f32>(v0.x), b0, fma(vec4<f32>(v1.x), b1, fma(vec4<f32>(v2.x), b2, fma(vec4<f32>(v3.x), b3, acc[4]))));
            acc[5] = fma(vec4<f32>(v0.y), b0, fma(vec4<f32>(v1.y), b1, fma(vec4<f32>(v2.y), b2, fma(vec4<f32>(v3.y), b3, acc[5]))));
            acc[6] = fma(vec4<f32>(v0.z), b0, fma(vec4<f32>(v1.z), b1, fma(vec4<f32>(v2.z), b2, fma(vec4<f32>(v3.z), b3, acc[6]))));
            acc[7] = fma(vec4<f32>(v0.w), b0, fma(vec4<f32>(v1.w), b1, fma(vec4<f32>(v2.w), b2, fma(vec4<f32>(v3.w), b3, acc[7]))));
        }
        {
            let v0 = subgroupBroadcast(ax, 1u);
            let v1 = subgroupBroadcast(ax, 3u);
            let v2 = subgroupBroadcast(ax, 5u);
            let v3 = subgroupBroadcast(ax, 7u);
            acc[8] = fma(vec4<f32>(v0.x), b0, fma(vec4<f32>(v1.x), b1, fma(vec4<f32>(v2.x), b2, fma(vec4<f32>(v3.x), b3, acc[8]))));
            acc[9] = fma(vec4<f32>(v0.y), b0, fma(vec4<f32>(v1.y), b1, fma(vec4<f32>(v2.y), b2, fma(vec4<f32>(v3.y), b3, acc[9]))));
            acc[10] = fma(vec4<f32>(v0.z), b0, fma(vec4<f32>(v1.z), b1, fma(vec4<f32>(v2.z), b2, fma(vec4<f32>(v3.z), b3, acc[10]))));
            acc[11] = fma(vec4<f32>(v0.w), b0, fma(vec4<f32>(v1.w), b1, fma(vec4<f32>(v2.w), b2, fma(vec4<f32>(v3.w), b3, acc[11]))));
        }
        {
            let v0 = subgroupBroadcast(ay, 1u);
            let v1 = subgroupBroadcast(ay, 3u);
            let v2 = subgroupBroadcast(ay, 5u);
            let v3 = subgroupBroadcast(ay, 7u);
            acc[12] = fma(vec4<f32>(v0.x), b0, fma(vec4<f32>(v1.x), b1, fma(vec4<f32>(v2.x), b2, fma(vec4<f32>(v3.x), b3, acc[12]))));
            acc[13] = fma(vec4<f32>(v0.y), b0, fma(vec4<f32>(v1.y), b1, fma(vec4<f32>(v2.y), b2, fma(vec4<f32>(v3.y), b3, acc[13]))));
            acc[14] = fma(vec4<f32>(v0.z), b0, fma(vec4<f32>(v1.z), b1, fma(vec4<f32>(v2.z), b2, fma(vec4<f32>(v3.z), b3, acc[14]))));
            acc[15] = fma(vec4<f32>(v0.w), b0, fma(vec4<f32>(v1.w), b1, fma(vec4<f32>(v2.w), b2, fma(vec4<f32>(v3.w), b3, acc[15]))));
        }
    }
    if (c0 < p.n) {
        for (var i = 0u; i < 16u; i = i + 1u) {
            store_row(r0 + i, c0, acc[i]);
        }
    }
}

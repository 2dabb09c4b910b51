// Counter-based random numbers: a draw is a pure function of (seed, stream, element index),
// bit for bit the same as src/backend/rng.rs, so both backends draw identical noise.
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/random.rs.

struct Params {
    n: u32, out_off: u32, seed: u32, stream: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// Top 23 bits to the midpoint (k + 1/2) / 2^23 of one of 2^23 cells of (0, 1): exact in f32,
// never 0 or 1 (24 bits would need 25 significant bits, and the top value rounded to 1.0).
fn to_unit(bits: u32) -> f32 {
    return (f32(bits >> 9u) + 0.5) * (1.0 / 8388608.0);
}

// ln(u) for u in (0, 1), within a few ULP like the CPU's. WGSL (and Vulkan) let log have an
// absolute error of 2^-21 in [0.5, 2], a large relative one where ln u → 0 (llvmpipe was 0.4 %
// off at u = 0.9999); there ln u = 2·atanh(s), s = (u − 1)/(u + 1) in [−1/3, 0), summed to
// s^17 (the next term is below 2^-32 of the sum). u − 1 and u + 1 are exact for these u.
fn ln_unit(u: f32) -> f32 {
    if (u < 0.5) {
        return log(u);
    }
    let s = (u - 1.0) / (u + 1.0);
    let s2 = s * s;
    var t = 1.0 / 17.0;
    t = t * s2 + 1.0 / 15.0;
    t = t * s2 + 1.0 / 13.0;
    t = t * s2 + 1.0 / 11.0;
    t = t * s2 + 1.0 / 9.0;
    t = t * s2 + 1.0 / 7.0;
    t = t * s2 + 1.0 / 5.0;
    t = t * s2 + 1.0 / 3.0;
    t = t * s2 + 1.0;
    return 2.0 * s * t;
}

// cos(2π·u) for u in (0, 1) from + and × alone, as cos_turns in src/backend/rng.rs: WGSL bounds
// a device's cos only on [−π, π], and loosely (2^-11 absolute). The angle is reduced exactly to
// x = (π/2)·f, f in [−½, ½], around the nearest quarter turn n; Taylor polynomials of sin and
// cos to x⁹ and x¹⁰ are then accurate to a few ULP.
fn cos_turns(u: f32) -> f32 {
    let quarters = 4.0 * u;
    let n = floor(quarters + 0.5);
    let x = (quarters - n) * 1.5707964;
    let x2 = x * x;
    var c = -1.0 / 3628800.0;
    c = c * x2 + 1.0 / 40320.0;
    c = c * x2 - 1.0 / 720.0;
    c = c * x2 + 1.0 / 24.0;
    c = c * x2 - 0.5;
    c = c * x2 + 1.0;
    var s = 1.0 / 362880.0;
    s = s * x2 - 1.0 / 5040.0;
    s = s * x2 + 1.0 / 120.0;
    s = s * x2 - 1.0 / 6.0;
    s = x * (s * x2 + 1.0);
    switch u32(n) % 4u {
        case 0u: { return c; }
        case 1u: { return -s; }
        case 2u: { return -c; }
        default: { return s; }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fill_uniform(@builtin(global_invocation_id) gid: vec3<u32>,
                @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i < p.n) {
        out[p.out_off + i] = to_unit(random_bits(stream_key(p.seed, p.stream), i));
    }
}

// Box–Muller from the uniform draws 2i and 2i + 1.
@compute @workgroup_size(WORKGROUP_SIZE)
fn fill_normal(@builtin(global_invocation_id) gid: vec3<u32>,
               @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i < p.n) {
        let key = stream_key(p.seed, p.stream);
        let u1 = to_unit(random_bits(key, 2u * i));
        let u2 = to_unit(random_bits(key, 2u * i + 1u));
        out[p.out_off + i] = sqrt(-2.0 * ln_unit(u1)) * cos_turns(u2);
    }
}

// Counter-based random numbers: a draw is a pure function of (seed, stream, element index),
// bit for bit the same as src/backend/rng.rs, so both backends draw identical noise.

struct Params {
    n: u32, out_off: u32, seed: u32, stream: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// Chris Wellons' lowbias32.
fn hash(v: u32) -> u32 {
    var x = v;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
}

fn stream_key(seed: u32, stream: u32) -> u32 {
    return hash(seed ^ hash(stream + 0x9e3779b9u));
}

fn random_bits(key: u32, counter: u32) -> u32 {
    return hash(hash(counter + key) ^ key);
}

// Top 24 bits to (0, 1): exact in f32, never 0 or 1.
fn to_unit(bits: u32) -> f32 {
    return (f32(bits >> 8u) + 0.5) * (1.0 / 16777216.0);
}

fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * 256u;
}

@compute @workgroup_size(256)
fn fill_uniform(@builtin(global_invocation_id) gid: vec3<u32>,
                @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.n) {
        out[p.out_off + i] = to_unit(random_bits(stream_key(p.seed, p.stream), i));
    }
}

// Box–Muller from the uniform draws 2i and 2i + 1.
@compute @workgroup_size(256)
fn fill_normal(@builtin(global_invocation_id) gid: vec3<u32>,
               @builtin(num_workgroups) groups: vec3<u32>) {
    let i = flat_index(gid, groups);
    if (i < p.n) {
        let key = stream_key(p.seed, p.stream);
        let u1 = to_unit(random_bits(key, 2u * i));
        let u2 = to_unit(random_bits(key, 2u * i + 1u));
        out[p.out_off + i] = sqrt(-2.0 * log(u1)) * cos(6.2831855 * u2);
    }
}

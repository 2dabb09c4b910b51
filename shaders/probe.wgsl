// The peak probe: independent chains of vec4 multiply-adds, the rate a device reaches on fp32
// arithmetic with nothing else in the way. `gengpu bench` gives every kernel as a share of it.
// Eight chains per invocation hide the FMA latency (on llvmpipe sixteen spilled registers and
// ran slower); the sum is stored so that no chain can be optimized away.
//
// PROBE_GROUP, the workgroup size, is prepended by the host: src/backend/gpu/kernels/probe.rs.

struct Params {
    iterations: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> sink: array<vec4<f32>>;

@compute @workgroup_size(PROBE_GROUP)
fn peak_probe(@builtin(global_invocation_id) gid: vec3<u32>,
              @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, PROBE_GROUP);
    let s = f32(i) * 1e-9;
    let scale = vec4<f32>(0.9999);
    let step = vec4<f32>(1e-4);
    var x0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
    var x1 = x0 + 1.0;
    var x2 = x0 + 2.0;
    var x3 = x0 + 3.0;
    var x4 = x0 + 4.0;
    var x5 = x0 + 5.0;
    var x6 = x0 + 6.0;
    var x7 = x0 + 7.0;
    // Unrolled four times, so that the loop's own counting is a small share.
    for (var it = 0u; it < p.iterations; it = it + 1u) {
        x0 = fma(x0, scale, step);
        x1 = fma(x1, scale, step);
        x2 = fma(x2, scale, step);
        x3 = fma(x3, scale, step);
        x4 = fma(x4, scale, step);
        x5 = fma(x5, scale, step);
        x6 = fma(x6, scale, step);
        x7 = fma(x7, scale, step);
        x0 = fma(x0, scale, step);
        x1 = fma(x1, scale, step);
        x2 = fma(x2, scale, step);
        x3 = fma(x3, scale, step);
        x4 = fma(x4, scale, step);
        x5 = fma(x5, scale, step);
        x6 = fma(x6, scale, step);
        x7 = fma(x7, scale, step);
        x0 = fma(x0, scale, step);
        x1 = fma(x1, scale, step);
        x2 = fma(x2, scale, step);
        x3 = fma(x3, scale, step);
        x4 = fma(x4, scale, step);
        x5 = fma(x5, scale, step);
        x6 = fma(x6, scale, step);
        x7 = fma(x7, scale, step);
        x0 = fma(x0, scale, step);
        x1 = fma(x1, scale, step);
        x2 = fma(x2, scale, step);
        x3 = fma(x3, scale, step);
        x4 = fma(x4, scale, step);
        x5 = fma(x5, scale, step);
        x6 = fma(x6, scale, step);
        x7 = fma(x7, scale, step);
    }
    sink[i] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}

// The device-side step counter, generalized: every word of the dispatch parameters that moves
// by the same amount from one step to the next (the step number Adam's bias correction takes,
// the random stream, the batch's position in the epoch) is advanced here, on the device, by
// that amount, so that the host uploads nothing for it. `shadow` is the storage twin of the
// uniform parameter arena, copied into it after this pass (src/backend/gpu/params.rs).
//
// STEP_GROUP, the workgroup size, is prepended by the host: src/backend/gpu/kernels/step.rs.

struct Params {
    words: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> deltas: array<u32>;
@group(0) @binding(2) var<storage, read_write> shadow: array<u32>;

@compute @workgroup_size(STEP_GROUP)
fn advance_params(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, STEP_GROUP);
    if (i >= p.words) {
        return;
    }
    shadow[i] = shadow[i] + deltas[i];
}

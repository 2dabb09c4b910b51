// Prepended to every kernel family (WGSL has no includes), after the host's constants.

// The index of an invocation in a dispatch of `groups` workgroups of `size` invocations laid
// out in two dimensions: the host spreads large dispatches over y past the per-dimension limit.
fn linear_index(gid: vec3<u32>, groups: vec3<u32>, size: u32) -> u32 {
    return gid.x + gid.y * groups.x * size;
}

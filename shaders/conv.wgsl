// Convolutions over channels-last (NHWC) images as patches and matmuls: im2col gathers each
// output pixel's patch into a row (so a convolution is one matmul by its weight), and col2im,
// its adjoint, sums patch values back onto the pixels they came from, with a bias and an
// activation fused (a convolution's input gradient; a transposed convolution's output).
//
// Patch columns are ordered (channel, kernel row, kernel column), as PyTorch orders a
// convolution's weight. Both kernels are gathers, one invocation per value written, so no
// two invocations write one address and the sums are taken in a fixed order.
//
// Indices fit u32: the host refuses tensors of 2^32 elements or more, and every index formed
// here is below the size of the tensor it indexes.
//
// WORKGROUP_SIZE, the workgroup size, is prepended by the host: src/backend/gpu/kernels/conv.rs.

struct Params {
    images: u32, height: u32, width: u32, channels: u32,
    kernel: u32, stride: u32, padding: u32, out_height: u32,
    out_width: u32, src_off: u32, dst_off: u32, bias_off: u32,
    has_bias: u32, act: u32, slope: f32, _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// dst[(n·Ho + oy)·Wo + ox, (c·k + i)·k + j] = src[n, oy·s + i − pad, ox·s + j − pad, c], or 0
// where that pixel lies in the padding.
@compute @workgroup_size(WORKGROUP_SIZE)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    let taps = p.kernel * p.kernel;
    let patch_len = p.channels * taps;
    if (i >= p.images * p.out_height * p.out_width * patch_len) {
        return;
    }
    let row = i / patch_len;
    let t = i % patch_len;
    let c = t / taps;
    let ki = (t % taps) / p.kernel;
    let kj = t % p.kernel;
    let ox = row % p.out_width;
    let oy = (row / p.out_width) % p.out_height;
    let n = row / (p.out_width * p.out_height);
    // Unsigned: a pixel in the top or left padding wraps past the image and is skipped too.
    let y = oy * p.stride + ki - p.padding;
    let x = ox * p.stride + kj - p.padding;
    var v = 0.0;
    if (oy * p.stride + ki >= p.padding && ox * p.stride + kj >= p.padding
        && y < p.height && x < p.width) {
        v = src[p.src_off + ((n * p.height + y) * p.width + x) * p.channels + c];
    }
    dst[p.dst_off + i] = v;
}

// dst[n, y, x, c] = act(Σ src[patch (oy, ox), tap (c, i, j)] + bias[c]) over the taps with
// oy·s + i = y + pad and ox·s + j = x + pad: the loops visit only those patches.
@compute @workgroup_size(WORKGROUP_SIZE)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>,
          @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_index(gid, groups, WORKGROUP_SIZE);
    if (i >= p.images * p.height * p.width * p.channels) {
        return;
    }
    let c = i % p.channels;
    let pixel = i / p.channels;
    let yp = (pixel / p.width) % p.height + p.padding;
    let xp = pixel % p.width + p.padding;
    let n = pixel / (p.width * p.height);
    let patch_len = p.channels * p.kernel * p.kernel;
    // The patch rows (columns) reading this pixel, o·s + i = yp with i < k and o < Ho, walked
    // from the largest o down so that the taps i are added in increasing order.
    let oy_max = min(yp / p.stride, p.out_height - 1u);
    let oy_min = (max(yp + 1u, p.kernel) - p.kernel + p.stride - 1u) / p.stride;
    let ox_max = min(xp / p.stride, p.out_width - 1u);
    let ox_min = (max(xp + 1u, p.kernel) - p.kernel + p.stride - 1u) / p.stride;
    var sum = 0.0;
    for (var oy = oy_max + 1u; oy > oy_min; oy = oy - 1u) {
        let ki = yp - (oy - 1u) * p.stride;
        let row = (n * p.out_height + oy - 1u) * p.out_width;
        for (var ox = ox_max + 1u; ox > ox_min; ox = ox - 1u) {
            let kj = xp - (ox - 1u) * p.stride;
            sum = sum + src[p.src_off + (row + ox - 1u) * patch_len + (c * p.kernel + ki) * p.kernel + kj];
        }
    }
    if (p.has_bias != 0u) {
        sum = sum + bias[p.bias_off + c];
    }
    dst[p.dst_off + i] = act_apply(p.act, p.slope, sum);
}

//! Conv family, CPU twin: a convolution's patches (im2col) and their adjoint (col2im) over
//! channels-last images, split over the cores by image.
//!
//! Kernel: `shaders/conv.wgsl`; GPU host: `src/backend/gpu/kernels/conv.rs`; parity test:
//! `tests/parity_conv.rs`.

use super::parallel;
use crate::backend::{Activation, ConvGeometry};

/// `patches` of `images` (see `Backend::im2col`): per patch, per channel and kernel row, the
/// kernel row's pixels (0 in the padding).
pub(super) fn im2col(g: &ConvGeometry, images: &[f32], patches: &mut [f32]) {
    let (k, s, c_n) = (g.kernel, g.stride, g.channels);
    let per_image = g.patches() * g.patch_len();
    let work: Vec<_> = patches
        .chunks_mut(per_image)
        .zip(images.chunks(g.image_len()))
        .collect();
    parallel::for_each_chunk(work, |(patches, image)| {
        let mut rows = patches.chunks_exact_mut(g.patch_len());
        for oy in 0..g.out_height() {
            for ox in 0..g.out_width() {
                let Some(patch) = rows.next() else { return };
                for (t, dst) in patch.chunks_exact_mut(k).enumerate() {
                    let (c, i) = (t / k, t % k);
                    // Past the image (padding above wraps around to a large value).
                    let y = (oy * s + i).wrapping_sub(g.padding);
                    if y >= g.height {
                        dst.fill(0.0);
                        continue;
                    }
                    for (j, d) in dst.iter_mut().enumerate() {
                        let x = (ox * s + j).wrapping_sub(g.padding);
                        *d = if x < g.width {
                            image[(y * g.width + x) * c_n + c]
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
    });
}

/// The kernel taps `i` that read image row (or column) `y`, with their patch rows `o`
/// (`o·stride + i = y + padding`), in increasing `i`.
fn taps(g: &ConvGeometry, y: usize, outs: usize) -> Vec<(usize, usize)> {
    let (k, s) = (g.kernel, g.stride);
    let yp = y + g.padding;
    let o_max = (yp / s).min(outs - 1);
    let o_min = (yp + 1).saturating_sub(k).div_ceil(s);
    (o_min..=o_max).rev().map(|o| (yp - o * s, o)).collect()
}

/// `images` from `patches`: each pixel the sum of the patch values read from it, in the order
/// of the kernel's rows then columns, then `act(sum + bias[c])` (see `Backend::col2im`).
pub(super) fn col2im(
    g: &ConvGeometry,
    patches: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    images: &mut [f32],
) {
    let (k, wo) = (g.kernel, g.out_width());
    let ys: Vec<_> = (0..g.height).map(|y| taps(g, y, g.out_height())).collect();
    let xs: Vec<_> = (0..g.width).map(|x| taps(g, x, wo)).collect();
    let per_image = g.patches() * g.patch_len();
    let work: Vec<_> = images
        .chunks_mut(g.image_len())
        .zip(patches.chunks(per_image))
        .collect();
    parallel::for_each_chunk(work, |(image, patches)| {
        for (pixel, values) in image.chunks_exact_mut(g.channels).enumerate() {
            values.fill(0.0);
            for &(i, oy) in &ys[pixel / g.width] {
                for &(j, ox) in &xs[pixel % g.width] {
                    let patch = &patches[(oy * wo + ox) * g.patch_len()..];
                    let taps = patch[i * k + j..].iter().step_by(k * k);
                    values.iter_mut().zip(taps).for_each(|(v, p)| *v += p);
                }
            }
            for (c, v) in values.iter_mut().enumerate() {
                *v = act.apply(bias.map_or(*v, |b| *v + b[c]));
            }
        }
    });
}

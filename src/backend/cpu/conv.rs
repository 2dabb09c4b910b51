//! Conv family, CPU twin: a convolution's patches (im2col) and their adjoint (col2im) over
//! channels-last images, split over the cores by image.
//!
//! Kernel: `shaders/conv.wgsl`; GPU host: `src/backend/gpu/kernels/conv.rs`; parity test:
//! `tests/parity_conv.rs`.

use super::parallel;
use crate::backend::{Activation, ConvGeometry};

/// The input pixel `(y, x)` that kernel tap `(i, j)` of patch `(oy, ox)` reads, if inside.
fn source(g: &ConvGeometry, (oy, ox): (usize, usize), (i, j): (usize, usize)) -> Option<usize> {
    let y = (oy * g.stride + i).checked_sub(g.padding)?;
    let x = (ox * g.stride + j).checked_sub(g.padding)?;
    (y < g.height && x < g.width).then_some(y * g.width + x)
}

/// `patches` of `images` (see `Backend::im2col`).
pub(super) fn im2col(g: &ConvGeometry, images: &[f32], patches: &mut [f32]) {
    let (k, wo) = (g.kernel, g.out_width());
    let per_image = g.patches() * g.patch_len();
    let work: Vec<_> = patches
        .chunks_mut(per_image)
        .zip(images.chunks(g.image_len()))
        .collect();
    parallel::for_each_chunk(work, |(patches, image)| {
        for (p, patch) in patches.chunks_exact_mut(g.patch_len()).enumerate() {
            let at = (p / wo, p % wo);
            for (t, v) in patch.iter_mut().enumerate() {
                let (c, tap) = (t / (k * k), t % (k * k));
                *v = source(g, at, (tap / k, tap % k)).map_or(0.0, |s| image[s * g.channels + c]);
            }
        }
    });
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
    let (k, s) = (g.kernel, g.stride);
    let (ho, wo) = (g.out_height(), g.out_width());
    let per_image = g.patches() * g.patch_len();
    let work: Vec<_> = images
        .chunks_mut(g.image_len())
        .zip(patches.chunks(per_image))
        .collect();
    // The taps `i` (and patch rows `o`) that read image row `y`: `o·s + i = y + padding`.
    let taps = move |y: usize, outs: usize| {
        let y = y + g.padding;
        (y % s..k.min(y + 1))
            .step_by(s)
            .map(move |i| (i, (y - i) / s))
            .filter(move |&(_, o)| o < outs)
    };
    parallel::for_each_chunk(work, |(image, patches)| {
        for (pixel, values) in image.chunks_exact_mut(g.channels).enumerate() {
            let (y, x) = (pixel / g.width, pixel % g.width);
            for (c, v) in values.iter_mut().enumerate() {
                let mut sum = 0.0f32;
                for (i, oy) in taps(y, ho) {
                    for (j, ox) in taps(x, wo) {
                        sum += patches[(oy * wo + ox) * g.patch_len() + (c * k + i) * k + j];
                    }
                }
                *v = act.apply(bias.map_or(sum, |b| sum + b[c]));
            }
        }
    });
}

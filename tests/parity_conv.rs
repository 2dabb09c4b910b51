//! Parity of the conv family: a convolution's patches (im2col) and their adjoint with a fused
//! bias and activation (col2im) against models written the other way round (each patch value
//! scattered from or onto its pixel), on awkward geometries: 1×1 images, odd sides, channel
//! counts not divisible by 4, batch 1, every stride/padding pair the models use, kernels from
//! 1 to the whole image. Operands are views at offsets with guards; outputs are poisoned.
//!
//! Kernel `shaders/conv.wgsl`, GPU host `src/backend/gpu/kernels/conv.rs`, CPU twin
//! `src/backend/cpu/conv.rs`.

mod common;

use common::accuracy::{Approx, assert_within};
use common::formulas::activation;
use common::parity::{ACTIVATIONS, assert_bits, input, output, read, run_all};
use common::{gpu, rng, values};
use gengpu::backend::ConvGeometry;

/// `(images, height, width, channels, kernel, stride, padding)`.
const GEOMETRIES: [(usize, usize, usize, usize, usize, usize, usize); 12] = [
    (1, 1, 1, 1, 1, 1, 0),
    (2, 1, 1, 3, 3, 1, 1),
    (1, 5, 7, 3, 3, 2, 1),
    (3, 8, 8, 5, 4, 2, 1),
    (2, 6, 5, 2, 4, 1, 0),
    (1, 7, 7, 6, 7, 1, 0),
    (2, 4, 4, 3, 4, 1, 0),
    (1, 9, 9, 1, 3, 2, 0),
    (2, 9, 6, 7, 3, 1, 1),
    (1, 14, 14, 4, 4, 2, 1),
    (5, 3, 3, 1, 2, 2, 1),
    (1, 2, 3, 9, 2, 1, 1),
];

fn geometry(
    (_, height, width, channels, kernel, stride, padding): (
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
    ),
) -> ConvGeometry {
    ConvGeometry {
        height,
        width,
        channels,
        kernel,
        stride,
        padding,
    }
}

/// For every patch value, in patch order, the image value index it is read from (if any),
/// computed forwards from the definition.
fn sources(g: &ConvGeometry, images: usize) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    for n in 0..images {
        for oy in 0..g.out_height() {
            for ox in 0..g.out_width() {
                for c in 0..g.channels {
                    for i in 0..g.kernel {
                        for j in 0..g.kernel {
                            let y = (oy * g.stride + i) as i64 - g.padding as i64;
                            let x = (ox * g.stride + j) as i64 - g.padding as i64;
                            let inside = (0..g.height as i64).contains(&y)
                                && (0..g.width as i64).contains(&x);
                            out.push(inside.then(|| {
                                ((n * g.height + y as usize) * g.width + x as usize) * g.channels
                                    + c
                            }));
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn im2col_copies_every_patch_value_from_its_pixel() {
    let Some(mut gpu) = gpu("im2col") else {
        return;
    };
    let mut rng = rng("im2col");
    for (case, &shape) in GEOMETRIES.iter().enumerate() {
        let (g, images) = (geometry(shape), shape.0);
        let image = values(&mut rng, images * g.image_len(), -1.0, 1.0);
        let rows = images * g.patches();
        let [o_in, o_out] = if case % 2 == 0 { [0, 0] } else { [5, 9] };
        let what = format!("im2col {g:?} × {images}");
        let runs = run_all(&mut gpu, |be| {
            let x = input(be, images, g.image_len(), o_in, &image);
            let patches = output(be, rows, g.patch_len(), o_out);
            be.im2col(&g, &x.view, &patches.view).unwrap();
            read(be, &patches, &what)
        });
        let model: Vec<f32> = sources(&g, images)
            .iter()
            .map(|s| s.map_or(0.0, |s| image[s]))
            .collect();
        for (who, got) in runs.each() {
            assert_bits(&format!("{what}, {who}"), got, &model);
        }
    }
}

#[test]
fn col2im_sums_every_patch_value_onto_its_pixel() {
    let Some(mut gpu) = gpu("col2im") else {
        return;
    };
    let mut rng = rng("col2im");
    for (case, &shape) in GEOMETRIES.iter().enumerate() {
        let (g, images) = (geometry(shape), shape.0);
        let rows = images * g.patches();
        let patches = values(&mut rng, rows * g.patch_len(), -1.0, 1.0);
        let bias = values(&mut rng, g.channels, -1.0, 1.0);
        let act = ACTIVATIONS[case % ACTIVATIONS.len()];
        let with_bias = case % 3 != 1;
        let [o_p, o_b, o_out] = if case % 2 == 0 { [0, 0, 0] } else { [7, 3, 11] };
        let what = format!("col2im {g:?} × {images}, {act:?}, bias {with_bias}");
        let runs = run_all(&mut gpu, |be| {
            let p = input(be, rows, g.patch_len(), o_p, &patches);
            let b = input(be, 1, g.channels, o_b, &bias);
            let out = output(be, images, g.image_len(), o_out);
            let b = with_bias.then_some(&b.view);
            be.col2im(&g, &p.view, b, act, &out.view).unwrap();
            read(be, &out, &what)
        });
        // Scatter each patch value onto its pixel, then sum each pixel's terms.
        let mut terms = vec![Vec::new(); images * g.image_len()];
        for (v, s) in patches.iter().zip(sources(&g, images)) {
            if let Some(s) = s {
                terms[s].push(Approx::from(*v));
            }
        }
        let model: Vec<Approx> = terms
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let sum = Approx::sum(t);
                let pre = if with_bias {
                    sum.add(bias[i % g.channels])
                } else {
                    sum
                };
                activation(act, pre)
            })
            .collect();
        for (who, got) in runs.each() {
            assert_within(&format!("{what}, {who}"), got, &model);
        }
    }
}

#[test]
fn geometries_without_patches_are_refused_alike() {
    let Some(mut gpu) = gpu("conv shapes") else {
        return;
    };
    let bad = [
        // A kernel larger than the padded image.
        (1, 3, 3, 1, 5, 1, 0),
        // Padding as large as the kernel.
        (1, 4, 4, 1, 2, 1, 2),
        // No channels.
        (1, 4, 4, 0, 3, 1, 1),
    ];
    for shape in bad {
        let g = geometry(shape);
        let runs = run_all(&mut gpu, |be| {
            let image = be.alloc(1, g.image_len().max(1)).unwrap();
            let patches = be.alloc(g.patches().max(1), g.patch_len().max(1)).unwrap();
            be.im2col(&g, &image, &patches).is_err()
                && be
                    .col2im(
                        &g,
                        &patches,
                        None,
                        gengpu::backend::Activation::Identity,
                        &image,
                    )
                    .is_err()
        });
        for (who, refused) in runs.each() {
            assert!(*refused, "{g:?} accepted by {who}");
        }
    }
    // Patches of the wrong count for the images.
    let g = geometry((2, 5, 5, 2, 3, 2, 1));
    let runs = run_all(&mut gpu, |be| {
        let image = be.alloc(2, g.image_len()).unwrap();
        let patches = be.alloc(g.patches(), g.patch_len()).unwrap();
        be.im2col(&g, &image, &patches).is_err()
    });
    for (who, refused) in runs.each() {
        assert!(*refused, "one image's patches for two accepted by {who}");
    }
}

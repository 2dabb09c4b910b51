//! Data family, CPU twin: a batch gathered from a resident byte dataset by an index buffer.
//!
//! Kernel: `shaders/data.wgsl`; GPU host: `src/backend/gpu/kernels/data.rs`; parity test:
//! `tests/parity_data.rs`.

use crate::backend::ops::binarized;
use crate::backend::{Augment, Contraction, rng};

/// Row `r` of `out` (rows of `cols` values) is `scale · b + shift` for the bytes `b` of example
/// `indices[first + r]` of `bytes` (examples of `cols` bytes), changed as `augment` says; an
/// index past the last example reads the last one.
#[allow(clippy::too_many_arguments)]
pub(super) fn gather(
    bytes: &[u8],
    indices: &[u32],
    first: usize,
    (scale, shift): (f32, f32),
    cols: usize,
    augment: &Augment,
    fma: Contraction,
    out: &mut [f32],
) {
    let examples = bytes.len() / cols;
    let (shift_key, binarize_key) = augment.keys();
    let width = augment.width as usize;
    for (r, (row, &example)) in out
        .chunks_exact_mut(cols)
        .zip(&indices[first..])
        .enumerate()
    {
        let example = (example as usize).min(examples - 1);
        let src = &bytes[example * cols..(example + 1) * cols];
        let (across, down) = if augment.max_shift > 0 {
            augment.shift_of(shift_key, (first + r) as u32)
        } else {
            (0, 0)
        };
        for (c, o) in row.iter_mut().enumerate() {
            // The pixel this one shows: `across` and `down` pixels back, if inside the image.
            let source = if augment.max_shift > 0 {
                let x = (c % width) as i64 - across;
                let y = (c / width) as i64 - down;
                let inside =
                    (0..width as i64).contains(&x) && (0..(cols / width) as i64).contains(&y);
                inside.then(|| y as usize * width + x as usize)
            } else {
                Some(c)
            };
            let value = source.map_or(0, |s| {
                let value = u32::from(src[s]);
                if augment.binarize {
                    let counter = (example as u32)
                        .wrapping_mul(cols as u32)
                        .wrapping_add(s as u32);
                    binarized(value, rng::bits(binarize_key, counter))
                } else {
                    value
                }
            });
            *o = fma.mul_add(scale, value as f32, shift);
        }
    }
}

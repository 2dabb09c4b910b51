//! Data family, CPU twin: a batch gathered from a resident byte dataset by an index buffer.
//!
//! Kernel: `shaders/data.wgsl`; GPU host: `src/backend/gpu/kernels/data.rs`; parity test:
//! `tests/parity_data.rs`.

use crate::backend::Contraction;

/// Row `r` of `out` (rows of `cols` values) is `scale · b + shift` for the bytes `b` of example
/// `indices[first + r]` of `bytes` (examples of `cols` bytes); an index past the last example
/// reads the last one.
pub(super) fn gather(
    bytes: &[u8],
    indices: &[u32],
    first: usize,
    (scale, shift): (f32, f32),
    cols: usize,
    fma: Contraction,
    out: &mut [f32],
) {
    let examples = bytes.len() / cols;
    for (row, &example) in out.chunks_exact_mut(cols).zip(&indices[first..]) {
        let example = (example as usize).min(examples - 1);
        let src = &bytes[example * cols..(example + 1) * cols];
        for (o, &b) in row.iter_mut().zip(src) {
            *o = fma.mul_add(scale, f32::from(b), shift);
        }
    }
}

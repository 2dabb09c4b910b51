//! Reduce family, CPU twin: column sums, a total added into an accumulator, and the record of
//! the first step whose sums were not finite.
//!
//! Kernel: `shaders/reduce.wgsl`; GPU host: `src/backend/gpu/kernels/reduce.rs`; parity test:
//! `tests/parity_reduce.rs`.

use crate::backend::Contraction;

/// `out[c] = Σ_r x[r, c]`, for `x` of rows of `out.len()` values.
pub(super) fn column_sum(x: &[f32], out: &mut [f32]) {
    out.fill(0.0);
    for row in x.chunks_exact(out.len()) {
        out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
    }
}

/// The last word of `sums` becomes `step`'s bits if it is 0 and a word before it is not
/// finite.
pub(super) fn record_non_finite(sums: &mut [f32], step: u32) {
    let (values, record) = sums.split_at_mut(sums.len() - 1);
    if record[0].to_bits() == 0 && values.iter().any(|v| !v.is_finite()) {
        record[0] = f32::from_bits(step);
    }
}

/// `acc += scale · Σ x`.
pub(super) fn accumulate_sum(x: &[f32], scale: f32, fma: Contraction, acc: &mut f32) {
    let sum: f32 = x.iter().sum();
    *acc = fma.mul_add(scale, sum, *acc);
}

//! Reduce family, CPU twin: column sums and a total added into an accumulator.
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

/// `acc += scale · Σ x`.
pub(super) fn accumulate_sum(x: &[f32], scale: f32, fma: Contraction, acc: &mut f32) {
    let sum: f32 = x.iter().sum();
    *acc = fma.mul_add(scale, sum, *acc);
}

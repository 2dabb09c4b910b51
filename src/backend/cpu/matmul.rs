//! Matmul family, CPU twin: `C = act(op(A)·op(B) + bias)`, with `matrixmultiply`'s sgemm.
//!
//! Kernel: `shaders/matmul.wgsl`; GPU host: `src/backend/gpu/kernels/matmul.rs`; parity test:
//! `tests/parity_matmul.rs`.

use crate::backend::{Activation, MatmulForm};

/// What `gengpu bench` calls this implementation.
pub(super) const VARIANT: &str = "matrixmultiply sgemm";

/// `c = act(op(a)·op(b) + bias)` for the `m × n × k` product of `form`; `bias` has `n` values.
///
/// # Panics
/// When a slice's length is not the one its shape gives (the backend checks shapes first).
pub(super) fn matmul(
    form: MatmulForm,
    (m, n, k): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
) {
    assert!(
        a.len() == m * k && b.len() == k * n && c.len() == m * n,
        "matmul operands do not hold m×k, k×n and m×n values"
    );
    let [a_row, a_k, b_k, b_col] = form.strides(m, n, k);
    // SAFETY: `a`, `b` and `c` hold exactly the m×k, k×n and m×n values of the product (checked
    // above), every index sgemm forms from these dimensions and the form's strides lies inside
    // them, and `c`, being borrowed mutably, overlaps neither.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            a_row as isize,
            a_k as isize,
            b.as_ptr(),
            b_k as isize,
            b_col as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    // The epilogue in one pass over C, as the GPU kernels fuse it.
    match (bias, act) {
        (None, Activation::Identity) => {}
        (None, act) => c.iter_mut().for_each(|y| *y = act.apply(*y)),
        (Some(bias), act) => {
            for row in c.chunks_exact_mut(n) {
                for (y, b) in row.iter_mut().zip(bias) {
                    *y = act.apply(*y + b);
                }
            }
        }
    }
}

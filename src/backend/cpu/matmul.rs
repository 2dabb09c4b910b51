//! Matmul family, CPU twin: `C = act(op(A)·op(B) + bias)`, with `matrixmultiply`'s sgemm.
//!
//! Kernel: `shaders/matmul.wgsl`; GPU host: `src/backend/gpu/kernels/matmul.rs`; parity test:
//! `tests/parity_matmul.rs`.

use super::parallel;
use crate::backend::{Activation, MatmulForm, matmul_flop};

/// Products below this many floating-point operations run on one thread: starting one costs
/// tens of microseconds.
const PARALLEL_FLOP: u64 = 16_000_000;
/// Rows of a thread's part are a multiple of this (the sgemm kernels' register block).
const PART_ROWS: usize = 16;

/// One thread's rows of the product sgemm computes: where they start in the left operand and
/// in C, and how many.
#[derive(Clone, Copy)]
struct Part {
    lhs: *const f32,
    c: *mut f32,
    rows: usize,
}

// SAFETY: a part only reads the operands and writes its own rows of C, which no other part
// writes, while the product's call (which borrows C mutably) waits for every part.
unsafe impl Send for Part {}

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
    // A product wider than tall runs faster as its transpose, Cᵀ = op(B)ᵀ·op(A)ᵀ written
    // through C's transposed strides (measured: the VAE's 128-row products 10–25% faster, the
    // others slower). Each element is the same sum of the same products in the same order.
    let transpose = m < n;
    // (rows, cols, lhs and its row and k strides, rhs and its k and column strides, C's row
    // and column strides) of the product sgemm computes.
    let (rows, cols, lhs, lhs_strides, rhs, rhs_strides, c_strides) = if transpose {
        (n, m, b, (b_col, b_k), a, (a_k, a_row), (1, n))
    } else {
        (m, n, a, (a_row, a_k), b, (b_k, b_col), (n, 1))
    };
    let threads = if matmul_flop((m, n, k)) >= PARALLEL_FLOP {
        parallel::threads()
    } else {
        1
    };
    // Whole multiples of the kernel's rows per thread, the last part taking what is left.
    let part_rows = rows.div_ceil(threads).next_multiple_of(PART_ROWS);
    let parts = (0..rows).step_by(part_rows).map(|first| Part {
        // In bounds: `first < rows`, and row `first` of the product starts there.
        lhs: lhs[first * lhs_strides.0..].as_ptr(),
        c: c[first * c_strides.0..].as_mut_ptr(),
        rows: part_rows.min(rows - first),
    });
    let run = |part: Part| {
        // SAFETY: `a`, `b` and `c` hold exactly the m×k, k×n and m×n values of the product
        // (checked above); every index sgemm forms from a part's rows, `k`, `cols` and the
        // form's strides (for the transpose, the same strides swapped) lies inside them; the
        // parts write disjoint rows of the product, and `c`, borrowed mutably, overlaps
        // neither operand.
        unsafe {
            matrixmultiply::sgemm(
                part.rows,
                k,
                cols,
                1.0,
                part.lhs,
                lhs_strides.0 as isize,
                lhs_strides.1 as isize,
                rhs.as_ptr(),
                rhs_strides.0 as isize,
                rhs_strides.1 as isize,
                0.0,
                part.c,
                c_strides.0 as isize,
                c_strides.1 as isize,
            );
        }
    };
    parallel::for_each_chunk(parts.collect(), run);
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

//! Elementwise family, CPU twin: activations forward and backward, and fill.
//!
//! Kernel: `shaders/elementwise.wgsl`; GPU host: `src/backend/gpu/kernels/elementwise.rs`;
//! parity test: `tests/parity_elementwise.rs`.

use crate::backend::{Activation, Contraction};

/// `y = act(x)`.
pub(super) fn activation(act: Activation, x: &[f32], y: &mut [f32]) {
    for (o, &x) in y.iter_mut().zip(x) {
        *o = act.apply(x);
    }
}

/// `dx = dy · act'(x)`, the derivative taken from the forward output `y`.
pub(super) fn activation_backward(
    act: Activation,
    y: &[f32],
    dy: &[f32],
    fma: Contraction,
    dx: &mut [f32],
) {
    for ((o, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
        *o = dy * act.derivative_from_output(y, fma);
    }
}

/// Every element of `out` set to `value`.
pub(super) fn fill(out: &mut [f32], value: f32) {
    out.fill(value);
}

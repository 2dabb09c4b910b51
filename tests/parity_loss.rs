//! Parity of the loss family: binary cross-entropy on logits (gradient and per-row loss) against
//! the CPU reference.
//!
//! Kernel `shaders/loss.wgsl`, GPU host `src/backend/gpu/kernels/loss.rs`, CPU twin
//! `src/backend/cpu/loss.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::parity::{ULP, assert_bounded, both, input, output, read};
use common::{assert_close, gpu, rng, values};
use gengpu::backend::Activation;
use gengpu::backend::cpu::CpuBackend;
use rand::Rng;

#[test]
fn bce_with_logits_matches() {
    let Some(mut gpu) = gpu("bce_with_logits") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("bce_with_logits");
    let shapes = [
        (1, 1),
        (3, 63),
        (2, 64),
        (5, 65),
        (17, 129),
        (4, 784),
        (257, 3),
        (1, 300),
    ];
    for (k, &(rows, cols)) in shapes.iter().enumerate() {
        let [o_x, o_t, o_g, o_l] = if k % 2 == 0 {
            [0, 0, 0, 0]
        } else {
            [1, 6, 13, 4]
        };
        let n = rows * cols;
        let mut logits = values(&mut rng, n, -10.0, 10.0);
        for x in logits.iter_mut() {
            if rng.random_bool(0.1) {
                *x = [30.0, -30.0, 0.0, 50.0, -50.0][rng.random_range(0..5)];
            }
        }
        // Any target in [0, 1], the ends included (pixel/255 is both).
        let targets: Vec<f32> = (0..n)
            .map(|_| match rng.random_range(0..4) {
                0 => 0.0,
                1 => 1.0,
                _ => rng.random_range(0.0..=1.0),
            })
            .collect();
        let grad_scale = [1.0, 1.0 / 128.0, -0.5][k % 3];
        let what = format!(
            "bce_with_logits {rows}×{cols} scale {grad_scale} offsets {o_x}/{o_t}/{o_g}/{o_l}"
        );
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let tx = input(be, rows, cols, o_x, &logits);
            let tt = input(be, rows, cols, o_t, &targets);
            let grad = output(be, rows, cols, o_g);
            let loss = output(be, rows, 1, o_l);
            be.bce_with_logits(&tx.view, &tt.view, grad_scale, &grad.view, &loss.view)
                .unwrap();
            (read(be, &grad, &what), read(be, &loss, &what))
        });
        // Per-element gradient: σ(x) − t cancels, so the bound is a few ULP of both terms, and
        // at least two ULP of 1, the gradients' scale (exp(−50) may be ~1e-6 off relatively:
        // WGSL allows exp an error of 3 + 2·|x| ULP).
        let bound: Vec<f32> = logits
            .iter()
            .zip(&targets)
            .map(|(&x, &t)| ULP * grad_scale.abs() * (8.0 * (sigmoid(x) + t) + 2.0))
            .collect();
        assert_bounded(&format!("{what} grad"), &got.0, &want.0, &bound);
        // Per-row loss: a reduction.
        assert_close(&format!("{what} loss"), &got.1, &want.1, 1e-5, 1e-4);
        assert!(
            got.1.iter().all(|v| v.is_finite() && *v >= 0.0),
            "{what}: loss {:?}",
            got.1
        );
    }
}

fn sigmoid(x: f32) -> f32 {
    Activation::Sigmoid.apply(x)
}

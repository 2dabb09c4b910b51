//! Parity of the elementwise family: activations forward and backward, and fill, against the CPU
//! reference.
//!
//! Kernel `shaders/elementwise.wgsl`, GPU host `src/backend/gpu/kernels/elementwise.rs`, CPU twin
//! `src/backend/cpu/elementwise.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::accuracy::{Approx, assert_within};
use common::formulas::{activation, activation_derivative};
use common::parity::{ACTIVATIONS, ELEMENTWISE_SHAPES, input, output, read, run_all};
use common::{gpu, rng, values};
use rand::Rng;
use rand::rngs::StdRng;

/// Random values with the special points of the activations mixed in: 0, ±0, tiny, and
/// saturating inputs (±15 is where the tanh kernel clamps, ±50 and ±100 overflow a naive exp).
fn activation_inputs(rng: &mut StdRng, n: usize) -> Vec<f32> {
    const SPECIAL: [f32; 18] = [
        0.0, -0.0, 1e-6, -1e-6, 1e-3, -1e-3, 15.0, -15.0, 15.5, -15.5, 30.0, -30.0, 50.0, -50.0,
        88.0, -88.0, 100.0, -100.0,
    ];
    let mut x = values(rng, n, -8.0, 8.0);
    for v in x.iter_mut() {
        if rng.random_bool(0.15) {
            *v = SPECIAL[rng.random_range(0..SPECIAL.len())];
        }
    }
    x
}

#[test]
fn activation_forward_and_backward() {
    let Some(mut gpu) = gpu("activation") else {
        return;
    };
    let mut rng = rng("activation");
    for act in ACTIVATIONS {
        for (k, &(rows, cols)) in ELEMENTWISE_SHAPES.iter().enumerate() {
            let n = rows * cols;
            // Every other shape runs on views at distinct offsets.
            let [o_x, o_dy, o_out] = if k % 2 == 1 { [3, 17, 41] } else { [0, 0, 0] };
            let x = activation_inputs(&mut rng, n);
            let dy = values(&mut rng, n, -2.0, 2.0);
            let what = format!("{act:?} {rows}×{cols} offsets {o_x}/{o_dy}/{o_out}");

            let forward = run_all(&mut gpu, |be| {
                let tx = input(be, rows, cols, o_x, &x);
                let ty = output(be, rows, cols, o_out);
                be.activation(act, &tx.view, &ty.view).unwrap();
                read(be, &ty, &what)
            });
            let model: Vec<Approx> = x
                .iter()
                .map(|&x| activation(act, Approx::from(x)))
                .collect();
            for (who, got) in forward.each() {
                assert_within(&format!("{what} forward, {who}"), got, &model);
            }

            // Backward, from the reference's forward output so that every run sees the same y.
            let y = forward.cpu;
            let backward = run_all(&mut gpu, |be| {
                let ty = input(be, rows, cols, o_x, &y);
                let tdy = input(be, rows, cols, o_dy, &dy);
                let tdx = output(be, rows, cols, o_out);
                be.activation_backward(act, &ty.view, &tdy.view, &tdx.view)
                    .unwrap();
                read(be, &tdx, &what)
            });
            let model: Vec<Approx> = y
                .iter()
                .zip(&dy)
                .map(|(&y, &dy)| Approx::from(dy).mul(activation_derivative(act, Approx::from(y))))
                .collect();
            for (who, got) in backward.each() {
                assert_within(&format!("{what} backward, {who}"), got, &model);
            }
        }
    }
}

#[test]
fn fill_sets_every_element_and_nothing_else() {
    let Some(mut gpu) = gpu("fill") else { return };
    let mut rng = rng("fill");
    for (k, &(rows, cols)) in ELEMENTWISE_SHAPES.iter().enumerate() {
        let offset = if k % 2 == 1 { 29 } else { 0 };
        for value in [
            rng.random_range(-10.0..10.0),
            -0.0,
            0.0,
            f32::MIN_POSITIVE / 4.0,
        ] {
            let what = format!("fill {rows}×{cols} offset {offset} with {value}");
            let runs = run_all(&mut gpu, |be| {
                let t = output(be, rows, cols, offset);
                be.fill(&t.view, value).unwrap();
                read(be, &t, &what)
            });
            // A store of the value given, exactly (a subnormal too: no arithmetic touches it),
            // the sign of a zero aside.
            let model = vec![Approx::from(value); rows * cols];
            for (who, got) in runs.each() {
                assert_within(&format!("{what}, {who}"), got, &model);
            }
        }
    }
}

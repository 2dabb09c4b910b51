//! Parity of the adam family: consecutive Adam (AdamW) steps against the CPU reference.
//!
//! Kernel `shaders/adam.wgsl`, GPU host `src/backend/gpu/kernels/adam.rs`, CPU twin
//! `src/backend/cpu/adam.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::parity::{ULP, both, input, read};
use common::{assert_close, gpu, rng, values};
use gengpu::backend::cpu::CpuBackend;
use gengpu::optim::Adam;
use rand::Rng;

#[test]
fn adam_consecutive_steps() {
    let Some(mut gpu) = gpu("adam") else { return };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("adam");
    for (k, &n) in [1usize, 7, 256, 257, 1000, 4099].iter().enumerate() {
        for weight_decay in [0.0, 0.01] {
            let [o_p, o_g, o_m, o_v] = if k % 2 == 0 {
                [0, 0, 0, 0]
            } else {
                [17, 3, 29, 8]
            };
            let params = values(&mut rng, n, -1.0, 1.0);
            // One gradient per step, with exact zeros in them.
            let grads: Vec<Vec<f32>> = (0..5)
                .map(|_| {
                    let mut g = values(&mut rng, n, -1.0, 1.0);
                    g.iter_mut().for_each(|v| {
                        if rng.random_bool(0.05) {
                            *v = 0.0;
                        }
                    });
                    g
                })
                .collect();
            let hyper = Adam {
                lr: 1e-2,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay,
            };
            let what =
                format!("adam n={n} weight_decay {weight_decay} offsets {o_p}/{o_g}/{o_m}/{o_v}");
            let (got, want) = both(&mut gpu, &mut cpu, |be| {
                let tp = input(be, 1, n, o_p, &params);
                let tg = input(be, 1, n, o_g, &grads[0]);
                let tm = input(be, 1, n, o_m, &vec![0.0; n]);
                let tv = input(be, 1, n, o_v, &vec![0.0; n]);
                let mut states = Vec::new();
                for (step, g) in (1..=5).zip(&grads) {
                    be.upload(&tg.view, g).unwrap();
                    be.adam(&hyper.at_step(step), &tp.view, &tg.view, &tm.view, &tv.view)
                        .unwrap();
                    states.push([
                        read(be, &tp, &what),
                        read(be, &tm, &what),
                        read(be, &tv, &what),
                    ]);
                }
                states
            });
            for (step, (g, w)) in (1..).zip(got.iter().zip(&want)) {
                // No transcendental: at most a rounding (an fma, a division or square root
                // within a few ULP) apart.
                assert_close(
                    &format!("{what} step {step} params"),
                    &g[0],
                    &w[0],
                    1e-7,
                    1e-6,
                );
                assert_close(
                    &format!("{what} step {step} m"),
                    &g[1],
                    &w[1],
                    1e-12,
                    2.0 * ULP,
                );
                assert_close(
                    &format!("{what} step {step} v"),
                    &g[2],
                    &w[2],
                    1e-15,
                    2.0 * ULP,
                );
            }
            // The parameters did move, and by at most a few lr per step.
            let moved = want[4][0]
                .iter()
                .zip(&params)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                moved > 0.0 && moved < 5.0 * 4.0 * hyper.lr,
                "{what}: parameters moved by {moved}"
            );
        }
    }
}

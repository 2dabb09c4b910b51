//! Parity of the adam family: consecutive Adam (AdamW) steps against the CPU reference.
//!
//! Kernel `shaders/adam.wgsl`, GPU host `src/backend/gpu/kernels/adam.rs`, CPU twin
//! `src/backend/cpu/adam.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::accuracy::{Approx, assert_within};
use common::parity::{input, read, run_all};
use common::{gpu, rng, values};
use gengpu::backend::AdamStep;
use gengpu::optim::Adam;
use rand::Rng;

/// `1 − β^t` as adam.wgsl's `bias_correction` computes it from `t` and the host's f32 `ln β`,
/// around its true value (which the CPU backend takes from f64): a series below y = −t·ln β =
/// 1/8, `1 − exp(−y)` above, either one where the computed y may fall on both sides.
fn bias_correction(t: u32, beta: f32) -> Approx {
    let ln = f64::from(beta).ln();
    // ln β is rounded to f32 on the host: half an ULP.
    let ln = Approx {
        exact: ln,
        err: ln.abs() * f64::from(f32::EPSILON) / 2.0,
    };
    let y = Approx::from(t as f32).mul(ln).neg();
    let truth = -(-y.exact).exp_m1();
    let one = Approx::from(1.0);
    let inner = one.sub(y.div(5.0));
    let inner = one.sub(y.div(4.0).mul(inner));
    let inner = one.sub(y.div(3.0).mul(inner));
    let series = y.mul(one.sub(y.div(2.0).mul(inner)));
    let direct = one.sub(y.neg().exp());
    let off = |b: Approx| b.err + (b.exact - truth).abs();
    let err = if (y.exact - 0.125).abs() <= y.err {
        off(series).max(off(direct))
    } else if y.exact < 0.125 {
        off(series)
    } else {
        off(direct)
    };
    Approx { exact: truth, err }
}

/// One Adam update of one parameter as adam.wgsl computes it: `(p, m, v)` after gradient `g`.
fn adam_model(s: &AdamStep, (p, m, v): (Approx, Approx, Approx), g: f32) -> [Approx; 3] {
    let g = Approx::from(g);
    let step_size = Approx::from(s.lr).div(bias_correction(s.t, s.beta1));
    let inv_sqrt_bc2 = bias_correction(s.t, s.beta2).inverse_sqrt();
    let m = m.add(Approx::from(1.0).sub(s.beta1).mul(g.sub(m)));
    let v = v.add(Approx::from(1.0).sub(s.beta2).mul(g.mul(g).sub(v)));
    let denom = v.sqrt().mul(inv_sqrt_bc2).add(s.eps);
    let p = p.mul(s.decay).sub(step_size.mul(m).div(denom));
    [p, m, v]
}

#[test]
fn adam_consecutive_steps() {
    let Some(mut gpu) = gpu("adam") else { return };
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
                ..Adam::pytorch(1e-2)
            };
            let what =
                format!("adam n={n} weight_decay {weight_decay} offsets {o_p}/{o_g}/{o_m}/{o_v}");
            let runs = run_all(&mut gpu, |be| {
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
            // Five steps of the model, each from the last one's bounds.
            let mut state: Vec<[Approx; 3]> = params
                .iter()
                .map(|&p| [Approx::from(p), Approx::from(0.0), Approx::from(0.0)])
                .collect();
            for (step, g) in (1..=5).zip(&grads) {
                let s = hyper.at_step(step);
                for (st, &g) in state.iter_mut().zip(g) {
                    *st = adam_model(&s, (st[0], st[1], st[2]), g);
                }
                for (who, got) in runs.each() {
                    let got = &got[step as usize - 1];
                    for (k, name) in ["params", "m", "v"].iter().enumerate() {
                        let model: Vec<Approx> = state.iter().map(|st| st[k]).collect();
                        assert_within(
                            &format!("{what} step {step} {name}, {who}"),
                            &got[k],
                            &model,
                        );
                    }
                }
            }
            // The parameters did move, and by at most a few lr per step.
            let moved = runs.cpu[4][0]
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

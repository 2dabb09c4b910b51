//! Parity of the batchnorm family: batch normalization, GPU against the CPU reference (training
//! and evaluation modes, fused activations, offsets into larger buffers), and the CPU backward
//! against finite differences.
//!
//! Kernel `shaders/batchnorm.wgsl`, GPU host `src/backend/gpu/kernels/batchnorm.rs`, CPU twin
//! `src/backend/cpu/batchnorm.rs`.

mod common;

use common::accuracy::{Approx, assert_within};
use common::formulas::{activation, activation_derivative};
use common::parity::run_all;
use common::{POISON, gpu, rng, values};
use gengpu::backend::cpu::CpuBackend;
use gengpu::backend::{Activation, Backend, BatchNormHyper, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;

const NORM: BatchNormHyper = BatchNormHyper {
    eps: 1e-5,
    momentum: 0.1,
};

struct Inputs {
    x: Vec<f32>,
    gb: Vec<f32>,
    running: Vec<f32>,
    dy: Vec<f32>,
}

/// Forward (training, then evaluation) and backward; returns everything they write.
fn run(
    be: &mut dyn Backend,
    rows: usize,
    cols: usize,
    act: Activation,
    inp: &Inputs,
    poison: f32,
) -> Vec<Vec<f32>> {
    // Parameters and gradients as views at an offset into flat buffers, as in the models.
    let params = be.alloc(1, 3 + 2 * cols).unwrap();
    let grads = be.alloc(1, 5 + 2 * cols).unwrap();
    let gb = params.view(3, 2, cols);
    let dgb = grads.view(5, 2, cols);
    let x = be.alloc(rows, cols).unwrap();
    let saved = be.alloc(2, cols).unwrap();
    let running_flat = be.alloc(1, 7 + 2 * cols).unwrap();
    let running = running_flat.view(7, 2, cols);
    let (y, y_eval, dy, dx): (Tensor, Tensor, Tensor, Tensor) = (
        be.alloc(rows, cols).unwrap(),
        be.alloc(rows, cols).unwrap(),
        be.alloc(rows, cols).unwrap(),
        be.alloc(rows, cols).unwrap(),
    );
    be.upload(&x, &inp.x).unwrap();
    be.upload(&gb, &inp.gb).unwrap();
    be.upload(&running, &inp.running).unwrap();
    be.upload(&dy, &inp.dy).unwrap();
    for t in [&y, &y_eval, &dx, &grads, &saved] {
        be.fill(t, poison).unwrap();
    }
    be.batch_norm(&x, &gb, &saved, &running, act, NORM, true, &y)
        .unwrap();
    be.batch_norm_backward(&x, &gb, &saved, act, &dy, &dx, &dgb)
        .unwrap();
    be.batch_norm(&x, &gb, &saved, &running, act, NORM, false, &y_eval)
        .unwrap();
    [y, y_eval, saved, running, dx, dgb]
        .iter()
        .map(|t| be.read(t).unwrap())
        .collect()
}

fn inputs(rows: usize, cols: usize, seed_name: &str) -> Inputs {
    inputs_from(&mut rng(seed_name), rows, cols)
}

fn inputs_from(r: &mut StdRng, rows: usize, cols: usize) -> Inputs {
    let mut running = values(r, cols, -0.5, 0.5);
    running.extend(values(r, cols, 0.5, 2.0));
    Inputs {
        x: values(r, rows * cols, -3.0, 3.0),
        gb: values(r, 2 * cols, 0.5, 1.5),
        running,
        dy: values(r, rows * cols, -1.0, 1.0),
    }
}

/// What [`run`] writes, as batchnorm.wgsl computes it, column by column: the forward in
/// training (batch statistics, folded into the running ones), the backward through the saved
/// statistics, and the forward in evaluation from the updated running statistics.
fn model(rows: usize, cols: usize, act: Activation, inp: &Inputs) -> Vec<Vec<Approx>> {
    let zero = Approx::from(0.0);
    let mut out = [
        vec![zero; rows * cols],
        vec![zero; rows * cols],
        vec![zero; 2 * cols],
        vec![zero; 2 * cols],
        vec![zero; rows * cols],
        vec![zero; 2 * cols],
    ];
    let n = rows as f32;
    let one = Approx::from(1.0);
    for c in 0..cols {
        let x: Vec<Approx> = (0..rows)
            .map(|r| Approx::from(inp.x[r * cols + c]))
            .collect();
        let (gamma, beta) = (Approx::from(inp.gb[c]), Approx::from(inp.gb[cols + c]));
        let mean = Approx::sum(x.iter().copied()).div(n);
        let sq = Approx::sum(x.iter().map(|&x| x.sub(mean).mul(x.sub(mean))));
        let inv_std = one.div(sq.div(n).add(NORM.eps).sqrt());
        let momentum = Approx::from(NORM.momentum);
        let keep = one.sub(momentum);
        let running_mean = keep.mul(inp.running[c]).add(momentum.mul(mean));
        let running_var = keep
            .mul(inp.running[cols + c])
            .add(momentum.mul(sq.div((n - 1.0).max(1.0))));
        let eval_inv_std = one.div(running_var.add(NORM.eps).sqrt());
        let forward = |x: Approx, mean: Approx, inv_std: Approx| {
            activation(act, gamma.mul(x.sub(mean)).mul(inv_std).add(beta))
        };
        // The backward, from x̂ = (x − μ)·inv_std.
        let xhat: Vec<Approx> = x.iter().map(|&x| x.sub(mean).mul(inv_std)).collect();
        let g: Vec<Approx> = (0..rows)
            .map(|r| {
                let y = activation(act, gamma.mul(xhat[r]).add(beta));
                Approx::from(inp.dy[r * cols + c]).mul(activation_derivative(act, y))
            })
            .collect();
        let sum_g = Approx::sum(g.iter().copied());
        let sum_g_xhat = Approx::sum(g.iter().zip(&xhat).map(|(&g, &xh)| g.mul(xh)));
        let scale = gamma.mul(inv_std);
        for r in 0..rows {
            let i = r * cols + c;
            out[0][i] = forward(x[r], mean, inv_std);
            out[1][i] = forward(x[r], running_mean, eval_inv_std);
            out[4][i] = scale.mul(g[r].sub(sum_g.div(n)).sub(xhat[r].mul(sum_g_xhat).div(n)));
        }
        [out[2][c], out[2][cols + c]] = [mean, inv_std];
        [out[3][c], out[3][cols + c]] = [running_mean, running_var];
        [out[5][c], out[5][cols + c]] = [sum_g_xhat, sum_g];
    }
    out.into()
}

#[test]
fn batch_norm_matches_the_spec_bound() {
    let Some(mut gpu) = gpu("batch_norm_matches_the_spec_bound") else {
        return;
    };
    for &(rows, cols) in &[(2, 1), (7, 3), (64, 65), (33, 130)] {
        for act in [
            Activation::Identity,
            Activation::LeakyRelu(0.2),
            Activation::Tanh,
        ] {
            let inp = inputs(rows, cols, "batch_norm");
            let runs = run_all(&mut gpu, |be| {
                let poison = if be.kind() == "gpu" { POISON } else { 0.0 };
                run(be, rows, cols, act, &inp, poison)
            });
            let model = model(rows, cols, act, &inp);
            for (who, got) in runs.each() {
                for (name, (g, m)) in ["y", "y_eval", "saved", "running", "dx", "dgamma_beta"]
                    .iter()
                    .zip(got.iter().zip(&model))
                {
                    assert_within(
                        &format!("batch_norm {rows}x{cols} {act:?} {name}, {who}"),
                        g,
                        m,
                    );
                }
            }
        }
    }
}

/// Σ w∘y of a training-mode batch norm, in f64 from the CPU backend's f32 output.
fn weighted_output(inp: &Inputs, rows: usize, cols: usize, act: Activation) -> f64 {
    let mut be = CpuBackend::new();
    let out = run(&mut be, rows, cols, act, inp, 0.0);
    out[0]
        .iter()
        .zip(&inp.dy)
        .map(|(&y, &w)| f64::from(y) * f64::from(w))
        .sum()
}

#[test]
fn cpu_batch_norm_backward_matches_finite_differences() {
    let (rows, cols) = (6, 3);
    for act in [
        Activation::Identity,
        Activation::LeakyRelu(0.2),
        Activation::Tanh,
    ] {
        // A fixed draw: with random ones, a step of h now and then carries a pre-activation
        // across LeakyReLU's kink, where finite differences do not measure the derivative.
        let inp = inputs_from(&mut StdRng::seed_from_u64(7), rows, cols);
        let grads = run(&mut CpuBackend::new(), rows, cols, act, &inp, 0.0);
        let (dx, dgb) = (&grads[4], &grads[5]);
        let h = 1e-2_f32;
        let check = |analytic: f32, perturb: &dyn Fn(&mut Inputs, f32), what: String| {
            let mut plus = Inputs {
                x: inp.x.clone(),
                gb: inp.gb.clone(),
                running: inp.running.clone(),
                dy: inp.dy.clone(),
            };
            let mut minus = Inputs {
                x: inp.x.clone(),
                gb: inp.gb.clone(),
                running: inp.running.clone(),
                dy: inp.dy.clone(),
            };
            perturb(&mut plus, h);
            perturb(&mut minus, -h);
            let fd = (weighted_output(&plus, rows, cols, act)
                - weighted_output(&minus, rows, cols, act))
                / (2.0 * f64::from(h));
            let err = (fd - f64::from(analytic)).abs();
            assert!(
                err <= 2e-3 + 2e-2 * fd.abs(),
                "{what} {act:?}: analytic {analytic}, finite difference {fd}"
            );
        };
        for (i, &analytic) in dx.iter().enumerate() {
            check(
                analytic,
                &|inp: &mut Inputs, d| inp.x[i] += d,
                format!("dx[{i}]"),
            );
        }
        for (i, &analytic) in dgb.iter().enumerate() {
            check(
                analytic,
                &|inp: &mut Inputs, d| inp.gb[i] += d,
                format!("dgamma_beta[{i}]"),
            );
        }
    }
}

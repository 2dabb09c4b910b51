//! Parity of the latent family: the VAE's reparameterization, its backward and the KL divergence
//! against the CPU reference.
//!
//! Kernel `shaders/latent.wgsl`, GPU host `src/backend/gpu/kernels/latent.rs`, CPU twin
//! `src/backend/cpu/latent.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::parity::{ULP, assert_bounded, both, input, output, read};
use common::{assert_close, gpu, rng, values};
use gengpu::backend::cpu::CpuBackend;
use rand::Rng;
use rand::rngs::StdRng;

/// (rows, L) of the latent kernels.
const LATENT_SHAPES: [(usize, usize); 7] = [
    (1, 1),
    (5, 3),
    (128, 20),
    (7, 67),
    (1, 257),
    (257, 1),
    (3, 86),
];

/// `[mu | logvar]` rows: mu in [−3, 3], logvar in [−8, 4], with mu = logvar = 0 mixed in.
fn latent_stats(rng: &mut StdRng, rows: usize, l: usize) -> Vec<f32> {
    let mut stats = Vec::with_capacity(rows * 2 * l);
    for _ in 0..rows {
        stats.extend(values(rng, l, -3.0, 3.0));
        stats.extend(values(rng, l, -8.0, 4.0));
    }
    for v in stats.iter_mut() {
        if rng.random_bool(0.05) {
            *v = 0.0;
        }
    }
    stats
}

/// Standard normal draws from the test's generator (not the kernels').
fn normals(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let (u1, u2): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
            (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect()
}

#[test]
fn reparameterize_matches() {
    let Some(mut gpu) = gpu("reparameterize") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("reparameterize");
    for (k, &(rows, l)) in LATENT_SHAPES.iter().enumerate() {
        let [o_s, o_e, o_z] = if k % 2 == 0 { [0, 0, 0] } else { [7, 2, 31] };
        let stats = latent_stats(&mut rng, rows, l);
        let eps = normals(&mut rng, rows * l);
        let what = format!("reparameterize {rows}×{l} offsets {o_s}/{o_e}/{o_z}");
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let te = input(be, rows, l, o_e, &eps);
            let tz = output(be, rows, l, o_z);
            be.reparameterize(&ts.view, &te.view, &tz.view).unwrap();
            read(be, &tz, &what)
        });
        // A few ULP of each term, as mu + exp(logvar/2)·eps may cancel: two for the sum (or an
        // fma), eight for exp (llvmpipe is within 3.5; WGSL allows 3 + 2·|x|).
        let bound: Vec<f32> = (0..rows * l)
            .map(|i| {
                let (r, j) = (i / l, i % l);
                let (mu, lv) = (stats[r * 2 * l + j], stats[r * 2 * l + l + j]);
                ULP * (2.0 * mu.abs() + 8.0 * (0.5 * lv).exp() * eps[i].abs()) + 1e-30
            })
            .collect();
        assert_bounded(&what, &got, &want, &bound);
    }
}

#[test]
fn latent_backward_matches() {
    let Some(mut gpu) = gpu("latent_backward") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("latent_backward");
    for (k, &(rows, l)) in LATENT_SHAPES.iter().enumerate() {
        let [o_dz, o_s, o_e, o_out] = if k % 2 == 1 {
            [0, 0, 0, 0]
        } else {
            [5, 9, 1, 17]
        };
        let stats = latent_stats(&mut rng, rows, l);
        let eps = normals(&mut rng, rows * l);
        let dz = values(&mut rng, rows * l, -1.0, 1.0);
        let kl_scale = [1.0, 0.0, 0.37][k % 3];
        let what = format!(
            "latent_backward {rows}×{l} kl_scale {kl_scale} offsets {o_dz}/{o_s}/{o_e}/{o_out}"
        );
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let tdz = input(be, rows, l, o_dz, &dz);
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let te = input(be, rows, l, o_e, &eps);
            let out = output(be, rows, 2 * l, o_out);
            be.latent_backward(&tdz.view, &ts.view, &te.view, kl_scale, &out.view)
                .unwrap();
            read(be, &out, &what)
        });
        // A few ULP of the terms of each sum: two where there is no transcendental (an fma
        // changes the last bit), eight where there is an exp (as in reparameterize).
        let mut bound = vec![0.0f32; rows * 2 * l];
        for r in 0..rows {
            for j in 0..l {
                let (mu, lv) = (stats[r * 2 * l + j], stats[r * 2 * l + l + j]);
                let (g, e) = (dz[r * l + j], eps[r * l + j]);
                bound[r * 2 * l + j] = 2.0 * ULP * (g.abs() + (kl_scale * mu).abs()) + 1e-30;
                bound[r * 2 * l + l + j] = 8.0
                    * ULP
                    * (0.5 * (g * e).abs() * (0.5 * lv).exp() + 0.5 * kl_scale * (lv.exp() + 1.0))
                    + 1e-30;
            }
        }
        assert_bounded(&what, &got, &want, &bound);
    }
}

#[test]
fn kl_divergence_matches() {
    let Some(mut gpu) = gpu("kl_divergence") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("kl_divergence");
    for (k, &(rows, l)) in LATENT_SHAPES
        .iter()
        .chain(&[(300, 2), (2, 300)])
        .enumerate()
    {
        let [o_s, o_out] = if k % 2 == 0 { [0, 0] } else { [3, 11] };
        let stats = latent_stats(&mut rng, rows, l);
        let what = format!("kl_divergence {rows}×{l} offsets {o_s}/{o_out}");
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let out = output(be, rows, 1, o_out);
            be.kl_divergence(&ts.view, &out.view).unwrap();
            read(be, &out, &what)
        });
        assert!(
            want.iter().all(|&v| v >= 0.0),
            "{what}: KL is never negative"
        );
        assert_close(&what, &got, &want, 1e-5, 1e-4);
    }
}

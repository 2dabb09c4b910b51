//! Parity of the latent family: the VAE's reparameterization (also with stats rows broadcast over
//! several sample rows), its backward, the KL divergence and the log importance weights against
//! the CPU reference.
//!
//! Kernel `shaders/latent.wgsl`, GPU host `src/backend/gpu/kernels/latent.rs`, CPU twin
//! `src/backend/cpu/latent.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::accuracy::{Approx, assert_within};
use common::parity::{input, output, read, run_all};
use common::{gpu, rng, values};
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

/// (stats rows, L, samples per stats row) of the kernels that broadcast stats rows over sample
/// rows: every latent shape unbroadcast, then factors above 1 on awkward shapes.
fn broadcast_shapes() -> Vec<(usize, usize, usize)> {
    let broadcast = [
        (1, 1, 7),
        (5, 3, 4),
        (3, 20, 64),
        (2, 67, 3),
        (1, 257, 2),
        (257, 1, 2),
    ];
    LATENT_SHAPES
        .iter()
        .map(|&(rows, l)| (rows, l, 1))
        .chain(broadcast)
        .collect()
}

/// `(mu, logvar)` of element `i` of `rows × L` sample rows, each stats row serving `samples`.
fn broadcast_mu_logvar(stats: &[f32], l: usize, samples: usize, i: usize) -> (Approx, Approx) {
    mu_logvar(stats, l, (i / l / samples) * l + i % l)
}

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

/// `(mu, logvar)` of latent element `i` (row `i / l`, column `i % l`) of `[mu | logvar]` rows.
fn mu_logvar(stats: &[f32], l: usize, i: usize) -> (Approx, Approx) {
    let s = (i / l) * 2 * l + i % l;
    (Approx::from(stats[s]), Approx::from(stats[s + l]))
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
    let mut rng = rng("reparameterize");
    for (k, (rows, l, samples)) in broadcast_shapes().into_iter().enumerate() {
        let [o_s, o_e, o_z] = if k % 2 == 0 { [0, 0, 0] } else { [7, 2, 31] };
        let sample_rows = rows * samples;
        let stats = latent_stats(&mut rng, rows, l);
        let eps = normals(&mut rng, sample_rows * l);
        let what =
            format!("reparameterize {rows}×{l} × {samples} samples offsets {o_s}/{o_e}/{o_z}");
        let runs = run_all(&mut gpu, |be| {
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let te = input(be, sample_rows, l, o_e, &eps);
            let tz = output(be, sample_rows, l, o_z);
            be.reparameterize(&ts.view, &te.view, &tz.view).unwrap();
            read(be, &tz, &what)
        });
        // z = mu + exp(0.5·logvar)·eps
        let model: Vec<Approx> = (0..sample_rows * l)
            .map(|i| {
                let (mu, logvar) = broadcast_mu_logvar(&stats, l, samples, i);
                mu.add(Approx::from(0.5).mul(logvar).exp().mul(eps[i]))
            })
            .collect();
        for (who, got) in runs.each() {
            assert_within(&format!("{what}, {who}"), got, &model);
        }
    }
}

#[test]
fn iw_log_weight_matches() {
    let Some(mut gpu) = gpu("iw_log_weight") else {
        return;
    };
    let mut rng = rng("iw_log_weight");
    for (k, (rows, l, samples)) in broadcast_shapes().into_iter().enumerate() {
        let [o_s, o_e, o_z, o_w] = if k % 2 == 1 {
            [0, 0, 0, 0]
        } else {
            [3, 1, 6, 13]
        };
        let sample_rows = rows * samples;
        let stats = latent_stats(&mut rng, rows, l);
        let eps = normals(&mut rng, sample_rows * l);
        // z as the reparameterization makes it (its rounding does not matter: z is an input).
        let z: Vec<f32> = (0..sample_rows * l)
            .map(|i| {
                let (mu, logvar) = broadcast_mu_logvar(&stats, l, samples, i);
                (mu.exact + (0.5 * logvar.exact).exp() * f64::from(eps[i])) as f32
            })
            .collect();
        // A BCE summed over 784 pixels lies between 0 and a few hundred nats.
        let bce = values(&mut rng, sample_rows, 0.0, 600.0);
        let what =
            format!("iw_log_weight {rows}×{l} × {samples} samples offsets {o_s}/{o_e}/{o_z}/{o_w}");
        let runs = run_all(&mut gpu, |be| {
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let te = input(be, sample_rows, l, o_e, &eps);
            let tz = input(be, sample_rows, l, o_z, &z);
            // In place, so not poisoned: a row left unwritten keeps its BCE, which fails the bound.
            let tw = input(be, sample_rows, 1, o_w, &bce);
            be.iw_log_weight(&ts.view, &te.view, &tz.view, &tw.view)
                .unwrap();
            read(be, &tw, &what)
        });
        // ½ Σ_j (logvar + (eps − z)·(eps + z)), one running sum of 2·L terms, then − BCE.
        let model: Vec<Approx> = (0..sample_rows)
            .map(|r| {
                let terms = (0..l).flat_map(|j| {
                    let i = r * l + j;
                    let (_, logvar) = broadcast_mu_logvar(&stats, l, samples, i);
                    let (e, zz) = (Approx::from(eps[i]), Approx::from(z[i]));
                    [logvar, e.sub(zz).mul(e.add(zz))]
                });
                Approx::sum(terms).mul(0.5).sub(bce[r])
            })
            .collect();
        for (who, got) in runs.each() {
            assert_within(&format!("{what}, {who}"), got, &model);
        }
    }
}

#[test]
fn latent_backward_matches() {
    let Some(mut gpu) = gpu("latent_backward") else {
        return;
    };
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
        let runs = run_all(&mut gpu, |be| {
            let tdz = input(be, rows, l, o_dz, &dz);
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let te = input(be, rows, l, o_e, &eps);
            let out = output(be, rows, 2 * l, o_out);
            be.latent_backward(&tdz.view, &ts.view, &te.view, kl_scale, &out.view)
                .unwrap();
            read(be, &out, &what)
        });
        // dmu = g + k·mu; dlogvar = 0.5·g·eps·exp(0.5·logvar) + 0.5·k·(exp(logvar) − 1)
        let mut model = vec![Approx::from(0.0); rows * 2 * l];
        for i in 0..rows * l {
            let (mu, logvar) = mu_logvar(&stats, l, i);
            let (r, j) = (i / l, i % l);
            let g = Approx::from(dz[i]);
            let half = Approx::from(0.5);
            model[r * 2 * l + j] = g.add(mu.mul(kl_scale));
            model[r * 2 * l + l + j] = half
                .mul(g)
                .mul(eps[i])
                .mul(half.mul(logvar).exp())
                .add(half.mul(kl_scale).mul(logvar.exp().sub(1.0)));
        }
        for (who, got) in runs.each() {
            assert_within(&format!("{what}, {who}"), got, &model);
        }
    }
}

#[test]
fn kl_divergence_matches() {
    let Some(mut gpu) = gpu("kl_divergence") else {
        return;
    };
    let mut rng = rng("kl_divergence");
    for (k, &(rows, l)) in LATENT_SHAPES
        .iter()
        .chain(&[(300, 2), (2, 300)])
        .enumerate()
    {
        let [o_s, o_out] = if k % 2 == 0 { [0, 0] } else { [3, 11] };
        let stats = latent_stats(&mut rng, rows, l);
        let what = format!("kl_divergence {rows}×{l} offsets {o_s}/{o_out}");
        let runs = run_all(&mut gpu, |be| {
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let out = output(be, rows, 1, o_out);
            be.kl_divergence(&ts.view, &out.view).unwrap();
            read(be, &out, &what)
        });
        // −½ Σ_j (1 + logvar − mu² − exp(logvar)): one running sum of all 4·L terms.
        let model: Vec<Approx> = (0..rows)
            .map(|r| {
                let terms = (0..l).flat_map(|j| {
                    let (mu, logvar) = mu_logvar(&stats, l, r * l + j);
                    [
                        Approx::from(1.0),
                        logvar,
                        mu.mul(mu).neg(),
                        logvar.exp().neg(),
                    ]
                });
                Approx::sum(terms).mul(-0.5)
            })
            .collect();
        assert!(
            model.iter().all(|kl| kl.exact >= 0.0),
            "{what}: KL is never negative"
        );
        for (who, got) in runs.each() {
            assert_within(&format!("{what}, {who}"), got, &model);
        }
    }
}

//! The counter-based generator's draws are distributed as they should be, on the CPU (the
//! `rng` functions) and on the GPU (the fill kernels): uniform and normal moments, chi-square
//! goodness of fit over 20 equiprobable bins, normal coverage of ±1σ/±2σ/±3σ, and no correlation
//! between streams, seeds, neighbouring draws, or the two uniforms of a Box–Muller pair.
//!
//! Seeds are fixed, so every statistic is a deterministic number: the thresholds are 5σ bounds
//! (moments, coverage, correlations) and the chi-square quantile at p = 0.001, which a sound
//! generator passes and a biased one (a wrong bit shift, a lost factor of 2π, a shared key)
//! fails by a wide margin.

mod common;

use std::collections::HashSet;

use common::gpu;
use gengpu::backend::Backend;
use gengpu::backend::rng;

/// Draws per statistic: the 5σ bound of a mean is then 0.011 standard deviations.
const N: usize = 200_000;
/// The chi-square quantile for 19 degrees of freedom at p = 0.001.
const CHI2_19_P001: f64 = 43.82;
/// (seed, stream) pairs: zeros, neighbours, a typical training step, the wrap-around ends and
/// the stream of the VAE's prior samples.
const KEYS: [(u32, u32); 7] = [
    (0, 0),
    (1, 0),
    (0, 1),
    (42, 1234),
    (7, u32::MAX),
    (u32::MAX, 0),
    (u32::MAX, u32::MAX),
];

/// Upper bounds of 19 of the 20 equiprobable bins of N(0, 1): Φ⁻¹(k/20), k = 1..19.
const NORMAL_BIN_EDGES: [f64; 19] = [
    -1.644_854, -1.281_552, -1.036_433, -0.841_621, -0.674_490, -0.524_401, -0.385_320, -0.253_347,
    -0.125_661, 0.0, 0.125_661, 0.253_347, 0.385_320, 0.524_401, 0.674_490, 0.841_621, 1.036_433,
    1.281_552, 1.644_854,
];

fn mean_var(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    (mean, var)
}

/// Pearson's correlation of `a` and `b`.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let ((ma, va), (mb, vb)) = (mean_var(a), mean_var(b));
    let n = a.len().min(b.len());
    let cov = (0..n)
        .map(|i| (f64::from(a[i]) - ma) * (f64::from(b[i]) - mb))
        .sum::<f64>()
        / (n as f64 - 1.0);
    cov / (va * vb).sqrt()
}

/// Pearson's chi-square of the counts against equal expected counts.
fn chi_square(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// Checks that `u` looks like independent uniform draws from (0, 1).
#[track_caller]
fn check_uniform(what: &str, u: &[f32]) {
    let n = u.len() as f64;
    assert!(
        u.iter().all(|&v| v > 0.0 && v < 1.0),
        "{what}: a draw outside the open interval (0, 1)"
    );
    let (mean, var) = mean_var(u);
    // σ of the mean: sqrt(1/12 / n); of the sample variance: sqrt((μ4 − σ⁴)/n), μ4 = 1/80.
    let mean_tol = 5.0 * (1.0 / 12.0 / n).sqrt();
    let var_tol = 5.0 * ((1.0 / 80.0 - 1.0 / 144.0) / n).sqrt();
    assert!(
        (mean - 0.5).abs() < mean_tol,
        "{what}: mean {mean} (±{mean_tol})"
    );
    assert!(
        (var - 1.0 / 12.0).abs() < var_tol,
        "{what}: variance {var} (1/12 ± {var_tol})"
    );
    let mut counts = [0usize; 20];
    for &v in u {
        counts[((v * 20.0) as usize).min(19)] += 1;
    }
    let chi2 = chi_square(&counts);
    assert!(
        chi2 < CHI2_19_P001,
        "{what}: chi-square {chi2:.1} over 20 bins {counts:?}"
    );
    // Neighbouring draws are independent.
    let lag1 = correlation(&u[..u.len() - 1], &u[1..]);
    assert!(
        lag1.abs() < 5.0 / n.sqrt(),
        "{what}: lag-1 correlation {lag1}"
    );
    eprintln!("{what}: mean {mean:.5} variance {var:.5} chi-square {chi2:.1} lag-1 {lag1:+.4}");
}

/// Checks that `z` looks like independent standard normal draws.
#[track_caller]
fn check_normal(what: &str, z: &[f32]) {
    let n = z.len() as f64;
    assert!(
        z.iter().all(|v| v.is_finite()),
        "{what}: a NaN or infinite draw"
    );
    // Box–Muller from uniforms ≥ 2^-24 can reach sqrt(2·24·ln 2) = 5.77 at most.
    assert!(
        z.iter().all(|v| v.abs() < 5.8),
        "{what}: a draw beyond the largest radius"
    );
    let (mean, var) = mean_var(z);
    let mean_tol = 5.0 / n.sqrt();
    // σ of the sample variance: sqrt((μ4 − σ⁴)/n) = sqrt(2/n).
    let var_tol = 5.0 * (2.0 / n).sqrt();
    assert!(
        mean.abs() < mean_tol,
        "{what}: mean {mean} (0 ± {mean_tol})"
    );
    assert!(
        (var - 1.0).abs() < var_tol,
        "{what}: variance {var} (1 ± {var_tol})"
    );
    for (k, p) in [(1.0, 0.682_689), (2.0, 0.954_500), (3.0, 0.997_300)] {
        let within = z.iter().filter(|v| v.abs() <= k).count() as f64 / n;
        let tol = 5.0 * (p * (1.0 - p) / n).sqrt();
        assert!(
            (within - p).abs() < tol,
            "{what}: {:.4} % within ±{k}σ, expected {:.4} % ± {:.4}",
            100.0 * within,
            100.0 * p,
            100.0 * tol
        );
    }
    let mut counts = [0usize; 20];
    for &v in z {
        counts[NORMAL_BIN_EDGES.partition_point(|&e| e < f64::from(v))] += 1;
    }
    let chi2 = chi_square(&counts);
    assert!(
        chi2 < CHI2_19_P001,
        "{what}: chi-square {chi2:.1} over 20 bins {counts:?}"
    );
    let lag1 = correlation(&z[..z.len() - 1], &z[1..]);
    assert!(
        lag1.abs() < 5.0 / n.sqrt(),
        "{what}: lag-1 correlation {lag1}"
    );
    eprintln!("{what}: mean {mean:+.5} variance {var:.5} chi-square {chi2:.1} lag-1 {lag1:+.4}");
}

fn cpu_uniform(seed: u32, stream: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| rng::uniform(seed, stream, i as u32))
        .collect()
}

fn cpu_normal(seed: u32, stream: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| rng::normal(seed, stream, i as u32))
        .collect()
}

#[test]
fn cpu_uniform_is_uniform() {
    for (seed, stream) in KEYS {
        check_uniform(
            &format!("cpu uniform seed {seed} stream {stream}"),
            &cpu_uniform(seed, stream, N),
        );
    }
}

#[test]
fn cpu_normal_is_standard_normal() {
    for (seed, stream) in KEYS {
        check_normal(
            &format!("cpu normal seed {seed} stream {stream}"),
            &cpu_normal(seed, stream, N),
        );
    }
}

#[test]
fn uniform_covers_the_open_interval_evenly_at_the_ends() {
    // The extreme values: the smallest and largest draws are one half-cell from 0 and 1.
    assert!(rng::to_unit(0) > 0.0 && rng::to_unit(u32::MAX) < 1.0);
    assert!(1.0 - rng::to_unit(u32::MAX) > 0.0);
    assert_eq!(
        rng::to_unit(0),
        1.0 - rng::to_unit(u32::MAX),
        "symmetric about 1/2"
    );
    // 1 − u has the same distribution as u: ln(1 − u) and ln(u) are both finite.
    let u = cpu_uniform(3, 9, N);
    assert!(
        u.iter()
            .all(|&v| v.ln().is_finite() && (1.0 - v).ln().is_finite())
    );
}

/// Draws from different keys are uncorrelated, at offsets −2..=2 too (a key that merely shifted
/// the counter would show as a perfect correlation at some offset).
#[track_caller]
fn check_independent(what: &str, a: &[f32], b: &[f32]) {
    let n = a.len().min(b.len()) - 4;
    assert_ne!(&a[..16], &b[..16], "{what}: identical draws");
    for shift in 0..=4 {
        let r = correlation(&a[2..2 + n], &b[shift..shift + n]);
        assert!(
            r.abs() < 5.0 / (n as f64).sqrt(),
            "{what}: correlation {r} at offset {}",
            shift as i64 - 2
        );
    }
}

#[test]
fn streams_and_seeds_are_independent() {
    let n = N / 4;
    let pairs = [
        ((0, 0), (0, 1)),
        ((0, 0), (1, 0)),
        ((1, 0), (0, 1)),
        ((42, 1234), (42, 1235)),
        ((42, 1234), (43, 1234)),
        ((7, 0), (7, u32::MAX)),
        ((u32::MAX, 0), (0, 0)),
    ];
    for ((s1, t1), (s2, t2)) in pairs {
        let what = format!("seed {s1} stream {t1} vs seed {s2} stream {t2}");
        check_independent(
            &format!("uniform {what}"),
            &cpu_uniform(s1, t1, n),
            &cpu_uniform(s2, t2, n),
        );
        check_independent(
            &format!("normal {what}"),
            &cpu_normal(s1, t1, n),
            &cpu_normal(s2, t2, n),
        );
    }
}

#[test]
fn box_muller_pairs_are_independent() {
    // normal(i) uses the uniform draws 2i and 2i + 1: those must be uncorrelated, and the
    // normal draws built from them too (even, odd).
    let u = cpu_uniform(5, 17, 2 * N);
    let (even, odd): (Vec<f32>, Vec<f32>) = u.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
    let r = correlation(&even, &odd);
    assert!(
        r.abs() < 5.0 / (N as f64).sqrt(),
        "uniform pairs: correlation {r}"
    );
    let z = cpu_normal(5, 17, N);
    let r = correlation(&z[0..N - 1], &z[1..N]);
    assert!(
        r.abs() < 5.0 / (N as f64).sqrt(),
        "neighbouring normals: correlation {r}"
    );
    // The squared draws too: a dependence between radius and angle shows here, not in r above.
    let sq: Vec<f32> = z.iter().map(|v| v * v).collect();
    let r = correlation(&sq[0..N - 1], &sq[1..N]);
    assert!(
        r.abs() < 5.0 / (N as f64).sqrt(),
        "neighbouring squared normals: correlation {r}"
    );
}

#[test]
fn keys_of_nearby_seeds_and_streams_are_distinct() {
    // Training draws stream = step under one seed: a repeated key would repeat a step's noise.
    let mut keys = HashSet::new();
    for seed in 0..8u32 {
        for stream in (0..2048u32).chain([u32::MAX - 1, u32::MAX]) {
            assert!(
                keys.insert(rng::key(seed, stream)),
                "seed {seed} stream {stream} repeats the key of an earlier (seed, stream)"
            );
        }
    }
}

#[test]
fn streams_are_not_shifted_copies_of_each_other() {
    // With a counter simply offset by the key, stream 2 would be stream 1 shifted by the
    // difference of their keys: the key is mixed in again after the first hash so that it is not.
    for ((s1, t1), (s2, t2)) in [((0, 0), (0, 1)), ((0, 0), (1, 0)), ((42, 1234), (42, 1235))] {
        let (k1, k2) = (rng::key(s1, t1), rng::key(s2, t2));
        let shift = k2.wrapping_sub(k1);
        let same = (0..1000u32)
            .filter(|&i| rng::bits(k2, i) == rng::bits(k1, i.wrapping_add(shift)))
            .count();
        assert_eq!(
            same, 0,
            "seed {s2} stream {t2} repeats seed {s1} stream {t1} shifted by {shift}"
        );
    }
}

#[test]
fn gpu_fills_are_distributed_like_the_cpu_draws() {
    let Some(mut gpu) = gpu("rng gpu fills") else {
        return;
    };
    // Just above a multiple of the 256-invocation workgroup.
    let n = N + 1;
    for (k, &(seed, stream)) in KEYS.iter().enumerate().filter(|(k, _)| k % 2 == 0) {
        let t = gpu.alloc(1, n).unwrap();
        gpu.fill_uniform(&t, seed, stream).unwrap();
        let u = gpu.read(&t).unwrap();
        check_uniform(&format!("gpu uniform seed {seed} stream {stream}"), &u);
        gpu.fill_normal(&t, seed, stream).unwrap();
        let z = gpu.read(&t).unwrap();
        check_normal(&format!("gpu normal seed {seed} stream {stream}"), &z);
        // A second stream on the device is independent of the first.
        let (seed2, stream2) = KEYS[(k + 1) % KEYS.len()];
        let other = gpu.alloc(1, n).unwrap();
        gpu.fill_normal(&other, seed2, stream2).unwrap();
        let z2 = gpu.read(&other).unwrap();
        check_independent(
            &format!("gpu normal seed {seed} stream {stream} vs seed {seed2} stream {stream2}"),
            &z,
            &z2,
        );
    }
}

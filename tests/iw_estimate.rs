//! The importance-weighted estimate of −log p(x) (`gengpu eval --iw-samples K`) on a small VAE
//! trained for the test: it never comes out looser than the ELBO, it matches the ELBO in
//! expectation with one sample, it tightens with K, and the CPU and GPU backends agree on it.
//!
//! Margins come from the estimate's own sampling noise, measured in the test: two runs with
//! other seeds give each example's spread, and its standard error over the examples bounds how
//! far an estimate may stray from its expectation (4 standard errors: a false failure about once
//! in 16,000 runs).

mod common;

use std::path::{Path, PathBuf};

use common::cli::{scratch, succeeds, train_vae};
use common::gpu;
use gengpu::backend::Backend;
use gengpu::backend::cpu::CpuBackend;
use gengpu::data::{Dataset, resolve_test};
use gengpu::train::vae::{evaluate, importance_weighted_per_example};
use gengpu::train::{DeviceData, load_vae};

/// Standard errors an estimate may stray from its expectation.
const SIGMAS: f64 = 4.0;

/// A VAE trained for 3 epochs on 2,000 of the bundled digits (well under a second on the CPU),
/// scored on the 1,000 held out.
fn trained(name: &str) -> PathBuf {
    let out = scratch("iw", name);
    train_vae(&out, "--epochs 3 --limit 2000 --backend cpu");
    out.join("checkpoint.safetensors")
}

/// The bundled digits held out for evaluation (the data the checkpoint was scored on), or the
/// first `limit` of them.
fn test_digits(limit: usize) -> Dataset {
    let (mut test, _) =
        resolve_test(None, None, gengpu::data::Pictures::default()).expect("the bundled digits");
    test.count = test.count.min(limit);
    test.images.truncate(test.count * test.rows * test.cols);
    test.labels.truncate(test.count);
    test
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The standard error of the mean of `values`.
fn standard_error(values: &[f64]) -> f64 {
    let m = mean(values);
    let n = values.len() as f64;
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt()
}

/// `a[i] − b[i]`: paired differences, free of the spread between examples.
fn differences(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a - b).collect()
}

/// Per-example estimates with `samples` draws on `backend`, for a VAE of `batch` rows.
fn estimates(
    backend: &mut dyn Backend,
    checkpoint: &Path,
    test: &Dataset,
    batch: usize,
    seed: u32,
    samples: usize,
) -> Vec<f64> {
    let (mut vae, _) = load_vae(backend, checkpoint, batch).expect("load the checkpoint");
    let data = DeviceData::upload(backend, test).expect("upload");
    importance_weighted_per_example(backend, &mut vae, &data, seed, samples).expect("estimate")
}

#[test]
fn iw_estimate_bounds_the_elbo_and_tightens_with_samples() {
    let checkpoint = trained("bounds");
    let test = test_digits(usize::MAX);
    let cpu = &mut CpuBackend::new();
    let elbo = {
        let (mut vae, _) = load_vae(cpu, &checkpoint, 128).expect("load");
        let data = DeviceData::upload(cpu, &test).expect("upload");
        evaluate(cpu, &mut vae, &data, 7).expect("ELBO").0
    };
    let run = |cpu: &mut CpuBackend, seed, samples| {
        estimates(cpu, &checkpoint, &test, 1024, seed, samples)
    };
    let (k1, k1_again) = (run(cpu, 1, 1), run(cpu, 2, 1));
    let (k10, k100) = (run(cpu, 1, 10), run(cpu, 1, 100));
    // Two independent K = 1 runs: their paired difference has √2 times one run's noise.
    let k1_error = standard_error(&differences(&k1, &k1_again)) / 2f64.sqrt();
    let (iw1, iw10, iw100) = (mean(&k1), mean(&k10), mean(&k100));
    let report = format!(
        "ELBO {elbo:.3}; IW K=1 {iw1:.3} (± {k1_error:.3}), K=10 {iw10:.3}, K=100 {iw100:.3}"
    );
    eprintln!("{report}");
    assert!(iw100.is_finite() && iw100 > 50.0, "{report}");
    // One draw is the ELBO with a sampled KL: equal in expectation. The ELBO's own noise (one
    // draw, analytic KL) is at most about a K = 1 run's, hence √2.
    assert!(
        (iw1 - elbo).abs() <= SIGMAS * 2f64.sqrt() * k1_error,
        "K = 1 should match the ELBO in expectation: {report}"
    );
    // More draws never loosen the bound (in expectation), here beyond each step's noise.
    for (looser, tighter, what) in [(&k1, &k10, "K=1 ≥ K=10"), (&k10, &k100, "K=10 ≥ K=100")] {
        let d = differences(looser, tighter);
        assert!(
            mean(&d) >= -SIGMAS * standard_error(&d),
            "{what} fails: {report}"
        );
    }
    assert!(
        iw10 < elbo && iw100 < elbo,
        "never looser than the ELBO: {report}"
    );
}

#[test]
fn iw_estimate_agrees_on_cpu_and_gpu() {
    let Some(mut gpu) = gpu("iw_estimate_agrees_on_cpu_and_gpu") else {
        return;
    };
    let checkpoint = trained("gpu");
    let test = test_digits(12);
    // Batches of 64 rows: 7 draws split the 12 digits into two chunks; 150 draws take three
    // chunks per digit, the last one partial.
    for samples in [7, 150] {
        let on_cpu = estimates(&mut CpuBackend::new(), &checkpoint, &test, 64, 3, samples);
        let on_gpu = estimates(&mut gpu, &checkpoint, &test, 64, 3, samples);
        // The same draws on both (the generator is shared): only rounding differs. Each weight
        // sums 784 BCE terms of logits from 400-term matmuls (atol 1e-5, rtol 1e-4 each), which
        // moves a weight by far less than 0.05 nats (llvmpipe: 1.6e-4); a log-sum-exp moves no
        // more than its terms.
        let worst = on_cpu
            .iter()
            .zip(&on_gpu)
            .map(|(c, g)| (c - g).abs())
            .fold(0.0, f64::max);
        eprintln!("K = {samples}: largest cpu−gpu difference {worst:e} nats");
        for (i, (c, g)) in on_cpu.iter().zip(&on_gpu).enumerate() {
            assert!(
                (c - g).abs() <= 0.05,
                "K = {samples}, digit {i}: cpu {c}, gpu {g}"
            );
        }
    }
}

#[test]
fn eval_reports_the_iw_estimate_beside_the_elbo() {
    let checkpoint = trained("cli");
    let checkpoint = checkpoint.to_str().expect("utf-8");
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--checkpoint", checkpoint, "--backend", "cpu"];
        args.extend(extra);
        String::from_utf8(succeeds(&args).stdout).expect("utf-8")
    };
    let json = eval(&["--iw-samples", "20", "--json"]);
    let report: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    let (loss, nll) = (report["test_loss"].as_f64(), report["iw_nll"].as_f64());
    let (loss, nll) = (loss.expect("test_loss"), nll.expect("iw_nll"));
    assert_eq!(report["iw_samples"], 20, "{report}");
    assert!(nll < loss && nll > 50.0, "{report}");

    let off = eval(&["--json"]);
    let off: serde_json::Value = serde_json::from_str(off.trim()).expect("one JSON object");
    assert!(off.get("iw_nll").is_none(), "no estimate by default: {off}");

    let sentence = eval(&["--iw-samples", "3"]);
    assert!(
        sentence.contains("importance-weighted −log p(x)") && sentence.contains("(3 samples)"),
        "{sentence}"
    );
}

/// A dynamically binarized VAE (`--binarize`) is trained and evaluated on binarized digits:
/// its settings say so, one seed gives one ELBO and another seed fresh draws, the grey digits
/// give yet another, and the IW estimate on binarized digits still bounds the ELBO.
#[test]
fn binarized_runs_draw_fresh_binary_digits() {
    let out = scratch("iw", "binarize");
    train_vae(&out, "--epochs 2 --limit 1000 --backend cpu --binarize");
    let config = std::fs::read_to_string(out.join("config.json")).expect("config.json");
    assert!(config.contains("\"binarize\": true"), "{config}");
    let test = test_digits(300);
    let cpu = &mut CpuBackend::new();
    let (mut vae, _) = load_vae(cpu, &out.join("checkpoint.safetensors"), 128).expect("load");
    assert!(vae.config.binarize);
    let data = DeviceData::upload(cpu, &test).expect("upload");
    let mut elbo =
        |vae: &mut gengpu::model::Vae, seed| evaluate(cpu, vae, &data, seed).expect("ELBO").0;
    let (first, again, other) = (elbo(&mut vae, 1), elbo(&mut vae, 1), elbo(&mut vae, 2));
    assert_eq!(first, again);
    assert_ne!(first, other);
    vae.config.binarize = false;
    assert_ne!(elbo(&mut vae, 1), first);
    vae.config.binarize = true;
    let iw = importance_weighted_per_example(cpu, &mut vae, &data, 1, 50).expect("estimate");
    assert!(
        mean(&iw) < first,
        "IW {} against the ELBO {first}",
        mean(&iw)
    );
}

//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub mod accuracy;
pub mod cli;
pub mod formulas;
pub mod parity;

use gengpu::backend::BackendError;
use gengpu::backend::gpu::{AdapterChoice, GpuBackend};
use gengpu::backend::select::{BackendChoice, adapter_choice};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The GPU backend on the adapter `--backend gpu` would take (any adapter, llvmpipe included,
/// or the one `WGPU_ADAPTER_NAME` names; `WGPU_BACKEND` and `GENGPU_LIMITS` apply), or `None`
/// when there is none and `GENGPU_REQUIRE_GPU` is unset, after saying so. With
/// `GENGPU_REQUIRE_GPU=1`, as in CI, a missing adapter fails the test.
pub fn gpu(test: &str) -> Option<GpuBackend> {
    match open_gpu() {
        Ok(backend) => Some(backend),
        Err(e) if std::env::var("GENGPU_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("GENGPU_REQUIRE_GPU=1 but the GPU backend is unavailable: {e}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED {test}: no GPU adapter ({e}); set GENGPU_REQUIRE_GPU=1 to make this a failure"
            );
            None
        }
    }
}

fn open_gpu() -> Result<GpuBackend, BackendError> {
    let choice = adapter_choice(BackendChoice::Gpu, None)?.map_or(AdapterChoice::Any, |(c, _)| c);
    GpuBackend::new(choice)
}

/// One GPU backend shared by the tests of a test binary, for those that run many small cases:
/// opening a device builds every pipeline, which costs a fraction of a second on llvmpipe.
/// `None` (after saying so) as [`gpu`] does when there is no adapter.
pub fn shared_gpu(test: &str) -> Option<std::sync::MutexGuard<'static, GpuBackend>> {
    static SHARED: std::sync::OnceLock<Option<std::sync::Mutex<GpuBackend>>> =
        std::sync::OnceLock::new();
    let shared = SHARED.get_or_init(|| gpu(test).map(std::sync::Mutex::new));
    match shared {
        // A test that failed while holding the backend leaves it usable for the others.
        Some(backend) => Some(backend.lock().unwrap_or_else(|e| e.into_inner())),
        None => {
            eprintln!("SKIPPED {test}: no GPU adapter");
            None
        }
    }
}

/// MNIST's real test set, from the project's shared data beside the checkout
/// (`../shared/data/mnist-t10k`: for tests and CI only, never copied into the repository), or
/// `None` after saying that `test` skips what needs it (a clone elsewhere has no such folder).
/// With `GENGPU_REQUIRE_GPU=1`, as in CI, where everything must run, its absence is a failure.
pub fn shared_t10k(test: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist-t10k");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("GENGPU_REQUIRE_GPU").is_ok_and(|v| v == "1") {
        panic!("GENGPU_REQUIRE_GPU=1 but {} is missing", dir.display());
    }
    eprintln!(
        "SKIPPED {test} (the part with MNIST's test set): {} is missing",
        dir.display()
    );
    None
}

/// A seeded generator, so that a failure can be reproduced; the seed is printed.
pub fn rng(test: &str) -> StdRng {
    let seed = std::env::var("GENGPU_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("{test}: GENGPU_TEST_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

/// `n` values uniform in [lo, hi).
pub fn values(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Fails unless `|got − want| ≤ atol + rtol·|want|` everywhere; NaN never passes.
#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut worst: Option<(usize, f32)> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let ok = err <= atol + rtol * w.abs();
        if !ok || g.is_nan() || w.is_nan() {
            let excess = if err.is_nan() { f32::INFINITY } else { err };
            if worst.is_none_or(|(_, e)| excess > e) {
                worst = Some((i, excess));
            }
        }
    }
    if let Some((i, _)) = worst {
        panic!(
            "{what}: element {i} is {} but the reference is {} (atol {atol}, rtol {rtol})",
            got[i], want[i]
        );
    }
}

/// The value every GPU output is set to before a kernel runs, so that an element the kernel
/// leaves unwritten fails the comparison.
pub const POISON: f32 = f32::NAN;

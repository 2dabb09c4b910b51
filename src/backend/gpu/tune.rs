//! Autotuning: the matmul variants that fit a product are timed on the device in use, once
//! per shape class, and the fastest is used from then on. Winners are cached per adapter and
//! driver in a small JSON file in the user's cache folder (`<cache>/gengpu/matmul-tuning.json`,
//! safe to delete), so a later run tunes nothing it has seen. `--no-autotune` or
//! `GENGPU_NO_AUTOTUNE=1` pins the default variant of each form.
//!
//! Tuning runs the candidates on the call's own operands (reading A and B, writing C, which the
//! call then overwrites), after submitting what the step had recorded so far: the first step
//! of a run may have an extra submit and host wait per new class. Its cost is bounded: each
//! candidate runs twice (a warm-up, which on llvmpipe includes compiling it, then a timed run),
//! and only those within [`CLOSE`] of the best run [`RECHECKS`] more times; products below
//! [`MIN_TUNED_FLOP`] are not tuned, and a process stops tuning after [`BUDGET_SECONDS`]. Each
//! tuned class is announced on stderr with every candidate's time.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use super::GpuBackend;
use super::context::AdapterSummary;
use super::kernels::matmul::{self, Variant};
use crate::backend::{Activation, MatmulForm, Result, Tensor};

/// Setting this to `1` turns autotuning off (as `--no-autotune` does).
pub const NO_AUTOTUNE_VARIABLE: &str = "GENGPU_NO_AUTOTUNE";
/// The cache file's name in `<cache>/gengpu/`.
const CACHE_FILE: &str = "matmul-tuning.json";
/// Candidates whose first time is within this factor of the best are timed again.
const CLOSE: f64 = 1.3;
/// Further runs of each close candidate; the minimum counts.
const RECHECKS: usize = 2;
/// Products smaller than this run the default untuned: their time is mostly the dispatch's
/// own, which no variant changes, and tuning them would cost more than it saves.
const MIN_TUNED_FLOP: u64 = 16_000_000;
/// Most seconds one process spends tuning; past it, new classes run the default untuned (and
/// are tuned by a later run).
const BUDGET_SECONDS: f64 = 1.0;

/// Shape class → winning variant name, per device key.
type CacheFile = BTreeMap<String, BTreeMap<String, String>>;

/// What the GPU backend knows of tuning.
pub(crate) struct Tuner {
    enabled: bool,
    /// A variant every matmul uses where it fits (tests), else the default.
    pinned: Option<&'static Variant>,
    /// This device's winners by shape class: from the cache file, and tuned in this run.
    winners: HashMap<String, &'static Variant>,
    /// Where winners are kept; `None` when there is no cache folder.
    path: Option<PathBuf>,
    device_key: String,
    /// Seconds spent tuning in this process.
    spent: f64,
}

impl Tuner {
    /// The tuner for `adapter`, with its cached winners; off when `GENGPU_NO_AUTOTUNE=1`.
    pub(crate) fn new(adapter: &AdapterSummary) -> Self {
        let device_key = device_key(adapter);
        let path = cache_path();
        let winners = path
            .as_ref()
            .map(|p| read_cache(p))
            .unwrap_or_default()
            .remove(&device_key)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(class, name)| Some((class, matmul::variant_named(&name)?)))
            .collect();
        let enabled = std::env::var(NO_AUTOTUNE_VARIABLE).map_or(true, |v| v != "1");
        Tuner {
            enabled,
            pinned: None,
            winners,
            path,
            device_key,
            spent: 0.0,
        }
    }

    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    pub(crate) fn pin(&mut self, variant: Option<&'static Variant>) {
        self.pinned = variant;
    }

    /// Adds a winner and writes the cache file (merged with what other runs wrote there).
    fn remember(&mut self, class: String, winner: &'static Variant) {
        self.winners.insert(class.clone(), winner);
        let Some(path) = &self.path else { return };
        let mut file = read_cache(path);
        file.entry(self.device_key.clone())
            .or_default()
            .insert(class, winner.name.to_string());
        let written = serde_json::to_vec_pretty(&file)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                std::fs::create_dir_all(path.parent().unwrap_or(path))?;
                crate::fsutil::write_atomically(path, &bytes)
            });
        if let Err(e) = written {
            eprintln!(
                "autotune: cannot keep the winners in {}: {e}",
                path.display()
            );
            self.path = None;
        }
    }
}

/// The cached winners of `adapter`, by shape class (what `gengpu info` shows).
pub fn cached_winners(adapter: &AdapterSummary) -> Vec<(String, String)> {
    let Some(path) = cache_path() else {
        return Vec::new();
    };
    read_cache(&path)
        .remove(&device_key(adapter))
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The cache file, shown by `gengpu info`.
pub fn cache_path() -> Option<PathBuf> {
    Some(crate::data::cache_folder(CACHE_FILE))
}

/// What identifies a device's tuning: the adapter, its API and its driver version.
fn device_key(adapter: &AdapterSummary) -> String {
    format!(
        "{} | {} | {}",
        adapter.name, adapter.backend, adapter.driver
    )
}

/// A missing, unreadable or malformed file is an empty cache (it is safe to delete).
fn read_cache(path: &std::path::Path) -> CacheFile {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Products in one class want the same variant: the same form and candidates, and each
/// dimension in the same power-of-two bracket.
fn shape_class(
    form: MatmulForm,
    (m, n, k): (usize, usize, usize),
    candidates: &[&Variant],
) -> String {
    let names: Vec<&str> = candidates.iter().map(|v| v.name).collect();
    format!(
        "{form:?} m{} n{} k{} [{}]",
        m.next_power_of_two(),
        n.next_power_of_two(),
        k.next_power_of_two(),
        names.join(",")
    )
}

/// The variant to run for this product: the pinned one where it fits; else the default when
/// tuning is off, only one variant fits, or the product is small; else the class's winner,
/// tuned now if the class is new and the budget allows (which may overwrite `c`).
pub(crate) fn choose(
    gpu: &mut GpuBackend,
    form: MatmulForm,
    dims: (usize, usize, usize),
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
) -> Result<&'static Variant> {
    let candidates = matmul::candidates(form, dims, a, b, gpu.ctx.adapter.subgroup_lanes);
    let default = candidates[0];
    if let Some(pinned) = gpu.tuner.pinned {
        return Ok(if candidates.iter().any(|v| std::ptr::eq(*v, pinned)) {
            pinned
        } else {
            default
        });
    }
    let small = crate::backend::matmul_flop(dims) < MIN_TUNED_FLOP;
    if !gpu.tuner.enabled || candidates.len() == 1 || small {
        return Ok(default);
    }
    let class = shape_class(form, dims, &candidates);
    if let Some(&winner) = gpu.tuner.winners.get(&class) {
        return Ok(winner);
    }
    if gpu.tuner.spent >= BUDGET_SECONDS {
        return Ok(default);
    }
    let started = Instant::now();
    let winner = measure(gpu, form, dims, a, b, c, &candidates, &class)?;
    gpu.tuner.spent += started.elapsed().as_secs_f64();
    gpu.tuner.remember(class, winner);
    Ok(winner)
}

/// Times every candidate on the operands and returns the fastest.
#[allow(clippy::too_many_arguments)]
fn measure(
    gpu: &mut GpuBackend,
    form: MatmulForm,
    dims: (usize, usize, usize),
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    candidates: &[&'static Variant],
    class: &str,
) -> Result<&'static Variant> {
    let started = Instant::now();
    // What the step recorded so far goes first, so that it is not in the candidates' times.
    gpu.recorder.submit(&gpu.ctx)?;
    let time = |gpu: &mut GpuBackend, variant: &Variant| -> Result<f64> {
        matmul::record(
            gpu,
            variant,
            form,
            dims,
            a,
            b,
            None,
            Activation::Identity,
            c,
        )?;
        gpu.recorder.finish_timed(&gpu.ctx)
    };
    let mut times = Vec::with_capacity(candidates.len());
    for &variant in candidates {
        // The first run of a pipeline may include its compilation (llvmpipe compiles on first
        // use): it warms up, the second is timed.
        time(gpu, variant)?;
        times.push(time(gpu, variant)?);
    }
    let first_best = times.iter().copied().fold(f64::INFINITY, f64::min);
    for (i, &variant) in candidates.iter().enumerate() {
        if times[i] <= CLOSE * first_best {
            for _ in 0..RECHECKS {
                times[i] = times[i].min(time(gpu, variant)?);
            }
        }
    }
    let best = (0..candidates.len())
        .min_by(|&i, &j| times[i].total_cmp(&times[j]))
        .expect("at least two candidates");
    let others: Vec<String> = candidates
        .iter()
        .zip(&times)
        .map(|(v, t)| format!("{} {:.2}", v.name, t * 1e3))
        .collect();
    eprintln!(
        "autotune: {class}: {} (ms: {}; tuning took {:.0} ms)",
        candidates[best].name,
        others.join(", "),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(candidates[best])
}

//! `gengpu train vae|gan|classifier`, fresh or resumed (`--resume`), stopped cleanly by SIGINT or SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use anyhow::{Context, Result, bail};

use super::args::CommonTrainArgs;
use super::open_backend;
use gengpu::checkpoint::Checkpoint;
use gengpu::train::{self, CHECKPOINT, CheckpointMeta, ModelSettings, Outcome, Progress};

/// A run stopped by `signal` after writing its checkpoint (the binary exits with 128 + it).
#[derive(Debug, thiserror::Error)]
#[error("stopped by signal {signal}")]
pub struct Stopped {
    pub signal: usize,
}

/// The folder new runs go into, one per model and version.
const RUNS: &str = "runs";

/// Arguments a resumed run may be given: they change where and how it runs, not what it is.
const HARMLESS: [&str; 12] = [
    "epochs",
    "out",
    "overwrite",
    "resume",
    "backend",
    "adapter",
    "no_autotune",
    "keep",
    "log_every",
    "score_every",
    "score_samples",
    "classifier",
];

/// Where in the settings' JSON each other argument lands, to tell an argument that repeats
/// the checkpoint's value from one that changes it.
const SETTING_OF: [(&str, &[&str]); 18] = [
    ("seed", &["run", "seed"]),
    ("batch_size", &["run", "batch_size"]),
    ("data", &["run", "data", "data"]),
    ("test_data", &["run", "data", "test_data"]),
    ("limit", &["run", "data", "limit"]),
    ("lr", &["optimizer", "lr"]),
    ("beta1", &["optimizer", "beta1"]),
    ("beta2", &["optimizer", "beta2"]),
    ("latent", &["config", "latent"]),
    ("hidden", &["config", "hidden"]),
    ("g_hidden", &["config", "g_hidden"]),
    ("d_hidden", &["config", "d_hidden"]),
    ("bn_eps", &["config", "batch_norm", "eps"]),
    ("max_shift", &["config", "max_shift"]),
    ("real_label", &["config", "real_label"]),
    ("binarize", &["config", "binarize"]),
    ("lr_schedule", &["optimizer", "schedule"]),
    ("weight_decay", &["optimizer", "weight_decay"]),
];

/// Trains the model `model` names: a new run with the settings `settings` builds for the
/// data's image size, or with `--resume` the checkpoint's run, continued.
pub fn run(
    common: &CommonTrainArgs,
    explicit: &[String],
    model: &str,
    settings: impl FnOnce((usize, usize, usize)) -> ModelSettings,
) -> Result<()> {
    let resumed = match &common.resume {
        Some(path) => Some(resumed_run(path, common, explicit, model)?),
        None => None,
    };
    let spec = match &resumed {
        Some((_, meta, _)) => meta.settings.run().data.clone(),
        None => common.data.spec(),
    };
    let data = gengpu::data::resolve_sized(
        spec.data.as_deref(),
        spec.test_data.as_deref(),
        spec.limit,
        spec.pictures(),
    )
    .context("cannot load the data")?;
    // The description gives the counts.
    eprintln!("data: {}", data.description);
    let mut asked = settings((data.train.rows, data.train.cols, data.train.channels));
    let settings = match &resumed {
        Some((file, meta, settings)) => {
            refuse_changes(explicit, &meta.settings, &asked, file.path())?;
            settings.clone()
        }
        None => {
            asked.run_mut().out = new_run_folder(common, model)?;
            asked
        }
    };
    let out = settings.run().out.clone();
    let mut backend = open_backend(&common.backend)?;
    let stop = stop_on_signals().context("cannot install the signal handlers")?;
    let progress = resumed
        .as_ref()
        .map(|(file, meta, _)| (Progress::of(meta), file));
    if let Some((p, _)) = &progress {
        eprintln!(
            "resuming after epoch {} (+{} steps), {} steps in all",
            p.epoch, p.epoch_step, p.steps
        );
    }
    // An older run's checkpoint in an `--overwrite` folder is not this run's to offer.
    let written_at = || {
        std::fs::metadata(out.join(CHECKPOINT))
            .and_then(|m| m.modified())
            .ok()
    };
    let older_checkpoint = written_at().filter(|_| resumed.is_none());
    let outcome = train::train(
        backend.as_mut(),
        &data,
        &settings,
        progress.as_ref().map(|(p, file)| (p, *file)),
        &stop,
    );
    let resume_hint = || format!("gengpu train {model} --resume {}", out.display());
    match outcome {
        Ok(Outcome::Finished(_)) => {
            eprintln!("wrote {}", out.display());
            Ok(())
        }
        Ok(Outcome::Stopped {
            signal,
            epoch,
            epoch_step,
            checkpoint,
        }) => {
            eprintln!(
                "stopped by signal {signal} after step {epoch_step} of epoch {epoch}; the \
                 checkpoint is {}; continue with: {}",
                checkpoint.display(),
                resume_hint()
            );
            Err(Stopped { signal }.into())
        }
        Err(e) => {
            // A lost device, memory, a diverged loss: the last checkpoint is as it was.
            if written_at().is_some_and(|at| Some(at) != older_checkpoint) {
                eprintln!(
                    "the last checkpoint, {}, is kept; continue from it with: {}",
                    out.join(CHECKPOINT).display(),
                    resume_hint()
                );
            }
            Err(e.into())
        }
    }
}

/// Where a new run writes: `--out` (refused if another run's outputs are there, unless
/// `--overwrite`), or the next `runs/<model>/version_N`, with `runs/latest` pointing to it.
fn new_run_folder(common: &CommonTrainArgs, model: &str) -> Result<PathBuf> {
    if let Some(out) = &common.out {
        let probe = train::RunOptions {
            out: out.clone(),
            ..Default::default()
        };
        if probe.holds_a_run() && !common.overwrite {
            bail!(
                "{} holds another run's outputs: pass --overwrite to replace them, --resume {} \
                 to continue that run, or another --out",
                out.display(),
                out.display()
            );
        }
        return Ok(out.clone());
    }
    let runs = Path::new(RUNS);
    let parent = runs.join(model);
    let next = std::fs::read_dir(&parent)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_prefix("version_")?
                        .parse::<usize>()
                        .ok()
                })
                .max()
                .map_or(0, |n| n + 1)
        })
        .unwrap_or(0);
    let out = parent.join(format!("version_{next}"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    point_latest_to(runs, &out);
    Ok(out)
}

/// `runs/latest` → the newest run folder: a symbolic link where the system has them. A
/// failure here costs only the convenience, so it is said and not fatal.
fn point_latest_to(runs: &Path, out: &Path) {
    let latest = runs.join("latest");
    let target = match out.strip_prefix(runs) {
        Ok(relative) => relative.to_path_buf(),
        Err(_) => out.to_path_buf(),
    };
    #[cfg(unix)]
    let linked = {
        if std::fs::symlink_metadata(&latest).is_ok_and(|m| m.file_type().is_symlink()) {
            let _ = std::fs::remove_file(&latest);
        }
        std::os::unix::fs::symlink(&target, &latest)
    };
    #[cfg(not(unix))]
    let linked = std::fs::write(runs.join("latest.txt"), target.to_string_lossy().as_bytes());
    if let Err(e) = linked {
        eprintln!(
            "note: cannot point {} to {}: {e}",
            latest.display(),
            out.display()
        );
    }
}

/// The checkpoint `path` names (a file, or a run folder holding one), its meaning, and the
/// settings the resumed run continues with: the checkpoint's, with the harmless arguments
/// given (`--epochs` the total, `--out`, …). Arguments that would change the model or the run
/// are refused.
fn resumed_run(
    path: &Path,
    common: &CommonTrainArgs,
    explicit: &[String],
    model: &str,
) -> Result<(Checkpoint, CheckpointMeta, ModelSettings)> {
    let file_path: PathBuf = if path.is_dir() {
        path.join(CHECKPOINT)
    } else {
        path.to_path_buf()
    };
    let file = Checkpoint::open(&file_path)?;
    let meta: CheckpointMeta = file.meta()?;
    let kind = meta.settings.kind();
    if kind != model {
        bail!(
            "{} holds a {kind}, not a {model}: resume it with `gengpu train {kind} --resume …`",
            file_path.display()
        );
    }
    let mut settings = meta.settings.clone();
    let run = settings.run_mut();
    let given = |id: &str| explicit.iter().any(|e| e == id);
    if let Some(epochs) = common.epochs {
        run.epochs = epochs;
    }
    if let Some(out) = &common.out {
        run.out = out.clone();
    } else if let Some(dir) = file_path.parent() {
        run.out = dir.to_path_buf();
    }
    if given("keep") {
        run.keep = common.keep;
    }
    if given("log_every") {
        run.log_every = common.log_every;
    }
    if given("score_every") {
        run.scoring.every = common.score_every;
    }
    if given("score_samples") {
        run.scoring.samples = common.score_samples;
    }
    if given("classifier") {
        run.scoring.classifier = common.classifier.clone();
    }
    if run.epochs <= meta.epoch {
        bail!(
            "{} has finished {} of its {} epochs already: --epochs is the total, so ask for \
             more than {}",
            file_path.display(),
            meta.epoch,
            meta.settings.run().epochs,
            meta.epoch
        );
    }
    Ok((file, meta, settings))
}

/// Fails if an argument other than the harmless ones was given and asks for another value
/// than the checkpoint's run has (`asked` is what the arguments would set up afresh).
fn refuse_changes(
    explicit: &[String],
    stored: &ModelSettings,
    asked: &ModelSettings,
    file: &Path,
) -> Result<()> {
    let (stored, asked) = (serde_json::to_value(stored)?, serde_json::to_value(asked)?);
    let at = |v: &serde_json::Value, path: &[&str]| {
        path.iter().fold(v.clone(), |v, key| v[*key].clone())
    };
    let mut changes = Vec::new();
    for id in explicit
        .iter()
        .filter(|id| !HARMLESS.contains(&id.as_str()))
    {
        let flag = format!("--{}", id.replace('_', "-"));
        match SETTING_OF.iter().find(|(name, _)| name == id) {
            Some((_, path)) if at(&stored, path) == at(&asked, path) => {}
            Some((_, path)) => changes.push(format!(
                "{flag} {} (the checkpoint's run has {})",
                at(&asked, path),
                at(&stored, path)
            )),
            None if id == "no_batch_norm" => {
                if at(&stored, &["config", "batch_norm"]).is_null()
                    != at(&asked, &["config", "batch_norm"]).is_null()
                {
                    changes.push(format!("{flag} (the checkpoint's generator differs)"));
                }
            }
            None => changes.push(flag),
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    bail!(
        "cannot resume {} with {}: a resumed run keeps its checkpoint's settings (it may take \
         --epochs, --out, --backend, --adapter, --keep, --log-every, --no-autotune)",
        file.display(),
        changes.join(", ")
    )
}

/// A flag the loop checks after every step: set to the signal's number by SIGINT or SIGTERM. A
/// second signal while one is pending ends the process at once (exit 128 + the signal).
fn stop_on_signals() -> std::io::Result<Arc<AtomicUsize>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicUsize::new(0));
    let pending = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees `pending` as the earlier signal left it.
        signal_hook::flag::register_conditional_shutdown(
            signal,
            128 + signal,
            Arc::clone(&pending),
        )?;
        signal_hook::flag::register(signal, Arc::clone(&pending))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&stop), signal as usize)?;
    }
    Ok(stop)
}

//! `gengpu train vae|gan|classifier`, fresh or resumed (`--resume`), stopped cleanly by SIGINT or SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use anyhow::{Context, Result, bail};

use super::args::CommonTrainArgs;
use super::open_backend;
use gengpu::checkpoint::Checkpoint;
use gengpu::train::{
    self, CHECKPOINT, CheckpointMeta, ModelSettings, Outcome, Progress, TrainError,
};

/// A run stopped by `signal` after writing its checkpoint (the binary exits with 128 + it).
#[derive(Debug, thiserror::Error)]
#[error("stopped by signal {signal}")]
pub struct Stopped {
    pub signal: usize,
}

/// The folder new runs go into, one per model and version.
const RUNS: &str = "runs";

/// Arguments a resumed run may be given: they change where and how it runs, not what it is
/// (`--lr`, the one deliberate change, for a run that diverged or plateaued).
const HARMLESS: [&str; 13] = [
    "lr",
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
const SETTING_OF: [(&str, &[&str]); 20] = [
    ("seed", &["run", "seed"]),
    ("batch_size", &["run", "batch_size"]),
    ("data", &["run", "data", "data"]),
    ("test_data", &["run", "data", "test_data"]),
    ("limit", &["run", "data", "limit"]),
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
    ("features", &["config", "arch", "conv", "features"]),
    ("g_features", &["config", "arch", "dcgan", "g_features"]),
    ("d_features", &["config", "arch", "dcgan", "d_features"]),
];

/// Arguments compared by what they make of the model, not by the value stored for them:
/// `--arch` by the architecture's name (its settings are other arguments), the picture
/// arguments by the image the model takes (a run that was not given them stored nothing).
const MODEL_SHAPE_OF: [(&str, &[&str]); 3] = [
    ("arch", &["config", "arch"]),
    ("image_size", &["config", "height"]),
    ("channels", &["config", "channels"]),
];

/// A run to continue: its checkpoint, what the checkpoint says, and the settings the run goes
/// on with.
pub struct Resumed {
    file: Checkpoint,
    meta: CheckpointMeta,
    settings: ModelSettings,
}

impl Resumed {
    /// The settings the resumed run goes on with.
    pub fn settings(&self) -> &ModelSettings {
        &self.settings
    }
}

/// The run `--resume` names, if it was given (see [`resumed_run`]).
pub fn resumed(
    common: &CommonTrainArgs,
    explicit: &[String],
    model: &str,
) -> Result<Option<Resumed>> {
    common
        .resume
        .as_deref()
        .map(|path| resumed_run(path, common, explicit, model))
        .transpose()
}

/// Trains the model `model` names: a new run with the settings `settings` builds for the
/// data's image size, or the `resumed` run, continued.
pub fn run(
    common: &CommonTrainArgs,
    explicit: &[String],
    model: &str,
    resumed: Option<Resumed>,
    settings: impl FnOnce((usize, usize, usize)) -> ModelSettings,
) -> Result<()> {
    // First, so that a Ctrl-C while the data loads is a clean stop too.
    let stop = stop_on_signals().context("cannot install the signal handlers")?;
    let spec = match &resumed {
        Some(resumed) => resumed.meta.settings.run().data.clone(),
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
        Some(resumed) => {
            refuse_changes(
                explicit,
                &resumed.meta.settings,
                &asked,
                resumed.file.path(),
            )?;
            let mut settings = resumed.settings.clone();
            let (was, lr) = (settings.optimizer().lr, asked.optimizer().lr);
            if super::given(explicit, "lr") && lr != was {
                eprintln!("learning rate {was} before, {lr} from here on (--lr)");
                settings.optimizer_mut().lr = lr;
            }
            settings
        }
        None => {
            asked.run_mut().out = new_run_folder(common, model)?;
            asked
        }
    };
    let out = settings.run().out.clone();
    let mut backend = open_backend(&common.backend)?;
    let progress = resumed
        .as_ref()
        .map(|resumed| (Progress::of(&resumed.meta, &resumed.file), &resumed.file));
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
    let older_checkpoint = written_at().filter(|_| progress.is_none());
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
            // A lost device, memory, a diverged loss: the last checkpoint is as it was. (A
            // setting refused before training gives no hint: it would be refused again.)
            if !e.is_a_setting() && written_at().is_some_and(|at| Some(at) != older_checkpoint) {
                // The same steps would diverge again: a smaller learning rate may not.
                let lower_lr = match e {
                    TrainError::NonFinite { .. } | TrainError::NonFiniteState { .. } => {
                        format!(" --lr {}", short(settings.optimizer().lr / 10.0))
                    }
                    _ => String::new(),
                };
                eprintln!(
                    "the last checkpoint, {}, is kept; continue from it with: {}{lower_lr}",
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
) -> Result<Resumed> {
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
    let given = |id: &str| super::given(explicit, id);
    if let Some(epochs) = common.epochs {
        run.epochs = epochs;
    }
    let folder = gengpu::fsutil::parent(&file_path);
    run.out = common.out.clone().unwrap_or_else(|| folder.to_path_buf());
    // Another folder is written as a new run's would be: never over another run unasked.
    if !gengpu::fsutil::same_folder(&run.out, folder) && run.holds_a_run() && !common.overwrite {
        bail!(
            "{} holds another run's outputs: pass --overwrite to replace them with the resumed \
             run, or another --out",
            run.out.display()
        );
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
    Ok(Resumed {
        file,
        meta,
        settings,
    })
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
        let setting = SETTING_OF.iter().find(|(name, _)| name == id);
        let shape = MODEL_SHAPE_OF.iter().find(|(name, _)| name == id);
        match setting.or(shape) {
            Some((_, path)) => {
                let (mut was, mut now) = (at(&stored, path), at(&asked, path));
                if id == "arch" {
                    (was, now) = (arch_name(&was), arch_name(&now));
                } else if shape.is_some() {
                    // The flag's own value: the data were read as the checkpoint's run read them.
                    now = at(&asked, &["run", "data", id]);
                }
                if was != now {
                    changes.push(format!(
                        "{flag} {} (the checkpoint's run has {})",
                        shown(&now),
                        shown(&was)
                    ));
                }
            }
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
         --epochs, --out, --lr, --backend, --adapter, --keep, --log-every, --no-autotune)",
        file.display(),
        changes.join(", ")
    )
}

/// A setting as the user would write it: an f32 setting as its shortest decimal (JSON holds
/// it widened to f64: `0.10000000149011612`), a string without quotes.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Number(n) if !n.is_u64() && !n.is_i64() => n
            .as_f64()
            .filter(|&v| f64::from(v as f32) == v)
            .map_or_else(|| n.to_string(), |v| short(v as f32)),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `x` as a command line takes it: its shortest decimal, in exponent form when very large or
/// small (`1e-5`, not `0.00001`).
fn short(x: f32) -> String {
    if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// An architecture's name in the settings' JSON: `"mlp"`, or the key of `{"conv": {…}}`.
fn arch_name(arch: &serde_json::Value) -> serde_json::Value {
    match arch.as_object().and_then(|fields| fields.keys().next()) {
        Some(name) => serde_json::Value::String(name.clone()),
        None => arch.clone(),
    }
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

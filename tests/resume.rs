//! Long runs lose nothing: `--resume` continues a run bit for bit on the CPU (at an epoch's end
//! or from the middle of one, after SIGINT or SIGTERM), a diverged loss leaves the last good
//! checkpoint untouched, `--keep` keeps numbered checkpoints, and a resume that would change
//! the run is refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::cli::{gengpu, succeeds, train_vae};
use gengpu::checkpoint::Checkpoint;
use gengpu::nn::State;
use gengpu::train::{CheckpointMeta, ModelSettings};

fn scratch(name: &str) -> PathBuf {
    common::cli::scratch("resume", name)
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A small VAE run on `backend` into `out`, for `epochs` epochs, with `extra` arguments.
fn vae(out: &Path, backend: &str, epochs: &str, extra: &str) {
    let settings = format!(
        "--backend {backend} --limit 1000 --batch-size 100 --hidden 64 --epochs {epochs} {extra}"
    );
    train_vae(out, &settings);
}

/// Two VAE runs in `dir` on `backend`: two epochs straight, and one epoch then a resume to
/// two (`--backend` given again: one of the harmless arguments). Returns their folders.
fn two_epochs_straight_and_resumed(dir: &Path, backend: &str) -> (PathBuf, PathBuf) {
    let (straight, resumed) = (dir.join("straight"), dir.join("resumed"));
    vae(&straight, backend, "2", "");
    vae(&resumed, backend, "1", "");
    let resume = ["train", "vae", "--resume", s(&resumed), "--epochs", "2"];
    succeeds(&[&resume[..], &["--backend", backend]].concat());
    (straight, resumed)
}

/// Rewrites the VAE checkpoint `path` with its settings and tensors as `edit` changes them;
/// returns the new file's bytes.
fn edit_vae_checkpoint(
    path: &Path,
    edit: impl FnOnce(&mut gengpu::train::Settings<gengpu::model::VaeConfig>, &mut State),
) -> Vec<u8> {
    let file = Checkpoint::open(path).expect("checkpoint");
    let mut meta: CheckpointMeta = file.meta().expect("meta");
    let mut state = file.state().clone();
    match &mut meta.settings {
        ModelSettings::Vae(settings) => edit(settings, &mut state),
        _ => unreachable!("a VAE run"),
    }
    gengpu::checkpoint::save(path, &meta, &state).expect("rewrite");
    std::fs::read(path).expect("read")
}

/// Every tensor of two checkpoints, byte for byte.
#[track_caller]
fn assert_same_tensors(a: &Path, b: &Path) {
    let (a, b) = (
        Checkpoint::open(a).expect("a"),
        Checkpoint::open(b).expect("b"),
    );
    let names = |c: &Checkpoint| {
        let mut n: Vec<String> = c.state().tensors().iter().map(|t| t.name.clone()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&a), names(&b));
    for t in a.state().tensors() {
        let other = b.state().get(&t.name).expect("same names");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&t.values), bits(&other.values), "tensor {}", t.name);
    }
}

/// Two run folders hold the same checkpoint tensors, bit for bit, and the same metrics.
#[track_caller]
fn assert_same_run(a: &Path, b: &Path) {
    assert_same_tensors(
        &a.join("checkpoint.safetensors"),
        &b.join("checkpoint.safetensors"),
    );
    assert_eq!(metrics(a), metrics(b));
}

/// The metrics log without its timings, which no two runs share, and its per-step counts,
/// which in a resumed epoch are over the steps its second process ran.
fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .expect("metrics.jsonl")
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            if let Some(fields) = v.as_object_mut() {
                fields.retain(|k, _| !k.contains("second") && !k.ends_with("_per_step"));
            }
            v
        })
        .collect()
}

#[test]
fn one_epoch_then_resume_to_two_is_bit_identical_to_two() {
    let dir = scratch("epochs");
    let (straight, resumed) = two_epochs_straight_and_resumed(&dir, "cpu");
    assert_same_run(&straight, &resumed);
    std::fs::remove_dir_all(dir).ok();
}

/// Starts `args`, waits until its first epoch is done, then sends `signal`: the run is then
/// inside its second epoch. Returns the exit status and standard error.
#[cfg(unix)]
fn interrupted(args: &[String], out: &Path, signal: &str) -> (Option<i32>, String) {
    signalled(args, out, &[signal])
}

/// As [`interrupted`], with two SIGINTs 20 ms apart (apart, since a signal sent while the same
/// one is pending is merged with it).
#[cfg(unix)]
fn interrupted_twice(args: &[String], out: &Path) -> (Option<i32>, String) {
    signalled(args, out, &["-INT", "-INT"])
}

/// Starts `args`, waits until its first epoch is done, then sends `signals` one after the
/// other. Returns the exit status and standard error.
#[cfg(unix)]
fn signalled(args: &[String], out: &Path, signals: &[&str]) -> (Option<i32>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_gengpu"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start gengpu");
    let started = Instant::now();
    // The first epoch is done when its checkpoint is written (its metrics come before it).
    while !out.join("checkpoint.safetensors").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no epoch done"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    for (i, signal) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let sent = Command::new("kill")
            .args([signal, pid.as_str()])
            .status()
            .expect("kill");
        assert!(sent.success());
    }
    let output = child.wait_with_output().expect("wait");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[cfg(unix)]
#[test]
fn sigint_mid_epoch_then_resume_is_bit_identical_to_a_straight_run() {
    let dir = scratch("sigint");
    let (straight, stopped) = (dir.join("straight"), dir.join("stopped"));
    let gan = |out: &Path| -> Vec<String> {
        [
            "train",
            "gan",
            "--backend",
            "cpu",
            "--limit",
            "3000",
            "--epochs",
            "2",
            "--out",
            s(out),
        ]
        .map(String::from)
        .to_vec()
    };
    let args = gan(&straight);
    succeeds(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, stderr) = interrupted(&gan(&stopped), &stopped, "-INT");
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "says how to resume: {stderr}");
    let file = Checkpoint::open(&stopped.join("checkpoint.safetensors")).expect("checkpoint");
    let meta: CheckpointMeta = file.meta().expect("meta");
    assert_eq!(meta.epoch, 1);
    assert!(meta.epoch_step > 0, "stopped inside epoch 2");
    succeeds(&["train", "gan", "--resume", s(&stopped)]);
    assert_same_run(&straight, &stopped);
    std::fs::remove_dir_all(dir).ok();
}

/// The temporary files of atomic writes left in `dir`: none, unless a write was cut short.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}

/// SIGTERM stops a VAE run mid-epoch like SIGINT stops a GAN's (exit 143 instead of 130), and
/// the resumed run ends where a straight one does, bit for bit.
#[cfg(unix)]
#[test]
fn sigterm_mid_epoch_stops_with_143_and_resumes_bit_identically() {
    let dir = scratch("sigterm");
    let (straight, stopped) = (dir.join("straight"), dir.join("stopped"));
    let vae = |out: &Path| -> Vec<String> {
        [
            "train",
            "vae",
            "--backend",
            "cpu",
            "--epochs",
            "3",
            "--out",
            s(out),
        ]
        .map(String::from)
        .to_vec()
    };
    succeeds(
        &vae(&straight)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let (code, stderr) = interrupted(&vae(&stopped), &stopped, "-TERM");
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stderr.contains("--resume"), "says how to resume: {stderr}");
    let meta: CheckpointMeta = Checkpoint::open(&stopped.join("checkpoint.safetensors"))
        .expect("checkpoint")
        .meta()
        .expect("meta");
    assert!(
        meta.epoch >= 1 && meta.epoch_step > 0,
        "stopped inside an epoch"
    );
    assert!(leftovers(&stopped).is_empty(), "{:?}", leftovers(&stopped));
    succeeds(&["train", "vae", "--resume", s(&stopped)]);
    assert_same_run(&straight, &stopped);
    std::fs::remove_dir_all(dir).ok();
}

/// A second Ctrl-C does not wait for the step: the process ends at once with 130, without the
/// stop's checkpoint. The run then resumes from its last epoch's, and whatever the cut-short
/// process was writing leaves no temporary file behind. A DCGAN's step (~0.1 s on the CPU)
/// and its checkpoint outlast the 20 ms between the signals.
#[cfg(unix)]
#[test]
fn a_second_sigint_quits_at_once() {
    let dir = scratch("sigint-twice");
    let out = dir.join("run");
    let args = [
        "train",
        "gan",
        "--arch",
        "dcgan",
        "--backend",
        "cpu",
        "--limit",
        "256",
        "--epochs",
        "3",
        "--out",
        s(&out),
    ]
    .map(String::from);
    let (code, stderr) = interrupted_twice(&args, &out);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        !stderr.contains("stopped by signal"),
        "quit without the clean stop: {stderr}"
    );
    // What a write cut short leaves, whether or not this one was: the resumed run removes it.
    std::fs::write(out.join("checkpoint.safetensors.Xy12z.tmp"), b"half").expect("write");
    succeeds(&["train", "gan", "--resume", s(&out)]);
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_diverged_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = scratch("nan");
    // A fresh run that diverges at once: step 1 is computed with the first weights, its update
    // with a learning rate of 1e30 breaks step 2. The error names that step, recorded on the
    // device (the loss is read back only every 20 steps), and no checkpoint is written.
    let mut backends = vec!["cpu"];
    if common::gpu("a_diverged_loss_stops_the_run_and_keeps_the_last_good_checkpoint").is_some() {
        backends.push("gpu");
    }
    for backend in backends {
        let fresh = dir.join(format!("fresh-{backend}"));
        let output = gengpu(&[
            "train",
            "vae",
            "--backend",
            backend,
            "--limit",
            "500",
            "--lr",
            "1e30",
            "--out",
            s(&fresh),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(
            stderr.contains(
                "epoch 1: train_loss is NaN from step 2 of the run (step 2 of the epoch)"
            ) && !stderr.contains("panicked"),
            "{backend}: {stderr}"
        );
        assert!(!fresh.join("checkpoint.safetensors").exists());
    }

    // A good epoch, then one that diverges (its learning rate set to 1e30 in the checkpoint):
    // the good checkpoint stays byte for byte.
    let run = dir.join("run");
    vae(&run, "cpu", "1", "");
    let path = run.join("checkpoint.safetensors");
    let good = edit_vae_checkpoint(&path, |settings, _| settings.optimizer.lr = 1e30);
    let output = gengpu(&["train", "vae", "--resume", s(&run), "--epochs", "2"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    // 10 steps per epoch: the second of epoch 2 is the run's 12th.
    assert!(
        stderr.contains("epoch 2: train_loss is NaN from step 12 of the run (step 2 of the epoch)")
            && stderr.contains(&format!(
                "is kept; continue from it with: gengpu train vae --resume {} --lr 1e29",
                run.display()
            )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), good);
    assert_eq!(
        metrics(&run).len(),
        1,
        "nothing of the diverged epoch logged"
    );
    // A new run over that folder (`--overwrite`) that diverges does not offer the older run's
    // checkpoint as its own.
    let output = gengpu(&[
        "train",
        "vae",
        "--backend",
        "cpu",
        "--limit",
        "500",
        "--lr",
        "1e30",
        "--overwrite",
        "--out",
        s(&run),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("is NaN") && !stderr.contains("is kept"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// An epoch's last update comes after the last loss it checks: weights that update broke are
/// not saved, and the checkpoint before stays byte for byte.
#[test]
fn weights_broken_after_the_last_checked_loss_are_not_saved() {
    let dir = scratch("broken-weights");
    let run = dir.join("run");
    // One step per epoch, so the broken update is the epoch's last.
    train_vae(
        &run,
        "--backend cpu --limit 100 --batch-size 100 --hidden 64 --epochs 1",
    );
    let path = run.join("checkpoint.safetensors");
    // The bias of the corner pixel (0 in every MNIST digit) at f32's lowest and its first
    // moment at the largest: the step's loss is finite (a logit of −MAX for a target of 0 costs
    // nothing), the update takes the bias past −MAX to −∞.
    let good = edit_vae_checkpoint(&path, |_, state| {
        for (name, value) in [
            ("decoder.1.bias", f32::MIN),
            ("optim.m.decoder.1.bias", f32::MAX),
        ] {
            let mut tensor = state.get(name).expect("tensor").clone();
            tensor.values[0] = value;
            state.push(tensor);
        }
    });
    let output = gengpu(&["train", "vae", "--resume", s(&run), "--epochs", "2"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && stderr.contains("epoch 2: decoder.1.bias holds")
            && stderr.contains("after step 2 of the run, so no checkpoint was written")
            && stderr.contains("is kept"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), good);
    assert_eq!(metrics(&run).len(), 1, "nothing of the broken epoch logged");
    std::fs::remove_dir_all(dir).ok();
}

/// A checkpoint whose settings claim a model far larger than its tensors is refused before
/// anything is allocated for it: built first, this one would ask for 4 × 1 GB of weights,
/// gradients and moments, past the 1.5 GB of address space the process is given.
#[cfg(unix)]
#[test]
fn a_resume_is_refused_before_it_allocates_what_the_settings_claim() {
    let dir = scratch("claims");
    let run = dir.join("run");
    vae(&run, "cpu", "1", "");
    edit_vae_checkpoint(&run.join("checkpoint.safetensors"), |settings, _| {
        settings.config.hidden = vec![150_000]
    });
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1500000 && exec '{}' train vae --resume '{}' --epochs 2 --backend cpu",
            env!("CARGO_BIN_EXE_gengpu"),
            s(&run)
        ))
        .output()
        .expect("run gengpu");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() == Some(1) && stderr.contains("its settings describe a model of"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn keep_keeps_the_latest_numbered_checkpoints() {
    let dir = scratch("keep");
    let out = dir.join("run");
    vae(&out, "cpu", "3", "--keep 2");
    let exists = |e: usize| {
        out.join(format!("checkpoint_epoch{e}.safetensors"))
            .exists()
    };
    assert!(!exists(1) && exists(2) && exists(3));
    assert_same_tensors(
        &out.join("checkpoint_epoch3.safetensors"),
        &out.join("checkpoint.safetensors"),
    );
    let epoch2: CheckpointMeta = Checkpoint::open(&out.join("checkpoint_epoch2.safetensors"))
        .expect("epoch 2")
        .meta()
        .expect("meta");
    assert_eq!(epoch2.epoch, 2);
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
    // A numbered checkpoint resumes too (a file, not the folder), into another folder that
    // then holds the whole run: the earlier epochs' metrics and the settings it goes on with.
    let branch = dir.join("branch");
    succeeds(&[
        "train",
        "vae",
        "--resume",
        s(&out.join("checkpoint_epoch2.safetensors")),
        "--epochs",
        "3",
        "--out",
        s(&branch),
    ]);
    assert_same_tensors(
        &out.join("checkpoint_epoch3.safetensors"),
        &branch.join("checkpoint.safetensors"),
    );
    assert_eq!(metrics(&branch), metrics(&out));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(branch.join("config.json")).expect("config"))
            .expect("JSON");
    assert_eq!(config["run"]["out"], s(&branch));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_resume_that_would_change_the_run_is_refused() {
    let dir = scratch("refused");
    let out = dir.join("run");
    vae(&out, "cpu", "1", "");
    let fails_with = |args: &[&str], needle: &str| {
        let output = gengpu(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    };
    fails_with(
        &["train", "gan", "--resume", s(&out), "--epochs", "2"],
        "holds a vae",
    );
    fails_with(
        &[
            "train",
            "vae",
            "--resume",
            s(&out),
            "--epochs",
            "2",
            "--hidden",
            "32",
        ],
        "--hidden",
    );
    fails_with(
        &["train", "vae", "--resume", s(&out), "--epochs", "1"],
        "--epochs is the total",
    );
    // Another run's folder is not written over unasked.
    let other = dir.join("other");
    vae(&other, "cpu", "1", "--seed 2");
    let other_checkpoint = std::fs::read(other.join("checkpoint.safetensors")).expect("read");
    fails_with(
        &[
            "train",
            "vae",
            "--resume",
            s(&out),
            "--epochs",
            "2",
            "--out",
            s(&other),
        ],
        "holds another run's outputs",
    );
    assert_eq!(
        std::fs::read(other.join("checkpoint.safetensors")).expect("read"),
        other_checkpoint
    );
    // The checkpoint's own values, and harmless changes, are fine.
    succeeds(&[
        "train",
        "vae",
        "--resume",
        s(&out),
        "--epochs",
        "2",
        "--hidden",
        "64",
        "--batch-size",
        "100",
        "--keep",
        "1",
    ]);
    // `--lr`, the one deliberate change, goes into the run's settings from here on.
    succeeds(&[
        "train",
        "vae",
        "--resume",
        s(&out),
        "--epochs",
        "3",
        "--out",
        s(&other),
        "--overwrite",
        "--lr",
        "5e-4",
    ]);
    let meta: CheckpointMeta = Checkpoint::open(&other.join("checkpoint.safetensors"))
        .expect("checkpoint")
        .meta()
        .expect("meta");
    assert_eq!(meta.settings.optimizer().lr, 5e-4);

    // The GAN's and the convolutional models' own settings, likewise; `--arch` not given is
    // the checkpoint's, so its flags compare with the checkpoint's values.
    let gan = dir.join("gan");
    let dcgan = dir.join("dcgan");
    for (out, flags) in [
        (&gan, "--g-hidden 16,32 --d-hidden 32 --batch-size 50"),
        (
            &dcgan,
            "--arch dcgan --g-features 3 --d-features 4 --batch-size 50",
        ),
    ] {
        let mut args = vec!["train", "gan", "--backend", "cpu", "--limit", "100"];
        args.extend(flags.split_whitespace());
        args.extend(["--epochs", "1", "--out", s(out)]);
        succeeds(&args);
    }
    let resume = |out: &Path, flags: &str| -> Vec<String> {
        let mut args: Vec<String> = ["train", "gan", "--resume", s(out), "--epochs", "2"]
            .map(String::from)
            .to_vec();
        args.extend(flags.split_whitespace().map(String::from));
        args
    };
    let refused = |out: &Path, flags: &str, needle: &str| {
        let args = resume(out, flags);
        fails_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle);
    };
    refused(
        &gan,
        "--g-hidden 16,64",
        "--g-hidden [16,64] (the checkpoint's run has [16,32])",
    );
    refused(
        &gan,
        "--beta1 0.9",
        "--beta1 0.9 (the checkpoint's run has 0.5)",
    );
    refused(&gan, "--no-batch-norm", "--no-batch-norm");
    refused(
        &gan,
        "--arch dcgan",
        "--arch dcgan (the checkpoint's run has mlp)",
    );
    refused(
        &dcgan,
        "--g-features 8",
        "--g-features 8 (the checkpoint's run has 3)",
    );
    refused(
        &dcgan,
        "--image-size 32",
        "--image-size 32 (the checkpoint's run has 28)",
    );
    refused(
        &dcgan,
        "--g-hidden 16",
        "--g-hidden does not apply to --arch dcgan",
    );
    let args = resume(
        &dcgan,
        "--arch dcgan --g-features 3 --d-features 4 --image-size 28",
    );
    succeeds(&args.iter().map(String::as_str).collect::<Vec<_>>());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_gpu_run_resumes_within_the_parity_tolerance() {
    if common::gpu("a_gpu_run_resumes_within_the_parity_tolerance").is_none() {
        return;
    }
    let dir = scratch("gpu");
    let (straight, resumed) = two_epochs_straight_and_resumed(&dir, "gpu");
    let (a, b) = (
        Checkpoint::open(&straight.join("checkpoint.safetensors")).expect("a"),
        Checkpoint::open(&resumed.join("checkpoint.safetensors")).expect("b"),
    );
    for t in a.state().tensors() {
        let other = &b.state().get(&t.name).expect("same names").values;
        common::assert_close(&t.name, &t.values, other, 1e-5, 1e-4);
    }
    std::fs::remove_dir_all(dir).ok();
}

/// A lost device or an out-of-memory error in the middle of a resumed run (injected at a
/// submit: no software device fails on demand) is named as such, exits non-zero, keeps the
/// last checkpoint byte for byte and prints the command that continues from it, which works.
#[test]
fn a_device_fault_keeps_the_checkpoint_and_says_how_to_resume() {
    if common::gpu("a_device_fault_keeps_the_checkpoint_and_says_how_to_resume").is_none() {
        return;
    }
    let dir = scratch("fault");
    let run = dir.join("run");
    vae(&run, "gpu", "1", "");
    let checkpoint = run.join("checkpoint.safetensors");
    let before = std::fs::read(&checkpoint).expect("checkpoint");
    let resume = [
        "train",
        "vae",
        "--resume",
        s(&run),
        "--epochs",
        "3",
        "--backend",
        "gpu",
    ];
    for (fault, named) in [
        ("lost@15", "the GPU device was lost"),
        ("oom@15", "out of GPU memory"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_gengpu"))
            .args(resume)
            .env("GENGPU_INJECT_FAULT", fault)
            .output()
            .expect("run gengpu");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{fault}: {stderr}");
        assert!(
            stderr.contains(named)
                && stderr.contains(&format!(
                    "continue from it with: gengpu train vae --resume {}",
                    run.display()
                ))
                && !stderr.contains("panicked"),
            "{fault}: {stderr}"
        );
        assert!(
            std::fs::read(&checkpoint).expect("checkpoint") == before,
            "{fault}: the checkpoint changed"
        );
    }
    succeeds(&resume);
    let meta: CheckpointMeta = Checkpoint::open(&checkpoint)
        .expect("checkpoint")
        .meta()
        .expect("meta");
    assert_eq!(meta.epoch, 3);
    std::fs::remove_dir_all(dir).ok();
}

/// The convolutional models resume like the MLPs: one epoch, then a resume to two, gives the
/// tensors (weights, moments, both networks' batch-norm statistics) of two straight epochs.
#[test]
fn convolutional_models_resume_bit_identically() {
    let dir = scratch("conv");
    for (model, flags) in [
        ("vae", "--arch conv --features 3 --batch-size 100"),
        (
            "gan",
            "--arch dcgan --g-features 3 --d-features 4 --batch-size 50",
        ),
    ] {
        let (straight, resumed) = (
            dir.join(format!("{model}-2")),
            dir.join(format!("{model}-1")),
        );
        for (out, epochs) in [(&straight, "2"), (&resumed, "1")] {
            let mut args = vec!["train", model, "--backend", "cpu", "--limit", "300"];
            args.extend(flags.split_whitespace());
            args.extend(["--epochs", epochs, "--out", s(out)]);
            succeeds(&args);
        }
        succeeds(&["train", model, "--resume", s(&resumed), "--epochs", "2"]);
        assert_same_run(&straight, &resumed);
    }
    std::fs::remove_dir_all(dir).ok();
}

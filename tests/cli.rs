//! The `gengpu` binary end to end: tiny training runs on both backends and the files they must
//! write, the commands that read a checkpoint, and bad input refused with a clear message.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gengpu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gengpu"))
        .args(args)
        .output()
        .expect("run gengpu")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[track_caller]
fn succeeds(args: &[&str]) -> String {
    let output = gengpu(args);
    assert!(
        output.status.success(),
        "gengpu {args:?} failed:\n{}",
        text(&output)
    );
    text(&output)
}

/// Fails unless the command exits non-zero with an `error:` line containing `needle`, and
/// without a panic.
#[track_caller]
fn fails_with(args: &[&str], needle: &str) {
    let output = gengpu(args);
    let all = text(&output);
    assert!(
        !output.status.success(),
        "gengpu {args:?} should fail:\n{all}"
    );
    assert!(
        !all.contains("panicked"),
        "gengpu {args:?} panicked:\n{all}"
    );
    assert!(
        all.contains("error:") && all.contains(needle),
        "gengpu {args:?}: expected an error mentioning {needle:?}, got:\n{all}"
    );
}

fn scratch(name: &str) -> PathBuf {
    common::cli::scratch("cli", name)
}

fn decodes_as_png(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (img.width(), img.height())
}

/// The records of a run's `metrics.jsonl`, each checked to be JSON.
/// The epochs' records of the metrics log (those without a `step`).
fn metrics(out: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).expect("metrics.jsonl");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("each line is JSON"))
        .filter(|record| record.get("step").is_none())
        .collect()
}

/// The networks of the tiny runs: small MLPs.
const MLP_VAE: &[&str] = &["--hidden", "32,16"];
const MLP_GAN: &[&str] = &["--g-hidden", "16,32", "--d-hidden", "32"];
/// Small convolutional networks.
const CONV_VAE: &[&str] = &["--arch", "conv", "--features", "3"];
const DCGAN: &[&str] = &["--arch", "dcgan", "--g-features", "3", "--d-features", "4"];

/// A tiny VAE run (2 epochs, 2-d latent) of the networks `model` and the files it must leave.
fn tiny_vae_run(backend: &str, out: &Path, model: &[&str]) {
    let out_s = out.to_str().expect("utf-8 path");
    let mut args = vec![
        "train",
        "vae",
        "--epochs",
        "2",
        "--limit",
        "300",
        "--batch-size",
        "64",
        "--latent",
        "2",
        "--backend",
        backend,
        "--out",
        out_s,
    ];
    args.extend(model);
    succeeds(&args);
    let lines = metrics(out);
    assert_eq!(lines.len(), 2, "one record per epoch");
    for (i, record) in lines.iter().enumerate() {
        assert_eq!(record["epoch"], i + 1);
        assert_eq!(record["backend"], backend);
        for key in ["train_loss", "test_loss", "seconds"] {
            let v = record[key].as_f64().unwrap_or(f64::NAN);
            assert!(v.is_finite() && v > 0.0, "{key} = {v}");
        }
        assert_eq!(record["steps"], 5, "300 examples in batches of 64");
        assert!(record["device"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Grids in torchvision's layout: 8 per row, 2 px padding.
    assert_eq!(
        decodes_as_png(&out.join("sample_2.png")),
        (8 * 30 + 2, 8 * 30 + 2)
    );
    assert_eq!(
        decodes_as_png(&out.join("reconstruction_1.png")),
        (8 * 30 + 2, 2 * 30 + 2)
    );
    assert_eq!(
        decodes_as_png(&out.join("manifold_2.png")),
        (20 * 30 + 2, 20 * 30 + 2)
    );
    decodes_as_png(&out.join("loss.png"));
    assert!(out.join("checkpoint.safetensors").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(out)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn vae_cpu_run_writes_everything_and_its_checkpoint_serves_eval_sample_interpolate() {
    vae_run_serves_eval_sample_interpolate("cpu", MLP_VAE);
}

#[test]
fn conv_vae_cpu_run_writes_everything_and_its_checkpoint_serves_eval_sample_interpolate() {
    vae_run_serves_eval_sample_interpolate("conv-cpu", CONV_VAE);
}

fn vae_run_serves_eval_sample_interpolate(name: &str, model: &[&str]) {
    let dir = scratch(name);
    let out = dir.join("run");
    tiny_vae_run("cpu", &out, model);
    let ckpt = out.join("checkpoint.safetensors");
    let ckpt = ckpt.to_str().expect("utf-8");

    let json = succeeds(&["eval", "--checkpoint", ckpt, "--json", "--backend", "cpu"]);
    let report: serde_json::Value = serde_json::from_str(
        json.lines()
            .find(|l| l.starts_with('{'))
            .expect("a JSON line"),
    )
    .expect("JSON");
    let loss = report["test_loss"].as_f64().expect("test_loss");
    assert!(
        loss.is_finite() && loss > 50.0 && loss < 600.0,
        "test loss {loss}"
    );

    let sample = dir.join("s.png");
    succeeds(&[
        "sample",
        "--checkpoint",
        ckpt,
        "--n",
        "10",
        "--out",
        sample.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert_eq!(decodes_as_png(&sample), (8 * 30 + 2, 2 * 30 + 2));

    let lines = dir.join("i.png");
    succeeds(&[
        "interpolate",
        "--checkpoint",
        ckpt,
        "--out",
        lines.to_str().unwrap(),
        "--lines",
        "3",
        "--steps",
        "5",
        "--backend",
        "cpu",
    ]);
    assert_eq!(decodes_as_png(&lines), (5 * 30 + 2, 3 * 30 + 2));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn vae_gpu_run_writes_everything() {
    if common::gpu("vae_gpu_run_writes_everything").is_none() {
        return;
    }
    let dir = scratch("gpu");
    tiny_vae_run("gpu", &dir.join("run"), MLP_VAE);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn conv_vae_gpu_run_writes_everything() {
    if common::gpu("conv_vae_gpu_run_writes_everything").is_none() {
        return;
    }
    let dir = scratch("conv-gpu");
    tiny_vae_run("gpu", &dir.join("run"), CONV_VAE);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn info_lists_adapters_or_says_there_are_none() {
    let out = succeeds(&["info"]);
    assert!(out.contains("--backend auto uses"), "{out}");
}

#[test]
fn bad_settings_are_refused() {
    let dir = scratch("settings");
    let out = dir.to_str().unwrap();
    // A flag of the other architecture would be ignored: refused instead.
    for (args, flag) in [
        (
            &["train", "vae", "--arch", "conv", "--hidden", "64"][..],
            "--hidden",
        ),
        (&["train", "vae", "--features", "8"][..], "--features"),
        (
            &["train", "gan", "--arch", "dcgan", "--d-hidden", "64"][..],
            "--d-hidden",
        ),
        (&["train", "gan", "--g-features", "8"][..], "--g-features"),
    ] {
        let mut args = args.to_vec();
        args.extend(["--backend", "cpu", "--out", out]);
        fails_with(&args, flag);
    }
    fails_with(
        &[
            "train",
            "gan",
            "--arch",
            "dcgan",
            "--g-features",
            "0",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "--g-features",
    );
    fails_with(
        &[
            "train",
            "vae",
            "--epochs",
            "0",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "--epochs",
    );
    fails_with(
        &[
            "train",
            "vae",
            "--batch-size",
            "0",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "--batch-size",
    );
    fails_with(
        &[
            "train",
            "vae",
            "--limit",
            "10",
            "--batch-size",
            "64",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "larger than",
    );
    fails_with(
        &[
            "train",
            "vae",
            "--latent",
            "0",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "latent size",
    );
    fails_with(
        &[
            "train",
            "vae",
            "--hidden",
            "100000000",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "parameters",
    );
    fails_with(
        &[
            "train",
            "gan",
            "--batch-size",
            "1",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "batch norm",
    );
    fails_with(
        &[
            "train",
            "gan",
            "--bn-eps",
            "0",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "eps",
    );
    fails_with(
        &["train", "vae", "--lr=-1", "--backend", "cpu", "--out", out],
        "--lr",
    );
    fails_with(
        &[
            "train",
            "vae",
            "--limit",
            "0",
            "--backend",
            "cpu",
            "--out",
            out,
        ],
        "limit",
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_data_is_refused_with_the_file_named() {
    let dir = scratch("data");
    // A truncated image file beside valid labels.
    let images = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/train-images-idx3-ubyte.gz"),
    )
    .expect("bundled images");
    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("train-images-idx3-ubyte.gz"),
        &images[..images.len() / 2],
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/train-labels-idx1-ubyte.gz"),
        broken.join("train-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let out = dir.join("out");
    let args = |data: &Path| {
        vec![
            "train".to_string(),
            "vae".into(),
            "--backend".into(),
            "cpu".into(),
            "--data".into(),
            data.to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let broken_args = args(&broken);
    let refs: Vec<&str> = broken_args.iter().map(String::as_str).collect();
    fails_with(&refs, "train-images-idx3-ubyte.gz");
    let missing_args = args(&dir.join("nowhere"));
    let refs: Vec<&str> = missing_args.iter().map(String::as_str).collect();
    fails_with(&refs, "nowhere");
    assert!(
        !out.exists(),
        "nothing is written for a run that cannot start"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_checkpoints_are_refused() {
    let dir = scratch("ckpt");
    let png = dir.join("x.png");
    let png = png.to_str().unwrap();
    fails_with(
        &[
            "sample",
            "--checkpoint",
            "/nonexistent.safetensors",
            "--out",
            png,
            "--backend",
            "cpu",
        ],
        "nonexistent",
    );
    let garbage = dir.join("garbage.safetensors");
    std::fs::write(
        &garbage,
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all",
    )
    .unwrap();
    fails_with(
        &[
            "sample",
            "--checkpoint",
            garbage.to_str().unwrap(),
            "--out",
            png,
            "--backend",
            "cpu",
        ],
        "garbage.safetensors",
    );
    assert!(!Path::new(png).exists());
    std::fs::remove_dir_all(dir).ok();
}

/// A tiny GAN run (2 epochs, batch norm on) of the networks `model` and the files it must
/// leave.
fn tiny_gan_run(backend: &str, out: &Path, model: &[&str]) {
    let out_s = out.to_str().expect("utf-8 path");
    let mut args = vec![
        "train",
        "gan",
        "--epochs",
        "2",
        "--limit",
        "200",
        "--batch-size",
        "32",
        "--latent",
        "8",
        "--backend",
        backend,
        "--out",
        out_s,
    ];
    args.extend(model);
    succeeds(&args);
    let lines = metrics(out);
    assert_eq!(lines.len(), 2, "one record per epoch");
    for record in &lines {
        assert_eq!(record["backend"], backend);
        assert_eq!(record["steps"], 6, "200 examples in whole batches of 32");
        for key in ["d_loss", "g_loss", "d_real", "d_fake"] {
            let v = record[key].as_f64().unwrap_or(f64::NAN);
            assert!(v.is_finite() && v > 0.0, "{key} = {v}");
        }
        for key in ["d_real", "d_fake"] {
            assert!(
                record[key].as_f64().is_some_and(|v| v < 1.0),
                "{key} is a probability"
            );
        }
    }
    for epoch in [1, 2] {
        let path = out.join(format!("sample_{epoch}.png"));
        assert_eq!(decodes_as_png(&path), (8 * 30 + 2, 8 * 30 + 2));
    }
    decodes_as_png(&out.join("loss.png"));
    let gif = std::fs::File::open(out.join("progress.gif")).expect("progress.gif");
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(gif)).expect("a GIF");
    use image::AnimationDecoder;
    assert_eq!(decoder.into_frames().count(), 2, "one frame per epoch");
    assert!(out.join("checkpoint.safetensors").is_file());
}

#[test]
fn gan_cpu_run_writes_everything_and_its_checkpoint_samples() {
    gan_run_samples("gan-cpu", MLP_GAN);
}

#[test]
fn dcgan_cpu_run_writes_everything_and_its_checkpoint_samples() {
    gan_run_samples("dcgan-cpu", DCGAN);
}

fn gan_run_samples(name: &str, model: &[&str]) {
    let dir = scratch(name);
    let out = dir.join("run");
    tiny_gan_run("cpu", &out, model);
    let ckpt = out.join("checkpoint.safetensors");
    let ckpt = ckpt.to_str().expect("utf-8");
    let sample = dir.join("s.png");
    let sample_s = sample.to_str().unwrap();
    succeeds(&[
        "sample",
        "--checkpoint",
        ckpt,
        "--n",
        "20",
        "--out",
        sample_s,
        "--backend",
        "cpu",
    ]);
    assert_eq!(decodes_as_png(&sample), (8 * 30 + 2, 3 * 30 + 2));
    fails_with(&["eval", "--checkpoint", ckpt, "--backend", "cpu"], "GAN");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn gan_gpu_run_writes_everything() {
    if common::gpu("gan_gpu_run_writes_everything").is_none() {
        return;
    }
    let dir = scratch("gan-gpu");
    tiny_gan_run("gpu", &dir.join("run"), MLP_GAN);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn dcgan_gpu_run_writes_everything() {
    if common::gpu("dcgan_gpu_run_writes_everything").is_none() {
        return;
    }
    let dir = scratch("dcgan-gpu");
    tiny_gan_run("gpu", &dir.join("run"), DCGAN);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn convolutional_models_refuse_sizes_they_do_not_take() {
    let dir = scratch("conv-sizes");
    let data = dir.join("odd");
    std::fs::create_dir_all(&data).unwrap();
    // Ten 27×27 images: 27 is no b·2^L with b from 4 to 16.
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 27, 0, 0, 0, 27];
    images.extend(std::iter::repeat_n(7u8, 10 * 27 * 27));
    std::fs::write(data.join("train-images-idx3-ubyte"), images).unwrap();
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 10];
    labels.extend(0..10u8);
    std::fs::write(data.join("train-labels-idx1-ubyte"), labels).unwrap();
    let data = data.to_str().unwrap();
    for (model, flags) in [("gan", DCGAN), ("vae", CONV_VAE)] {
        let out = dir.join(model);
        let mut args = vec!["train", model, "--data", data, "--backend", "cpu"];
        args.extend(["--epochs", "1", "--batch-size", "4"]);
        args.extend(flags);
        args.extend(["--out", out.to_str().unwrap()]);
        fails_with(&args, "27×27");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_new_run_replaces_the_outputs_of_an_earlier_one_and_nothing_else() {
    let dir = scratch("rerun");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    let run = |epochs: &str| {
        succeeds(&[
            "train",
            "vae",
            "--epochs",
            epochs,
            "--limit",
            "128",
            "--batch-size",
            "64",
            "--hidden",
            "16",
            "--latent",
            "4",
            "--backend",
            "cpu",
            "--out",
            out_s,
            "--overwrite",
        ])
    };
    run("2");
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    // Another run's outputs are not replaced without being asked to.
    fails_with(
        &[
            "train",
            "vae",
            "--epochs",
            "1",
            "--limit",
            "128",
            "--batch-size",
            "64",
            "--backend",
            "cpu",
            "--out",
            out_s,
        ],
        "--overwrite",
    );
    let said = run("1");
    assert!(said.contains("replaced"), "{said}");
    assert!(out.join("sample_1.png").is_file());
    assert!(
        !out.join("sample_2.png").exists(),
        "epoch 2 was the earlier run's"
    );
    assert_eq!(metrics(&out).len(), 1);
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// `bench --json` prints exactly one JSON object on standard output, with the fields the
/// issue asks for; status lines go to standard error. (Its times are not checked: a benchmark
/// is not a test.)
#[test]
fn bench_json_is_one_object_with_every_field() {
    let output = gengpu(&[
        "bench",
        "--backend",
        "cpu",
        "--steps",
        "1",
        "--reps",
        "1",
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for field in ["backend", "device", "peak_gflops", "matmul", "steps"] {
        assert!(report.get(field).is_some(), "no {field} in {stdout}");
    }
    let matmul = &report["matmul"].as_array().expect("matmul is a list")[0];
    for field in [
        "name",
        "m",
        "n",
        "k",
        "form",
        "variant",
        "ms",
        "gflops",
        "percent_of_peak",
    ] {
        assert!(matmul.get(field).is_some(), "no matmul {field} in {stdout}");
    }
    let steps = report["steps"].as_array().expect("steps is a list");
    let models: Vec<&str> = steps.iter().filter_map(|s| s["model"].as_str()).collect();
    assert_eq!(
        models,
        ["vae", "gan", "conv_vae", "dcgan"],
        "each model's step"
    );
    let names: Vec<&str> = report["matmul"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(
        names.contains(&"dcgan.d2"),
        "the DCGAN's convolutions have rows: {names:?}"
    );
    for field in [
        "model",
        "batch",
        "ms",
        "gflop",
        "percent_of_peak",
        "dispatches",
        "submits",
        "host_waits",
        "bytes_uploaded",
        "bytes_read",
    ] {
        assert!(steps[0].get(field).is_some(), "no step {field} in {stdout}");
    }
}

/// CIFAR-10's batches (generated, in its format) train the colour models as they are: 32×32
/// RGB, colour grids.
#[test]
fn cifar10_batches_train_colour_models() {
    let dir = scratch("cifar");
    let data = dir.join("cifar");
    std::fs::create_dir_all(&data).unwrap();
    let batch: Vec<u8> = (0..20u32)
        .flat_map(|i| {
            let mut record = vec![(i % 10) as u8];
            record.extend((0..3072u32).map(|p| ((p * 7 + i * 13) % 256) as u8));
            record
        })
        .collect();
    for name in [
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ] {
        std::fs::write(data.join(format!("{name}.bin")), &batch).unwrap();
    }
    for (model, flags) in [
        (
            "gan",
            &["--arch", "dcgan", "--g-features", "2", "--d-features", "2"][..],
        ),
        ("vae", &["--hidden", "8", "--latent", "2"][..]),
    ] {
        let out = dir.join(model);
        let mut args = vec!["train", model, "--data", data.to_str().unwrap()];
        args.extend(["--epochs", "1", "--batch-size", "10", "--backend", "cpu"]);
        args.extend(flags);
        args.extend(["--out", out.to_str().unwrap()]);
        let output = succeeds(&args);
        assert!(output.contains("CIFAR-10, 32×32 RGB"), "{output}");
        let sample = image::open(out.join("sample_1.png")).expect("grid");
        assert_eq!(sample.color(), image::ColorType::Rgb8);
        assert_eq!(sample.width(), 8 * 34 + 2);
    }
    std::fs::remove_dir_all(dir).ok();
}

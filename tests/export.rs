//! `gengpu export`: the names, shapes and dtypes of PyTorch's reference modules' state dicts,
//! exactly, so that a strict `load_state_dict` takes the file, and the values are the
//! checkpoint's own.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::{succeeds, train_vae};
use gengpu::checkpoint::Checkpoint;
use safetensors::SafeTensors;
use safetensors::tensor::Dtype;

/// `VAE().state_dict()` of PyTorch's examples/vae, name and shape, in its order.
const VAE: &[(&str, &[usize])] = &[
    ("fc1.weight", &[400, 784]),
    ("fc1.bias", &[400]),
    ("fc21.weight", &[20, 400]),
    ("fc21.bias", &[20]),
    ("fc22.weight", &[20, 400]),
    ("fc22.bias", &[20]),
    ("fc3.weight", &[400, 20]),
    ("fc3.bias", &[400]),
    ("fc4.weight", &[784, 400]),
    ("fc4.bias", &[784]),
];

/// `bench/pytorch_dcgan.py`'s `generator(100, 64, 1, 28).state_dict()` and
/// `discriminator(64, 1, 28).state_dict()` (examples/dcgan's networks for 28×28 digits), printed
/// by PyTorch 2.15, under the prefixes the export gives them.
const DCGAN: &[(&str, &[usize])] = &[
    ("generator.main.0.weight", &[100, 128, 7, 7]),
    ("generator.main.1.weight", &[128]),
    ("generator.main.1.bias", &[128]),
    ("generator.main.1.running_mean", &[128]),
    ("generator.main.1.running_var", &[128]),
    ("generator.main.1.num_batches_tracked", &[]),
    ("generator.main.3.weight", &[128, 64, 4, 4]),
    ("generator.main.4.weight", &[64]),
    ("generator.main.4.bias", &[64]),
    ("generator.main.4.running_mean", &[64]),
    ("generator.main.4.running_var", &[64]),
    ("generator.main.4.num_batches_tracked", &[]),
    ("generator.main.6.weight", &[64, 1, 4, 4]),
    ("discriminator.main.0.weight", &[64, 1, 4, 4]),
    ("discriminator.main.2.weight", &[128, 64, 4, 4]),
    ("discriminator.main.3.weight", &[128]),
    ("discriminator.main.3.bias", &[128]),
    ("discriminator.main.3.running_mean", &[128]),
    ("discriminator.main.3.running_var", &[128]),
    ("discriminator.main.3.num_batches_tracked", &[]),
    ("discriminator.main.5.weight", &[1, 128, 7, 7]),
];

/// PyTorch-GAN's gan.py: `Generator().state_dict()` and `Discriminator().state_dict()` for
/// 28×28 images and latent_dim 100, under the prefixes the export gives them.
const GAN: &[(&str, &[usize])] = &[
    ("generator.model.0.weight", &[128, 100]),
    ("generator.model.0.bias", &[128]),
    ("generator.model.2.weight", &[256, 128]),
    ("generator.model.2.bias", &[256]),
    ("generator.model.3.weight", &[256]),
    ("generator.model.3.bias", &[256]),
    ("generator.model.3.running_mean", &[256]),
    ("generator.model.3.running_var", &[256]),
    ("generator.model.3.num_batches_tracked", &[]),
    ("generator.model.5.weight", &[512, 256]),
    ("generator.model.5.bias", &[512]),
    ("generator.model.6.weight", &[512]),
    ("generator.model.6.bias", &[512]),
    ("generator.model.6.running_mean", &[512]),
    ("generator.model.6.running_var", &[512]),
    ("generator.model.6.num_batches_tracked", &[]),
    ("generator.model.8.weight", &[1024, 512]),
    ("generator.model.8.bias", &[1024]),
    ("generator.model.9.weight", &[1024]),
    ("generator.model.9.bias", &[1024]),
    ("generator.model.9.running_mean", &[1024]),
    ("generator.model.9.running_var", &[1024]),
    ("generator.model.9.num_batches_tracked", &[]),
    ("generator.model.11.weight", &[784, 1024]),
    ("generator.model.11.bias", &[784]),
    ("discriminator.model.0.weight", &[512, 784]),
    ("discriminator.model.0.bias", &[512]),
    ("discriminator.model.2.weight", &[256, 512]),
    ("discriminator.model.2.bias", &[256]),
    ("discriminator.model.4.weight", &[1, 256]),
    ("discriminator.model.4.bias", &[1]),
];

fn scratch(name: &str) -> PathBuf {
    common::cli::scratch("export", name)
}

/// Trains a default-shaped `model` for one short epoch on the CPU and exports it; returns the
/// checkpoint and the export.
fn trained_and_exported(model: &str, dir: &Path) -> (PathBuf, PathBuf) {
    trained_with_and_exported(model, &[], dir)
}

/// [`trained_and_exported`] with `flags` added to the training command.
fn trained_with_and_exported(model: &str, flags: &[&str], dir: &Path) -> (PathBuf, PathBuf) {
    let run = dir.join("run");
    let run_s = run.to_str().expect("utf-8");
    let mut args = vec!["train", model, "--epochs", "1", "--limit", "128"];
    args.extend(["--batch-size", "64", "--backend", "cpu", "--out", run_s]);
    args.extend(flags);
    succeeds(&args);
    let checkpoint = run.join("checkpoint.safetensors");
    let export = dir.join("pytorch.safetensors");
    succeeds(&[
        "export",
        "--checkpoint",
        checkpoint.to_str().expect("utf-8"),
        "--out",
        export.to_str().expect("utf-8"),
    ]);
    (checkpoint, export)
}

/// The export's tensors, name by name, against the reference list: the same set, the same
/// shapes, F32 but for `num_batches_tracked` (I64).
fn assert_matches_reference(bytes: &[u8], reference: &[(&str, &[usize])]) {
    let file = SafeTensors::deserialize(bytes).expect("a safetensors file");
    let mut names = file.names();
    names.sort();
    let mut expected: Vec<&str> = reference.iter().map(|(n, _)| *n).collect();
    expected.sort();
    assert_eq!(names, expected);
    for &(name, shape) in reference {
        let t = file.tensor(name).expect("listed");
        assert_eq!(t.shape(), shape, "{name}");
        let dtype = if name.ends_with("num_batches_tracked") {
            Dtype::I64
        } else {
            Dtype::F32
        };
        assert_eq!(t.dtype(), dtype, "{name}");
    }
}

fn f32s(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn a_vae_exports_as_examples_vae() {
    let dir = scratch("vae");
    let (checkpoint, export) = trained_and_exported("vae", &dir);
    let bytes = std::fs::read(&export).expect("export written");
    assert_matches_reference(&bytes, VAE);
    // fc21 and fc22 are the mean and log-variance halves of gengpu's encoder.1.
    let file = SafeTensors::deserialize(&bytes).expect("safetensors");
    let ours = Checkpoint::open(&checkpoint).expect("checkpoint");
    let joined = &ours
        .state()
        .get("encoder.1.weight")
        .expect("encoder.1")
        .values;
    let fc21 = f32s(file.tensor("fc21.weight").expect("fc21").data());
    let fc22 = f32s(file.tensor("fc22.weight").expect("fc22").data());
    assert_eq!([fc21, fc22].concat(), *joined);
    let fc4 = f32s(file.tensor("fc4.bias").expect("fc4").data());
    assert_eq!(
        fc4,
        ours.state()
            .get("decoder.1.bias")
            .expect("decoder.1")
            .values
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_gan_exports_as_pytorch_gan() {
    let dir = scratch("gan");
    let (checkpoint, export) = trained_and_exported("gan", &dir);
    let bytes = std::fs::read(&export).expect("export written");
    assert_matches_reference(&bytes, GAN);
    let file = SafeTensors::deserialize(&bytes).expect("safetensors");
    let ours = Checkpoint::open(&checkpoint).expect("checkpoint");
    // Linear layers before batch norm have no bias in gengpu: zeros in the export.
    let bias = f32s(file.tensor("generator.model.2.bias").expect("bias").data());
    assert!(bias.iter().all(|&b| b == 0.0));
    let running = f32s(
        file.tensor("generator.model.6.running_var")
            .expect("bn")
            .data(),
    );
    let want = &ours
        .state()
        .get("generator.2.bn.running_var")
        .expect("gengpu's")
        .values;
    assert_eq!(running, *want);
    // 128 examples in batches of 64: two training steps.
    let tracked = file
        .tensor("generator.model.9.num_batches_tracked")
        .expect("tracked");
    assert_eq!(
        i64::from_le_bytes(tracked.data().try_into().expect("8 bytes")),
        2
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_dcgan_exports_as_examples_dcgan() {
    let dir = scratch("dcgan");
    let (checkpoint, export) = trained_with_and_exported("gan", &["--arch", "dcgan"], &dir);
    let bytes = std::fs::read(&export).expect("export written");
    assert_matches_reference(&bytes, DCGAN);
    let file = SafeTensors::deserialize(&bytes).expect("safetensors");
    let ours = Checkpoint::open(&checkpoint).expect("checkpoint");
    let kernel = f32s(
        file.tensor("generator.main.3.weight")
            .expect("kernel")
            .data(),
    );
    let want = &ours
        .state()
        .get("generator.1.weight")
        .expect("gengpu's")
        .values;
    assert_eq!(kernel, *want, "kernels are stored as PyTorch stores them");
    // Two steps: the generator in training mode once each, the discriminator three times.
    let tracked = |name: &str| {
        let t = file.tensor(name).expect("tracked");
        i64::from_le_bytes(t.data().try_into().expect("8 bytes"))
    };
    assert_eq!(tracked("generator.main.1.num_batches_tracked"), 2);
    assert_eq!(tracked("discriminator.main.3.num_batches_tracked"), 6);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_vae_without_a_reference_module_is_refused() {
    let dir = scratch("deep");
    let run = dir.join("run");
    train_vae(
        &run,
        "--backend cpu --epochs 1 --limit 64 --batch-size 64 --hidden 32,16",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_gengpu"))
        .args(["export", "--checkpoint"])
        .arg(run.join("checkpoint.safetensors"))
        .arg("--out")
        .arg(dir.join("x.safetensors"))
        .output()
        .expect("run gengpu");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("one hidden layer"), "{stderr}");
    assert!(!dir.join("x.safetensors").exists());
    std::fs::remove_dir_all(dir).ok();
}

//! Whole training steps on the GPU and the CPU from the same initial weights and seed: the
//! losses and every weight agree after several steps.

mod common;

use common::{assert_close, gpu};
use gengpu::backend::cpu::CpuBackend;
use gengpu::backend::{Augment, Backend, Contraction};
use gengpu::data::Dataset;
use gengpu::model::Step;
use gengpu::model::classifier::{Classifier, ClassifierConfig};
use gengpu::model::gan::{Gan, GanArch, GanConfig, GanSums};
use gengpu::model::vae::{Vae, VaeArch, VaeConfig};
use gengpu::optim::Adam;
use gengpu::train::DeviceData;

const STEPS: usize = 5;
const BATCH: usize = 32;

fn config() -> VaeConfig {
    VaeConfig {
        height: 28,
        width: 28,
        hidden: vec![48],
        latent: 5,
        binarize: false,
        arch: VaeArch::Mlp,
        channels: 1,
    }
}

/// A small convolutional VAE: 28 → 14 → 7 → 1 with 3 and 6 channels, and back.
fn conv_config() -> VaeConfig {
    VaeConfig {
        arch: VaeArch::Conv { features: 3 },
        ..config()
    }
}

/// Runs `STEPS` VAE training steps; returns the summed (BCE, KL) and the parameters.
fn vae_steps(
    backend: &mut dyn Backend,
    config: &VaeConfig,
    data: &Dataset,
) -> ((f64, f64), Vec<f32>) {
    let mut vae = Vae::new(backend, config.clone(), BATCH, 7).unwrap();
    let device = DeviceData::upload(backend, data).unwrap();
    device.shuffle(backend, 3, 1).unwrap();
    let adam = Adam::pytorch(1e-3);
    vae.reset_sums(backend).unwrap();
    for step in 0..STEPS {
        // The last batch is partial (BATCH · STEPS > data.count) to cover smaller batches.
        let rows = BATCH.min(data.count - step * BATCH);
        device
            .gather(backend, step * BATCH, 1.0 / 255.0, 0.0, &vae.input(rows))
            .unwrap();
        let step = Step {
            seed: 11,
            index: step as u64,
        };
        vae.train_step(backend, rows, step, &adam).unwrap();
        backend.submit().unwrap();
    }
    let sums = vae.read_sums(backend).unwrap();
    (sums, backend.read(&vae.store.params).unwrap())
}

#[test]
fn vae_training_steps_match() {
    vae_steps_match("vae_training_steps_match", &config());
}

#[test]
fn conv_vae_training_steps_match() {
    vae_steps_match("conv_vae_training_steps_match", &conv_config());
}

fn vae_steps_match(test: &str, config: &VaeConfig) {
    let Some(mut gpu) = gpu(test) else {
        return;
    };
    let data = Dataset::bundled().take(BATCH * (STEPS - 1) + 13);
    let (cpu_sums, cpu_params) = vae_steps(&mut CpuBackend::new(), config, &data);
    let fused = vae_steps(
        &mut CpuBackend::with_contraction(Contraction::Fused),
        config,
        &data,
    );
    let on_gpu = vae_steps(&mut gpu, config, &data);
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    // The GPU, and the reference with every a·b + c fused, within one tolerance of the
    // reference: the second shows that the tolerance covers a GPU that contracts.
    for (who, (sums, params)) in [("gpu", on_gpu), ("cpu with fma", fused)] {
        assert!(
            rel(sums.0, cpu_sums.0) < 1e-4,
            "{who}: BCE {sums:?} vs {cpu_sums:?}"
        );
        assert!(
            rel(sums.1, cpu_sums.1) < 1e-3,
            "{who}: KL {sums:?} vs {cpu_sums:?}"
        );
        assert_close(
            &format!("VAE parameters after 5 steps, {who}"),
            &params,
            &cpu_params,
            1e-5,
            1e-4,
        );
    }
    // The steps did move the weights: a no-op on both sides would also "agree".
    let mut cpu = CpuBackend::new();
    let vae = Vae::new(&mut cpu, config.clone(), BATCH, 7).unwrap();
    let init_params = cpu.read(&vae.store.params).unwrap();
    let moved = init_params
        .iter()
        .zip(&cpu_params)
        .filter(|(a, b)| (*a - *b).abs() > 1e-4)
        .count();
    assert!(
        moved > cpu_params.len() / 4,
        "only {moved} parameters moved"
    );
}

/// A small GAN of the default shape (batch norm included), `STEPS` steps; returns the
/// averaged sums and both networks' parameters and the running statistics.
fn gan_steps(
    backend: &mut dyn Backend,
    config: &GanConfig,
    data: &Dataset,
) -> (GanSums, Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut gan = Gan::new(backend, config.clone(), BATCH, 5).unwrap();
    let device = DeviceData::upload(backend, data).unwrap();
    let adam = Adam {
        beta1: 0.5,
        ..Adam::pytorch(2e-4)
    };
    gan.reset_sums(backend).unwrap();
    for step in 0..STEPS {
        device
            .gather(backend, step * BATCH, 2.0 / 255.0, -1.0, &gan.real_input())
            .unwrap();
        let step = Step {
            seed: 9,
            index: step as u64,
        };
        gan.train_step(backend, step, &adam).unwrap();
        backend.submit().unwrap();
    }
    let sums = gan.read_sums(backend, STEPS).unwrap();
    (
        sums,
        backend.read(&gan.g.params).unwrap(),
        backend.read(&gan.d.params).unwrap(),
        backend.read(&gan.running).unwrap(),
    )
}

#[test]
fn gan_training_steps_match() {
    let config = GanConfig {
        latent: 10,
        g_hidden: vec![16, 24, 32],
        d_hidden: vec![24, 12],
        ..GanConfig::pytorch_gan(28, 28)
    };
    gan_steps_match("gan_training_steps_match", &config);
}

/// A small DCGAN (3 and 5 channels next to the image), batch norm in both networks, the
/// discriminator's two halves normalized apart.
#[test]
fn dcgan_training_steps_match() {
    let config = GanConfig {
        latent: 10,
        arch: GanArch::Dcgan {
            g_features: 3,
            d_features: 5,
        },
        ..GanConfig::pytorch_gan(28, 28)
    };
    gan_steps_match("dcgan_training_steps_match", &config);
}

fn gan_steps_match(test: &str, config: &GanConfig) {
    let Some(mut gpu) = gpu(test) else {
        return;
    };
    let data = Dataset::bundled().take(BATCH * STEPS);
    let (cpu_sums, cpu_g, cpu_d, cpu_running) = gan_steps(&mut CpuBackend::new(), config, &data);
    let fused = gan_steps(
        &mut CpuBackend::with_contraction(Contraction::Fused),
        config,
        &data,
    );
    let on_gpu = gan_steps(&mut gpu, config, &data);
    let sums = |s: &GanSums| {
        vec![
            s.d_loss as f32,
            s.g_loss as f32,
            s.d_real as f32,
            s.d_fake as f32,
        ]
    };
    // As for the VAE: the GPU and the fused reference within one tolerance of the reference.
    for (who, (s, g, d, running)) in [("gpu", on_gpu), ("cpu with fma", fused)] {
        assert_close(
            &format!("GAN losses and D outputs, {who}"),
            &sums(&s),
            &sums(&cpu_sums),
            1e-5,
            1e-4,
        );
        assert_close(
            &format!("generator parameters, {who}"),
            &g,
            &cpu_g,
            1e-5,
            1e-4,
        );
        assert_close(
            &format!("discriminator parameters, {who}"),
            &d,
            &cpu_d,
            1e-5,
            1e-4,
        );
        assert_close(
            &format!("batch-norm running statistics, {who}"),
            &running,
            &cpu_running,
            1e-5,
            1e-4,
        );
    }
    assert!(cpu_sums.d_loss.is_finite() && cpu_sums.d_loss > 0.0);
}

/// A small classifier, `STEPS` steps on shifted digits and their labels; returns the summed
/// loss and the parameters.
fn classifier_steps(backend: &mut dyn Backend, data: &Dataset) -> (f64, Vec<f32>) {
    let config = ClassifierConfig {
        hidden: vec![40, 24],
        ..ClassifierConfig::digits(28, 28)
    };
    let mut classifier = Classifier::new(backend, config, BATCH, 5).unwrap();
    let device = DeviceData::upload(backend, data).unwrap();
    device.shuffle(backend, 3, 1).unwrap();
    let adam = Adam::pytorch(1e-3);
    classifier.reset_sums(backend).unwrap();
    for step in 0..STEPS {
        let rows = BATCH.min(data.count - step * BATCH);
        let step = Step {
            seed: 11,
            index: step as u64,
        };
        let shifts = Augment {
            max_shift: 2,
            width: 28,
            seed: step.seed,
            stream: step.stream(),
            ..Augment::NONE
        };
        let first = step.index as usize * BATCH;
        device
            .gather_augmented(
                backend,
                first,
                1.0 / 255.0,
                &shifts,
                &classifier.input(rows),
            )
            .unwrap();
        device
            .gather_labels(backend, first, &classifier.labels(rows))
            .unwrap();
        classifier.train_step(backend, rows, step, &adam).unwrap();
        backend.submit().unwrap();
    }
    let sum = classifier.read_sum(backend).unwrap();
    (sum, backend.read(&classifier.store.params).unwrap())
}

#[test]
fn classifier_training_steps_match() {
    let Some(mut gpu) = gpu("classifier_training_steps_match") else {
        return;
    };
    let data = Dataset::bundled().take(BATCH * (STEPS - 1) + 13);
    let (cpu_loss, cpu_params) = classifier_steps(&mut CpuBackend::new(), &data);
    let fused = classifier_steps(&mut CpuBackend::with_contraction(Contraction::Fused), &data);
    let on_gpu = classifier_steps(&mut gpu, &data);
    for (who, (loss, params)) in [("gpu", on_gpu), ("cpu with fma", fused)] {
        assert!(
            (loss - cpu_loss).abs() / cpu_loss < 1e-4,
            "{who}: loss {loss} vs {cpu_loss}"
        );
        assert_close(
            &format!("classifier parameters after 5 steps, {who}"),
            &params,
            &cpu_params,
            1e-5,
            1e-4,
        );
    }
}

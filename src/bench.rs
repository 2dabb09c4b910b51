//! `gengpu bench`: matmul throughput and whole training steps, timed on one backend, with the
//! hardware-independent counts per step beside the times.

use std::time::Instant;

use crate::backend::{Activation, Backend, Counters, MatmulForm, Result, Tensor};
use crate::data::Dataset;
use crate::model::Step;
use crate::model::gan::{Gan, GanConfig};
use crate::model::vae::{Vae, VaeConfig};
use crate::optim::Adam;
use crate::train::{DeviceData, gan, vae};

/// One measurement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Measurement {
    pub name: String,
    /// Milliseconds per repetition (after a warm-up that builds pipelines).
    pub ms: f64,
    /// GFLOP/s, for matmuls.
    pub gflops: Option<f64>,
    /// Counts per repetition.
    pub per_step: Option<Counters>,
}

/// Waits for everything submitted, by reading one value back.
fn sync(backend: &mut dyn Backend, t: &Tensor) -> Result<()> {
    backend.read(&t.view(0, 1, 1)).map(|_| ())
}

/// `C = A·Bᵀ`-style products of the given sizes, `reps` times each.
pub fn matmuls(backend: &mut dyn Backend, reps: usize) -> Result<Vec<Measurement>> {
    let shapes = [
        ("matmul 512x512x512 NN", MatmulForm::NN, 512, 512, 512),
        (
            "matmul VAE fc1 128x400x784 NT",
            MatmulForm::NT,
            128,
            400,
            784,
        ),
        (
            "matmul VAE dW1 400x784x128 TN",
            MatmulForm::TN,
            400,
            784,
            128,
        ),
    ];
    let mut out = Vec::new();
    for (name, form, m, n, k) in shapes {
        let (a_shape, b_shape) = match form {
            MatmulForm::NN => ((m, k), (k, n)),
            MatmulForm::NT => ((m, k), (n, k)),
            MatmulForm::TN => ((k, m), (k, n)),
        };
        let a = backend.alloc(a_shape.0, a_shape.1)?;
        let b = backend.alloc(b_shape.0, b_shape.1)?;
        let c = backend.alloc(m, n)?;
        backend.fill(&a, 0.5)?;
        backend.fill(&b, 0.25)?;
        backend.matmul(form, &a, &b, None, Activation::Identity, &c)?;
        sync(backend, &c)?;
        let started = Instant::now();
        for _ in 0..reps {
            backend.matmul(form, &a, &b, None, Activation::Identity, &c)?;
            backend.submit()?;
        }
        sync(backend, &c)?;
        let seconds = started.elapsed().as_secs_f64() / reps as f64;
        out.push(Measurement {
            name: name.into(),
            ms: seconds * 1e3,
            gflops: Some(2.0 * (m * n * k) as f64 / seconds / 1e9),
            per_step: None,
        });
    }
    Ok(out)
}

/// Times `steps` VAE training steps (PyTorch's example: 784-400-20, batch 128).
pub fn vae_steps(backend: &mut dyn Backend, steps: usize) -> Result<Measurement> {
    let data = Dataset::bundled();
    let config = VaeConfig::pytorch_example(data.rows, data.cols);
    let batch = 128;
    let mut vae = Vae::new(backend, config, batch, 1)?;
    let device = DeviceData::upload(backend, &data)?;
    let adam = Adam::pytorch(1e-3);
    let params = vae.store.params;
    time_steps(
        "VAE training step (batch 128)",
        backend,
        steps,
        &params,
        |backend, s| {
            let first = (s * batch) % (data.count - batch);
            device.gather(backend, first, vae::PIXEL_SCALE, 0.0, &vae.input(batch))?;
            vae.train_step(backend, batch, bench_step(s), &adam)
        },
    )
}

/// Times `steps` GAN training steps (PyTorch-GAN's MLP GAN, batch 64).
pub fn gan_steps(backend: &mut dyn Backend, steps: usize) -> Result<Measurement> {
    let data = Dataset::bundled();
    let config = GanConfig::pytorch_gan(data.rows, data.cols);
    let batch = 64;
    let mut gan = Gan::new(backend, config, batch, 1)?;
    let device = DeviceData::upload(backend, &data)?;
    let adam = Adam {
        beta1: 0.5,
        ..Adam::pytorch(2e-4)
    };
    let params = gan.d.params;
    time_steps(
        "GAN training step (batch 64)",
        backend,
        steps,
        &params,
        |backend, s| {
            let first = (s * batch) % (data.count - batch);
            let real = gan.real_input();
            device.gather(backend, first, gan::PIXEL_SCALE, gan::PIXEL_SHIFT, &real)?;
            gan.train_step(backend, bench_step(s), &adam)
        },
    )
}

/// The `s`-th timed step of a model.
fn bench_step(s: usize) -> Step {
    Step {
        seed: 1,
        index: s as u64,
    }
}

/// Runs `step` once to warm up, then `steps` times, each submitted on its own, and waits for
/// the device by reading `written` (a tensor the steps write).
fn time_steps(
    name: &str,
    backend: &mut dyn Backend,
    steps: usize,
    written: &Tensor,
    mut step: impl FnMut(&mut dyn Backend, usize) -> Result<()>,
) -> Result<Measurement> {
    step(backend, 0)?;
    backend.submit()?;
    sync(backend, written)?;
    let before = backend.counters();
    let started = Instant::now();
    for s in 1..=steps {
        step(backend, s)?;
        backend.submit()?;
    }
    sync(backend, written)?;
    Ok(per_step(name, started, steps, backend, &before))
}

fn per_step(
    name: &str,
    started: Instant,
    steps: usize,
    backend: &dyn Backend,
    before: &Counters,
) -> Measurement {
    let total = backend.counters().since(before);
    let n = steps as u64;
    Measurement {
        name: name.into(),
        ms: started.elapsed().as_secs_f64() * 1e3 / steps as f64,
        gflops: None,
        per_step: Some(Counters {
            dispatches: total.dispatches / n,
            submits: total.submits / n,
            bytes_uploaded: total.bytes_uploaded / n,
            bytes_read: total.bytes_read / n,
        }),
    }
}

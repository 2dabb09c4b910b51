//! What a steady GPU training step costs the host, counted (not timed): one submit, no host
//! wait, no byte uploaded — the device advances the step number, the random stream and the
//! batch position itself (`src/backend/gpu/params.rs`) — no new buffer, bind group or
//! pipeline; and the weights after many such steps, across an epoch boundary where the batch
//! position jumps back, still agree with the CPU's.

mod common;

use common::{assert_close, gpu};
use gengpu::backend::cpu::CpuBackend;
use gengpu::backend::{Backend, Counters};
use gengpu::data::Dataset;
use gengpu::model::Step;
use gengpu::model::vae::{Vae, VaeConfig};
use gengpu::optim::Adam;
use gengpu::train::DeviceData;

const BATCH: usize = 16;
/// Steps per "epoch": the batch position starts again from 0 after this many.
const EPOCH: usize = 6;
const STEPS: usize = 15;
/// Steps before the parameter deltas are steady: the first sets them, the second corrects
/// those of the words that do not move.
const SETTLING: usize = 2;

/// `STEPS` VAE steps; returns the parameters and each step's counts. `after_step` sees the
/// backend after each step.
fn run<B: Backend>(
    backend: &mut B,
    data: &Dataset,
    mut after_step: impl FnMut(&B),
) -> (Vec<f32>, Vec<Counters>) {
    let config = VaeConfig {
        height: 28,
        width: 28,
        hidden: vec![32],
        latent: 4,
        ..VaeConfig::pytorch_example(28, 28)
    };
    let mut vae = Vae::new(backend, config, BATCH, 5).unwrap();
    let device = DeviceData::upload(backend, data).unwrap();
    device.shuffle(backend, 2, 1).unwrap();
    let adam = Adam::pytorch(1e-3);
    backend.submit().unwrap();
    let mut counts = Vec::new();
    for s in 0..STEPS {
        let before = backend.counters();
        let first = (s % EPOCH) * BATCH;
        device
            .gather(backend, first, 1.0 / 255.0, 0.0, &vae.input(BATCH))
            .unwrap();
        let step = Step {
            seed: 3,
            index: s as u64,
        };
        vae.train_step(backend, BATCH, step, &adam).unwrap();
        backend.submit().unwrap();
        counts.push(backend.counters().since(&before));
        after_step(backend);
    }
    (backend.read(&vae.store.params).unwrap(), counts)
}

#[test]
fn steady_gpu_steps_upload_nothing_and_match_the_cpu() {
    let Some(mut gpu) = gpu("steady_gpu_steps_upload_nothing_and_match_the_cpu") else {
        return;
    };
    let data = Dataset::bundled();
    let (cpu_params, _) = run(&mut CpuBackend::new(), &data, |_| {});
    let mut resources = Vec::new();
    let (gpu_params, counts) = run(&mut gpu, &data, |gpu| resources.push(gpu.resources()));
    // (buffers, bind groups, pipelines): made by the first step, flat after it.
    assert!(
        resources[1..].iter().all(|r| *r == resources[1]),
        "{resources:?}"
    );
    for (s, c) in counts.iter().enumerate().skip(SETTLING) {
        assert_eq!((c.submits, c.host_waits), (1, 0), "step {s}: {c:?}");
        // Where the batch position jumps back (and the step after, which undoes the jump's
        // delta) one word's delta is uploaded; every other steady step uploads nothing.
        let jump = s % EPOCH == 0 || s % EPOCH == 1;
        if jump {
            assert!(c.bytes_uploaded <= 8, "step {s}: {c:?}");
        } else {
            assert_eq!(c.bytes_uploaded, 0, "step {s}: {c:?}");
        }
    }
    assert_close(
        &format!("VAE parameters after {STEPS} steps"),
        &gpu_params,
        &cpu_params,
        1e-5,
        1e-4,
    );
}

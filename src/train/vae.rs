//! Training, evaluating and sampling the VAE.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::progress::epoch_bar;
use super::{
    CheckpointMeta, DeviceData, MetricsLog, RunOptions, TrainError, require_image_shape,
    save_chart, save_grid,
};
use crate::backend::{Backend, rng};
use crate::checkpoint::{self, Checkpoint};
use crate::data::{Dataset, TrainTest};
use crate::model::vae::{Vae, VaeConfig, eval_stream, train_stream};
use crate::optim::{Adam, AdamSettings};

/// Inputs are pixel/255, as in PyTorch's example (not binarized).
pub const PIXEL_SCALE: f32 = 1.0 / 255.0;
/// The seed of the fixed prior draws shown in `sample_{epoch}.png`, so epochs can be compared.
const SAMPLE_SEED: u32 = 0x5eed;
/// Digits shown in `reconstruction_{epoch}.png`.
const SHOWN: usize = 8;
/// Side of the latent manifold grid written for 2-d latents.
const MANIFOLD_SIDE: usize = 20;

/// The settings of a VAE run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VaeSettings {
    pub run: RunOptions,
    pub optimizer: AdamSettings,
    pub config: VaeConfig,
}

/// What a VAE checkpoint carries beside the weights.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VaeMeta {
    pub config: VaeConfig,
    pub settings: VaeSettings,
    pub adam: Adam,
    pub epoch: usize,
    pub steps: u64,
    pub data: String,
    pub test_loss: f64,
}

/// One epoch's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    pub test_loss: f64,
    pub seconds: f64,
    pub steps: usize,
}

/// Loss of a VAE over a whole dataset, per example: `(loss, bce, kl)`.
pub fn evaluate(
    backend: &mut dyn Backend,
    vae: &mut Vae,
    data: &DeviceData,
    seed: u32,
) -> Result<(f64, f64, f64), TrainError> {
    vae.reset_sums(backend)?;
    let batch = vae.batch();
    for b in 0..data.batches(batch) {
        let rows = batch.min(data.count - b * batch);
        data.gather(backend, b * batch, PIXEL_SCALE, 0.0, &vae.input(rows))?;
        vae.eval_batch(backend, rows, seed, eval_stream(b as u64))?;
        backend.submit()?;
    }
    let (bce, kl) = vae.read_sums(backend)?;
    let n = data.count as f64;
    Ok(((bce + kl) / n, bce / n, kl / n))
}

/// Trains a VAE as `settings` say, writing metrics, pictures and checkpoints into
/// `settings.run.out`. Returns the per-epoch reports.
pub fn train(
    backend: &mut dyn Backend,
    data: &TrainTest,
    settings: &VaeSettings,
) -> Result<Vec<EpochReport>, TrainError> {
    let (run, config) = (&settings.run, &settings.config);
    run.validate(data.train.count)?;
    settings.optimizer.validate()?;
    config.validate()?;
    require_image_shape((config.height, config.width), &data.train)?;
    require_image_shape((config.height, config.width), &data.test)?;
    run.prepare_out()?;
    let mut vae = Vae::new(backend, config.clone(), run.batch_size, run.seed)?;
    let train_data = DeviceData::upload(backend, &data.train)?;
    let test_data = DeviceData::upload(backend, &data.test)?;
    let mut adam = Adam::new(settings.optimizer);
    let mut metrics = MetricsLog::create(&run.out)?;
    let seed = run.seed as u32;
    let mut reports: Vec<EpochReport> = Vec::new();
    let mut steps_done: u64 = 0;
    let batches = train_data.batches(run.batch_size);
    for epoch in 1..=run.epochs {
        let started = Instant::now();
        train_data.shuffle(backend, run.seed, epoch)?;
        vae.reset_sums(backend)?;
        // The per-step counts in the metrics are those of the steps alone.
        backend.submit()?;
        let before = backend.counters();
        let bar = epoch_bar(epoch, run.epochs, batches);
        let mut seen = 0;
        for b in 0..batches {
            let rows = run.batch_size.min(train_data.count - b * run.batch_size);
            train_data.gather(
                backend,
                b * run.batch_size,
                PIXEL_SCALE,
                0.0,
                &vae.input(rows),
            )?;
            vae.train_step(backend, rows, seed, train_stream(steps_done))?;
            adam.step(backend, &vae.store)?;
            backend.submit()?;
            steps_done += 1;
            seen += rows;
            bar.inc(1);
            if (b + 1) % run.log_every == 0 && !bar.is_hidden() {
                let (bce, kl) = vae.read_sums(backend)?;
                bar.set_message(format!("loss {:.2}", (bce + kl) / seen as f64));
            }
        }
        let after_training = backend.counters();
        let (bce, kl) = vae.read_sums(backend)?;
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let train_loss = (bce + kl) / train_data.count as f64;
        let eval_started = Instant::now();
        let (test_loss, test_bce, test_kl) = evaluate(backend, &mut vae, &test_data, seed)?;
        let eval_seconds = eval_started.elapsed().as_secs_f64();
        println!(
            "epoch {epoch:>3}/{}  train loss {train_loss:8.3}  test loss {test_loss:8.3} \
             (BCE {test_bce:.2} + KL {test_kl:.2})  {seconds:6.2} s, {:.1} steps/s",
            run.epochs,
            batches as f64 / seconds
        );
        let record = json!({
            "epoch": epoch,
            "train_loss": train_loss,
            "train_bce": bce / train_data.count as f64,
            "train_kl": kl / train_data.count as f64,
            "test_loss": test_loss,
            "test_bce": test_bce,
            "test_kl": test_kl,
            "seconds": seconds,
            "eval_seconds": eval_seconds,
            "steps": batches,
            "steps_per_second": batches as f64 / seconds,
        });
        metrics.append(record, backend, &after_training.since(&before), batches)?;
        reports.push(EpochReport {
            epoch,
            train_loss,
            test_loss,
            seconds,
            steps: batches,
        });
        write_pictures(
            backend, &mut vae, &data.test, &test_data, &run.out, epoch, seed,
        )?;
        write_loss_chart(&reports, &run.out)?;
        let meta = CheckpointMeta::Vae(VaeMeta {
            config: config.clone(),
            settings: settings.clone(),
            adam,
            epoch,
            steps: steps_done,
            data: data.description.clone(),
            test_loss,
        });
        let state = vae.store.read_state(backend)?;
        let tensors = checkpoint::store_tensors(&vae.store.layout, &state);
        checkpoint::save(&run.checkpoint_path(), &meta, &tensors)?;
    }
    Ok(reports)
}

/// `reconstruction_{epoch}.png`, `sample_{epoch}.png` and, for 2-d latents,
/// `manifold_{epoch}.png`.
fn write_pictures(
    backend: &mut dyn Backend,
    vae: &mut Vae,
    test: &Dataset,
    test_data: &DeviceData,
    out: &Path,
    epoch: usize,
    seed: u32,
) -> Result<(), TrainError> {
    let (h, w) = (vae.config.height, vae.config.width);
    let shown = SHOWN.min(vae.batch()).min(test.count);
    test_data.gather(backend, 0, PIXEL_SCALE, 0.0, &vae.input(shown))?;
    let mut cells: Vec<f32> = test.images[..shown * h * w]
        .iter()
        .map(|&b| f32::from(b) * PIXEL_SCALE)
        .collect();
    cells.extend(vae.reconstruct(backend, shown, seed, u32::MAX - 1)?);
    let path = out.join(format!("reconstruction_{epoch}.png"));
    save_grid(&cells, 2 * shown, (h, w), shown, &path)?;
    let samples = sample(backend, vae, 64, SAMPLE_SEED)?;
    save_grid(
        &samples,
        64,
        (h, w),
        8,
        &out.join(format!("sample_{epoch}.png")),
    )?;
    if vae.config.latent == 2 {
        let manifold = vae.decode(backend, &manifold_points())?;
        let path = out.join(format!("manifold_{epoch}.png"));
        let count = MANIFOLD_SIDE * MANIFOLD_SIDE;
        save_grid(&manifold, count, (h, w), MANIFOLD_SIDE, &path)?;
    }
    Ok(())
}

/// A square grid of 2-d latent points spanning ±2 standard deviations of the prior.
fn manifold_points() -> Vec<f32> {
    let at = |i: usize| -2.0 + 4.0 * i as f32 / (MANIFOLD_SIDE - 1) as f32;
    (0..MANIFOLD_SIDE)
        .flat_map(|row| (0..MANIFOLD_SIDE).flat_map(move |col| [at(col), -at(row)]))
        .collect()
}

/// Decodes `n` draws from the prior, the same for a given `seed` whatever the batch size.
pub fn sample(
    backend: &mut dyn Backend,
    vae: &mut Vae,
    n: usize,
    seed: u32,
) -> Result<Vec<f32>, TrainError> {
    let latents = rng::normals(seed, 0, n * vae.config.latent);
    Ok(vae.decode(backend, &latents)?)
}

/// Straight lines in latent space between the means of consecutive test digits:
/// `lines` rows of `steps` images each.
pub fn interpolate(
    backend: &mut dyn Backend,
    vae: &mut Vae,
    test: &DeviceData,
    lines: usize,
    steps: usize,
) -> Result<Vec<f32>, TrainError> {
    let l = vae.config.latent;
    let ends = (2 * lines).min(test.count / 2 * 2);
    let mut means = Vec::with_capacity(ends * l);
    // An even number of rows per batch, so that no pair is split.
    let per_batch = vae.batch() / 2 * 2;
    if per_batch == 0 {
        return Err(TrainError::Setting(
            "interpolation needs batches of at least 2".into(),
        ));
    }
    for first in (0..ends).step_by(per_batch) {
        let rows = per_batch.min(ends - first);
        test.gather(backend, first, PIXEL_SCALE, 0.0, &vae.input(rows))?;
        means.extend(vae.encode_means(backend, rows)?);
    }
    let mut latents = Vec::with_capacity(ends / 2 * steps * l);
    for pair in means.chunks_exact(2 * l) {
        let (a, b) = pair.split_at(l);
        for s in 0..steps {
            let t = s as f32 / (steps.max(2) - 1) as f32;
            latents.extend(a.iter().zip(b).map(|(a, b)| a + t * (b - a)));
        }
    }
    Ok(vae.decode(backend, &latents)?)
}

/// `loss.png`: train and test loss per epoch.
fn write_loss_chart(reports: &[EpochReport], out: &Path) -> Result<(), TrainError> {
    let train: Vec<(f64, f64)> = reports
        .iter()
        .map(|r| (r.epoch as f64, r.train_loss))
        .collect();
    let test: Vec<(f64, f64)> = reports
        .iter()
        .map(|r| (r.epoch as f64, r.test_loss))
        .collect();
    Ok(save_chart(
        &out.join("loss.png"),
        "VAE loss per example",
        "loss (nats)",
        &[("train", &train), ("test", &test)],
    )?)
}

/// The VAE of a checkpoint, ready to evaluate or sample.
pub(super) fn restore(
    backend: &mut dyn Backend,
    file: &Checkpoint,
    config: VaeConfig,
    batch: usize,
) -> Result<Vae, TrainError> {
    config.validate()?;
    let vae = Vae::new(backend, config, batch, 0)?;
    vae.store
        .write_state(backend, &file.store(&vae.store.layout)?)?;
    Ok(vae)
}

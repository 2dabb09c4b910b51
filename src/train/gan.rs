//! Training and sampling the GAN.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::progress::epoch_bar;
use super::{
    CheckpointMeta, DeviceData, MetricsLog, RunOptions, TrainError, require_image_shape, save_chart,
};
use crate::backend::{Backend, rng};
use crate::checkpoint::{self, Checkpoint};
use crate::data::TrainTest;
use crate::model::gan::{Gan, GanConfig, GanSums};
use crate::optim::{Adam, AdamSettings};
use crate::picture;

/// Real images are scaled to [-1, 1], the range of the generator's tanh.
pub const PIXEL_SCALE: f32 = 2.0 / 255.0;
pub const PIXEL_SHIFT: f32 = -1.0;
/// The seed of the fixed latents behind every `sample_{epoch}.png`, so epochs compare.
const SAMPLE_SEED: u32 = 0x5eed;
/// Images in a sample grid.
const SAMPLES: usize = 64;
/// Delay between frames of `progress.gif`.
const GIF_FRAME_MS: u32 = 500;

/// The settings of a GAN run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GanSettings {
    pub run: RunOptions,
    pub optimizer: AdamSettings,
    pub config: GanConfig,
}

/// What a GAN checkpoint carries beside the weights.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GanMeta {
    pub config: GanConfig,
    pub settings: GanSettings,
    pub adam_g: Adam,
    pub adam_d: Adam,
    pub epoch: usize,
    pub steps: u64,
    pub data: String,
}

/// One epoch's averages.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GanEpoch {
    pub epoch: usize,
    pub sums: GanSums,
    pub seconds: f64,
    pub steps: usize,
}

/// Generates `n` images from the standard normal latents of `seed`.
pub fn sample(
    backend: &mut dyn Backend,
    gan: &mut Gan,
    n: usize,
    seed: u32,
) -> Result<Vec<f32>, TrainError> {
    let latents = rng::normals(seed, 0, n * gan.config.latent);
    Ok(gan.generate(backend, &latents)?)
}

/// Trains a GAN as `settings` say, writing metrics, pictures and checkpoints into
/// `settings.run.out`. The last partial batch of an epoch is dropped: batch statistics of a
/// handful of examples would only add noise.
pub fn train(
    backend: &mut dyn Backend,
    data: &TrainTest,
    settings: &GanSettings,
) -> Result<Vec<GanEpoch>, TrainError> {
    let (run, config) = (&settings.run, &settings.config);
    run.validate(data.train.count)?;
    settings.optimizer.validate()?;
    config.validate()?;
    require_image_shape((config.height, config.width), &data.train)?;
    if config.batch_norm.is_some() && run.batch_size < 2 {
        return Err(TrainError::Setting(
            "batch norm needs --batch-size of at least 2".into(),
        ));
    }
    run.prepare_out()?;
    let mut gan = Gan::new(backend, config.clone(), run.batch_size, run.seed)?;
    let train_data = DeviceData::upload(backend, &data.train)?;
    let mut adam_g = Adam::new(settings.optimizer);
    let mut adam_d = Adam::new(settings.optimizer);
    let mut metrics = MetricsLog::create(&run.out)?;
    let seed = run.seed as u32;
    let steps = train_data.count / run.batch_size;
    let mut epochs: Vec<GanEpoch> = Vec::new();
    let mut frames: Vec<::image::GrayImage> = Vec::new();
    let mut steps_done: u64 = 0;
    for epoch in 1..=run.epochs {
        let started = Instant::now();
        train_data.shuffle(backend, run.seed, epoch)?;
        gan.reset_sums(backend)?;
        // The per-step counts in the metrics are those of the steps alone.
        backend.submit()?;
        let before = backend.counters();
        let bar = epoch_bar(epoch, run.epochs, steps);
        for s in 0..steps {
            let real = gan.real_input();
            train_data.gather(backend, s * run.batch_size, PIXEL_SCALE, PIXEL_SHIFT, &real)?;
            gan.train_step(backend, seed, steps_done as u32, &mut adam_g, &mut adam_d)?;
            backend.submit()?;
            steps_done += 1;
            bar.inc(1);
            if (s + 1) % run.log_every == 0 && !bar.is_hidden() {
                let sums = gan.read_sums(backend, s + 1)?;
                bar.set_message(format!("D {:.3}  G {:.3}", sums.d_loss, sums.g_loss));
            }
        }
        let after_training = backend.counters();
        let sums = gan.read_sums(backend, steps)?;
        let seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        println!(
            "epoch {epoch:>3}/{}  D loss {:.3}  G loss {:.3}  D(x) {:.3}  D(G(z)) {:.3}  {seconds:6.2} s, {:.1} steps/s",
            run.epochs,
            sums.d_loss,
            sums.g_loss,
            sums.d_real,
            sums.d_fake,
            steps as f64 / seconds
        );
        let record = json!({
            "epoch": epoch,
            "d_loss": sums.d_loss,
            "g_loss": sums.g_loss,
            "d_real": sums.d_real,
            "d_fake": sums.d_fake,
            "seconds": seconds,
            "steps": steps,
            "steps_per_second": steps as f64 / seconds,
        });
        metrics.append(record, backend, &after_training.since(&before), steps)?;
        epochs.push(GanEpoch {
            epoch,
            sums,
            seconds,
            steps,
        });

        let images = sample(backend, &mut gan, SAMPLES, SAMPLE_SEED)?;
        let grid = picture::grid(&images, SAMPLES, config.height, config.width, 8);
        picture::save_png(&grid, run.out.join(format!("sample_{epoch}.png")))?;
        frames.push(grid);
        picture::save_gif(&frames, GIF_FRAME_MS, run.out.join("progress.gif"))?;
        write_charts(&epochs, &run.out)?;
        let meta = CheckpointMeta::Gan(GanMeta {
            config: config.clone(),
            settings: settings.clone(),
            adam_g,
            adam_d,
            epoch,
            steps: steps_done,
            data: data.description.clone(),
        });
        let (g_state, d_state) = (gan.g.read_state(backend)?, gan.d.read_state(backend)?);
        let running = backend.read(&gan.running)?;
        let mut tensors = checkpoint::store_tensors(&gan.g.layout, &g_state);
        tensors.extend(checkpoint::store_tensors(&gan.d.layout, &d_state));
        tensors.extend(checkpoint::layout_tensors(
            &gan.running_layout,
            "",
            &running,
        ));
        checkpoint::save(&run.checkpoint_path(), &meta, &tensors)?;
    }
    Ok(epochs)
}

/// `loss.png`: both losses per epoch, and D's mean outputs.
fn write_charts(epochs: &[GanEpoch], out: &Path) -> Result<(), TrainError> {
    let curve = |f: fn(&GanSums) -> f64| -> Vec<(f64, f64)> {
        epochs
            .iter()
            .map(|e| (e.epoch as f64, f(&e.sums)))
            .collect()
    };
    let (d, g) = (curve(|s| s.d_loss), curve(|s| s.g_loss));
    let (real, fake) = (curve(|s| s.d_real), curve(|s| s.d_fake));
    Ok(save_chart(
        &out.join("loss.png"),
        "GAN losses and discriminator outputs",
        "mean per epoch",
        &[
            ("D loss", &d),
            ("G loss", &g),
            ("D(x)", &real),
            ("D(G(z))", &fake),
        ],
    )?)
}

/// The GAN of a checkpoint, ready to sample.
pub(super) fn restore(
    backend: &mut dyn Backend,
    file: &Checkpoint,
    config: GanConfig,
    batch: usize,
) -> Result<Gan, TrainError> {
    config.validate()?;
    let gan = Gan::new(backend, config, batch, 0)?;
    gan.g.write_state(backend, &file.store(&gan.g.layout)?)?;
    gan.d.write_state(backend, &file.store(&gan.d.layout)?)?;
    if !gan.running_layout.is_empty() {
        backend.upload(&gan.running, &file.values(&gan.running_layout, "")?)?;
    }
    Ok(gan)
}

//! The VAE's part in training ([`VaeTrainee`]), and evaluating, sampling and interpolating a
//! VAE.

use std::path::Path;

use super::trainer::{Chart, Figures, Trainee, figure};
use super::{DeviceData, Settings, TrainError, require_image_shape};
use crate::backend::Backend;
use crate::backend::Tensor;
use crate::data::TrainTest;
use crate::model::vae::{Vae, VaeConfig};
use crate::model::{Generative, PICTURE_SEED, Step, eval_stream, sample};
use crate::nn::{LoadError, State};
use crate::optim::Adam;
use crate::picture::save_grid;

/// Inputs are pixel/255, as in PyTorch's example (not binarized).
pub const PIXEL_SCALE: f32 = 1.0 / 255.0;
/// The random stream of the reconstructions in `reconstruction_{epoch}.png`.
const RECONSTRUCTION_STREAM: u32 = u32::MAX - 1;
/// Digits shown in `reconstruction_{epoch}.png`.
const SHOWN: usize = 8;
/// Side of the latent manifold grid written for 2-d latents.
const MANIFOLD_SIDE: usize = 20;

/// The settings of a VAE run.
pub type VaeSettings = Settings<VaeConfig>;

/// A VAE in training: the model, its optimizer, and the test data it is scored on.
pub struct VaeTrainee {
    vae: Vae,
    adam: Adam,
    seed: u32,
    batch: usize,
    train_count: usize,
    test: DeviceData,
    /// The first test images as pixel/255, shown above their reconstructions.
    shown: Vec<f32>,
}

impl VaeTrainee {
    /// Builds the model of `settings` for `data`, with the test split on the device.
    pub fn new(
        backend: &mut dyn Backend,
        data: &TrainTest,
        settings: &VaeSettings,
    ) -> Result<Self, TrainError> {
        let config = &settings.config;
        config.validate()?;
        require_image_shape((config.height, config.width), &data.train)?;
        require_image_shape((config.height, config.width), &data.test)?;
        let batch = settings.run.batch_size;
        let vae = Vae::new(backend, config.clone(), batch, settings.run.seed)?;
        let shown = SHOWN.min(batch).min(data.test.count);
        Ok(VaeTrainee {
            vae,
            adam: settings.optimizer,
            seed: settings.run.seed as u32,
            batch,
            train_count: data.train.count,
            test: DeviceData::upload(backend, &data.test)?,
            shown: data.test.images[..shown * config.pixels()]
                .iter()
                .map(|&b| f32::from(b) * PIXEL_SCALE)
                .collect(),
        })
    }
}

impl Trainee for VaeTrainee {
    fn load_state(&mut self, backend: &mut dyn Backend, state: &State) -> Result<(), LoadError> {
        self.vae.load_state(backend, state)
    }

    fn epoch_sums(&self) -> Tensor {
        self.vae.sums()
    }

    fn steps_per_epoch(&self, examples: usize) -> usize {
        examples.div_ceil(self.batch)
    }

    fn start_epoch(&mut self, backend: &mut dyn Backend) -> Result<(), TrainError> {
        Ok(self.vae.reset_sums(backend)?)
    }

    fn step(
        &mut self,
        backend: &mut dyn Backend,
        data: &DeviceData,
        batch: usize,
        step: Step,
    ) -> Result<(), TrainError> {
        let first = batch * self.batch;
        let rows = self.batch.min(data.count - first);
        data.gather(backend, first, PIXEL_SCALE, 0.0, &self.vae.input(rows))?;
        Ok(self.vae.train_step(backend, rows, step, &self.adam)?)
    }

    fn progress(&self, figures: &Figures) -> String {
        format!("loss {:.3}", figure(figures, "train_loss"))
    }

    fn training_figures(
        &mut self,
        backend: &mut dyn Backend,
        steps: usize,
    ) -> Result<Figures, TrainError> {
        let (bce, kl) = self.vae.read_sums(backend)?;
        // Per example seen: all of them once the epoch is done.
        let n = (steps * self.batch).min(self.train_count) as f64;
        Ok(vec![
            ("train_loss", (bce + kl) / n),
            ("train_bce", bce / n),
            ("train_kl", kl / n),
        ])
    }

    fn evaluate(&mut self, backend: &mut dyn Backend) -> Result<Option<Figures>, TrainError> {
        let (loss, bce, kl) = evaluate(backend, &mut self.vae, &self.test, self.seed)?;
        Ok(Some(vec![
            ("test_loss", loss),
            ("test_bce", bce),
            ("test_kl", kl),
        ]))
    }

    fn summary(&self, f: &Figures) -> String {
        format!(
            "train loss {:8.3}  test loss {:8.3} (BCE {:.3} + KL {:.3})",
            figure(f, "train_loss"),
            figure(f, "test_loss"),
            figure(f, "test_bce"),
            figure(f, "test_kl")
        )
    }

    fn chart(&self) -> Chart {
        Chart {
            title: "VAE loss per example",
            y_label: "loss (nats)",
            series: &[("train", "train_loss"), ("test", "test_loss")],
            file: "loss.png",
        }
    }

    /// `reconstruction_{epoch}.png`, `sample_{epoch}.png` and, for 2-d latents,
    /// `manifold_{epoch}.png`.
    fn write_pictures(
        &mut self,
        backend: &mut dyn Backend,
        out: &Path,
        epoch: usize,
    ) -> Result<(), TrainError> {
        let vae = &mut self.vae;
        let shape = (vae.config.height, vae.config.width);
        let shown = self.shown.len() / vae.config.pixels();
        self.test
            .gather(backend, 0, PIXEL_SCALE, 0.0, &vae.input(shown))?;
        let mut cells = self.shown.clone();
        cells.extend(vae.reconstruct(backend, shown, self.seed, RECONSTRUCTION_STREAM)?);
        let path = out.join(format!("reconstruction_{epoch}.png"));
        save_grid(&cells, 2 * shown, shape, shown, &path)?;
        let samples = sample(backend, vae, 64, PICTURE_SEED)?;
        save_grid(
            &samples,
            64,
            shape,
            8,
            &out.join(format!("sample_{epoch}.png")),
        )?;
        if vae.config.latent == 2 {
            let manifold = vae.decode(backend, &manifold_points())?;
            let path = out.join(format!("manifold_{epoch}.png"));
            let count = MANIFOLD_SIDE * MANIFOLD_SIDE;
            save_grid(&manifold, count, shape, MANIFOLD_SIDE, &path)?;
        }
        Ok(())
    }

    fn state(&self, backend: &mut dyn Backend) -> Result<State, TrainError> {
        Ok(self.vae.state(backend)?)
    }

    fn generative(&mut self) -> Option<&mut dyn Generative> {
        Some(&mut self.vae)
    }
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

/// A square grid of 2-d latent points spanning ±2 standard deviations of the prior.
fn manifold_points() -> Vec<f32> {
    let at = |i: usize| -2.0 + 4.0 * i as f32 / (MANIFOLD_SIDE - 1) as f32;
    (0..MANIFOLD_SIDE)
        .flat_map(|row| (0..MANIFOLD_SIDE).flat_map(move |col| [at(col), -at(row)]))
        .collect()
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

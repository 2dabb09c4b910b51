//! The VAE's part in training ([`VaeTrainee`]), and evaluating, sampling and interpolating a
//! VAE.

use std::path::Path;

use super::trainer::{Chart, Figures, Trainee, figure};
use super::{DeviceData, Settings, TrainError, require_image_shape};
use crate::backend::Tensor;
use crate::backend::{Augment, Backend};
use crate::data::TrainTest;
use crate::model::vae::{Vae, VaeConfig};
use crate::model::{Generative, PICTURE_SEED, Step, eval_stream, iw_stream, sample};
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
        require_image_shape(config.image(), &data.train)?;
        require_image_shape(config.image(), &data.test)?;
        let batch = settings.run.batch_size;
        let vae = Vae::new(backend, config.clone(), batch, settings.run.seed)?;
        let shown = SHOWN.min(batch).min(data.test.count);
        Ok(VaeTrainee {
            vae,
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
        adam: &Adam,
    ) -> Result<(), TrainError> {
        let first = batch * self.batch;
        let rows = self.batch.min(data.count - first);
        let pixels = input_pixels(&self.vae.config, step.seed, step.stream());
        data.gather_augmented(backend, first, PIXEL_SCALE, &pixels, &self.vae.input(rows))?;
        Ok(self.vae.train_step(backend, rows, step, adam)?)
    }

    fn progress(&self, figures: &Figures) -> String {
        format!("loss {:.3}", figure(figures, "train_loss"))
    }

    fn training_figures(&self, sums: &[f32], steps: usize) -> Figures {
        let (bce, kl) = Vae::loss_sums(sums);
        // Per example seen: all of them once the epoch is done.
        let n = (steps * self.batch).min(self.train_count) as f64;
        vec![
            ("train_loss", (bce + kl) / n),
            ("train_bce", bce / n),
            ("train_kl", kl / n),
        ]
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
        let shape = (vae.config.height, vae.config.width, vae.config.channels);
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

/// How a VAE's input is made from the bytes: pixel/255, or for a binarizing VAE a 0/1 draw per
/// pixel from `(seed, stream)`.
fn input_pixels(config: &VaeConfig, seed: u32, stream: u32) -> Augment {
    Augment {
        binarize: config.binarize,
        seed,
        stream,
        ..Augment::NONE
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
        let pixels = input_pixels(&vae.config, seed, eval_stream(b as u64));
        data.gather_augmented(backend, b * batch, PIXEL_SCALE, &pixels, &vae.input(rows))?;
        vae.eval_batch(backend, rows, seed, eval_stream(b as u64))?;
        backend.submit()?;
    }
    let (bce, kl) = vae.read_sums(backend)?;
    let n = data.count as f64;
    Ok(((bce + kl) / n, bce / n, kl / n))
}

/// The importance-weighted estimate of −log p(x) (Burda et al., *Importance Weighted
/// Autoencoders*), in nats per example, averaged over the dataset: see
/// [`importance_weighted_per_example`].
pub fn importance_weighted(
    backend: &mut dyn Backend,
    vae: &mut Vae,
    data: &DeviceData,
    seed: u32,
    samples: usize,
) -> Result<f64, TrainError> {
    let each = importance_weighted_per_example(backend, vae, data, seed, samples)?;
    Ok(each.iter().sum::<f64>() / each.len() as f64)
}

/// The importance-weighted estimate of −log p(x) of each example, in nats: `samples` draws z_k
/// from q(z|x) and `−log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x)`. It is never looser than the
/// ELBO in expectation and tightens as K grows.
///
/// Work goes in chunks of the Vae's batch rows: each chunk's examples are encoded once and
/// their draws decoded together (an example's stats broadcast over its draws); when `samples`
/// exceeds the batch, one example takes several chunks. The log weights are combined on the
/// host in f64 by a streaming log-sum-exp. Chunk `c` draws from [`iw_stream`]`(c)`, so the
/// estimate is a function of the seed, `samples` and the batch.
pub fn importance_weighted_per_example(
    backend: &mut dyn Backend,
    vae: &mut Vae,
    data: &DeviceData,
    seed: u32,
    samples: usize,
) -> Result<Vec<f64>, TrainError> {
    if samples == 0 {
        return Err(TrainError::Setting(
            "the importance-weighted estimate needs at least 1 sample per example".into(),
        ));
    }
    let batch = vae.batch();
    let per_chunk = samples.min(batch);
    let examples_per_chunk = batch / per_chunk;
    // Example numbers (for the encoder) then each repeated `per_chunk` times (for the targets).
    let indices = backend.alloc_indices(examples_per_chunk * (1 + per_chunk))?;
    let mut chunk = 0u64;
    let mut estimates = Vec::with_capacity(data.count);
    for first in (0..data.count).step_by(examples_per_chunk) {
        let examples = examples_per_chunk.min(data.count - first);
        let numbers = (first..first + examples).map(|e| e as u32);
        let repeated = numbers
            .clone()
            .flat_map(|e| std::iter::repeat_n(e, per_chunk));
        let mut chunk_indices: Vec<u32> = numbers.chain(repeated).collect();
        chunk_indices.resize(indices.len, 0);
        // The previous chunk was read back: nothing pending still reads the index buffer.
        backend.upload_indices(&indices, &chunk_indices)?;
        let bytes = &data.bytes;
        // Binarized alike in both gathers: the draws follow the example, not the row.
        let pixels = input_pixels(&vae.config, seed, iw_stream(chunk));
        let input = vae.input(examples);
        backend.gather_augmented(bytes, &indices, 0, PIXEL_SCALE, 0.0, &pixels, &input)?;
        let rows = examples * per_chunk;
        let targets = vae.sample_targets(rows);
        backend.gather_augmented(
            bytes,
            &indices,
            examples,
            PIXEL_SCALE,
            0.0,
            &pixels,
            &targets,
        )?;
        let stats = vae.encode(backend, examples)?;
        let mut sums = vec![LogSumExp::default(); examples];
        let mut drawn = 0;
        while drawn < samples {
            let draws = per_chunk.min(samples - drawn);
            let weights = vae.iw_log_weights(backend, &stats, draws, seed, iw_stream(chunk))?;
            for (sum, example) in sums.iter_mut().zip(weights.chunks_exact(draws)) {
                example.iter().for_each(|&w| sum.add(f64::from(w)));
            }
            chunk += 1;
            drawn += draws;
        }
        let log_k = (samples as f64).ln();
        estimates.extend(sums.iter().map(|s| log_k - s.log()));
    }
    Ok(estimates)
}

/// `log Σ exp(x_i)` of a stream of values, without overflow: the running maximum and the sum of
/// `exp(x_i − max)`, rescaled when the maximum grows.
#[derive(Clone, Copy, Debug)]
struct LogSumExp {
    max: f64,
    scaled_sum: f64,
}

impl Default for LogSumExp {
    fn default() -> Self {
        LogSumExp {
            max: f64::NEG_INFINITY,
            scaled_sum: 0.0,
        }
    }
}

impl LogSumExp {
    fn add(&mut self, x: f64) {
        if x > self.max {
            self.scaled_sum = self.scaled_sum * (self.max - x).exp() + 1.0;
            self.max = x;
        } else {
            self.scaled_sum += (x - self.max).exp();
        }
    }

    /// The log of the sum so far (−∞ for none; NaN if a value was NaN).
    fn log(&self) -> f64 {
        self.max + self.scaled_sum.ln()
    }
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

#[cfg(test)]
mod tests {
    use super::LogSumExp;

    #[test]
    fn streaming_log_sum_exp_is_stable_and_exact() {
        let values = [-1000.0, -999.0, 3.5, -2000.0, 700.0, 699.0];
        let mut sum = LogSumExp::default();
        values.iter().for_each(|&v| sum.add(v));
        let want = 700.0 + (1.0 + (-1.0f64).exp() + (3.5f64 - 700.0).exp()).ln();
        assert!((sum.log() - want).abs() < 1e-12, "{} vs {want}", sum.log());
        let mut one = LogSumExp::default();
        one.add(-5.0);
        assert_eq!(one.log(), -5.0);
        let mut nan = LogSumExp::default();
        nan.add(1.0);
        nan.add(f64::NAN);
        assert!(nan.log().is_nan(), "a NaN weight is not hidden");
    }
}

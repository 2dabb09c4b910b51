//! The GAN's part in training ([`GanTrainee`]), and sampling a GAN.

use std::path::Path;

use super::trainer::{Chart, Figures, Trainee, figure};
use super::{DeviceData, Settings, TrainError, require_image_shape};
use crate::backend::{Backend, Tensor};
use crate::data::TrainTest;
use crate::model::gan::{Gan, GanConfig, GanSums};
use crate::model::{Generative, PICTURE_SEED, Step, sample};
use crate::nn::{LoadError, State};
use crate::optim::Adam;
use crate::picture;

/// Real images are scaled to [-1, 1], the range of the generator's tanh.
pub const PIXEL_SCALE: f32 = 2.0 / 255.0;
pub const PIXEL_SHIFT: f32 = -1.0;
/// Images in a sample grid.
const SAMPLES: usize = 64;
/// Delay between frames of `progress.gif`.
const GIF_FRAME_MS: u32 = 500;

/// The settings of a GAN run.
pub type GanSettings = Settings<GanConfig>;

/// A GAN in training: the model, its optimizer's settings, and the frames of `progress.gif`.
pub struct GanTrainee {
    gan: Gan,
    batch: usize,
    frames: Vec<::image::DynamicImage>,
}

impl GanTrainee {
    /// Builds the model of `settings` for `data`.
    pub fn new(
        backend: &mut dyn Backend,
        data: &TrainTest,
        settings: &GanSettings,
    ) -> Result<Self, TrainError> {
        let config = &settings.config;
        config.validate()?;
        require_image_shape(config.image(), &data.train)?;
        let batch = settings.run.batch_size;
        if config.batch_norm.is_some() && batch < 2 {
            return Err(TrainError::Setting(
                "batch norm needs --batch-size of at least 2".into(),
            ));
        }
        Ok(GanTrainee {
            gan: Gan::new(backend, config.clone(), batch, settings.run.seed)?,
            batch,
            frames: Vec::new(),
        })
    }
}

impl Trainee for GanTrainee {
    fn load_state(&mut self, backend: &mut dyn Backend, state: &State) -> Result<(), LoadError> {
        self.gan.load_state(backend, state)
    }

    fn epoch_sums(&self) -> Tensor {
        self.gan.sums()
    }

    /// The animation's frames so far, from the epochs' `sample_{epoch}.png` (those present).
    fn resumed(&mut self, history: &Path, epochs_done: usize) -> Result<(), TrainError> {
        self.frames = (1..=epochs_done)
            .filter_map(|epoch| ::image::open(history.join(format!("sample_{epoch}.png"))).ok())
            .collect();
        Ok(())
    }

    /// The last partial batch of an epoch is dropped: batch statistics of a handful of
    /// examples would only add noise.
    fn steps_per_epoch(&self, examples: usize) -> usize {
        examples / self.batch
    }

    fn start_epoch(&mut self, backend: &mut dyn Backend) -> Result<(), TrainError> {
        Ok(self.gan.reset_sums(backend)?)
    }

    fn step(
        &mut self,
        backend: &mut dyn Backend,
        data: &DeviceData,
        batch: usize,
        step: Step,
        adam: &Adam,
    ) -> Result<(), TrainError> {
        let real = self.gan.real_input();
        data.gather(backend, batch * self.batch, PIXEL_SCALE, PIXEL_SHIFT, &real)?;
        Ok(self.gan.train_step(backend, step, adam)?)
    }

    fn progress(&self, f: &Figures) -> String {
        format!("D {:.3}  G {:.3}", figure(f, "d_loss"), figure(f, "g_loss"))
    }

    fn training_figures(&self, sums: &[f32], steps: usize) -> Figures {
        let sums = GanSums::of(sums, steps);
        vec![
            ("d_loss", sums.d_loss),
            ("g_loss", sums.g_loss),
            ("d_real", sums.d_real),
            ("d_fake", sums.d_fake),
        ]
    }

    fn summary(&self, f: &Figures) -> String {
        format!(
            "D loss {:.3}  G loss {:.3}  D(x) {:.3}  D(G(z)) {:.3}",
            figure(f, "d_loss"),
            figure(f, "g_loss"),
            figure(f, "d_real"),
            figure(f, "d_fake")
        )
    }

    fn chart(&self) -> Chart {
        Chart {
            title: "GAN losses and discriminator outputs",
            y_label: "mean per epoch",
            series: &[
                ("D loss", "d_loss"),
                ("G loss", "g_loss"),
                ("D(x)", "d_real"),
                ("D(G(z))", "d_fake"),
            ],
            file: "loss.png",
        }
    }

    /// `sample_{epoch}.png` from fixed latents, and `progress.gif` of every epoch's samples.
    fn write_pictures(
        &mut self,
        backend: &mut dyn Backend,
        out: &Path,
        epoch: usize,
    ) -> Result<(), TrainError> {
        let c = &self.gan.config;
        let shape = (c.height, c.width, c.channels);
        let images = sample(backend, &mut self.gan, SAMPLES, PICTURE_SEED)?;
        let grid = picture::grid(&images, SAMPLES, shape, 8);
        picture::save_dynamic(&grid, out.join(format!("sample_{epoch}.png")))?;
        self.frames.push(grid);
        picture::save_gif(&self.frames, GIF_FRAME_MS, out.join("progress.gif"))?;
        Ok(())
    }

    fn state(&self, backend: &mut dyn Backend) -> Result<State, TrainError> {
        Ok(self.gan.state(backend)?)
    }

    fn generative(&mut self) -> Option<&mut dyn Generative> {
        Some(&mut self.gan)
    }
}

//! The GANs, over any `Backend`: PyTorch-GAN's MLP GAN — a generator `latent → hidden… → P`
//! (LeakyReLU, batch norm after every hidden layer but the first, tanh out) and a discriminator
//! `P → hidden… → 1` (LeakyReLU) producing logits — or DCGAN's convolutional networks
//! ([`GanArch`]); BCE on logits, the non-saturating generator loss, the same step for both.
//!
//! The discriminator sees one input buffer of `2B` rows: the generator writes its `B` images
//! straight into the top half, a batch of real images is gathered into the bottom half, and the
//! discriminator's step runs on both halves at once.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::pyramid::Pyramid;
use super::{ConfigError, Generative, Step, check_channels, check_sizes, count_parameters};
use crate::backend::{Activation, Backend, BatchNormHyper, Result, Tensor};
use crate::nn::{ImageShape, Init, LayerSpec, LoadError, Network, ParamLayout, ParamStore, State};
use crate::optim::Adam;

/// The GAN's shape.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GanConfig {
    pub height: usize,
    pub width: usize,
    /// Values per pixel: 1 (grey) or 3 (RGB, channels last).
    #[serde(default = "super::one_channel")]
    pub channels: usize,
    /// Size of the generator's input noise.
    pub latent: usize,
    pub g_hidden: Vec<usize>,
    pub d_hidden: Vec<usize>,
    /// Batch normalization after the generator's hidden layers but the first, if any.
    pub batch_norm: Option<BatchNormHyper>,
    /// The LeakyReLU slope of both networks.
    pub slope: f32,
    /// The discriminator's target for real images: 1, or less for one-sided label smoothing
    /// (Salimans et al. 2016), which keeps it from growing overconfident on real digits.
    #[serde(default = "one")]
    pub real_label: f32,
    /// The networks: PyTorch-GAN's MLPs, or DCGAN's convolutions.
    #[serde(default)]
    pub arch: GanArch,
}

/// A GAN's networks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GanArch {
    /// PyTorch-GAN's MLPs, of `g_hidden` and `d_hidden` widths.
    #[default]
    Mlp,
    /// DCGAN (Radford et al., PyTorch's examples/dcgan) scaled to the images' side (see
    /// [`Pyramid`]): transposed convolutions with batch norm and ReLU to a tanh image; strided
    /// convolutions with LeakyReLU and batch norm (not on the first) to one logit; no biases;
    /// DCGAN's initialization. `g_features` and `d_features` are examples/dcgan's `ngf` and
    /// `ndf`: the channels next to the image, doubled at every level away from it.
    Dcgan {
        g_features: usize,
        d_features: usize,
    },
}

/// DCGAN's `ngf` and `ndf` unless told otherwise (examples/dcgan's).
pub const DCGAN_FEATURES: usize = 64;

/// Most channels next to the image: with the doubling at every level, far past any GPU.
const MAX_FEATURES: usize = 4096;

/// Both networks of a GAN, as declared.
pub struct Networks {
    pub g_input: ImageShape,
    pub g: Vec<LayerSpec>,
    pub d_input: ImageShape,
    pub d: Vec<LayerSpec>,
    pub init: Init,
}

fn one() -> f32 {
    1.0
}

impl GanConfig {
    /// PyTorch-GAN's MLP GAN for `height × width` images: G 100 → 128 → 256 → 512 → 1024 → P,
    /// D P → 512 → 256 → 1, LeakyReLU 0.2, batch norm after G's hidden layers but the first.
    ///
    /// Batch norm has PyTorch's defaults (eps 1e-5, momentum 0.1). PyTorch-GAN writes
    /// `BatchNorm1d(n, 0.8)`, whose 0.8 lands in eps, not momentum: with it the generator
    /// barely normalizes, and on the bundled digits its samples collapsed to a few shapes for
    /// 50 epochs, where eps 1e-5 gave varied digits by epoch 8 (see `--bn-eps`).
    pub fn pytorch_gan(height: usize, width: usize) -> Self {
        GanConfig {
            height,
            width,
            latent: 100,
            g_hidden: vec![128, 256, 512, 1024],
            d_hidden: vec![512, 256],
            batch_norm: Some(BatchNormHyper {
                eps: 1e-5,
                momentum: 0.1,
            }),
            slope: 0.2,
            real_label: 1.0,
            arch: GanArch::Mlp,
            channels: 1,
        }
    }

    /// PyTorch's examples/dcgan for `height × width` images with `features` (ngf = ndf) and
    /// PyTorch-GAN's other settings (latent 100, batch norm's constants); sizes DCGAN does not
    /// take (see [`Pyramid`]) are refused by [`GanConfig::validate`].
    pub fn dcgan(height: usize, width: usize, features: usize) -> Self {
        GanConfig {
            arch: GanArch::Dcgan {
                g_features: features,
                d_features: features,
            },
            ..GanConfig::pytorch_gan(height, width)
        }
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// The shape of one image.
    pub fn image(&self) -> ImageShape {
        ImageShape::new(self.height, self.width, self.channels)
    }

    /// The layers of both networks.
    pub fn networks(&self) -> std::result::Result<Networks, ConfigError> {
        let leaky = Activation::LeakyRelu(self.slope);
        let image = self.image();
        match self.arch {
            GanArch::Mlp => {
                let mut g: Vec<LayerSpec> = self
                    .g_hidden
                    .iter()
                    .enumerate()
                    .map(|(i, &outputs)| {
                        LayerSpec::linear(outputs, leaky, self.batch_norm.filter(|_| i > 0))
                    })
                    .collect();
                g.push(LayerSpec::linear(self.pixels(), Activation::Tanh, None));
                let mut d: Vec<LayerSpec> = self
                    .d_hidden
                    .iter()
                    .map(|&outputs| LayerSpec::linear(outputs, leaky, None))
                    .collect();
                d.push(LayerSpec::linear(1, Activation::Identity, None));
                Ok(Networks {
                    g_input: ImageShape::flat(self.latent),
                    g,
                    d_input: ImageShape::flat(self.pixels()),
                    d,
                    init: Init::PyTorch,
                })
            }
            GanArch::Dcgan {
                g_features,
                d_features,
            } => {
                for (name, f) in [("--g-features", g_features), ("--d-features", d_features)] {
                    if !(1..=MAX_FEATURES).contains(&f) {
                        return Err(ConfigError(format!(
                            "{name} must be from 1 to {MAX_FEATURES}, not {f}"
                        )));
                    }
                }
                let pyramid = Pyramid::of("GAN", self.height, self.width)?;
                let (relu, tanh) = (Activation::Relu, Activation::Tanh);
                Ok(Networks {
                    g_input: ImageShape::flat(self.latent),
                    g: pyramid.up(
                        g_features,
                        self.channels,
                        relu,
                        tanh,
                        self.batch_norm,
                        false,
                    ),
                    d_input: image,
                    d: pyramid.down(d_features, 1, leaky, self.batch_norm, false),
                    init: Init::Dcgan,
                })
            }
        }
    }

    /// Refuses shapes no model can have (also those read from a checkpoint).
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        self.parameters().map(|_| ())
    }

    /// Checks the configuration and returns both networks' weights and biases (batch norm's
    /// few aside).
    pub fn parameters(&self) -> std::result::Result<usize, ConfigError> {
        check_channels("GAN", self.channels)?;
        let parameters = match self.arch {
            GanArch::Mlp => {
                let mut layers = vec![self.latent];
                layers.extend(&self.g_hidden);
                layers.push(self.pixels());
                layers.extend(&self.d_hidden);
                layers.push(1);
                check_sizes("GAN", self.height, self.width, &layers)?
            }
            GanArch::Dcgan { .. } => {
                check_sizes("GAN", self.height, self.width, &[self.latent])?;
                let nets = self.networks()?;
                count_parameters("GAN", &[(nets.g_input, &nets.g), (nets.d_input, &nets.d)])?
            }
        };
        if !(self.real_label > 0.0 && self.real_label <= 1.0) {
            return Err(ConfigError(format!(
                "the real images' label must be in (0, 1], not {}",
                self.real_label
            )));
        }
        if let Some(norm) = self.batch_norm
            && !(norm.eps > 0.0 && (0.0..=1.0).contains(&norm.momentum))
        {
            return Err(ConfigError(format!(
                "batch norm needs eps > 0 and momentum in [0, 1], not {norm:?}"
            )));
        }
        Ok(parameters)
    }
}

/// Indices into the device-side sums of [`Gan::read_sums`].
const D_LOSS: usize = 0;
const G_LOSS: usize = 1;
const D_REAL: usize = 2;
const D_FAKE: usize = 3;
/// The sums, before the word in which training records the first step they were not finite
/// ([`Backend::record_non_finite`]).
const SUMS: usize = 4;

/// Averages over the steps since [`Gan::reset_sums`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct GanSums {
    pub d_loss: f64,
    pub g_loss: f64,
    /// Mean D(x) on real images.
    pub d_real: f64,
    /// Mean D(G(z)) on generated images (before the generator's update).
    pub d_fake: f64,
}

impl GanSums {
    /// The averages over `steps` steps of the sums as read back.
    pub fn of(sums: &[f32], steps: usize) -> GanSums {
        let mean = |i: usize| f64::from(sums[i]) / steps.max(1) as f64;
        GanSums {
            d_loss: mean(D_LOSS),
            g_loss: mean(G_LOSS),
            d_real: mean(D_REAL),
            d_fake: mean(D_FAKE),
        }
    }
}

/// A GAN with both networks' parameters and its per-batch buffers on one backend.
pub struct Gan {
    pub config: GanConfig,
    pub g: ParamStore,
    pub d: ParamStore,
    /// Both networks' batch-norm running statistics, and their names.
    pub running_layout: ParamLayout,
    pub running: Tensor,
    generator: Network,
    discriminator: Network,
    z: Tensor,
    /// `[fake; real]`, `2B × P`.
    d_in: Tensor,
    d_fake_grad: Tensor,
    /// Targets: `B` ones (the generator's), then `B` zeros and `B` ones (fake, real).
    targets: Tensor,
    dlogits: Tensor,
    row_loss: Tensor,
    probs: Tensor,
    sums: Tensor,
    batch: usize,
}

impl Gan {
    /// Builds both networks for batches of exactly `batch` rows, initialized like PyTorch's
    /// layers from `seed`.
    pub fn new(
        backend: &mut dyn Backend,
        config: GanConfig,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        let p = config.pixels();
        let nets = config.networks()?;
        let mut g_layout = ParamLayout::default();
        let mut running_layout = ParamLayout::default();
        let mut generator = Network::new(
            &mut g_layout,
            &mut running_layout,
            "generator",
            nets.g_input,
            &nets.g,
        )?;
        let mut d_layout = ParamLayout::default();
        let mut discriminator = Network::new(
            &mut d_layout,
            &mut running_layout,
            "discriminator",
            nets.d_input,
            &nets.d,
        )?;
        let g = ParamStore::new(backend, g_layout)?;
        let d = ParamStore::new(backend, d_layout)?;
        let running = backend.alloc(1, running_layout.len().max(1))?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut g_host = vec![0.0; g.layout.len()];
        let mut running_host = vec![0.0; running.len()];
        generator.init(&g, &mut rng, nets.init, &mut g_host, &mut running_host);
        let mut d_host = vec![0.0; d.layout.len()];
        discriminator.init(&d, &mut rng, nets.init, &mut d_host, &mut running_host);
        backend.upload(&g.params, &g_host)?;
        backend.upload(&d.params, &d_host)?;
        backend.upload(&running, &running_host)?;

        let d_in = backend.alloc(2 * batch, p)?;
        generator.allocate(backend, batch, Some(running), Some(d_in.top_rows(batch)))?;
        // The generated and the real half are normalized each on its own (see
        // `Network::allocate_grouped`).
        discriminator.allocate_grouped(backend, 2 * batch, batch, Some(running), None)?;
        let targets = backend.alloc(3 * batch, 1)?;
        let mut target_host = vec![1.0; 3 * batch];
        target_host[batch..2 * batch].fill(0.0);
        target_host[2 * batch..].fill(config.real_label);
        backend.upload(&targets, &target_host)?;
        Ok(Gan {
            z: backend.alloc(batch, config.latent)?,
            d_fake_grad: backend.alloc(batch, p)?,
            dlogits: backend.alloc(2 * batch, 1)?,
            row_loss: backend.alloc(2 * batch, 1)?,
            probs: backend.alloc(2 * batch, 1)?,
            sums: backend.alloc(1, SUMS + 1)?,
            d_in,
            targets,
            config,
            g,
            d,
            running_layout,
            running,
            generator,
            discriminator,
            batch,
        })
    }

    /// The batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Where a batch of real images (scaled to [-1, 1]) is gathered before [`Gan::train_step`].
    pub fn real_input(&self) -> Tensor {
        self.d_in.rows_from(self.batch)
    }

    fn sum(&self, index: usize) -> Tensor {
        self.sums.view(index, 1, 1)
    }

    /// One step as PyTorch-GAN takes it: draw `z`, update the generator through the
    /// discriminator (targets "real"), then update the discriminator on real images (already
    /// in [`Gan::real_input`]) and on the generator's images from before its update. Both
    /// networks are updated by `adam`'s settings, each with its own moments.
    pub fn train_step(&mut self, backend: &mut dyn Backend, step: Step, adam: &Adam) -> Result<()> {
        let b = self.batch;
        backend.fill_normal(&self.z, step.seed, step.stream())?;
        let fake = self.generator.forward(backend, &self.g, &self.z, true)?;

        // Generator: maximize log D(G(z)).
        let logits = self.discriminator.forward(backend, &self.d, &fake, true)?;
        let (dlogits, row_loss) = (self.dlogits.top_rows(b), self.row_loss.top_rows(b));
        backend.bce_with_logits(
            &logits,
            &self.targets.top_rows(b),
            1.0 / b as f32,
            &dlogits,
            &row_loss,
        )?;
        backend.accumulate_sum(&row_loss, &self.sum(G_LOSS), 1.0 / b as f32)?;
        self.discriminator.backward(
            backend,
            &self.d,
            &fake,
            &dlogits,
            Some(&self.d_fake_grad),
            false,
        )?;
        self.generator
            .backward(backend, &self.g, &self.z, &self.d_fake_grad, None, true)?;
        adam.step(backend, &self.g, step.adam_t())?;

        // Discriminator: real images are "real", the generator's are "fake"; the loss is the
        // mean of the two halves' mean BCE.
        let logits = self
            .discriminator
            .forward(backend, &self.d, &self.d_in, true)?;
        let targets = self.targets.view(b, 2 * b, 1);
        let scale = 1.0 / (2 * b) as f32;
        backend.bce_with_logits(&logits, &targets, scale, &self.dlogits, &self.row_loss)?;
        backend.accumulate_sum(&self.row_loss, &self.sum(D_LOSS), scale)?;
        backend.activation(Activation::Sigmoid, &logits, &self.probs)?;
        backend.accumulate_sum(&self.probs.top_rows(b), &self.sum(D_FAKE), 1.0 / b as f32)?;
        backend.accumulate_sum(&self.probs.rows_from(b), &self.sum(D_REAL), 1.0 / b as f32)?;
        self.discriminator
            .backward(backend, &self.d, &self.d_in, &self.dlogits, None, true)?;
        adam.step(backend, &self.d, step.adam_t())
    }

    /// Both networks' weights and Adam's moments, and the generator's batch-norm running
    /// statistics, named as the layers are.
    pub fn state(&self, backend: &mut dyn Backend) -> Result<State> {
        let mut state = self.g.state(backend)?;
        state.extend(self.d.state(backend)?);
        state.push_layout(&self.running_layout, "", &backend.read(&self.running)?);
        Ok(state)
    }

    /// Restores what [`Gan::state`] saved.
    pub fn load_state(
        &mut self,
        backend: &mut dyn Backend,
        state: &State,
    ) -> std::result::Result<(), LoadError> {
        let running = state.layout_values(&self.running_layout, "")?;
        self.g.load_state(backend, state)?;
        self.d.load_state(backend, state)?;
        if !self.running_layout.is_empty() {
            backend.upload(&self.running, &running)?;
        }
        Ok(())
    }

    /// The device tensor of the sums [`Gan::read_sums`] averages.
    pub fn sums(&self) -> Tensor {
        self.sums
    }

    /// Zeroes the sums.
    pub fn reset_sums(&mut self, backend: &mut dyn Backend) -> Result<()> {
        backend.fill(&self.sums, 0.0)
    }

    /// The averages over `steps` steps since the last reset.
    pub fn read_sums(&mut self, backend: &mut dyn Backend, steps: usize) -> Result<GanSums> {
        Ok(GanSums::of(&backend.read(&self.sums)?, steps))
    }
}

impl Generative for Gan {
    fn latent_size(&self) -> usize {
        self.config.latent
    }

    /// The generator's images in [0, 1] for latent rows (`n × latent`, any n), a batch at a
    /// time, with batch norm's running averages.
    fn generate(&mut self, backend: &mut dyn Backend, latents: &[f32]) -> Result<Vec<f32>> {
        let mut images =
            Vec::with_capacity(latents.len() / self.config.latent * self.config.pixels());
        for part in latents.chunks(self.batch * self.config.latent) {
            let z = self.z.top_rows(part.len() / self.config.latent);
            backend.upload(&z, part)?;
            let out = self.generator.forward(backend, &self.g, &z, false)?;
            images.extend(backend.read(&out)?.iter().map(|v| 0.5 * (v + 1.0)));
        }
        Ok(images)
    }
}

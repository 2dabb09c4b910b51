//! The variational autoencoder of PyTorch's classic example, over any `Backend`:
//! encoder `P → hidden… → [mu | logvar]`, decoder `L → …hidden → P` logits, loss = BCE summed
//! over pixels + KL, per example.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::pyramid::Pyramid;
use super::{ConfigError, Generative, Step, check_channels, check_sizes, count_parameters};
use crate::backend::{Activation, Backend, Result, Tensor};
use crate::nn::{ImageShape, Init, LayerSpec, LoadError, Network, ParamLayout, ParamStore, State};
use crate::optim::Adam;

/// The VAE's shape.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VaeConfig {
    /// Image height and width (the input has `height · width · channels` values).
    pub height: usize,
    pub width: usize,
    /// Values per pixel: 1 (grey) or 3 (RGB, channels last).
    #[serde(default = "super::one_channel")]
    pub channels: usize,
    /// Hidden layer widths of the encoder; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Latent dimension L.
    pub latent: usize,
    /// Dynamic binarization: each pixel is drawn as 0 or 1 with probability pixel/255 every
    /// time an image is used (training and evaluation alike), so that the Bernoulli likelihood
    /// is a true one, the setting of the published likelihoods. Off: inputs are pixel/255, as
    /// in PyTorch's example.
    #[serde(default)]
    pub binarize: bool,
    /// The networks: MLPs of `hidden` widths, or convolutions.
    #[serde(default)]
    pub arch: VaeArch,
}

/// A VAE's encoder and decoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VaeArch {
    /// PyTorch's example: ReLU linear layers of `hidden` widths, mirrored in the decoder.
    #[default]
    Mlp,
    /// Stride-2 4×4 convolutions with ReLU down to the base side and a base-sized
    /// convolution to `[mu | logvar]`, mirrored by transposed convolutions up to the pixels'
    /// logits (see [`Pyramid`]): `features` channels next to the image, doubled at every
    /// level.
    Conv { features: usize },
}

/// The convolutional VAE's channels next to the image unless told otherwise.
pub const CONV_VAE_FEATURES: usize = 32;

/// Most channels next to the image of a convolutional VAE.
const MAX_FEATURES: usize = 4096;

impl VaeConfig {
    /// PyTorch's classic example for `height × width` images: 784 → 400 → 20 for MNIST.
    pub fn pytorch_example(height: usize, width: usize) -> Self {
        VaeConfig {
            height,
            width,
            hidden: vec![400],
            latent: 20,
            binarize: false,
            arch: VaeArch::Mlp,
            channels: 1,
        }
    }

    /// The encoder's and the decoder's input shapes and layers.
    pub fn networks(&self) -> std::result::Result<[(ImageShape, Vec<LayerSpec>); 2], ConfigError> {
        let (p, l) = (self.pixels(), self.latent);
        match self.arch {
            VaeArch::Mlp => {
                let decoder_hidden: Vec<usize> = self.hidden.iter().rev().copied().collect();
                Ok([
                    (ImageShape::flat(p), mlp_specs(&self.hidden, 2 * l)),
                    (ImageShape::flat(l), mlp_specs(&decoder_hidden, p)),
                ])
            }
            VaeArch::Conv { features } => {
                if !(1..=MAX_FEATURES).contains(&features) {
                    return Err(ConfigError(format!(
                        "--features must be from 1 to {MAX_FEATURES}, not {features}"
                    )));
                }
                let pyramid = Pyramid::of("VAE", self.height, self.width)?;
                let (relu, id) = (Activation::Relu, Activation::Identity);
                Ok([
                    (
                        self.image(),
                        pyramid.down(features, 2 * l, relu, None, true),
                    ),
                    (
                        ImageShape::flat(l),
                        pyramid.up(features, self.channels, relu, id, None, true),
                    ),
                ])
            }
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

    /// Refuses shapes no model can have (also those read from a checkpoint).
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        self.parameters().map(|_| ())
    }

    /// Checks the configuration and returns its weights and biases.
    pub fn parameters(&self) -> std::result::Result<usize, ConfigError> {
        if self.latent == 0 {
            return Err(ConfigError("the latent size must be at least 1".into()));
        }
        check_channels("VAE", self.channels)?;
        match self.arch {
            VaeArch::Mlp => {
                let mut layers = vec![self.pixels()];
                layers.extend(&self.hidden);
                layers.push(2 * self.latent);
                layers.extend(self.hidden.iter().rev());
                layers.push(self.pixels());
                check_sizes("VAE", self.height, self.width, &layers)
            }
            VaeArch::Conv { .. } => {
                check_sizes("VAE", self.height, self.width, &[self.latent])?;
                let [(e_in, e), (d_in, d)] = self.networks()?;
                count_parameters("VAE", &[(e_in, &e), (d_in, &d)])
            }
        }
    }
}

/// ReLU hidden layers of the given widths, then a linear layer of `outputs`.
fn mlp_specs(hidden: &[usize], outputs: usize) -> Vec<LayerSpec> {
    let mut specs: Vec<LayerSpec> = hidden
        .iter()
        .map(|&h| LayerSpec::linear(h, Activation::Relu, None))
        .collect();
    specs.push(LayerSpec::linear(outputs, Activation::Identity, None));
    specs
}

/// A VAE with its parameters and its per-batch buffers on one backend.
pub struct Vae {
    pub config: VaeConfig,
    pub store: ParamStore,
    encoder: Network,
    decoder: Network,
    /// The batch input, `batch × P`, filled by the caller (see [`Vae::input`]).
    input: Tensor,
    eps: Tensor,
    z: Tensor,
    dz: Tensor,
    dstats: Tensor,
    dlogits: Tensor,
    row_bce: Tensor,
    row_kl: Tensor,
    /// The target of each sample row of the importance-weighted estimate, `batch × P`
    /// (see [`Vae::sample_targets`]).
    sample_targets: Tensor,
    images: Tensor,
    /// `[Σ BCE, Σ KL]` since the last [`Vae::reset_sums`], and a last word in which training
    /// records the first step they were not finite ([`Backend::record_non_finite`]).
    sums: Tensor,
    batch: usize,
}

impl Vae {
    /// Builds the model for batches of up to `batch` rows, initialized like PyTorch's Linear
    /// layers from `seed`.
    pub fn new(
        backend: &mut dyn Backend,
        config: VaeConfig,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        let p = config.pixels();
        let l = config.latent;
        let [(e_in, e), (d_in, d)] = config.networks()?;
        let mut layout = ParamLayout::default();
        // The VAE has no batch norm: nothing is registered in `running`.
        let mut running = ParamLayout::default();
        let mut encoder = Network::new(&mut layout, &mut running, "encoder", e_in, &e)?;
        let mut decoder = Network::new(&mut layout, &mut running, "decoder", d_in, &d)?;
        let store = ParamStore::new(backend, layout)?;
        let mut host = vec![0.0; store.layout.len()];
        let mut rng = StdRng::seed_from_u64(seed);
        encoder.init(&store, &mut rng, Init::PyTorch, &mut host, &mut []);
        decoder.init(&store, &mut rng, Init::PyTorch, &mut host, &mut []);
        backend.upload(&store.params, &host)?;
        encoder.allocate(backend, batch, None, None)?;
        decoder.allocate(backend, batch, None, None)?;
        Ok(Vae {
            input: backend.alloc(batch, p)?,
            eps: backend.alloc(batch, l)?,
            z: backend.alloc(batch, l)?,
            dz: backend.alloc(batch, l)?,
            dstats: backend.alloc(batch, 2 * l)?,
            dlogits: backend.alloc(batch, p)?,
            row_bce: backend.alloc(batch, 1)?,
            row_kl: backend.alloc(batch, 1)?,
            sample_targets: backend.alloc(batch, p)?,
            images: backend.alloc(batch, p)?,
            sums: backend.alloc(1, 3)?,
            config,
            store,
            encoder,
            decoder,
            batch,
        })
    }

    /// The largest batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The input rows a batch of `rows` examples is gathered into, as pixel/255.
    pub fn input(&self, rows: usize) -> Tensor {
        self.input.top_rows(rows)
    }

    /// The rows the targets of `rows` sample rows are gathered into, as pixel/255: each
    /// example's row repeated once per sample, as [`Vae::iw_log_weights`] decodes them.
    pub fn sample_targets(&self, rows: usize) -> Tensor {
        self.sample_targets.top_rows(rows)
    }

    /// The latent statistics `[mu | logvar]` of the first `rows` input rows.
    pub fn encode(&mut self, backend: &mut dyn Backend, rows: usize) -> Result<Tensor> {
        let x = self.input(rows);
        self.encoder.forward(backend, &self.store, &x, true)
    }

    /// Draws `samples` latent points per row of `stats` (consecutive rows of `eps` and `z`)
    /// from `(seed, stream)` and decodes them. Returns the logits.
    fn sample_and_decode(
        &mut self,
        backend: &mut dyn Backend,
        stats: &Tensor,
        samples: usize,
        seed: u32,
        stream: u32,
    ) -> Result<Tensor> {
        let rows = stats.rows * samples;
        let (eps, z) = (self.eps.top_rows(rows), self.z.top_rows(rows));
        backend.fill_normal(&eps, seed, stream)?;
        backend.reparameterize(stats, &eps, &z)?;
        self.decoder.forward(backend, &self.store, &z, true)
    }

    /// Encoder, sampling and decoder on the first `rows` input rows. Returns the latent
    /// statistics `[mu | logvar]` and the logits.
    fn forward(
        &mut self,
        backend: &mut dyn Backend,
        rows: usize,
        seed: u32,
        stream: u32,
    ) -> Result<(Tensor, Tensor)> {
        let stats = self.encode(backend, rows)?;
        let logits = self.sample_and_decode(backend, &stats, 1, seed, stream)?;
        Ok((stats, logits))
    }

    /// The log importance weights `log p(x|z) + log p(z) − log q(z|x)` (without the
    /// (L/2)·log 2π terms, which cancel) of `samples` draws per row of `stats` (from
    /// [`Vae::encode`]), from `(seed, stream)`, read back: row `e·samples + s` is draw `s` of
    /// example `e`. The targets must be in [`Vae::sample_targets`] (`stats.rows · samples` ≤
    /// the batch).
    pub fn iw_log_weights(
        &mut self,
        backend: &mut dyn Backend,
        stats: &Tensor,
        samples: usize,
        seed: u32,
        stream: u32,
    ) -> Result<Vec<f32>> {
        let rows = stats.rows * samples;
        let logits = self.sample_and_decode(backend, stats, samples, seed, stream)?;
        let log_weight = self.row_bce.top_rows(rows);
        let targets = self.sample_targets(rows);
        // The gradient is not needed; the loss kernel writes it anyway, into the unused dlogits.
        backend.bce_with_logits(
            &logits,
            &targets,
            1.0,
            &self.dlogits.top_rows(rows),
            &log_weight,
        )?;
        let (eps, z) = (self.eps.top_rows(rows), self.z.top_rows(rows));
        backend.iw_log_weight(stats, &eps, &z, &log_weight)?;
        backend.read(&log_weight)
    }

    /// [`Vae::forward`], then the batch's loss (its summed BCE and KL added to the sums) and
    /// its gradient with respect to the logits.
    fn forward_with_loss(
        &mut self,
        backend: &mut dyn Backend,
        rows: usize,
        seed: u32,
        stream: u32,
    ) -> Result<Tensor> {
        let (stats, logits) = self.forward(backend, rows, seed, stream)?;
        let x = self.input(rows);
        let (row_bce, row_kl) = (self.row_bce.top_rows(rows), self.row_kl.top_rows(rows));
        // Like PyTorch's example, the gradient is that of the batch's summed loss.
        backend.bce_with_logits(&logits, &x, 1.0, &self.dlogits.top_rows(rows), &row_bce)?;
        backend.kl_divergence(&stats, &row_kl)?;
        backend.accumulate_sum(&row_bce, &self.sums.view(0, 1, 1), 1.0)?;
        backend.accumulate_sum(&row_kl, &self.sums.view(1, 1, 1), 1.0)?;
        Ok(stats)
    }

    /// One training step on a batch of `rows` examples (already in [`Vae::input`]): forward,
    /// backward, and `adam`'s update of every parameter.
    pub fn train_step(
        &mut self,
        backend: &mut dyn Backend,
        rows: usize,
        step: Step,
        adam: &Adam,
    ) -> Result<()> {
        let stats = self.forward_with_loss(backend, rows, step.seed, step.stream())?;
        let (z, dz) = (self.z.top_rows(rows), self.dz.top_rows(rows));
        let dlogits = self.dlogits.top_rows(rows);
        self.decoder
            .backward(backend, &self.store, &z, &dlogits, Some(&dz), true)?;
        let dstats = self.dstats.top_rows(rows);
        backend.latent_backward(&dz, &stats, &self.eps.top_rows(rows), 1.0, &dstats)?;
        self.encoder
            .backward(backend, &self.store, &self.input(rows), &dstats, None, true)?;
        adam.step(backend, &self.store, step.adam_t())
    }

    /// The weights and Adam's moments, named as the layers are.
    pub fn state(&self, backend: &mut dyn Backend) -> Result<State> {
        self.store.state(backend)
    }

    /// Restores what [`Vae::state`] saved.
    pub fn load_state(
        &mut self,
        backend: &mut dyn Backend,
        state: &State,
    ) -> std::result::Result<(), LoadError> {
        self.store.load_state(backend, state)
    }

    /// The loss of a batch without training on it (accumulated into the sums).
    pub fn eval_batch(
        &mut self,
        backend: &mut dyn Backend,
        rows: usize,
        seed: u32,
        stream: u32,
    ) -> Result<()> {
        self.forward_with_loss(backend, rows, seed, stream)
            .map(|_| ())
    }

    /// The device tensor of `[Σ BCE, Σ KL, record]`.
    pub fn sums(&self) -> Tensor {
        self.sums
    }

    /// Zeroes the loss sums.
    pub fn reset_sums(&mut self, backend: &mut dyn Backend) -> Result<()> {
        backend.fill(&self.sums, 0.0)
    }

    /// Reads `(Σ BCE, Σ KL)` back from the device.
    pub fn read_sums(&mut self, backend: &mut dyn Backend) -> Result<(f64, f64)> {
        Ok(Self::loss_sums(&backend.read(&self.sums)?))
    }

    /// `(Σ BCE, Σ KL)` of the sums as read back.
    pub fn loss_sums(sums: &[f32]) -> (f64, f64) {
        (f64::from(sums[0]), f64::from(sums[1]))
    }

    /// Reconstructions (sigmoid of the decoder's logits) of the first `rows` input rows.
    pub fn reconstruct(
        &mut self,
        backend: &mut dyn Backend,
        rows: usize,
        seed: u32,
        stream: u32,
    ) -> Result<Vec<f32>> {
        let (_, logits) = self.forward(backend, rows, seed, stream)?;
        self.images_of(backend, &logits)
    }

    /// Decodes latent points (`n × L`, row-major, any n) into images in [0, 1], a batch at a
    /// time.
    pub fn decode(&mut self, backend: &mut dyn Backend, latents: &[f32]) -> Result<Vec<f32>> {
        let mut images =
            Vec::with_capacity(latents.len() / self.config.latent * self.config.pixels());
        for part in latents.chunks(self.batch * self.config.latent) {
            let z = self.z.top_rows(part.len() / self.config.latent);
            backend.upload(&z, part)?;
            let logits = self.decoder.forward(backend, &self.store, &z, true)?;
            images.extend(self.images_of(backend, &logits)?);
        }
        Ok(images)
    }

    /// The means of the encoder for the first `rows` input rows (`rows × L`).
    pub fn encode_means(&mut self, backend: &mut dyn Backend, rows: usize) -> Result<Vec<f32>> {
        let stats = self.encode(backend, rows)?;
        let stats = backend.read(&stats)?;
        let l = self.config.latent;
        Ok(stats
            .chunks_exact(2 * l)
            .flat_map(|row| row[..l].to_vec())
            .collect())
    }

    fn images_of(&mut self, backend: &mut dyn Backend, logits: &Tensor) -> Result<Vec<f32>> {
        let images = self.images.top_rows(logits.rows);
        backend.activation(Activation::Sigmoid, logits, &images)?;
        backend.read(&images)
    }
}

impl Generative for Vae {
    fn latent_size(&self) -> usize {
        self.config.latent
    }

    fn generate(&mut self, backend: &mut dyn Backend, latents: &[f32]) -> Result<Vec<f32>> {
        self.decode(backend, latents)
    }
}

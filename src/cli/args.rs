//! The arguments every command shares, and the training settings built from them.

use std::path::PathBuf;

use clap::Args;
use clap::builder::NonEmptyStringValueParser;

use gengpu::backend::select::BackendChoice;
use gengpu::model::gan::DCGAN_FEATURES;
use gengpu::model::vae::CONV_VAE_FEATURES;
use gengpu::model::{ClassifierConfig, GanArch, GanConfig, VaeArch, VaeConfig};
use gengpu::optim::{Adam, Schedule};
use gengpu::train::{DataSpec, ModelSettings, RunOptions, Scoring, Settings};

/// Epochs of a VAE run unless `--epochs` says otherwise (PyTorch's example).
const VAE_EPOCHS: usize = 10;
/// Epochs of a GAN run: its samples keep improving to about 100 on the bundled digits
/// (Fréchet distance 264 after 10, 94 after 30, 21 after 100; README).
const GAN_EPOCHS: usize = 100;
/// The discriminator's target for real digits: one-sided label smoothing, which gave the
/// cleanest samples (Fréchet distance 16–21 after 100 epochs against 24 with 1).
const GAN_REAL_LABEL: f32 = 0.9;
/// Epochs of a DCGAN run unless `--epochs` says otherwise (examples/dcgan's `--niter`).
const DCGAN_EPOCHS: usize = 25;
/// Epochs of a classifier run: its learning rate decays over them, and 50 reach 97.9% on
/// MNIST's test digits from the 9,000 bundled training digits.
const CLASSIFIER_EPOCHS: usize = 50;

#[derive(Args, Clone)]
pub struct DataArgs {
    /// A folder of MNIST-format IDX files, of CIFAR-10's batches, or of PNG/JPEG pictures
    /// (searched recursively; subfolders are classes), or `mnist` / `fashion-mnist` / `cifar10`
    /// once fetched (default: the bundled 10,000 MNIST digits).
    #[arg(long)]
    pub data: Option<String>,
    /// A folder for the test split [default: the t10k files beside --data, else a hold-out;
    /// for a checkpoint's eval or interpolate: the test data its run was evaluated on].
    #[arg(long)]
    pub test_data: Option<String>,
    /// Train on the first N examples only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// The side pictures of a picture folder are center-cropped to a square and resized to
    /// [default: 28].
    #[arg(long, value_name = "N")]
    pub image_size: Option<usize>,
    /// Channels pictures of a picture folder are read with: 1 (grey) or 3 (RGB) [default: 1].
    #[arg(long, value_name = "1|3")]
    pub channels: Option<usize>,
}

impl DataArgs {
    /// The data these arguments ask for.
    pub fn spec(&self) -> DataSpec {
        DataSpec {
            data: self.data.clone(),
            test_data: self.test_data.clone(),
            limit: self.limit,
            image_size: self.image_size,
            channels: self.channels,
        }
    }
}

#[derive(Args, Clone)]
pub struct BackendArgs {
    /// `auto` uses a hardware GPU when there is one and the CPU backend otherwise.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// The GPU adapter: its index in `gengpu info`'s list, or part of its name (any case).
    /// Implies the GPU backend [default: `WGPU_ADAPTER_NAME` if set].
    #[arg(long, value_name = "INDEX|NAME", value_parser = NonEmptyStringValueParser::new())]
    pub adapter: Option<String>,
    /// Run each matmul form's default kernel instead of timing the variants on this GPU and
    /// keeping the fastest (as `GENGPU_NO_AUTOTUNE=1` does).
    #[arg(long)]
    pub no_autotune: bool,
}

#[derive(Args)]
pub struct CommonTrainArgs {
    /// Passes over the training data [default: 10 for the VAE, 100 for the GAN, 50 for the
    /// classifier].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seeds the weights, the data order and every random draw: the same seed, the same run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Output folder [default: runs/<model>/version_N, the next free N, with runs/latest
    /// pointing to it; with --resume: the checkpoint's folder].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Let a new run replace the outputs of an earlier run in --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Continue the run of this checkpoint (or run folder) with its settings; --epochs is the
    /// total, so --epochs 2 after a 1-epoch run trains one more.
    #[arg(long, value_name = "CHECKPOINT|FOLDER")]
    pub resume: Option<PathBuf>,
    /// Keep the N latest epoch-numbered checkpoints (checkpoint_epoch{N}.safetensors) beside
    /// checkpoint.safetensors.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub keep: usize,
    /// Steps between progress-bar loss updates (each one reads the losses back from the GPU).
    #[arg(long, default_value_t = 20)]
    pub log_every: usize,
    /// Score the model's samples every N epochs (and after the last) with the classifier:
    /// Fréchet distance and Inception Score into metrics.jsonl and score.png (0: never).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub score_every: usize,
    /// Samples scored each time.
    #[arg(long, default_value_t = 10_000)]
    pub score_samples: usize,
    /// The classifier checkpoint scores use [default: the bundled MNIST classifier].
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// How the learning rate changes over the epochs [default: constant; cosine for the
    /// classifier].
    #[arg(long, value_enum)]
    pub lr_schedule: Option<Schedule>,
}

impl CommonTrainArgs {
    /// How the run's samples are scored.
    pub fn scoring(&self) -> Scoring {
        Scoring {
            every: self.score_every,
            samples: self.score_samples,
            classifier: self.classifier.clone(),
        }
    }

    /// The run's options; `epochs` unless `--epochs` says otherwise.
    fn run_options(&self, batch_size: usize, epochs: usize) -> RunOptions {
        RunOptions {
            epochs: self.epochs.unwrap_or(epochs),
            batch_size,
            seed: self.seed,
            // Chosen when the run starts (see `cli::train`).
            out: self.out.clone().unwrap_or_default(),
            log_every: self.log_every,
            data: self.data.spec(),
            keep: self.keep,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            scoring: self.scoring(),
        }
    }
}

#[derive(Args)]
pub struct VaeArgs {
    #[command(flatten)]
    pub common: CommonTrainArgs,
    /// Examples per training step.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Latent size [default: 20, as in PyTorch's example].
    #[arg(long)]
    pub latent: Option<usize>,
    /// Hidden layer widths, comma-separated; the decoder mirrors them [default: 400].
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Dynamically binarized digits: each pixel drawn as 0 or 1 with probability pixel/255
    /// every time an image is used, in training and evaluation (the setting of published
    /// likelihoods) [default: pixel/255 as in PyTorch's example].
    #[arg(long)]
    pub binarize: bool,
    /// The networks: PyTorch's example's MLPs, or convolutions (for square images of side
    /// b·2^L with b from 4 to 16, e.g. 28, 32, 64).
    #[arg(long, value_enum, default_value = "mlp")]
    pub arch: VaeArchChoice,
    /// Channels of the convolutional VAE next to the image, doubled at every level
    /// [default: 32].
    #[arg(long)]
    pub features: Option<usize>,
}

/// `--arch` of `train vae`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VaeArchChoice {
    Mlp,
    Conv,
}

/// `--arch` of `train gan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GanArchChoice {
    Mlp,
    Dcgan,
}

/// Refuses a flag of one architecture given with the other, which would otherwise be ignored.
fn refuse_other_arch(arch: &str, flags: &[(&str, bool)]) -> anyhow::Result<()> {
    match flags.iter().find(|(_, given)| *given) {
        Some((flag, _)) => anyhow::bail!("{flag} does not apply to --arch {arch}"),
        None => Ok(()),
    }
}

/// What `gengpu train` asks of each model's arguments.
pub trait ModelArgs {
    /// The arguments every model's training takes.
    fn common(&self) -> &CommonTrainArgs;

    /// The run's settings for images of `height × width × channels`.
    fn settings(&self, image: (usize, usize, usize)) -> ModelSettings;

    /// A resumed run's architecture, where `--arch` was not given: the checkpoint's (nothing
    /// to take for a model of one architecture).
    fn take_arch_of(&mut self, _stored: &ModelSettings) {}

    /// Refuses the other architecture's flags.
    fn check_arch(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

impl ModelArgs for VaeArgs {
    fn common(&self) -> &CommonTrainArgs {
        &self.common
    }

    fn take_arch_of(&mut self, stored: &ModelSettings) {
        if let ModelSettings::Vae(settings) = stored {
            self.arch = match settings.config.arch {
                VaeArch::Mlp => VaeArchChoice::Mlp,
                VaeArch::Conv { .. } => VaeArchChoice::Conv,
            };
        }
    }

    fn check_arch(&self) -> anyhow::Result<()> {
        match self.arch {
            VaeArchChoice::Mlp => {
                refuse_other_arch("mlp", &[("--features", self.features.is_some())])
            }
            VaeArchChoice::Conv => {
                refuse_other_arch("conv", &[("--hidden", self.hidden.is_some())])
            }
        }
    }

    /// The run's settings for images of `height × width`: PyTorch's example unless told
    /// otherwise, with PyTorch's Adam defaults but the learning rate.
    fn settings(&self, (height, width, channels): (usize, usize, usize)) -> ModelSettings {
        let preset = VaeConfig {
            channels,
            ..VaeConfig::pytorch_example(height, width)
        };
        ModelSettings::Vae(Settings {
            run: self.common.run_options(self.batch_size, VAE_EPOCHS),
            optimizer: Adam {
                schedule: self.common.lr_schedule.unwrap_or_default(),
                ..Adam::pytorch(self.lr)
            },
            config: VaeConfig {
                latent: self.latent.unwrap_or(preset.latent),
                hidden: self.hidden.clone().unwrap_or(preset.hidden.clone()),
                binarize: self.binarize,
                arch: match self.arch {
                    VaeArchChoice::Mlp => VaeArch::Mlp,
                    VaeArchChoice::Conv => VaeArch::Conv {
                        features: self.features.unwrap_or(CONV_VAE_FEATURES),
                    },
                },
                ..preset
            },
        })
    }
}

#[derive(Args)]
pub struct GanArgs {
    #[command(flatten)]
    pub common: CommonTrainArgs,
    /// Examples per training step (real images for D, and as many generated).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Adam's learning rate, for both networks.
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f32,
    /// Adam's β1 (decay of the gradient's running mean).
    #[arg(long, default_value_t = 0.5)]
    pub beta1: f32,
    /// Adam's β2 (decay of the squared gradient's running mean).
    #[arg(long, default_value_t = 0.999)]
    pub beta2: f32,
    /// Size of the generator's input noise [default: 100, as in PyTorch-GAN].
    #[arg(long)]
    pub latent: Option<usize>,
    /// Generator hidden widths, comma-separated [default: 128,256,512,1024].
    #[arg(long, value_delimiter = ',')]
    pub g_hidden: Option<Vec<usize>>,
    /// Discriminator hidden widths, comma-separated [default: 512,256].
    #[arg(long, value_delimiter = ',')]
    pub d_hidden: Option<Vec<usize>>,
    /// No batch normalization in the generator.
    #[arg(long)]
    pub no_batch_norm: bool,
    /// Batch norm's eps [default: 1e-5, PyTorch's]; 0.8 reproduces PyTorch-GAN's code exactly.
    #[arg(long)]
    pub bn_eps: Option<f32>,
    /// The discriminator's target for real images: below 1 is one-sided label smoothing;
    /// 1 is PyTorch-GAN's [default: 0.9].
    #[arg(long)]
    pub real_label: Option<f32>,
    /// The networks: PyTorch-GAN's MLPs, or DCGAN's convolutions (for square images of side
    /// b·2^L with b from 4 to 16, e.g. 28, 32, 64).
    #[arg(long, value_enum, default_value = "mlp")]
    pub arch: GanArchChoice,
    /// DCGAN's generator channels next to the image (ngf), doubled at every level [default: 64].
    #[arg(long)]
    pub g_features: Option<usize>,
    /// DCGAN's discriminator channels next to the image (ndf) [default: 64].
    #[arg(long)]
    pub d_features: Option<usize>,
}

impl ModelArgs for GanArgs {
    fn common(&self) -> &CommonTrainArgs {
        &self.common
    }

    fn take_arch_of(&mut self, stored: &ModelSettings) {
        if let ModelSettings::Gan(settings) = stored {
            self.arch = match settings.config.arch {
                GanArch::Mlp => GanArchChoice::Mlp,
                GanArch::Dcgan { .. } => GanArchChoice::Dcgan,
            };
        }
    }

    fn check_arch(&self) -> anyhow::Result<()> {
        match self.arch {
            GanArchChoice::Mlp => refuse_other_arch(
                "mlp",
                &[
                    ("--g-features", self.g_features.is_some()),
                    ("--d-features", self.d_features.is_some()),
                ],
            ),
            GanArchChoice::Dcgan => refuse_other_arch(
                "dcgan",
                &[
                    ("--g-hidden", self.g_hidden.is_some()),
                    ("--d-hidden", self.d_hidden.is_some()),
                ],
            ),
        }
    }

    /// The run's settings for images of `height × width`: PyTorch-GAN's MLP GAN unless told
    /// otherwise.
    fn settings(&self, (height, width, channels): (usize, usize, usize)) -> ModelSettings {
        let preset = GanConfig {
            channels,
            ..GanConfig::pytorch_gan(height, width)
        };
        let batch_norm = match (preset.batch_norm, self.bn_eps) {
            _ if self.no_batch_norm => None,
            (Some(norm), Some(eps)) => Some(gengpu::backend::BatchNormHyper { eps, ..norm }),
            (norm, _) => norm,
        };
        ModelSettings::Gan(Settings {
            run: self.common.run_options(
                self.batch_size,
                match self.arch {
                    GanArchChoice::Mlp => GAN_EPOCHS,
                    GanArchChoice::Dcgan => DCGAN_EPOCHS,
                },
            ),
            optimizer: Adam {
                beta1: self.beta1,
                beta2: self.beta2,
                schedule: self.common.lr_schedule.unwrap_or_default(),
                ..Adam::pytorch(self.lr)
            },
            config: GanConfig {
                latent: self.latent.unwrap_or(preset.latent),
                g_hidden: self.g_hidden.clone().unwrap_or(preset.g_hidden.clone()),
                d_hidden: self.d_hidden.clone().unwrap_or(preset.d_hidden.clone()),
                batch_norm,
                real_label: self.real_label.unwrap_or(GAN_REAL_LABEL),
                arch: match self.arch {
                    GanArchChoice::Mlp => GanArch::Mlp,
                    GanArchChoice::Dcgan => GanArch::Dcgan {
                        g_features: self.g_features.unwrap_or(DCGAN_FEATURES),
                        d_features: self.d_features.unwrap_or(DCGAN_FEATURES),
                    },
                },
                ..preset
            },
        })
    }
}

#[derive(Args)]
pub struct ClassifierArgs {
    #[command(flatten)]
    pub common: CommonTrainArgs,
    /// Examples per training step.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Adam's learning rate (at the start: it decays along half a cosine unless
    /// --lr-schedule constant).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Decoupled weight decay (AdamW).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// Hidden layer widths, comma-separated; the last is the scoring features' width
    /// [default: 1024,256].
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Shift each training digit by up to this many pixels across and down, drawn afresh each
    /// time it is used [default: 2].
    #[arg(long)]
    pub max_shift: Option<u32>,
}

impl ModelArgs for ClassifierArgs {
    fn common(&self) -> &CommonTrainArgs {
        &self.common
    }

    /// The run's settings for labelled images of `height × width`.
    /// (The classifier takes grey images: a colour dataset is refused when the run starts.)
    fn settings(&self, (height, width, _): (usize, usize, usize)) -> ModelSettings {
        let preset = ClassifierConfig::digits(height, width);
        ModelSettings::Classifier(Settings {
            run: self.common.run_options(self.batch_size, CLASSIFIER_EPOCHS),
            optimizer: Adam {
                weight_decay: self.weight_decay,
                schedule: self.common.lr_schedule.unwrap_or(Schedule::Cosine),
                ..Adam::pytorch(self.lr)
            },
            config: ClassifierConfig {
                hidden: self.hidden.clone().unwrap_or(preset.hidden.clone()),
                max_shift: self.max_shift.unwrap_or(preset.max_shift),
                ..preset
            },
        })
    }
}

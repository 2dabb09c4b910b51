//! The `gengpu` command line: the arguments (clap), then one small function per command, in
//! one file each.

#[macro_use]
mod output;

mod args;
mod bench;
mod data;
mod eval;
mod export;
mod info;
mod interpolate;
mod sample;
mod score;
mod train;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use args::{BackendArgs, ClassifierArgs, DataArgs, GanArgs, ModelArgs, VaeArgs};
use gengpu::backend::Backend;
use gengpu::backend::select::open;
pub use output::is_broken_pipe;
pub use train::Stopped;

#[derive(Parser)]
#[command(
    name = "gengpu",
    version,
    about = "Train generative models (VAE, GAN) with hand-written GPU kernels"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The ids of the arguments given on the command line (not defaulted): a resumed run
    /// refuses those that would change its checkpoint's settings.
    #[arg(skip)]
    explicit: Vec<String>,
}

impl Cli {
    /// Parses the command line (exiting with clap's message on a bad one), noting which
    /// arguments were given.
    pub fn parse_args() -> Self {
        let command = Cli::command();
        let matches = command.clone().get_matches();
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let mut level = Some((&command, &matches));
        while let Some((cmd, m)) = level {
            // `ids()` also holds the flattened argument groups (`BackendArgs`, …), which clap
            // reports as given whenever one of their members is: keep real arguments only.
            cli.explicit.extend(
                cmd.get_arguments()
                    .map(|arg| arg.get_id().as_str())
                    .filter(|id| m.value_source(id) == Some(ValueSource::CommandLine))
                    .map(str::to_string),
            );
            level = m
                .subcommand()
                .and_then(|(name, sub)| cmd.find_subcommand(name).map(|c| (c, sub)));
        }
        cli
    }
}

#[derive(Subcommand)]
enum Command {
    /// Train a model; writes metrics, pictures and a checkpoint into --out.
    Train {
        #[command(subcommand)]
        model: TrainModel,
    },
    /// The test loss of a VAE checkpoint.
    Eval {
        /// A checkpoint written by `gengpu train vae`.
        #[arg(long)]
        checkpoint: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        backend: BackendArgs,
        /// Also estimate −log p(x) by importance weighting with K samples per test example
        /// (tighter than the ELBO as K grows; 0 = off).
        #[arg(long, value_name = "K", default_value_t = 0)]
        iw_samples: usize,
        /// Print a JSON object instead of a sentence.
        #[arg(long)]
        json: bool,
    },
    /// Decode draws from the prior (VAE) or generator outputs (GAN) into an image grid.
    Sample {
        /// A checkpoint written by `gengpu train vae|gan`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// How many images.
        #[arg(long, default_value_t = 64)]
        n: usize,
        /// Seeds the latent draws.
        #[arg(long, default_value_t = 1)]
        seed: u32,
        /// The PNG to write (a grid, 8 per row).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Score a model's samples, or images from any tool, against real test images with a
    /// classifier: Fréchet distance of its features, Inception Score, class histogram.
    Score {
        /// A checkpoint written by `gengpu train vae|gan`: its samples are scored.
        #[arg(long, required_unless_present = "images", conflicts_with = "images")]
        checkpoint: Option<PathBuf>,
        /// An IDX image file, or a folder of PNG files (one image each), to score instead.
        #[arg(long, value_name = "FILE|DIR")]
        images: Option<PathBuf>,
        /// Samples drawn from the checkpoint's model.
        #[arg(long, default_value_t = 10_000)]
        n: usize,
        /// Seeds the samples' latent draws.
        #[arg(long, default_value_t = 1)]
        seed: u32,
        /// A classifier checkpoint (`gengpu train classifier`, or its `export --weights-only`)
        /// [default: the bundled MNIST classifier].
        #[arg(long)]
        classifier: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        backend: BackendArgs,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Decode straight lines in a VAE's latent space between test digits.
    Interpolate {
        /// A checkpoint written by `gengpu train vae`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The PNG to write (one line per row).
        #[arg(long)]
        out: PathBuf,
        /// Number of lines (pairs of digits).
        #[arg(long, default_value_t = 8)]
        lines: usize,
        /// Images per line, ends included.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Write a checkpoint's weights (no optimizer state) named and shaped as PyTorch's
    /// reference modules: examples/vae's VAE, PyTorch-GAN's Generator and Discriminator, an
    /// nn.Sequential for the classifier.
    Export {
        /// A checkpoint written by `gengpu train vae|gan|classifier`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The safetensors file to write.
        #[arg(long)]
        out: PathBuf,
        /// For a classifier: keep gengpu's names and settings and drop the optimizer's state,
        /// the small file `gengpu score --classifier` reads.
        #[arg(long)]
        weights_only: bool,
    },
    /// List the GPU adapters wgpu sees, what gengpu needs of each, and which one it would use.
    Info {
        /// Print one JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Time matmuls and whole training steps on a backend, with dispatch and byte counts.
    Bench {
        #[command(flatten)]
        backend: BackendArgs,
        /// Training steps timed per model (after one warm-up step).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Repetitions of each matmul.
        #[arg(long, default_value_t = 10)]
        reps: usize,
        /// Print one JSON object (and nothing else) on standard output instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script: e.g. `gengpu completions bash > ~/.local/share/bash-completion/completions/gengpu`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Datasets: download the standard files into the cache.
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
}

#[derive(Subcommand)]
enum TrainModel {
    /// A variational autoencoder (PyTorch's classic example by default).
    Vae(VaeArgs),
    /// A generative adversarial network (PyTorch-GAN's MLP GAN by default).
    Gan(GanArgs),
    /// A digit classifier, the feature extractor of `gengpu score` (an MLP on labelled data,
    /// trained on randomly shifted digits).
    Classifier(ClassifierArgs),
}

#[derive(Subcommand)]
enum DataAction {
    /// Download `mnist`, `fashion-mnist` or `cifar10`, verify checksums, keep them in the cache.
    Fetch {
        /// `mnist`, `fashion-mnist` or `cifar10` (its binary version, 162 MB).
        name: String,
        /// Another server holding the same files (a mirror).
        #[arg(long)]
        base_url: Option<String>,
        /// The cache folder (default: $GENGPU_CACHE_DIR or the platform's cache folder).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

/// Rows per batch when a checkpoint is only evaluated or sampled: a size every model here fits.
const EVAL_BATCH: usize = 128;

/// Whether the argument `id` (clap's id, e.g. `log_every`) was given on the command line.
fn given(explicit: &[String], id: &str) -> bool {
    explicit.iter().any(|e| e == id)
}

/// `gengpu train <model>`: a new run, or the one `--resume` names, whose architecture is the
/// checkpoint's unless `--arch` says otherwise.
fn train_model(mut args: impl ModelArgs, explicit: &[String], model: &str) -> Result<()> {
    let resumed = train::resumed(args.common(), explicit, model)?;
    if let Some(resumed) = &resumed
        && !given(explicit, "arch")
    {
        args.take_arch_of(resumed.settings());
    }
    args.check_arch()?;
    train::run(args.common(), explicit, model, resumed, |image| {
        args.settings(image)
    })
}

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train { model } => match model {
            TrainModel::Vae(args) => train_model(args, &cli.explicit, "vae"),
            TrainModel::Gan(args) => train_model(args, &cli.explicit, "gan"),
            TrainModel::Classifier(args) => train_model(args, &cli.explicit, "classifier"),
        },
        Command::Eval {
            checkpoint,
            data,
            backend,
            iw_samples,
            json,
        } => eval::run(&checkpoint, &data, &backend, iw_samples, json),
        Command::Sample {
            checkpoint,
            n,
            seed,
            out,
            backend,
        } => sample::run(&checkpoint, n, seed, &out, &backend),
        Command::Score {
            checkpoint,
            images,
            n,
            seed,
            classifier,
            data,
            backend,
            json,
        } => {
            let scored = match (checkpoint, images) {
                (Some(path), _) => score::Scored::Checkpoint { path, n, seed },
                (None, Some(path)) => score::Scored::Images(path),
                (None, None) => anyhow::bail!("give --checkpoint or --images"),
            };
            score::run(&scored, classifier.as_deref(), &data, &backend, json)
        }
        Command::Interpolate {
            checkpoint,
            out,
            lines,
            steps,
            data,
            backend,
        } => interpolate::run(&checkpoint, &out, lines, steps, &data, &backend),
        Command::Export {
            checkpoint,
            out,
            weights_only,
        } => export::run(&checkpoint, &out, weights_only),
        Command::Info { json } => info::run(json),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "gengpu", &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
            Ok(())
        }
        Command::Bench {
            backend,
            steps,
            reps,
            json,
        } => bench::run(&backend, steps, reps, json),
        Command::Data {
            action:
                DataAction::Fetch {
                    name,
                    base_url,
                    cache_dir,
                },
        } => data::fetch(&name, base_url.as_deref(), cache_dir.as_deref()),
    }
}

/// Opens the backend `--backend` and `--adapter` ask for, saying which it is and why.
fn open_backend(args: &BackendArgs) -> Result<Box<dyn Backend>> {
    let (backend, why) = open(args.backend, args.adapter.as_deref(), !args.no_autotune)
        .context("cannot open the backend")?;
    eprintln!("backend: {why}");
    Ok(backend)
}

/// Runs `f` on the model of `checkpoint`, which must draw images (a VAE or a GAN), with its
/// image shape.
fn with_generator<T>(
    backend: &mut dyn Backend,
    checkpoint: &std::path::Path,
    f: impl FnOnce(
        &mut dyn Backend,
        &mut dyn gengpu::model::Generative,
        (usize, usize, usize),
    ) -> Result<T>,
) -> Result<T> {
    let mut loaded = gengpu::train::load(backend, checkpoint, EVAL_BATCH)?;
    let image = loaded.image_shape();
    let shape = (image.height, image.width, image.channels);
    match loaded.generative() {
        Some(model) => f(backend, model, shape),
        None => anyhow::bail!(
            "{} holds a classifier, which draws no images",
            checkpoint.display()
        ),
    }
}

/// The test data a command on `checkpoint` uses: `--data` / `--test-data` if given, else the
/// data the checkpoint's run was evaluated on (recorded in it), else the bundled digits' hold-out.
fn test_data_for(
    checkpoint: Option<&std::path::Path>,
    args: &DataArgs,
) -> Result<(gengpu::data::Dataset, String)> {
    let spec = match checkpoint {
        Some(path) if args.data.is_none() && args.test_data.is_none() => {
            let meta: gengpu::train::CheckpointMeta =
                gengpu::checkpoint::Checkpoint::open(path)?.meta()?;
            meta.settings.run().data.clone()
        }
        _ => args.spec(),
    };
    let test = spec.test_data.as_deref();
    gengpu::data::resolve_test(spec.data.as_deref(), test, spec.pictures())
        .context("cannot load the data")
}

/// What `eval` and `interpolate` share: a checkpoint's VAE and the test split on the device.
struct VaeOnTest {
    backend: Box<dyn Backend>,
    vae: gengpu::model::Vae,
    meta: gengpu::train::CheckpointMeta,
    test: gengpu::train::DeviceData,
    description: String,
}

impl VaeOnTest {
    /// The checkpoint's VAE and the test data (see [`test_data_for`]).
    fn open(checkpoint: &std::path::Path, args: &DataArgs, choice: &BackendArgs) -> Result<Self> {
        let (test, description) = test_data_for(Some(checkpoint), args)?;
        eprintln!("test data: {description}");
        let mut backend = open_backend(choice)?;
        let (vae, meta) = gengpu::train::load_vae(backend.as_mut(), checkpoint, EVAL_BATCH)?;
        gengpu::train::require_image_shape(vae.config.image(), &test)?;
        let test = gengpu::train::DeviceData::upload(backend.as_mut(), &test)?;
        Ok(VaeOnTest {
            backend,
            vae,
            meta,
            test,
            description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every flag and argument of every command says what it is (`--help` lists defaults).
    #[test]
    fn every_argument_has_help() {
        fn check(command: &clap::Command, path: &str) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{path} {id} has no help text");
            }
            for sub in command.get_subcommands() {
                assert!(
                    sub.get_about().is_some(),
                    "{path} {} has no help",
                    sub.get_name()
                );
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        Cli::command().debug_assert();
        check(&Cli::command(), "gengpu");
    }
}

//! The `gengpu` command line: parse, call into the library, print.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use gengpu::backend::gpu::{AdapterChoice, list_adapters};
use gengpu::backend::select::{BackendChoice, open};
use gengpu::data::{self, FetchEvent};
use gengpu::model::{GanConfig, VaeConfig};
use gengpu::optim::AdamSettings;
use gengpu::train::{self, DeviceData, Loaded, RunOptions};

#[derive(Parser)]
#[command(
    name = "gengpu",
    version,
    about = "Train generative models (VAE, GAN) with hand-written GPU kernels"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        #[arg(long)]
        checkpoint: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Print a JSON object instead of a sentence.
        #[arg(long)]
        json: bool,
    },
    /// Decode draws from the prior (VAE) or generator outputs (GAN) into an image grid.
    Sample {
        #[arg(long)]
        checkpoint: PathBuf,
        /// How many images.
        #[arg(long, default_value_t = 64)]
        n: usize,
        #[arg(long, default_value_t = 1)]
        seed: u32,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
    },
    /// Decode straight lines in a VAE's latent space between test digits.
    Interpolate {
        #[arg(long)]
        checkpoint: PathBuf,
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
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
    },
    /// List the GPU adapters wgpu sees and which one would be used.
    Info,
    /// Time matmuls and whole training steps on a backend, with dispatch and byte counts.
    Bench {
        #[arg(long, value_enum, default_value = "auto")]
        backend: BackendChoice,
        /// Training steps timed per model (after one warm-up step).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Repetitions of each matmul.
        #[arg(long, default_value_t = 10)]
        reps: usize,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
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
}

#[derive(Subcommand)]
enum DataAction {
    /// Download `mnist` or `fashion-mnist`, verify checksums, keep them in the cache.
    Fetch {
        name: String,
        /// Another server holding the same files (a mirror).
        #[arg(long)]
        base_url: Option<String>,
        /// The cache folder (default: $GENGPU_CACHE_DIR or the platform's cache folder).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

#[derive(Args, Clone)]
struct DataArgs {
    /// A folder of MNIST-format IDX files, or `mnist` / `fashion-mnist` once fetched
    /// (default: the bundled 10,000 MNIST digits).
    #[arg(long)]
    data: Option<String>,
    /// A folder for the test split (default: the t10k files beside --data, else a hold-out).
    #[arg(long)]
    test_data: Option<String>,
    /// Train on the first N examples only.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Args)]
struct CommonTrainArgs {
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// Output folder.
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
    /// Steps between progress-bar loss updates.
    #[arg(long, default_value_t = 20)]
    log_every: usize,
}

#[derive(Args)]
struct VaeArgs {
    #[command(flatten)]
    common: CommonTrainArgs,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    /// Latent size [default: 20, as in PyTorch's example].
    #[arg(long)]
    latent: Option<usize>,
    /// Hidden layer widths, comma-separated; the decoder mirrors them [default: 400].
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
}

#[derive(Args)]
struct GanArgs {
    #[command(flatten)]
    common: CommonTrainArgs,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    #[arg(long, default_value_t = 2e-4)]
    lr: f32,
    #[arg(long, default_value_t = 0.5)]
    beta1: f32,
    #[arg(long, default_value_t = 0.999)]
    beta2: f32,
    /// Size of the generator's input noise [default: 100, as in PyTorch-GAN].
    #[arg(long)]
    latent: Option<usize>,
    /// Generator hidden widths, comma-separated [default: 128,256,512,1024].
    #[arg(long, value_delimiter = ',')]
    g_hidden: Option<Vec<usize>>,
    /// Discriminator hidden widths, comma-separated [default: 512,256].
    #[arg(long, value_delimiter = ',')]
    d_hidden: Option<Vec<usize>>,
    /// No batch normalization in the generator.
    #[arg(long)]
    no_batch_norm: bool,
    /// Batch norm's eps [default: 1e-5, PyTorch's]; 0.8 reproduces PyTorch-GAN's code exactly.
    #[arg(long)]
    bn_eps: Option<f32>,
}

/// Rows per batch when a checkpoint is only evaluated or sampled: a size every model here fits.
const EVAL_BATCH: usize = 128;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        // Mesa's implicit device-select layer complains about a missing display on headless
        // machines; gengpu picks its adapter itself, so the layer has nothing to add.
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train {
            model: TrainModel::Vae(args),
        } => train_vae(args),
        Command::Train {
            model: TrainModel::Gan(args),
        } => train_gan(args),
        Command::Eval {
            checkpoint,
            data,
            backend,
            json,
        } => eval(&checkpoint, &data, backend, json),
        Command::Sample {
            checkpoint,
            n,
            seed,
            out,
            backend,
        } => sample(&checkpoint, n, seed, &out, backend),
        Command::Interpolate {
            checkpoint,
            out,
            lines,
            steps,
            data,
            backend,
        } => interpolate(&checkpoint, &out, lines, steps, &data, backend),
        Command::Info => info(),
        Command::Bench {
            backend,
            steps,
            reps,
            json,
        } => bench(backend, steps, reps, json),
        Command::Data {
            action:
                DataAction::Fetch {
                    name,
                    base_url,
                    cache_dir,
                },
        } => fetch(&name, base_url.as_deref(), cache_dir.as_deref()),
    }
}

fn resolve_data(args: &DataArgs) -> Result<data::TrainTest> {
    data::resolve(args.data.as_deref(), args.test_data.as_deref(), args.limit)
        .context("cannot load the data")
}

fn open_backend(choice: BackendChoice) -> Result<Box<dyn gengpu::backend::Backend>> {
    let (backend, why) = open(choice).context("cannot open the backend")?;
    println!("backend: {why}");
    Ok(backend)
}

/// Loads the data and opens the backend of a training run, saying what they are.
fn start_run(
    common: &CommonTrainArgs,
    batch_size: usize,
) -> Result<(
    data::TrainTest,
    Box<dyn gengpu::backend::Backend>,
    RunOptions,
)> {
    if common.log_every == 0 {
        bail!("--log-every must be at least 1");
    }
    let data = resolve_data(&common.data)?;
    println!(
        "data: {} ({} training, {} test examples)",
        data.description, data.train.count, data.test.count
    );
    let backend = open_backend(common.backend)?;
    let run = RunOptions {
        epochs: common.epochs,
        batch_size,
        seed: common.seed,
        out: common.out.clone(),
        log_every: common.log_every,
    };
    Ok((data, backend, run))
}

fn train_gan(args: GanArgs) -> Result<()> {
    let (data, mut backend, run) = start_run(&args.common, args.batch_size)?;
    let mut config = GanConfig::pytorch_gan(data.train.rows, data.train.cols);
    config.latent = args.latent.unwrap_or(config.latent);
    config.g_hidden = args.g_hidden.unwrap_or(config.g_hidden);
    config.d_hidden = args.d_hidden.unwrap_or(config.d_hidden);
    if let (Some(norm), Some(eps)) = (config.batch_norm.as_mut(), args.bn_eps) {
        norm.eps = eps;
    }
    if args.no_batch_norm {
        config.batch_norm = None;
    }
    let settings = train::gan::GanSettings {
        run,
        optimizer: AdamSettings {
            beta1: args.beta1,
            beta2: args.beta2,
            ..AdamSettings::pytorch(args.lr)
        },
        config,
    };
    train::gan::train(backend.as_mut(), &data, &settings)?;
    println!("wrote {}", args.common.out.display());
    Ok(())
}

fn train_vae(args: VaeArgs) -> Result<()> {
    let common = args.common;
    let (data, mut backend, run) = start_run(&common, args.batch_size)?;
    let mut config = VaeConfig::pytorch_example(data.train.rows, data.train.cols);
    config.latent = args.latent.unwrap_or(config.latent);
    config.hidden = args.hidden.unwrap_or(config.hidden);
    let settings = train::vae::VaeSettings {
        run,
        // PyTorch's defaults, as in its VAE example.
        optimizer: AdamSettings::pytorch(args.lr),
        config,
    };
    train::vae::train(backend.as_mut(), &data, &settings)?;
    println!("wrote {}", common.out.display());
    Ok(())
}

/// What `eval` and `interpolate` share: a checkpoint's VAE and the test split on the device.
struct VaeOnTest {
    backend: Box<dyn gengpu::backend::Backend>,
    vae: gengpu::model::Vae,
    meta: train::vae::VaeMeta,
    test: DeviceData,
    description: String,
}

fn open_vae_on_test(
    checkpoint: &std::path::Path,
    args: &DataArgs,
    choice: BackendChoice,
) -> Result<VaeOnTest> {
    let (test, description) = data::resolve_test(args.data.as_deref(), args.test_data.as_deref())
        .context("cannot load the data")?;
    let mut backend = open_backend(choice)?;
    let (vae, meta) = train::load_vae(backend.as_mut(), checkpoint, EVAL_BATCH)?;
    train::require_image_shape((meta.config.height, meta.config.width), &test)?;
    let test = DeviceData::upload(backend.as_mut(), &test)?;
    Ok(VaeOnTest {
        backend,
        vae,
        meta,
        test,
        description,
    })
}

fn eval(
    checkpoint: &std::path::Path,
    args: &DataArgs,
    choice: BackendChoice,
    json: bool,
) -> Result<()> {
    let VaeOnTest {
        mut backend,
        mut vae,
        meta,
        test,
        description,
    } = open_vae_on_test(checkpoint, args, choice)?;
    let (loss, bce, kl) = train::vae::evaluate(
        backend.as_mut(),
        &mut vae,
        &test,
        meta.settings.run.seed as u32,
    )?;
    if json {
        let report = serde_json::json!({
            "checkpoint": checkpoint,
            "epoch": meta.epoch,
            "test_loss": loss,
            "test_bce": bce,
            "test_kl": kl,
            "examples": test.count,
            "data": description,
        });
        println!("{report}");
    } else {
        println!(
            "test loss {loss:.3} (BCE {bce:.3} + KL {kl:.3}) over {} examples ({description})",
            test.count
        );
    }
    Ok(())
}

fn sample(
    checkpoint: &std::path::Path,
    n: usize,
    seed: u32,
    out: &std::path::Path,
    choice: BackendChoice,
) -> Result<()> {
    if n == 0 {
        bail!("--n must be at least 1");
    }
    let mut backend = open_backend(choice)?;
    let (images, shape) = match train::load(backend.as_mut(), checkpoint, EVAL_BATCH)? {
        Loaded::Vae(mut vae, meta) => {
            let images = train::vae::sample(backend.as_mut(), &mut vae, n, seed)?;
            (images, (meta.config.height, meta.config.width))
        }
        Loaded::Gan(mut gan, meta) => {
            let images = train::gan::sample(backend.as_mut(), &mut gan, n, seed)?;
            (images, (meta.config.height, meta.config.width))
        }
    };
    train::save_grid(&images, n, shape, 8, out)?;
    println!("wrote {n} samples to {}", out.display());
    Ok(())
}

fn interpolate(
    checkpoint: &std::path::Path,
    out: &std::path::Path,
    lines: usize,
    steps: usize,
    args: &DataArgs,
    choice: BackendChoice,
) -> Result<()> {
    if lines == 0 || steps < 2 {
        bail!("--lines must be at least 1 and --steps at least 2");
    }
    let VaeOnTest {
        mut backend,
        mut vae,
        meta,
        test,
        ..
    } = open_vae_on_test(checkpoint, args, choice)?;
    let images = train::vae::interpolate(backend.as_mut(), &mut vae, &test, lines, steps)?;
    let count = images.len() / meta.config.pixels();
    let shape = (meta.config.height, meta.config.width);
    train::save_grid(&images, count, shape, steps, out)?;
    println!(
        "wrote {} lines of {steps} to {}",
        count / steps,
        out.display()
    );
    Ok(())
}

fn info() -> Result<()> {
    let (adapters, chosen) = list_adapters(AdapterChoice::Any);
    if adapters.is_empty() {
        println!("no GPU adapter found: --backend auto uses the CPU backend");
        println!(
            "(on Debian, `apt-get install mesa-vulkan-drivers` gives a software Vulkan device)"
        );
        return Ok(());
    }
    let (_, hardware) = list_adapters(AdapterChoice::HardwareOnly);
    for (i, a) in adapters.iter().enumerate() {
        let mark = if Some(i) == chosen { "*" } else { " " };
        println!(
            "{mark} [{i}] {} — {} {} ({})",
            a.name, a.backend, a.device_type, a.driver
        );
        println!(
            "      max buffer {} MiB, max storage binding {} MiB, workgroups/dim {}, invocations/group {}, workgroup memory {} KiB",
            a.max_buffer_size >> 20,
            a.max_storage_buffer_binding_size >> 20,
            a.max_compute_workgroups_per_dimension,
            a.max_compute_invocations_per_workgroup,
            a.max_compute_workgroup_storage_size >> 10
        );
    }
    if let Some(i) = chosen {
        println!("--backend gpu uses [{i}] {}", adapters[i].name);
    }
    match hardware {
        Some(i) => println!(
            "--backend auto uses [{i}] {} (a hardware GPU)",
            adapters[i].name
        ),
        None => println!(
            "--backend auto uses the CPU backend (no hardware GPU; software Vulkan is slower)"
        ),
    }
    Ok(())
}

fn fetch(name: &str, base_url: Option<&str>, cache_dir: Option<&std::path::Path>) -> Result<()> {
    // One byte-count bar per download (drawn only on a terminal).
    let mut bar: Option<indicatif::ProgressBar> = None;
    let report = data::fetch(name, base_url, cache_dir, |event| match event {
        FetchEvent::Verified { file } => println!("{file}: already present, checksum verified"),
        FetchEvent::Started { file, total } => {
            let b = indicatif::ProgressBar::new(total.unwrap_or(0));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_prefix(file.to_string());
            bar = Some(b);
        }
        FetchEvent::Progress { received, .. } => {
            if let Some(b) = &bar {
                b.set_position(received);
            }
        }
        FetchEvent::Done { file, bytes } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            println!("{file}: {bytes} bytes, checksum verified");
        }
    })
    .with_context(|| format!("cannot fetch {name}"))?;
    println!(
        "{name} is in {}; train on it with --data {name}",
        report.dir.display()
    );
    Ok(())
}

fn bench(choice: BackendChoice, steps: usize, reps: usize, json: bool) -> Result<()> {
    if steps == 0 || reps == 0 {
        bail!("--steps and --reps must be at least 1");
    }
    let mut backend = open_backend(choice)?;
    let mut results = gengpu::bench::matmuls(backend.as_mut(), reps)?;
    results.push(gengpu::bench::vae_steps(backend.as_mut(), steps)?);
    results.push(gengpu::bench::gan_steps(backend.as_mut(), steps)?);
    for m in &results {
        if json {
            println!("{}", serde_json::to_string(m)?);
            continue;
        }
        let extra = match (m.gflops, &m.per_step) {
            (Some(gflops), _) => format!("{gflops:8.2} GFLOP/s"),
            (None, Some(c)) => format!(
                "{} dispatches, {} submits, {} B up, {} B down per step",
                c.dispatches, c.submits, c.bytes_uploaded, c.bytes_read
            ),
            (None, None) => String::new(),
        };
        println!("{:<34} {:9.3} ms   {extra}", m.name, m.ms);
    }
    Ok(())
}

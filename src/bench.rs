//! `gengpu bench`: the device's attainable fp32 rate (its peak), matmuls and whole training
//! steps, each as a share of that peak, with the hardware-independent counts per step.
//!
//! On the GPU the peak is a probe of independent vec4 FMA chains; on the CPU it is the CPU
//! path's own large-GEMM rate. Every time is the median of repetitions after a warm-up (the
//! peak's, the fastest of them), each submitted and waited for on its own and timed by
//! [`Backend::finish_timed`].

use std::time::Instant;

use crate::backend::{Activation, Backend, MatmulForm, Result, matmul_flop};
use crate::data::Dataset;
use crate::model::Step;
use crate::model::gan::{DCGAN_FEATURES, Gan, GanConfig};
use crate::model::vae::{CONV_VAE_FEATURES, Vae, VaeArch, VaeConfig};
use crate::nn::{ImageShape, LayerKind, LayerSpec, Network, ParamLayout, ParamStore};
use crate::optim::Adam;
use crate::train::{DeviceData, gan, vae};

/// The side of the CPU's reference GEMM: large enough for the GEMM's full rate.
const CPU_PEAK_SIDE: usize = 1024;
/// Fewest repetitions of the peak: every percentage depends on it.
const PEAK_REPS: usize = 20;
/// The VAE's batch in the benchmark (PyTorch's example).
const VAE_BATCH: usize = 128;
/// The GANs' batch (PyTorch-GAN's and examples/dcgan's).
const GAN_BATCH: usize = 64;

/// Everything one `gengpu bench` run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// `gpu` or `cpu`.
    pub backend: String,
    pub device: String,
    /// How times were taken.
    pub timing: String,
    /// The reference rate every percentage is of, in GFLOP/s.
    pub peak_gflops: f64,
    /// What the reference is.
    pub peak: String,
    pub matmul: Vec<MatmulTime>,
    pub steps: Vec<StepTime>,
}

/// One matmul shape.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MatmulTime {
    /// `512^3`, or the model shape it stands for (`vae.fc1`, `vae.fc1.dw`, `vae.fc2.dx`).
    pub name: String,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// `NN`, `NT` or `TN`.
    pub form: String,
    /// The kernel that ran (on the GPU, the autotuned winner for the shape class).
    pub variant: String,
    pub ms: f64,
    pub gflops: f64,
    pub percent_of_peak: f64,
}

/// One model's training step; every count is per step.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepTime {
    pub model: String,
    pub batch: usize,
    pub ms: f64,
    /// The step's own floating-point operations (its matmuls), in GFLOP.
    pub gflop: f64,
    pub percent_of_peak: f64,
    pub dispatches: u64,
    /// The dispatch (GPU) that advances the step's parameters on the device, beside
    /// `dispatches`.
    pub param_advances: u64,
    pub submits: u64,
    pub host_waits: u64,
    pub bytes_uploaded: u64,
    pub bytes_read: u64,
}

/// Runs the whole benchmark: `reps` repetitions of each matmul and of the peak, `steps` of
/// each model's training step. `say` receives status lines as they happen.
pub fn run(
    backend: &mut dyn Backend,
    steps: usize,
    reps: usize,
    say: &mut dyn FnMut(&str),
) -> Result<Report> {
    say("measuring the peak");
    let (peak_gflops, peak) = peak(backend, reps)?;
    say("timing matmuls");
    let mut shapes = vec![("512^3".to_string(), MatmulForm::NN, (512, 512, 512))];
    let data = Dataset::bundled();
    let config = VaeConfig::pytorch_example(data.rows, data.cols);
    shapes.extend(vae_matmul_shapes(&config, VAE_BATCH));
    let mut matmul = Vec::new();
    for (name, form, dims) in shapes {
        let (variant, times) = time_matmul(backend, form, dims, reps)?;
        let seconds = times.median();
        let gflops = matmul_flop(dims) as f64 / seconds / 1e9;
        matmul.push(MatmulTime {
            name,
            m: dims.0,
            n: dims.1,
            k: dims.2,
            form: format!("{form:?}"),
            variant,
            ms: seconds * 1e3,
            gflops,
            percent_of_peak: 100.0 * gflops / peak_gflops,
        });
    }
    say("timing convolutions");
    let dcgan = GanConfig::dcgan(data.rows, data.cols, DCGAN_FEATURES);
    let mlp_vae = VaeConfig::pytorch_example(data.rows, data.cols);
    let conv_vae = VaeConfig {
        arch: VaeArch::Conv {
            features: CONV_VAE_FEATURES,
        },
        ..mlp_vae.clone()
    };
    let nets = dcgan.networks()?;
    let [(e_in, e), (d_in, d)] = conv_vae.networks()?;
    let networks = [
        ("dcgan.g", nets.g_input, &nets.g, GAN_BATCH),
        // The discriminator sees the generated and the real batch in one pass.
        ("dcgan.d", nets.d_input, &nets.d, 2 * GAN_BATCH),
        ("conv_vae.enc", e_in, &e, VAE_BATCH),
        ("conv_vae.dec", d_in, &d, VAE_BATCH),
    ];
    for (name, input, specs, batch) in networks {
        matmul.extend(conv_rows(
            backend,
            name,
            input,
            specs,
            batch,
            reps,
            peak_gflops,
        )?);
    }
    say("timing training steps");
    let steps = vec![
        vae_steps("vae", mlp_vae, backend, &data, steps, peak_gflops)?,
        gan_steps(
            "gan",
            GanConfig::pytorch_gan(data.rows, data.cols),
            backend,
            &data,
            steps,
            peak_gflops,
        )?,
        vae_steps("conv_vae", conv_vae, backend, &data, steps, peak_gflops)?,
        gan_steps("dcgan", dcgan, backend, &data, steps, peak_gflops)?,
    ];
    Ok(Report {
        backend: backend.kind().into(),
        device: backend.device_name(),
        timing: backend.timing_method().into(),
        peak_gflops,
        peak,
        matmul,
        steps,
    })
}

/// The reference rate in GFLOP/s, and what it is.
fn peak(backend: &mut dyn Backend, reps: usize) -> Result<(f64, String)> {
    let reps = reps.max(PEAK_REPS);
    let mut flop = 0;
    let seconds = timed_runs(backend, reps, |backend, _| {
        if let Some(probe) = backend.record_peak_probe()? {
            flop = probe;
        }
        Ok(())
    })?
    .fastest();
    if flop > 0 {
        let what = "probe: independent vec4 FMA chains in WGSL (shaders/probe.wgsl)";
        return Ok((flop as f64 / seconds / 1e9, what.into()));
    }
    let dims = (CPU_PEAK_SIDE, CPU_PEAK_SIDE, CPU_PEAK_SIDE);
    let (variant, times) = time_matmul(backend, MatmulForm::NN, dims, reps)?;
    let what = format!("the CPU path's large GEMM: {variant}, {CPU_PEAK_SIDE}^3 NN");
    Ok((matmul_flop(dims) as f64 / times.fastest() / 1e9, what))
}

/// Every matmul of a VAE training step: per layer, its forward (`NT`), its weight gradient
/// (`TN`) and, but for the first layer, its input gradient (`NN`). Layers are numbered as
/// PyTorch's example names them (`fc1` … `fc4`, `fc2` standing for `fc21` and `fc22`).
fn vae_matmul_shapes(
    config: &VaeConfig,
    batch: usize,
) -> Vec<(String, MatmulForm, (usize, usize, usize))> {
    let encoder = std::iter::once(config.pixels())
        .chain(config.hidden.iter().copied())
        .chain([2 * config.latent]);
    let decoder = std::iter::once(config.latent)
        .chain(config.hidden.iter().rev().copied())
        .chain([config.pixels()]);
    let widths = |w: Vec<usize>| w.windows(2).map(|p| (p[0], p[1])).collect::<Vec<_>>();
    let layers = [widths(encoder.collect()), widths(decoder.collect())].concat();
    let mut shapes = Vec::new();
    for (i, &(input, output)) in layers.iter().enumerate() {
        let name = format!("vae.fc{}", i + 1);
        shapes.push((name.clone(), MatmulForm::NT, (batch, output, input)));
        shapes.push((format!("{name}.dw"), MatmulForm::TN, (output, input, batch)));
        if i > 0 {
            shapes.push((format!("{name}.dx"), MatmulForm::NN, (batch, input, output)));
        }
    }
    shapes
}

/// Every layer of a network's forward on `batch` examples, as the layer runs it (im2col and
/// the matmul, or the matmul and col2im; no batch norm or activation): named `{net}1`, `{net}2`…,
/// with the matmul's shape, and the FLOP of the matmul alone, so that the gathers' cost shows as
/// a lower percentage.
#[allow(clippy::too_many_arguments)]
fn conv_rows(
    backend: &mut dyn Backend,
    net: &str,
    input: ImageShape,
    specs: &[LayerSpec],
    batch: usize,
    reps: usize,
    peak_gflops: f64,
) -> Result<Vec<MatmulTime>> {
    let mut rows = Vec::new();
    let shapes = crate::nn::output_shapes(input, specs).map_err(|e| {
        crate::backend::BackendError::Shape {
            op: "bench",
            detail: e,
        }
    })?;
    let inputs = std::iter::once(input).chain(shapes.iter().copied());
    for (i, ((spec, input), output)) in specs.iter().zip(inputs).zip(&shapes).enumerate() {
        let spec = LayerSpec {
            act: Activation::Identity,
            batch_norm: None,
            bias: false,
            ..*spec
        };
        let (form, (m, n, k)) = match spec.kind {
            LayerKind::ConvTranspose { kernel, .. } => (
                "conv_transpose",
                (
                    batch * input.pixels(),
                    output.channels * kernel * kernel,
                    input.channels,
                ),
            ),
            LayerKind::Conv { kernel, .. } => (
                "conv",
                (
                    batch * output.pixels(),
                    output.channels,
                    input.channels * kernel * kernel,
                ),
            ),
            LayerKind::Linear => ("linear", (batch, output.len(), input.len())),
        };
        let (mut layout, mut running) = (ParamLayout::default(), ParamLayout::default());
        let mut layer = Network::new(&mut layout, &mut running, "bench", input, &[spec])?;
        let store = ParamStore::new(backend, layout)?;
        layer.allocate(backend, batch, None, None)?;
        let x = backend.alloc(batch, input.len())?;
        backend.fill(&x, 0.5)?;
        backend.fill(&store.params, 0.01)?;
        let variant = {
            let matmul_form = if form == "conv_transpose" {
                MatmulForm::NN
            } else {
                MatmulForm::NT
            };
            let (a, b) = matmul_form.operand_shapes(m, n, k);
            let (a, b, c) = (
                backend.alloc(a.0, a.1)?,
                backend.alloc(b.0, b.1)?,
                backend.alloc(m, n)?,
            );
            backend.matmul_variant(matmul_form, &a, &b, &c)?
        };
        let seconds = timed_runs(backend, reps, |backend, _| {
            layer.forward(backend, &store, &x, false).map(|_| ())
        })?
        .median();
        let gflops = matmul_flop((m, n, k)) as f64 / seconds / 1e9;
        rows.push(MatmulTime {
            name: format!("{net}{}", i + 1),
            m,
            n,
            k,
            form: form.into(),
            variant,
            ms: seconds * 1e3,
            gflops,
            percent_of_peak: 100.0 * gflops / peak_gflops,
        });
    }
    Ok(rows)
}

/// The variant and the times of an `m × n × k` product of `form` on constant operands.
fn time_matmul(
    backend: &mut dyn Backend,
    form: MatmulForm,
    (m, n, k): (usize, usize, usize),
    reps: usize,
) -> Result<(String, Times)> {
    let (a_shape, b_shape) = form.operand_shapes(m, n, k);
    let a = backend.alloc(a_shape.0, a_shape.1)?;
    let b = backend.alloc(b_shape.0, b_shape.1)?;
    let c = backend.alloc(m, n)?;
    backend.fill(&a, 0.5)?;
    backend.fill(&b, 0.25)?;
    let variant = backend.matmul_variant(form, &a, &b, &c)?;
    let times = timed_runs(backend, reps, |backend, _| {
        backend.matmul(form, &a, &b, None, Activation::Identity, &c)
    })?;
    Ok((variant, times))
}

/// Times `steps` VAE training steps (batch 128, PyTorch's example's).
fn vae_steps(
    model: &str,
    config: VaeConfig,
    backend: &mut dyn Backend,
    data: &Dataset,
    steps: usize,
    peak_gflops: f64,
) -> Result<StepTime> {
    let mut vae = Vae::new(backend, config, VAE_BATCH, 1)?;
    let device = DeviceData::upload(backend, data)?;
    let adam = Adam::pytorch(1e-3);
    time_steps(
        model,
        VAE_BATCH,
        backend,
        steps,
        peak_gflops,
        |backend, s| {
            let first = (s * VAE_BATCH) % (data.count - VAE_BATCH);
            device.gather(backend, first, vae::PIXEL_SCALE, 0.0, &vae.input(VAE_BATCH))?;
            vae.train_step(backend, VAE_BATCH, bench_step(s), &adam)
        },
    )
}

/// Times `steps` GAN training steps (batch 64, PyTorch-GAN's and examples/dcgan's).
fn gan_steps(
    model: &str,
    config: GanConfig,
    backend: &mut dyn Backend,
    data: &Dataset,
    steps: usize,
    peak_gflops: f64,
) -> Result<StepTime> {
    let mut gan = Gan::new(backend, config, GAN_BATCH, 1)?;
    let device = DeviceData::upload(backend, data)?;
    let adam = Adam {
        beta1: 0.5,
        ..Adam::pytorch(2e-4)
    };
    time_steps(
        model,
        GAN_BATCH,
        backend,
        steps,
        peak_gflops,
        |backend, s| {
            let first = (s * GAN_BATCH) % (data.count - GAN_BATCH);
            let real = gan.real_input();
            device.gather(backend, first, gan::PIXEL_SCALE, gan::PIXEL_SHIFT, &real)?;
            gan.train_step(backend, bench_step(s), &adam)
        },
    )
}

/// The `s`-th timed step of a model.
fn bench_step(s: usize) -> Step {
    Step {
        seed: 1,
        index: s as u64,
    }
}

/// Three steps to warm up (pipelines, tuning, parameter deltas), one counted as a training loop runs it
/// (submitted, not waited for: timing adds a wait and a read-back of its own), then the median
/// of `steps` timed ones.
fn time_steps(
    model: &str,
    batch: usize,
    backend: &mut dyn Backend,
    steps: usize,
    peak_gflops: f64,
    mut step: impl FnMut(&mut dyn Backend, usize) -> Result<()>,
) -> Result<StepTime> {
    // The first step tunes new matmul classes; on the GPU the next two set the per-word
    // deltas by which the device advances the parameters from one step to the next (the
    // parameter blocks tuning displaced, then the steady ones). The fourth is a step as a
    // training loop runs it.
    const WARM_UP: usize = 3;
    for s in 0..WARM_UP {
        step(backend, s)?;
        backend.finish_timed()?;
    }
    let before = backend.counters();
    step(backend, WARM_UP)?;
    backend.submit()?;
    let counts = backend.counters().since(&before);
    let seconds = timed_runs(backend, steps, |backend, s| step(backend, s + WARM_UP + 1))?.median();
    let gflop = counts.matmul_flop as f64 / 1e9;
    Ok(StepTime {
        model: model.into(),
        batch,
        ms: seconds * 1e3,
        gflop,
        percent_of_peak: 100.0 * gflop / seconds / peak_gflops,
        dispatches: counts.dispatches,
        param_advances: counts.param_advances,
        submits: counts.submits,
        host_waits: counts.host_waits,
        bytes_uploaded: counts.bytes_uploaded,
        bytes_read: counts.bytes_read,
    })
}

/// The seconds of `reps` runs of `record` after one warm-up run (run 0), each run submitted
/// and waited for on its own: the device's time where the backend measures it, else the host's
/// around the recording (the CPU runs operations as they are recorded).
fn timed_runs(
    backend: &mut dyn Backend,
    reps: usize,
    mut record: impl FnMut(&mut dyn Backend, usize) -> Result<()>,
) -> Result<Times> {
    let mut times = Vec::with_capacity(reps);
    for rep in 0..=reps {
        // Whatever ran before is finished, so that it is not in this run's time.
        backend.finish_timed()?;
        let started = Instant::now();
        record(backend, rep)?;
        let device = backend.finish_timed()?;
        if rep > 0 {
            times.push(device.unwrap_or_else(|| started.elapsed().as_secs_f64()));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(Times(times))
}

/// Seconds of at least one run, sorted.
struct Times(Vec<f64>);

impl Times {
    /// The middle value (the mean of the middle two for an even count): what kernels and
    /// steps report.
    fn median(&self) -> f64 {
        let (times, mid) = (&self.0, self.0.len() / 2);
        if times.len() % 2 == 1 {
            times[mid]
        } else {
            (times[mid - 1] + times[mid]) / 2.0
        }
    }

    /// The fastest run: what the peak reports, since on a shared machine other work only ever
    /// slows a run down, and a percentage of a peak measured too low would flatter.
    fn fastest(&self) -> f64 {
        self.0[0]
    }
}

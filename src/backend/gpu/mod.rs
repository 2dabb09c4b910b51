//! The GPU backend: wgpu buffers and hand-written WGSL kernels, a whole step recorded into
//! one command encoder and submitted once.
//!
//! This file holds the machinery every kernel shares (buffers, uploads, read-back, workgroup
//! counts); each kernel family's host side is `kernels/<family>.rs`, so `impl Backend` below
//! only validates the operands and delegates.

mod context;
mod fault;
pub mod kernels;
mod limits;
mod params;
mod recorder;
mod timing;
mod tune;

pub use context::{
    AdapterChoice, AdapterList, AdapterName, AdapterSummary, GpuContext, list_adapters,
};
pub use limits::{LIMITS_VARIABLE, LimitPlan, LimitRow, LimitsMode, Rule, Shortfall, plan_limits};

use kernels::{Kernel, ShaderParams};
use recorder::Recorder;
use tune::Tuner;
pub use tune::{NO_AUTOTUNE_VARIABLE, cache_path as tuning_cache_path, cached_winners};

use super::{
    Activation, AdamStep, Augment, Backend, BackendError, BatchNormHyper, BufferId, Bytes,
    ConvGeometry, Counters, Indices, MatmulForm, Result, Tensor, tensor_bytes, validate,
};

/// Buffers are made whole multiples of this many bytes (whole vec4s), so that any buffer can be
/// bound as `array<vec4<f32>>`.
pub(crate) const BUFFER_GRANULE: u64 = 16;

/// The wgpu backend.
pub struct GpuBackend {
    ctx: GpuContext,
    buffers: Vec<wgpu::Buffer>,
    recorder: Recorder,
    readback: Option<wgpu::Buffer>,
    /// Which matmul variant runs for each shape class.
    tuner: Tuner,
    /// What the peak probe writes, made on its first run.
    probe_sink: Option<Tensor>,
    /// Most bytes of one chunk of a dataset: one storage binding of the device, unless
    /// [`GpuBackend::limit_dataset_chunks`] lowered it.
    chunk_limit: u64,
}

impl GpuBackend {
    /// Opens a device on the best adapter `choice` allows.
    pub fn new(choice: AdapterChoice) -> Result<Self> {
        let ctx = GpuContext::new(&choice)?;
        let mut recorder = Recorder::new(&ctx);
        recorder.build_pipelines(&ctx)?;
        let tuner = Tuner::new(&ctx.adapter);
        let mut backend = GpuBackend {
            tuner,
            ctx,
            buffers: Vec::new(),
            recorder,
            readback: None,
            probe_sink: None,
            chunk_limit: 0,
        };
        backend.limit_dataset_chunks(u64::MAX);
        Ok(backend)
    }

    /// Splits datasets uploaded from now on into chunks of at most `bytes` (whole examples),
    /// as a device whose storage bindings are that small would; never more than the device's
    /// own limits allow (`u64::MAX` restores them). It changes no result, only how many buffers
    /// and gather dispatches a dataset takes: tests use it to run the split path on small data,
    /// or to hold a large dataset to WebGPU's 128 MiB bindings on a device that allows more.
    /// Nothing else calls it; the CLI has no way to.
    pub fn limit_dataset_chunks(&mut self, bytes: u64) {
        let limits = &self.ctx.limits;
        self.chunk_limit = kernels::data::chunk_limit(
            limits.max_buffer_size,
            limits.max_storage_buffer_binding_size,
        )
        .min(bytes);
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.ctx.adapter
    }

    /// Turns matmul autotuning on or off (it is on unless `GENGPU_NO_AUTOTUNE=1`); off, each
    /// form runs its default variant.
    pub fn set_autotune(&mut self, enabled: bool) {
        self.tuner.set_enabled(enabled);
    }

    /// Makes every matmul run the variant `name` where it fits the operands (else the default),
    /// or lifts the pin (`None`): how the parity tests cover every variant.
    pub fn pin_matmul_variant(&mut self, name: Option<&str>) -> Result<()> {
        let variant = match name {
            None => None,
            Some(name) => Some(kernels::matmul::variant_named(name).ok_or_else(|| {
                BackendError::UnknownMatmulVariant {
                    asked: name.to_string(),
                    known: self.matmul_variant_names().join(", "),
                }
            })?),
        };
        self.tuner.pin(variant);
        Ok(())
    }

    /// How many buffers, bind groups and pipelines the backend holds: made before the first
    /// step and cached, so the counts stay flat however many steps run (`tests/step_counts.rs`).
    pub fn resources(&self) -> (usize, usize, usize) {
        let (bind_groups, pipelines) = self.recorder.cached();
        (self.buffers.len(), bind_groups, pipelines)
    }

    /// The names of every matmul variant, whatever the device.
    pub fn every_matmul_variant_name() -> Vec<&'static str> {
        kernels::matmul::VARIANTS.iter().map(|v| v.name).collect()
    }

    /// The names of every matmul variant this device runs (each covered by
    /// `tests/parity_matmul.rs`).
    pub fn matmul_variant_names(&self) -> Vec<&'static str> {
        Self::matmul_variants_for(self.ctx.adapter.subgroup_lanes)
    }

    /// The names of the matmul variants a device whose subgroups are `lanes` wide runs.
    pub fn matmul_variants_for(lanes: Option<u32>) -> Vec<&'static str> {
        kernels::matmul::VARIANTS
            .iter()
            .filter(|v| v.runs_on(lanes))
            .map(|v| v.name)
            .collect()
    }

    fn buffer(&self, id: BufferId) -> Result<&wgpu::Buffer> {
        self.buffers
            .get(id.0 as usize)
            .ok_or(BackendError::UnknownBuffer(id.0))
    }

    fn create_buffer(&mut self, what: &str, bytes: u64) -> Result<BufferId> {
        let size = bytes.max(BUFFER_GRANULE).next_multiple_of(BUFFER_GRANULE);
        self.ctx.check_size(what, size)?;
        let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.buffers.push(buffer);
        self.ctx.check()?;
        Ok(BufferId((self.buffers.len() - 1) as u32))
    }

    /// Workgroups for `threads` invocations in groups of `group`, spread over a second
    /// dimension past the per-dimension limit.
    fn groups_for(&self, threads: usize, group: u32) -> (u32, u32) {
        let groups = threads.div_ceil(group as usize).max(1);
        let max = self.ctx.limits.max_compute_workgroups_per_dimension as usize;
        if groups <= max {
            (groups as u32, 1)
        } else {
            (max as u32, groups.div_ceil(max) as u32)
        }
    }

    /// Records `kernel` over `groups` workgroups with `buffers` bound in the order of its
    /// bindings and `params` as its uniform block.
    fn run<P: ShaderParams>(
        &mut self,
        kernel: &Kernel,
        buffers: &[BufferId],
        params: &P,
        groups: (u32, u32),
    ) -> Result<()> {
        self.recorder.dispatch(
            &self.ctx,
            &self.buffers,
            buffers,
            kernel,
            bytemuck::bytes_of(params),
            groups,
        )
    }

    /// Writes to device memory are ordered before the queue's next submit, so what is recorded
    /// but not yet submitted must go first.
    fn flush(&mut self) -> Result<()> {
        if self.recorder.has_pending() {
            self.recorder.submit(&self.ctx)?;
        }
        Ok(())
    }

    fn write(&mut self, id: BufferId, offset_bytes: u64, bytes: &[u8]) -> Result<()> {
        self.flush()?;
        let buffer = self.buffer(id)?;
        self.ctx.queue.write_buffer(buffer, offset_bytes, bytes);
        self.recorder.counters.bytes_uploaded += bytes.len() as u64;
        self.ctx.check()
    }

    /// A new buffer holding `data`, its last word padded with zeros (buffer writes are whole
    /// words).
    fn buffer_of_bytes(&mut self, what: &str, data: &[u8]) -> Result<BufferId> {
        let buffer = self.create_buffer(what, data.len() as u64)?;
        let whole = data.len() / 4 * 4;
        self.write(buffer, 0, &data[..whole])?;
        if whole < data.len() {
            let mut tail = [0u8; 4];
            tail[..data.len() - whole].copy_from_slice(&data[whole..]);
            self.write(buffer, whole as u64, &tail)?;
        }
        Ok(buffer)
    }
}

impl Backend for GpuBackend {
    fn device_name(&self) -> String {
        let a = &self.ctx.adapter;
        format!("{} ({}, {})", a.name, a.backend, a.device_type)
    }

    fn kind(&self) -> &'static str {
        "gpu"
    }

    fn alloc(&mut self, rows: usize, cols: usize) -> Result<Tensor> {
        let what = format!("a {rows}×{cols} tensor");
        let buffer = self.create_buffer(&what, tensor_bytes(rows, cols)?)?;
        Ok(Tensor {
            buffer,
            offset: 0,
            rows,
            cols,
        })
    }

    fn upload(&mut self, t: &Tensor, data: &[f32]) -> Result<()> {
        validate::upload(t, data.len())?;
        self.write(t.buffer, 4 * t.offset as u64, bytemuck::cast_slice(data))
    }

    fn read(&mut self, t: &Tensor) -> Result<Vec<f32>> {
        self.flush()?;
        let bytes = 4 * t.len() as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        if self.readback.as_ref().is_none_or(|b| b.size() < bytes) {
            self.readback = Some(self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("read-back"),
                size: bytes.next_power_of_two(),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let (source, staging) = (
            self.buffer(t.buffer)?,
            self.readback.as_ref().expect("made above"),
        );
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("read"),
            });
        encoder.copy_buffer_to_buffer(source, 4 * t.offset as u64, staging, 0, bytes);
        self.ctx.queue.submit([encoder.finish()]);
        let raw = self.ctx.read_mapped(staging, bytes)?;
        let values = bytemuck::pod_collect_to_vec::<u8, f32>(&raw);
        self.recorder.counters.submits += 1;
        self.ctx.submitted(self.recorder.counters.submits);
        self.recorder.counters.host_waits += 1;
        self.recorder.counters.bytes_read += bytes;
        self.ctx.check()?;
        Ok(values)
    }

    fn alloc_indices(&mut self, len: usize) -> Result<Indices> {
        let buffer = self.create_buffer(&format!("{len} indices"), tensor_bytes(1, len)?)?;
        Ok(Indices { buffer, len })
    }

    fn upload_indices(&mut self, indices: &Indices, data: &[u32]) -> Result<()> {
        validate::upload_indices(indices, data.len())?;
        self.write(indices.buffer, 0, bytemuck::cast_slice(data))
    }

    /// Chunks of as many whole examples as one storage binding holds, one buffer each, made one
    /// after the other (so their ids are consecutive, as [`Bytes`] says).
    fn upload_bytes(&mut self, data: &[u8], example_bytes: usize) -> Result<Bytes> {
        validate::upload_bytes(data.len(), example_bytes)?;
        let chunk_examples = kernels::data::chunk_examples(example_bytes, self.chunk_limit)
            .ok_or_else(|| BackendError::ExampleTooLarge {
                bytes: example_bytes as u64,
                limit: self.chunk_limit,
                device: self.ctx.adapter.name.clone(),
            })?;
        let pieces: Vec<&[u8]> = match data.len() {
            0 => vec![data],
            _ => data.chunks(chunk_examples * example_bytes).collect(),
        };
        let mut buffer = None;
        for (k, piece) in pieces.iter().enumerate() {
            let what = format!(
                "chunk {} of {} of a dataset of {} bytes",
                k + 1,
                pieces.len(),
                data.len()
            );
            let id = self.buffer_of_bytes(&what, piece)?;
            debug_assert!(buffer.is_none_or(|BufferId(b)| id.0 == b + k as u32));
            buffer.get_or_insert(id);
        }
        Ok(Bytes {
            buffer: buffer.expect("at least one chunk"),
            chunks: pieces.len() as u32,
            chunk_examples,
            len: data.len(),
            example_bytes,
        })
    }

    fn matmul(
        &mut self,
        form: MatmulForm,
        a: &Tensor,
        b: &Tensor,
        bias: Option<&Tensor>,
        act: Activation,
        c: &Tensor,
    ) -> Result<()> {
        let dims = validate::matmul(form, a, b, bias, c)?;
        kernels::matmul::matmul(self, form, dims, a, b, bias, act, c)
    }

    fn activation(&mut self, act: Activation, x: &Tensor, y: &Tensor) -> Result<()> {
        validate::activation(x, y)?;
        kernels::elementwise::activation(self, act, x, y)
    }

    fn activation_backward(
        &mut self,
        act: Activation,
        y: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<()> {
        validate::activation_backward(y, dy, dx)?;
        kernels::elementwise::activation_backward(self, act, y, dy, dx)
    }

    fn fill(&mut self, t: &Tensor, value: f32) -> Result<()> {
        kernels::elementwise::fill(self, t, value)
    }

    fn column_sum(&mut self, x: &Tensor, out: &Tensor) -> Result<()> {
        validate::column_sum(x, out)?;
        kernels::reduce::column_sum(self, x, out)
    }

    fn accumulate_sum(&mut self, x: &Tensor, acc: &Tensor, scale: f32) -> Result<()> {
        validate::accumulate_sum(x, acc)?;
        kernels::reduce::accumulate_sum(self, x, acc, scale)
    }

    fn record_non_finite(&mut self, sums: &Tensor, step: u32) -> Result<()> {
        validate::record_non_finite(sums)?;
        kernels::reduce::record_non_finite(self, sums, step)
    }

    fn fill_uniform(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
        kernels::random::fill_uniform(self, t, seed, stream)
    }

    fn fill_normal(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
        kernels::random::fill_normal(self, t, seed, stream)
    }

    fn reparameterize(&mut self, stats: &Tensor, eps: &Tensor, z: &Tensor) -> Result<()> {
        let samples = validate::reparameterize(stats, eps, z)?;
        kernels::latent::reparameterize(self, stats, eps, samples, z)
    }

    fn iw_log_weight(
        &mut self,
        stats: &Tensor,
        eps: &Tensor,
        z: &Tensor,
        log_weight: &Tensor,
    ) -> Result<()> {
        let samples = validate::iw_log_weight(stats, eps, z, log_weight)?;
        kernels::latent::iw_log_weight(self, stats, eps, z, samples, log_weight)
    }

    fn latent_backward(
        &mut self,
        dz: &Tensor,
        stats: &Tensor,
        eps: &Tensor,
        kl_scale: f32,
        dstats: &Tensor,
    ) -> Result<()> {
        validate::latent_backward(dz, stats, eps, dstats)?;
        kernels::latent::latent_backward(self, dz, stats, eps, kl_scale, dstats)
    }

    fn kl_divergence(&mut self, stats: &Tensor, kl: &Tensor) -> Result<()> {
        validate::kl_divergence(stats, kl)?;
        kernels::latent::kl_divergence(self, stats, kl)
    }

    fn bce_with_logits(
        &mut self,
        logits: &Tensor,
        targets: &Tensor,
        grad_scale: f32,
        grad: &Tensor,
        loss: &Tensor,
    ) -> Result<()> {
        validate::bce_with_logits(logits, targets, grad, loss)?;
        kernels::loss::bce_with_logits(self, logits, targets, grad_scale, grad, loss)
    }

    fn softmax_cross_entropy(
        &mut self,
        logits: &Tensor,
        labels: &Tensor,
        grad_scale: f32,
        grad: &Tensor,
        loss: &Tensor,
    ) -> Result<()> {
        validate::softmax_cross_entropy(logits, labels, grad, loss)?;
        kernels::loss::softmax_cross_entropy(self, logits, labels, grad_scale, grad, loss)
    }

    fn batch_norm(
        &mut self,
        x: &Tensor,
        gamma_beta: &Tensor,
        saved: &Tensor,
        running: &Tensor,
        act: Activation,
        norm: BatchNormHyper,
        training: bool,
        y: &Tensor,
    ) -> Result<()> {
        validate::batch_norm(x, gamma_beta, saved, running, y)?;
        kernels::batchnorm::batch_norm(self, x, gamma_beta, saved, running, act, norm, training, y)
    }

    fn batch_norm_backward(
        &mut self,
        x: &Tensor,
        gamma_beta: &Tensor,
        saved: &Tensor,
        act: Activation,
        dy: &Tensor,
        dx: &Tensor,
        d_gamma_beta: &Tensor,
    ) -> Result<()> {
        validate::batch_norm_backward(x, gamma_beta, saved, dy, dx, d_gamma_beta)?;
        kernels::batchnorm::batch_norm_backward(
            self,
            x,
            gamma_beta,
            saved,
            act,
            dy,
            dx,
            d_gamma_beta,
        )
    }

    fn adam(
        &mut self,
        step: &AdamStep,
        params: &Tensor,
        grads: &Tensor,
        m: &Tensor,
        v: &Tensor,
    ) -> Result<()> {
        validate::adam(params, grads, m, v)?;
        kernels::adam::adam(self, step, params, grads, m, v)
    }

    fn gather_augmented(
        &mut self,
        data: &Bytes,
        indices: &Indices,
        first: usize,
        scale: f32,
        shift: f32,
        augment: &Augment,
        out: &Tensor,
    ) -> Result<()> {
        validate::gather(data, indices, first, augment, out)?;
        kernels::data::gather(self, data, indices, first, (scale, shift), augment, out)
    }

    fn im2col(&mut self, geometry: &ConvGeometry, image: &Tensor, patches: &Tensor) -> Result<()> {
        validate::im2col(geometry, image, patches)?;
        kernels::conv::im2col(self, geometry, image, patches)
    }

    fn col2im(
        &mut self,
        geometry: &ConvGeometry,
        patches: &Tensor,
        bias: Option<&Tensor>,
        act: Activation,
        image: &Tensor,
    ) -> Result<()> {
        validate::col2im(geometry, patches, bias, image)?;
        kernels::conv::col2im(self, geometry, patches, bias, act, image)
    }

    fn submit(&mut self) -> Result<()> {
        self.flush()
    }

    fn timing_method(&self) -> &'static str {
        self.recorder.timing_method()
    }

    fn finish_timed(&mut self) -> Result<Option<f64>> {
        self.recorder.finish_timed(&self.ctx).map(Some)
    }

    fn record_peak_probe(&mut self) -> Result<Option<u64>> {
        let sink = match self.probe_sink {
            Some(sink) => sink,
            None => {
                let sink = self.alloc(1, kernels::probe::SINK_LEN)?;
                *self.probe_sink.insert(sink)
            }
        };
        kernels::probe::peak_probe(self, &sink).map(Some)
    }

    fn matmul_variant(
        &mut self,
        form: MatmulForm,
        a: &Tensor,
        b: &Tensor,
        c: &Tensor,
    ) -> Result<String> {
        let dims = validate::matmul(form, a, b, None, c)?;
        tune::choose(self, form, dims, a, b, c).map(|variant| variant.name.to_string())
    }

    fn counters(&self) -> Counters {
        self.recorder.counters
    }
}

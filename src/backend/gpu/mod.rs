//! The GPU backend: wgpu buffers and hand-written WGSL kernels, a whole step recorded into
//! one command encoder and submitted once.

mod context;
mod recorder;
pub mod shaders;

pub use context::{AdapterChoice, AdapterSummary, GpuContext, list_adapters};

use recorder::Recorder;
use shaders::Kernel;

use super::{
    Activation, AdamStep, Backend, BackendError, BatchNormHyper, BufferId, Bytes, Counters,
    Indices, MatmulForm, Result, Tensor, tensor_bytes, validate,
};

/// Invocations per workgroup of the 1-d kernels (their `@workgroup_size`).
const LINEAR_GROUP: usize = 256;

/// The wgpu backend.
pub struct GpuBackend {
    ctx: GpuContext,
    buffers: Vec<wgpu::Buffer>,
    recorder: Recorder,
    readback: Option<wgpu::Buffer>,
}

impl GpuBackend {
    /// Opens a device on the best adapter `choice` allows.
    pub fn new(choice: AdapterChoice) -> Result<Self> {
        let ctx = GpuContext::new(choice)?;
        let mut recorder = Recorder::new(&ctx);
        recorder.build_pipelines(&ctx)?;
        Ok(GpuBackend {
            ctx,
            buffers: Vec::new(),
            recorder,
            readback: None,
        })
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.ctx.adapter
    }

    fn buffer(&self, id: BufferId) -> Result<&wgpu::Buffer> {
        self.buffers
            .get(id.0 as usize)
            .ok_or(BackendError::UnknownBuffer(id.0))
    }

    fn create_buffer(&mut self, what: &str, bytes: u64) -> Result<BufferId> {
        // Whole vec4s, so that any buffer can be bound as array<vec4<f32>>.
        let size = bytes.max(16).next_multiple_of(16);
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
    fn groups_for(&self, threads: usize, group: usize) -> (u32, u32) {
        let groups = threads.div_ceil(group).max(1);
        let max = self.ctx.limits.max_compute_workgroups_per_dimension as usize;
        if groups <= max {
            (groups as u32, 1)
        } else {
            (max as u32, groups.div_ceil(max) as u32)
        }
    }

    fn run(
        &mut self,
        kernel: Kernel,
        buffers: &[BufferId],
        params: &[u32],
        groups: (u32, u32),
    ) -> Result<()> {
        self.recorder
            .dispatch(&self.ctx, &self.buffers, buffers, kernel, params, groups)
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
}

/// The fastest matmul kernel the operands allow: a vec4 form where the dimensions read
/// contiguously and the offsets are multiples of 4, else the general strided kernel.
fn matmul_kernel(form: MatmulForm, m: usize, n: usize, k: usize, a: &Tensor, b: &Tensor) -> Kernel {
    let whole = |x: usize| x.is_multiple_of(4);
    let aligned = whole(a.offset) && whole(b.offset);
    match form {
        MatmulForm::NT if whole(k) && aligned => Kernel::MatmulNtVec4,
        MatmulForm::NN if whole(k) && n.is_multiple_of(8) && aligned => Kernel::MatmulNnVec4,
        MatmulForm::TN if whole(m) && n.is_multiple_of(8) && aligned => Kernel::MatmulTnVec4,
        _ => Kernel::Matmul,
    }
}

/// Rows and columns of the C block one workgroup of `kernel` computes: 8×8 invocations of
/// 4×4 each, or 4×8 for the NN and TN vec4 kernels.
fn matmul_tile(kernel: Kernel) -> (usize, usize) {
    match kernel {
        Kernel::MatmulTnVec4 | Kernel::MatmulNnVec4 => (32, 64),
        _ => (32, 32),
    }
}

/// Converts an element count or offset for a shader parameter.
fn shader_u32(n: usize) -> u32 {
    u32::try_from(n).expect("sizes are checked against the device limits, below 2^32 elements")
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
        let (sender, receiver) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
            let _ = sender.send(r);
        });
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| BackendError::Device(e.to_string()))?;
        receiver
            .recv()
            .map_err(|e| BackendError::Device(e.to_string()))?
            .map_err(|e| BackendError::Device(e.to_string()))?;
        let values = {
            let view = staging
                .get_mapped_range(0..bytes)
                .map_err(|e| BackendError::Device(e.to_string()))?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        staging.unmap();
        self.recorder.counters.submits += 1;
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

    fn upload_bytes(&mut self, data: &[u8]) -> Result<Bytes> {
        let what = format!("a dataset of {} bytes", data.len());
        let buffer = self.create_buffer(&what, data.len() as u64)?;
        // Buffer writes are whole words: pad the tail.
        let whole = data.len() / 4 * 4;
        self.write(buffer, 0, &data[..whole])?;
        if whole < data.len() {
            let mut tail = [0u8; 4];
            tail[..data.len() - whole].copy_from_slice(&data[whole..]);
            self.write(buffer, whole as u64, &tail)?;
        }
        Ok(Bytes {
            buffer,
            len: data.len(),
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
        let (m, n, k) = validate::matmul(form, a, b, bias, c)?;
        let [a_row, a_k, b_k, b_col] = form.strides(m, n, k);
        // Without a bias, bind A in its place: the kernel does not read it.
        let bias_tensor = bias.unwrap_or(a);
        let params = [
            shader_u32(m),
            shader_u32(n),
            shader_u32(k),
            u32::from(bias.is_some()),
            shader_u32(a.offset),
            shader_u32(b.offset),
            shader_u32(bias_tensor.offset),
            shader_u32(c.offset),
            shader_u32(a_row),
            shader_u32(a_k),
            shader_u32(b_k),
            shader_u32(b_col),
            act.code(),
            act.slope().to_bits(),
        ];
        let kernel = matmul_kernel(form, m, n, k, a, b);
        let (tile_rows, tile_cols) = matmul_tile(kernel);
        let groups = (
            shader_u32(n.div_ceil(tile_cols)),
            shader_u32(m.div_ceil(tile_rows)),
        );
        let max = self.ctx.limits.max_compute_workgroups_per_dimension;
        if groups.0 > max || groups.1 > max {
            return Err(BackendError::DispatchTooLarge {
                what: format!("a {m}×{n} matmul"),
                groups: u64::from(groups.0.max(groups.1)),
                limit: u64::from(max),
                device: self.ctx.adapter.name.clone(),
            });
        }
        self.run(
            kernel,
            &[a.buffer, b.buffer, bias_tensor.buffer, c.buffer],
            &params,
            groups,
        )
    }

    fn activation(&mut self, act: Activation, x: &Tensor, y: &Tensor) -> Result<()> {
        validate::activation(x, y)?;
        let params = [
            shader_u32(x.len()),
            shader_u32(x.offset),
            0,
            shader_u32(y.offset),
            act.code(),
            act.slope().to_bits(),
        ];
        let groups = self.groups_for(x.len(), LINEAR_GROUP);
        self.run(Kernel::ActForward, &[x.buffer, y.buffer], &params, groups)
    }

    fn activation_backward(
        &mut self,
        act: Activation,
        y: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<()> {
        validate::activation_backward(y, dy, dx)?;
        let params = [
            shader_u32(y.len()),
            shader_u32(y.offset),
            shader_u32(dy.offset),
            shader_u32(dx.offset),
            act.code(),
            act.slope().to_bits(),
        ];
        let groups = self.groups_for(y.len(), LINEAR_GROUP);
        self.run(
            Kernel::ActBackward,
            &[y.buffer, dy.buffer, dx.buffer],
            &params,
            groups,
        )
    }

    fn fill(&mut self, t: &Tensor, value: f32) -> Result<()> {
        let params = [
            shader_u32(t.len()),
            0,
            0,
            shader_u32(t.offset),
            0,
            0,
            value.to_bits(),
        ];
        let groups = self.groups_for(t.len(), LINEAR_GROUP);
        self.run(Kernel::Fill, &[t.buffer], &params, groups)
    }

    fn column_sum(&mut self, x: &Tensor, out: &Tensor) -> Result<()> {
        validate::column_sum(x, out)?;
        let params = [
            shader_u32(x.rows),
            shader_u32(x.cols),
            shader_u32(x.offset),
            shader_u32(out.offset),
        ];
        let groups = self.groups_for(x.cols, 64);
        self.run(Kernel::ColumnSum, &[x.buffer, out.buffer], &params, groups)
    }

    fn accumulate_sum(&mut self, x: &Tensor, acc: &Tensor, scale: f32) -> Result<()> {
        validate::accumulate_sum(x, acc)?;
        let params = [
            shader_u32(x.rows),
            shader_u32(x.cols),
            shader_u32(x.offset),
            shader_u32(acc.offset),
            scale.to_bits(),
        ];
        self.run(
            Kernel::AccumulateSum,
            &[x.buffer, acc.buffer],
            &params,
            (1, 1),
        )
    }

    fn fill_uniform(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
        let params = [shader_u32(t.len()), shader_u32(t.offset), seed, stream];
        let groups = self.groups_for(t.len(), LINEAR_GROUP);
        self.run(Kernel::FillUniform, &[t.buffer], &params, groups)
    }

    fn fill_normal(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
        let params = [shader_u32(t.len()), shader_u32(t.offset), seed, stream];
        let groups = self.groups_for(t.len(), LINEAR_GROUP);
        self.run(Kernel::FillNormal, &[t.buffer], &params, groups)
    }

    fn reparameterize(&mut self, stats: &Tensor, eps: &Tensor, z: &Tensor) -> Result<()> {
        validate::reparameterize(stats, eps, z)?;
        let params = [
            shader_u32(z.rows),
            shader_u32(z.cols),
            shader_u32(stats.offset),
            shader_u32(eps.offset),
            0,
            shader_u32(z.offset),
        ];
        let groups = self.groups_for(z.len(), LINEAR_GROUP);
        self.run(
            Kernel::Reparameterize,
            &[stats.buffer, eps.buffer, z.buffer],
            &params,
            groups,
        )
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
        let params = [
            shader_u32(dz.rows),
            shader_u32(dz.cols),
            shader_u32(stats.offset),
            shader_u32(eps.offset),
            shader_u32(dz.offset),
            shader_u32(dstats.offset),
            kl_scale.to_bits(),
        ];
        let groups = self.groups_for(dz.len(), LINEAR_GROUP);
        self.run(
            Kernel::LatentBackward,
            &[stats.buffer, eps.buffer, dz.buffer, dstats.buffer],
            &params,
            groups,
        )
    }

    fn kl_divergence(&mut self, stats: &Tensor, kl: &Tensor) -> Result<()> {
        validate::kl_divergence(stats, kl)?;
        let params = [
            shader_u32(stats.rows),
            shader_u32(stats.cols / 2),
            shader_u32(stats.offset),
            0,
            0,
            shader_u32(kl.offset),
        ];
        let groups = self.groups_for(stats.rows, LINEAR_GROUP);
        self.run(
            Kernel::KlDivergence,
            &[stats.buffer, kl.buffer],
            &params,
            groups,
        )
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
        let params = [
            shader_u32(logits.rows),
            shader_u32(logits.cols),
            shader_u32(logits.offset),
            shader_u32(targets.offset),
            shader_u32(grad.offset),
            shader_u32(loss.offset),
            grad_scale.to_bits(),
        ];
        // One workgroup per row.
        let groups = self.groups_for(logits.rows, 1);
        self.run(
            Kernel::BceWithLogits,
            &[logits.buffer, targets.buffer, grad.buffer, loss.buffer],
            &params,
            groups,
        )
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
        let params = [
            shader_u32(x.rows),
            shader_u32(x.cols),
            shader_u32(x.offset),
            shader_u32(gamma_beta.offset),
            shader_u32(saved.offset),
            shader_u32(y.offset),
            0,
            0,
            act.code(),
            act.slope().to_bits(),
            norm.eps.to_bits(),
            norm.momentum.to_bits(),
            u32::from(training),
            shader_u32(running.offset),
        ];
        let groups = self.groups_for(x.cols, 64);
        self.run(
            Kernel::BatchNormForward,
            &[
                x.buffer,
                gamma_beta.buffer,
                saved.buffer,
                y.buffer,
                running.buffer,
            ],
            &params,
            groups,
        )
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
        let params = [
            shader_u32(x.rows),
            shader_u32(x.cols),
            shader_u32(x.offset),
            shader_u32(gamma_beta.offset),
            shader_u32(saved.offset),
            shader_u32(dx.offset),
            shader_u32(dy.offset),
            shader_u32(d_gamma_beta.offset),
            act.code(),
            act.slope().to_bits(),
        ];
        let groups = self.groups_for(x.cols, 64);
        self.run(
            Kernel::BatchNormBackward,
            &[
                x.buffer,
                gamma_beta.buffer,
                saved.buffer,
                dy.buffer,
                dx.buffer,
                d_gamma_beta.buffer,
            ],
            &params,
            groups,
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
        let words = [
            shader_u32(params.len()),
            shader_u32(params.offset),
            shader_u32(grads.offset),
            shader_u32(m.offset),
            shader_u32(v.offset),
            step.beta1.to_bits(),
            step.beta2.to_bits(),
            step.eps.to_bits(),
            step.step_size.to_bits(),
            step.inv_sqrt_bc2.to_bits(),
            step.decay.to_bits(),
        ];
        let groups = self.groups_for(params.len(), LINEAR_GROUP);
        self.run(
            Kernel::Adam,
            &[grads.buffer, params.buffer, m.buffer, v.buffer],
            &words,
            groups,
        )
    }

    fn gather(
        &mut self,
        data: &Bytes,
        indices: &Indices,
        first: usize,
        scale: f32,
        shift: f32,
        out: &Tensor,
    ) -> Result<()> {
        validate::gather(data, indices, first, out)?;
        let params = [
            shader_u32(out.rows),
            shader_u32(out.cols),
            shader_u32(first),
            shader_u32(out.offset),
            shader_u32(data.len / out.cols),
            scale.to_bits(),
            shift.to_bits(),
        ];
        let groups = self.groups_for(out.len(), LINEAR_GROUP);
        self.run(
            Kernel::Gather,
            &[data.buffer, indices.buffer, out.buffer],
            &params,
            groups,
        )
    }

    fn submit(&mut self) -> Result<()> {
        self.flush()
    }

    fn counters(&self) -> Counters {
        self.recorder.counters
    }
}

//! The CPU backend: every operation in plain Rust. It is the reference the GPU kernels are
//! tested against, and a trainer where no GPU is (the matmul is `matrixmultiply`'s sgemm).
//!
//! This file holds the buffers and the [`Backend`] implementation, which checks shapes and
//! hands slices to the reference computation of the operation's kernel family: one file per
//! family, named like its kernel (`shaders/<family>.wgsl`), its GPU host
//! (`src/backend/gpu/kernels/<family>.rs`) and its parity test (`tests/parity_<family>.rs`).

mod adam;
mod batchnorm;
mod conv;
mod data;
mod elementwise;
mod latent;
mod loss;
mod matmul;
mod parallel;
mod random;
mod reduce;
mod simd;

use super::{
    Activation, AdamStep, Augment, Backend, BackendError, BatchNormHyper, BufferId, Bytes,
    Contraction, ConvGeometry, Counters, Indices, MatmulForm, Result, Tensor, tensor_bytes,
    validate,
};

/// Memory of one buffer.
enum Storage {
    F32(Vec<f32>),
    U32(Vec<u32>),
    U8(Vec<u8>),
}

/// The CPU reference backend.
#[derive(Default)]
pub struct CpuBackend {
    buffers: Vec<Storage>,
    counters: Counters,
    /// How `a·b + c` is rounded wherever a kernel computes one (the matmul is the GEMM crate's).
    fma: Contraction,
}

impl CpuBackend {
    /// A backend with no buffers yet, rounding every product before adding it.
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend that rounds `a·b + c` as `fma` says: the parity tests run the reference both
    /// ways, as a GPU may or may not contract.
    pub fn with_contraction(fma: Contraction) -> Self {
        Self {
            fma,
            ..Self::default()
        }
    }

    fn storage(&self, id: BufferId) -> Result<&Storage> {
        self.buffers
            .get(id.0 as usize)
            .ok_or(BackendError::UnknownBuffer(id.0))
    }

    fn f32s(&self, t: &Tensor) -> Result<&[f32]> {
        match self.storage(t.buffer)? {
            Storage::F32(v) => Ok(&v[t.offset..t.offset + t.len()]),
            _ => Err(BackendError::UnknownBuffer(t.buffer.0)),
        }
    }

    /// Runs one operation: [`Self::write_outputs`], counted as a dispatch.
    fn compute<const N: usize>(
        &mut self,
        outputs: [&Tensor; N],
        f: impl FnOnce(&Self, [&mut [f32]; N]) -> Result<()>,
    ) -> Result<()> {
        self.counters.dispatches += 1;
        self.write_outputs(outputs, f)
    }

    /// Takes the output buffers out of `self` while `f` runs, so that inputs can be borrowed at
    /// the same time (operands never alias outputs: see `ops::outputs_apart`).
    fn write_outputs<const N: usize>(
        &mut self,
        outputs: [&Tensor; N],
        f: impl FnOnce(&Self, [&mut [f32]; N]) -> Result<()>,
    ) -> Result<()> {
        let mut taken: [Vec<f32>; N] = std::array::from_fn(|_| Vec::new());
        for (i, t) in outputs.iter().enumerate() {
            match self.buffers.get_mut(t.buffer.0 as usize) {
                Some(Storage::F32(v)) => taken[i] = std::mem::take(v),
                _ => {
                    self.restore(&outputs[..i], taken);
                    return Err(BackendError::UnknownBuffer(t.buffer.0));
                }
            }
        }
        let mut slices = taken
            .iter_mut()
            .zip(&outputs)
            .map(|(v, t)| &mut v[t.offset..][..t.len()]);
        let views: [&mut [f32]; N] = std::array::from_fn(|_| slices.next().expect("N outputs"));
        let result = f(self, views);
        self.restore(&outputs, taken);
        result
    }

    /// Puts taken output buffers back (as many as `outputs` names).
    fn restore<const N: usize>(&mut self, outputs: &[&Tensor], taken: [Vec<f32>; N]) {
        for (t, v) in outputs.iter().zip(taken) {
            self.buffers[t.buffer.0 as usize] = Storage::F32(v);
        }
    }

    fn push(&mut self, storage: Storage) -> BufferId {
        self.buffers.push(storage);
        BufferId((self.buffers.len() - 1) as u32)
    }
}

impl Backend for CpuBackend {
    fn device_name(&self) -> String {
        format!(
            "cpu ({} threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )
    }

    fn kind(&self) -> &'static str {
        "cpu"
    }

    fn alloc(&mut self, rows: usize, cols: usize) -> Result<Tensor> {
        let values = zeros(rows, cols)?;
        let buffer = self.push(Storage::F32(values));
        Ok(Tensor {
            buffer,
            offset: 0,
            rows,
            cols,
        })
    }

    fn upload(&mut self, t: &Tensor, data: &[f32]) -> Result<()> {
        validate::upload(t, data.len())?;
        self.counters.bytes_uploaded += 4 * data.len() as u64;
        self.write_outputs([t], |_, [out]| {
            out.copy_from_slice(data);
            Ok(())
        })
    }

    fn read(&mut self, t: &Tensor) -> Result<Vec<f32>> {
        self.counters.bytes_read += 4 * t.len() as u64;
        Ok(self.f32s(t)?.to_vec())
    }

    fn alloc_indices(&mut self, len: usize) -> Result<Indices> {
        let buffer = self.push(Storage::U32(vec![0; len]));
        Ok(Indices { buffer, len })
    }

    fn upload_indices(&mut self, indices: &Indices, data: &[u32]) -> Result<()> {
        validate::upload_indices(indices, data.len())?;
        match self.buffers.get_mut(indices.buffer.0 as usize) {
            Some(Storage::U32(v)) => v.copy_from_slice(data),
            _ => return Err(BackendError::UnknownBuffer(indices.buffer.0)),
        }
        self.counters.bytes_uploaded += 4 * data.len() as u64;
        Ok(())
    }

    /// One buffer, whatever the size: chunks are a GPU concern.
    fn upload_bytes(&mut self, data: &[u8], example_bytes: usize) -> Result<Bytes> {
        validate::upload_bytes(data.len(), example_bytes)?;
        let mut copy = Vec::new();
        copy.try_reserve_exact(data.len())
            .map_err(|_| BackendError::HostMemory {
                what: format!("a dataset of {} bytes", data.len()),
                bytes: data.len() as u64,
            })?;
        copy.extend_from_slice(data);
        self.counters.bytes_uploaded += data.len() as u64;
        let buffer = self.push(Storage::U8(copy));
        Ok(Bytes {
            buffer,
            chunks: 1,
            chunk_examples: data.len() / example_bytes,
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
        self.counters.matmul_flop += super::matmul_flop(dims);
        self.compute([c], |me, [c]| {
            let (a, b) = (me.f32s(a)?, me.f32s(b)?);
            let bias = bias.map(|t| me.f32s(t)).transpose()?;
            matmul::matmul(form, dims, a, b, bias, act, c);
            Ok(())
        })
    }

    fn activation(&mut self, act: Activation, x: &Tensor, y: &Tensor) -> Result<()> {
        validate::activation(x, y)?;
        self.compute([y], |me, [y]| {
            elementwise::activation(act, me.f32s(x)?, y);
            Ok(())
        })
    }

    fn activation_backward(
        &mut self,
        act: Activation,
        y: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<()> {
        validate::activation_backward(y, dy, dx)?;
        self.compute([dx], |me, [dx]| {
            elementwise::activation_backward(act, me.f32s(y)?, me.f32s(dy)?, me.fma, dx);
            Ok(())
        })
    }

    fn fill(&mut self, t: &Tensor, value: f32) -> Result<()> {
        self.compute([t], |_, [out]| {
            elementwise::fill(out, value);
            Ok(())
        })
    }

    fn column_sum(&mut self, x: &Tensor, out: &Tensor) -> Result<()> {
        validate::column_sum(x, out)?;
        self.compute([out], |me, [out]| {
            reduce::column_sum(me.f32s(x)?, out);
            Ok(())
        })
    }

    fn accumulate_sum(&mut self, x: &Tensor, acc: &Tensor, scale: f32) -> Result<()> {
        validate::accumulate_sum(x, acc)?;
        self.compute([acc], |me, [acc]| {
            reduce::accumulate_sum(me.f32s(x)?, scale, me.fma, &mut acc[0]);
            Ok(())
        })
    }

    fn record_non_finite(&mut self, sums: &Tensor, step: u32) -> Result<()> {
        validate::record_non_finite(sums)?;
        self.compute([sums], |_, [sums]| {
            reduce::record_non_finite(sums, step);
            Ok(())
        })
    }

    fn fill_uniform(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
        self.compute([t], |_, [out]| {
            random::fill_uniform(seed, stream, out);
            Ok(())
        })
    }

    fn fill_normal(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
        self.compute([t], |me, [out]| {
            random::fill_normal(seed, stream, me.fma, out);
            Ok(())
        })
    }

    fn reparameterize(&mut self, stats: &Tensor, eps: &Tensor, z: &Tensor) -> Result<()> {
        let samples = validate::reparameterize(stats, eps, z)?;
        let l = z.cols;
        self.compute([z], |me, [z]| {
            latent::reparameterize(l, samples, me.f32s(stats)?, me.f32s(eps)?, me.fma, z);
            Ok(())
        })
    }

    fn iw_log_weight(
        &mut self,
        stats: &Tensor,
        eps: &Tensor,
        z: &Tensor,
        log_weight: &Tensor,
    ) -> Result<()> {
        let samples = validate::iw_log_weight(stats, eps, z, log_weight)?;
        let l = z.cols;
        self.compute([log_weight], |me, [log_weight]| {
            let (stats, eps, z) = (me.f32s(stats)?, me.f32s(eps)?, me.f32s(z)?);
            latent::iw_log_weight(l, samples, stats, eps, z, me.fma, log_weight);
            Ok(())
        })
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
        let l = dz.cols;
        self.compute([dstats], |me, [dstats]| {
            let (dz, stats, eps) = (me.f32s(dz)?, me.f32s(stats)?, me.f32s(eps)?);
            latent::latent_backward(l, dz, stats, eps, kl_scale, me.fma, dstats);
            Ok(())
        })
    }

    fn kl_divergence(&mut self, stats: &Tensor, kl: &Tensor) -> Result<()> {
        validate::kl_divergence(stats, kl)?;
        let l = stats.cols / 2;
        self.compute([kl], |me, [kl]| {
            latent::kl_divergence(l, me.f32s(stats)?, me.fma, kl);
            Ok(())
        })
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
        let cols = logits.cols;
        self.compute([grad, loss], |me, [grad, loss]| {
            let (x, t) = (me.f32s(logits)?, me.f32s(targets)?);
            let fma = me.fma;
            // Rows are independent: the cores take whole rows each.
            let rows = parallel::chunk_len(loss.len(), parallel::COSTLY.div_ceil(cols));
            let work: Vec<_> = loss
                .chunks_mut(rows)
                .zip(grad.chunks_mut(rows * cols))
                .zip(x.chunks(rows * cols).zip(t.chunks(rows * cols)))
                .collect();
            parallel::for_each_chunk(work, |((loss, grad), (x, t))| {
                loss::bce_with_logits(cols, x, t, grad_scale, fma, grad, loss);
            });
            Ok(())
        })
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
        let cols = logits.cols;
        self.compute([grad, loss], |me, [grad, loss]| {
            let (x, t) = (me.f32s(logits)?, me.f32s(labels)?);
            loss::softmax_cross_entropy(cols, x, t, grad_scale, grad, loss);
            Ok(())
        })
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
        let shape = (x.rows, x.cols);
        self.compute([saved, running, y], |me, [saved, running, y]| {
            let (x, gb) = (me.f32s(x)?, me.f32s(gamma_beta)?);
            batchnorm::batch_norm(shape, x, gb, act, norm, training, me.fma, saved, running, y);
            Ok(())
        })
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
        let shape = (x.rows, x.cols);
        self.compute([dx, d_gamma_beta], |me, [dx, dgb]| {
            let (x, gb, saved, dy) = (
                me.f32s(x)?,
                me.f32s(gamma_beta)?,
                me.f32s(saved)?,
                me.f32s(dy)?,
            );
            batchnorm::batch_norm_backward(shape, x, gb, saved, act, dy, me.fma, dx, dgb);
            Ok(())
        })
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
        self.compute([params, m, v], |me, [p, m, v]| {
            let fma = me.fma;
            // Every parameter's update is its own: the cores take a slice each.
            let chunk = parallel::chunk_len(p.len(), parallel::CHEAP);
            let work: Vec<_> = p
                .chunks_mut(chunk)
                .zip(m.chunks_mut(chunk))
                .zip(v.chunks_mut(chunk))
                .zip(me.f32s(grads)?.chunks(chunk))
                .collect();
            parallel::for_each_chunk(work, |(((p, m), v), g)| adam::adam(step, g, fma, p, m, v));
            Ok(())
        })
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
        let cols = out.cols;
        self.compute([out], |me, [out]| {
            let (Storage::U8(bytes), Storage::U32(idx)) =
                (me.storage(data.buffer)?, me.storage(indices.buffer)?)
            else {
                return Err(BackendError::UnknownBuffer(data.buffer.0));
            };
            data::gather(
                bytes,
                idx,
                first,
                (scale, shift),
                cols,
                augment,
                me.fma,
                out,
            );
            Ok(())
        })
    }

    fn im2col(&mut self, geometry: &ConvGeometry, image: &Tensor, patches: &Tensor) -> Result<()> {
        validate::im2col(geometry, image, patches)?;
        self.compute([patches], |me, [patches]| {
            conv::im2col(geometry, me.f32s(image)?, patches);
            Ok(())
        })
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
        self.compute([image], |me, [image]| {
            let bias = bias.map(|t| me.f32s(t)).transpose()?;
            conv::col2im(geometry, me.f32s(patches)?, bias, act, image);
            Ok(())
        })
    }

    fn submit(&mut self) -> Result<()> {
        Ok(())
    }

    fn timing_method(&self) -> &'static str {
        "host time around the operations (they run as they are called)"
    }

    fn finish_timed(&mut self) -> Result<Option<f64>> {
        Ok(None)
    }

    fn record_peak_probe(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }

    fn matmul_variant(
        &mut self,
        _form: MatmulForm,
        _a: &Tensor,
        _b: &Tensor,
        _c: &Tensor,
    ) -> Result<String> {
        Ok(matmul::VARIANT.into())
    }

    fn counters(&self) -> Counters {
        self.counters
    }
}

/// A zeroed buffer, or an error (not an abort) when main memory cannot hold it.
fn zeros(rows: usize, cols: usize) -> Result<Vec<f32>> {
    let bytes = tensor_bytes(rows, cols)?;
    let mut values = Vec::new();
    values
        .try_reserve_exact(rows * cols)
        .map_err(|_| BackendError::HostMemory {
            what: format!("a {rows}×{cols} tensor"),
            bytes,
        })?;
    values.resize(rows * cols, 0.0);
    Ok(values)
}

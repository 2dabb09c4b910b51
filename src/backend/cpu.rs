//! The CPU backend: every operation in plain Rust. It is the reference the GPU kernels are
//! tested against, and a trainer where no GPU is (the matmul is `matrixmultiply`'s sgemm).

use super::ops::sigmoid;
use super::{
    Activation, AdamStep, Backend, BackendError, BatchNormHyper, BufferId, Bytes, Counters,
    Indices, MatmulForm, Result, Tensor, rng, tensor_bytes, validate,
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
}

impl CpuBackend {
    /// A backend with no buffers yet.
    pub fn new() -> Self {
        Self::default()
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

    fn upload_bytes(&mut self, data: &[u8]) -> Result<Bytes> {
        self.counters.bytes_uploaded += data.len() as u64;
        let buffer = self.push(Storage::U8(data.to_vec()));
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
        self.compute([c], |me, [out]| {
            let (a, b) = (me.f32s(a)?, me.f32s(b)?);
            // SAFETY: the shapes were checked above, so every index sgemm forms from these
            // dimensions and strides lies inside `a`, `b` and `out`, which do not overlap.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    a_row as isize,
                    a_k as isize,
                    b.as_ptr(),
                    b_k as isize,
                    b_col as isize,
                    0.0,
                    out.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
            let bias = bias.map(|t| me.f32s(t)).transpose()?;
            for row in out.chunks_exact_mut(n) {
                if let Some(bias) = bias {
                    row.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
                }
                if act != Activation::Identity {
                    row.iter_mut().for_each(|y| *y = act.apply(*y));
                }
            }
            Ok(())
        })
    }

    fn activation(&mut self, act: Activation, x: &Tensor, y: &Tensor) -> Result<()> {
        validate::activation(x, y)?;
        self.compute([y], |me, [out]| {
            for (o, &x) in out.iter_mut().zip(me.f32s(x)?) {
                *o = act.apply(x);
            }
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
        self.compute([dx], |me, [out]| {
            for ((o, &y), &dy) in out.iter_mut().zip(me.f32s(y)?).zip(me.f32s(dy)?) {
                *o = dy * act.derivative_from_output(y);
            }
            Ok(())
        })
    }

    fn fill(&mut self, t: &Tensor, value: f32) -> Result<()> {
        self.compute([t], |_, [out]| {
            out.fill(value);
            Ok(())
        })
    }

    fn column_sum(&mut self, x: &Tensor, out: &Tensor) -> Result<()> {
        validate::column_sum(x, out)?;
        self.compute([out], |me, [out]| {
            out.fill(0.0);
            for row in me.f32s(x)?.chunks_exact(x.cols) {
                out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
            }
            Ok(())
        })
    }

    fn accumulate_sum(&mut self, x: &Tensor, acc: &Tensor, scale: f32) -> Result<()> {
        validate::accumulate_sum(x, acc)?;
        self.compute([acc], |me, [acc]| {
            let sum: f32 = me.f32s(x)?.iter().sum();
            acc[0] += scale * sum;
            Ok(())
        })
    }

    fn fill_uniform(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
        self.compute([t], |_, [out]| {
            let key = rng::key(seed, stream);
            for (i, o) in out.iter_mut().enumerate() {
                *o = rng::to_unit(rng::bits(key, i as u32));
            }
            Ok(())
        })
    }

    fn fill_normal(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()> {
        self.compute([t], |_, [out]| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = rng::normal(seed, stream, i as u32);
            }
            Ok(())
        })
    }

    fn reparameterize(&mut self, stats: &Tensor, eps: &Tensor, z: &Tensor) -> Result<()> {
        validate::reparameterize(stats, eps, z)?;
        let l = z.cols;
        self.compute([z], |me, [out]| {
            let (stats, eps) = (me.f32s(stats)?, me.f32s(eps)?);
            for (r, row) in out.chunks_exact_mut(l).enumerate() {
                let (mu, logvar) = stats[r * 2 * l..(r + 1) * 2 * l].split_at(l);
                for j in 0..l {
                    row[j] = mu[j] + (0.5 * logvar[j]).exp() * eps[r * l + j];
                }
            }
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
        self.compute([dstats], |me, [out]| {
            let (dz, stats, eps) = (me.f32s(dz)?, me.f32s(stats)?, me.f32s(eps)?);
            for (r, row) in out.chunks_exact_mut(2 * l).enumerate() {
                let (dmu, dlogvar) = row.split_at_mut(l);
                for j in 0..l {
                    let (mu, logvar) = (stats[r * 2 * l + j], stats[r * 2 * l + l + j]);
                    let g = dz[r * l + j];
                    dmu[j] = g + kl_scale * mu;
                    dlogvar[j] = 0.5 * g * eps[r * l + j] * (0.5 * logvar).exp()
                        + 0.5 * kl_scale * (logvar.exp() - 1.0);
                }
            }
            Ok(())
        })
    }

    fn kl_divergence(&mut self, stats: &Tensor, kl: &Tensor) -> Result<()> {
        validate::kl_divergence(stats, kl)?;
        let l = stats.cols / 2;
        self.compute([kl], |me, [out]| {
            for (o, row) in out.iter_mut().zip(me.f32s(stats)?.chunks_exact(2 * l)) {
                let (mu, logvar) = row.split_at(l);
                let sum: f32 = mu
                    .iter()
                    .zip(logvar)
                    .map(|(m, lv)| 1.0 + lv - m * m - lv.exp())
                    .sum();
                *o = -0.5 * sum;
            }
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
            for (r, row_loss) in loss.iter_mut().enumerate() {
                let mut sum = 0.0;
                for i in r * cols..(r + 1) * cols {
                    sum += bce_logit(x[i], t[i]);
                    grad[i] = grad_scale * (sigmoid(x[i]) - t[i]);
                }
                *row_loss = sum;
            }
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
        let (rows, cols) = (x.rows, x.cols);
        self.compute([saved, running, y], |me, [saved, running, out]| {
            let (x, gb) = (me.f32s(x)?, me.f32s(gamma_beta)?);
            let n = rows as f32;
            for c in 0..cols {
                let (mean, inv_std) = if training {
                    let mean = (0..rows).map(|r| x[r * cols + c]).sum::<f32>() / n;
                    let sq: f32 = (0..rows).map(|r| (x[r * cols + c] - mean).powi(2)).sum();
                    let inv_std = 1.0 / (sq / n + norm.eps).sqrt();
                    saved[c] = mean;
                    saved[cols + c] = inv_std;
                    let unbiased = sq / (n - 1.0).max(1.0);
                    let m = norm.momentum;
                    running[c] = (1.0 - m) * running[c] + m * mean;
                    running[cols + c] = (1.0 - m) * running[cols + c] + m * unbiased;
                    (mean, inv_std)
                } else {
                    (running[c], 1.0 / (running[cols + c] + norm.eps).sqrt())
                };
                let (gamma, beta) = (gb[c], gb[cols + c]);
                for r in 0..rows {
                    let i = r * cols + c;
                    out[i] = act.apply(gamma * (x[i] - mean) * inv_std + beta);
                }
            }
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
        let (rows, cols) = (x.rows, x.cols);
        self.compute([dx, d_gamma_beta], |me, [dx, dgb]| {
            let (x, gb, saved, dy) = (
                me.f32s(x)?,
                me.f32s(gamma_beta)?,
                me.f32s(saved)?,
                me.f32s(dy)?,
            );
            let n = rows as f32;
            for c in 0..cols {
                let (mean, inv_std, gamma, beta) = (saved[c], saved[cols + c], gb[c], gb[cols + c]);
                let xhat = |r: usize| (x[r * cols + c] - mean) * inv_std;
                let g = |r: usize| {
                    let y = act.apply(gamma * xhat(r) + beta);
                    dy[r * cols + c] * act.derivative_from_output(y)
                };
                let (mut sum_g, mut sum_g_xhat) = (0.0, 0.0);
                for r in 0..rows {
                    sum_g += g(r);
                    sum_g_xhat += g(r) * xhat(r);
                }
                dgb[c] = sum_g_xhat;
                dgb[cols + c] = sum_g;
                for r in 0..rows {
                    dx[r * cols + c] =
                        gamma * inv_std * (g(r) - sum_g / n - xhat(r) * sum_g_xhat / n);
                }
            }
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
        let s = *step;
        self.compute([params, m, v], |me, [p, m, v]| {
            for (i, &g) in me.f32s(grads)?.iter().enumerate() {
                m[i] = s.beta1 * m[i] + (1.0 - s.beta1) * g;
                v[i] = s.beta2 * v[i] + (1.0 - s.beta2) * g * g;
                let denom = v[i].sqrt() * s.inv_sqrt_bc2 + s.eps;
                p[i] = p[i] * s.decay - s.step_size * m[i] / denom;
            }
            Ok(())
        })
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
        let cols = out.cols;
        self.compute([out], |me, [out]| {
            let (Storage::U8(bytes), Storage::U32(idx)) =
                (me.storage(data.buffer)?, me.storage(indices.buffer)?)
            else {
                return Err(BackendError::UnknownBuffer(data.buffer.0));
            };
            let examples = bytes.len() / cols;
            for (row, &example) in out.chunks_exact_mut(cols).zip(&idx[first..]) {
                let example = (example as usize).min(examples - 1);
                let src = &bytes[example * cols..(example + 1) * cols];
                for (o, &b) in row.iter_mut().zip(src) {
                    *o = scale * f32::from(b) + shift;
                }
            }
            Ok(())
        })
    }

    fn submit(&mut self) -> Result<()> {
        Ok(())
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

/// Binary cross-entropy of a logit against a target, in the form that never overflows:
/// `max(x, 0) − x·t + log(1 + exp(−|x|))`.
pub fn bce_logit(x: f32, t: f32) -> f32 {
    x.max(0.0) - x * t + (-x.abs()).exp().ln_1p()
}

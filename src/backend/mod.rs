//! The `Backend` trait: tensors and the operations training needs, nothing model-specific.
//!
//! Two implementations compute the very same functions: [`gpu::GpuBackend`] records WGSL
//! dispatches into one command encoder per step; [`cpu::CpuBackend`] computes them in plain
//! Rust and is the reference every kernel is tested against.
//!
//! Operations have *enqueue* semantics: on the GPU they are recorded and run at the next
//! [`Backend::submit`] (or a read-back, which submits first); on the CPU they run at once.
//! Either way, results are observed only through [`Backend::read`].

mod contraction;
pub mod cpu;
mod error;
pub mod gpu;
mod ops;
pub mod rng;
pub mod select;
mod tensor;
mod validate;

pub use contraction::Contraction;
pub use error::BackendError;
pub use ops::{
    Activation, AdamStep, Augment, BatchNormHyper, ConvGeometry, MatmulForm, matmul_flop,
};
pub use tensor::{BufferId, Bytes, Indices, Tensor};

/// Hardware-independent performance counters, cumulative since the backend was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Kernel dispatches (on the CPU backend: operations run).
    pub dispatches: u64,
    /// Command buffers submitted to the queue.
    pub submits: u64,
    /// Bytes written from the host into device buffers.
    pub bytes_uploaded: u64,
    /// Bytes copied back from device buffers to the host.
    pub bytes_read: u64,
    /// Times the host waited for the device (read-backs, timed submits).
    pub host_waits: u64,
    /// Dispatches that advanced the dispatch parameters on the device (at most one per submit,
    /// GPU only), not counted in `dispatches`: what a step uploads instead of its step number.
    pub param_advances: u64,
    /// Floating-point operations of the matmuls recorded (2·m·n·k each): nearly all of a
    /// training step's arithmetic, so its rate against a device's peak.
    pub matmul_flop: u64,
}

impl Counters {
    /// The counts accumulated since `earlier`.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            dispatches: self.dispatches - earlier.dispatches,
            submits: self.submits - earlier.submits,
            bytes_uploaded: self.bytes_uploaded - earlier.bytes_uploaded,
            bytes_read: self.bytes_read - earlier.bytes_read,
            host_waits: self.host_waits - earlier.host_waits,
            param_advances: self.param_advances - earlier.param_advances,
            matmul_flop: self.matmul_flop - earlier.matmul_flop,
        }
    }
}

/// Result of backend operations.
pub type Result<T> = std::result::Result<T, BackendError>;

/// Bytes of a `rows × cols` f32 tensor, refusing sizes that overflow.
pub(crate) fn tensor_bytes(rows: usize, cols: usize) -> Result<u64> {
    rows.checked_mul(cols)
        .and_then(|n| u64::try_from(n).ok())
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| BackendError::HostMemory {
            what: format!("a {rows}×{cols} tensor"),
            bytes: u64::MAX,
        })
}

/// Tensors and the kernels of gengpu. Models are written once against this trait.
///
/// Every tensor is a row-major `rows × cols` view into a buffer owned by the backend; views
/// into one flat buffer (parameters, gradients, Adam moments) are made with [`Tensor::view`].
pub trait Backend {
    /// A short description of the device, e.g. `cpu (2 threads)` or `llvmpipe (Vulkan, Cpu)`.
    fn device_name(&self) -> String;

    /// `cpu` or `gpu`.
    fn kind(&self) -> &'static str;

    /// A new zero-filled tensor.
    fn alloc(&mut self, rows: usize, cols: usize) -> Result<Tensor>;

    /// Copies `data` (exactly `t.len()` values) into `t`.
    fn upload(&mut self, t: &Tensor, data: &[f32]) -> Result<()>;

    /// Runs what is pending and returns the values of `t`.
    fn read(&mut self, t: &Tensor) -> Result<Vec<f32>>;

    /// A new index buffer of `len` zeros.
    fn alloc_indices(&mut self, len: usize) -> Result<Indices>;

    /// Copies `data` (exactly `indices.len` values) into `indices`.
    fn upload_indices(&mut self, indices: &Indices, data: &[u32]) -> Result<()>;

    /// Makes a resident dataset holding `data`, examples of `example_bytes` bytes one after the
    /// other (`data.len()` a multiple of it, fewer than 2^32 examples). Any size main memory
    /// holds: the GPU backend splits a dataset larger than one storage binding into buffers of
    /// whole examples (see [`Bytes`]).
    fn upload_bytes(&mut self, data: &[u8], example_bytes: usize) -> Result<Bytes>;

    /// `c = act(op(a)·op(b) + bias)`, with `op` per `form`; `bias` has one value per column of `c`.
    fn matmul(
        &mut self,
        form: MatmulForm,
        a: &Tensor,
        b: &Tensor,
        bias: Option<&Tensor>,
        act: Activation,
        c: &Tensor,
    ) -> Result<()>;

    /// `y = act(x)`, elementwise.
    fn activation(&mut self, act: Activation, x: &Tensor, y: &Tensor) -> Result<()>;

    /// `dx = dy · act'(x)`, written in terms of the forward *output* `y = act(x)`.
    fn activation_backward(
        &mut self,
        act: Activation,
        y: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<()>;

    /// Sets every element of `t` to `value`.
    fn fill(&mut self, t: &Tensor, value: f32) -> Result<()>;

    /// `out[c] = Σ_r x[r, c]`: bias gradients. `out` has `x.cols` elements.
    fn column_sum(&mut self, x: &Tensor, out: &Tensor) -> Result<()>;

    /// `acc[0] += scale · Σ x`: losses accumulated on the device between read-backs.
    fn accumulate_sum(&mut self, x: &Tensor, acc: &Tensor, scale: f32) -> Result<()>;

    /// Records `step` in the last word of `sums` (as `u32` bits) if that word is still 0 and
    /// any word before it is not finite: the first step of a diverged run, kept on the device
    /// until the next read-back. Accumulated sums stay non-finite once a NaN or an infinity is
    /// added, so checking them after each step finds the step that broke them.
    fn record_non_finite(&mut self, sums: &Tensor, step: u32) -> Result<()>;

    /// Uniform draws in (0, 1) from the counter-based generator: element `i` of `t` is
    /// [`rng::uniform`]`(seed, stream, i)`.
    fn fill_uniform(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()>;

    /// Standard normal draws: element `i` of `t` is [`rng::normal`]`(seed, stream, i)`.
    fn fill_normal(&mut self, t: &Tensor, seed: u32, stream: u32) -> Result<()>;

    /// `z = mu + exp(logvar / 2) · eps`, where `stats` packs `[mu | logvar]` per row
    /// (`S × 2L`; `eps` and `z` are `rows × L`, `rows` a multiple of `S`): each stats row serves
    /// `K = rows / S` consecutive sample rows, row `r` of `z` using stats row `r / K` (K draws
    /// per example for importance weighting; K = 1 in training).
    fn reparameterize(&mut self, stats: &Tensor, eps: &Tensor, z: &Tensor) -> Result<()>;

    /// The log importance weight of each sample row of a Gaussian latent, in place:
    /// `log_weight` (`rows × 1`) holds the row's BCE (−log p(x|z)) on entry and
    /// `−BCE − ½Σ_j z² + ½Σ_j eps² + ½Σ_j logvar` on exit, which is
    /// log p(x|z) + log p(z) − log q(z|x) with the (L/2)·log 2π terms cancelled. `stats`,
    /// `eps` and `z` are as [`Backend::reparameterize`] took them (stats rows broadcast alike).
    /// In place because four storage buffers per kernel is the downlevel limit.
    fn iw_log_weight(
        &mut self,
        stats: &Tensor,
        eps: &Tensor,
        z: &Tensor,
        log_weight: &Tensor,
    ) -> Result<()>;

    /// Backward of the reparameterization plus `kl_scale` times the KL gradient, into
    /// `dstats = [dmu | dlogvar]`: `dmu = dz + kl_scale·mu`,
    /// `dlogvar = dz·eps·exp(logvar/2)/2 + kl_scale·(exp(logvar) − 1)/2`.
    fn latent_backward(
        &mut self,
        dz: &Tensor,
        stats: &Tensor,
        eps: &Tensor,
        kl_scale: f32,
        dstats: &Tensor,
    ) -> Result<()>;

    /// Per-row KL divergence of N(mu, exp(logvar)) to N(0, I), `stats = [mu | logvar]`:
    /// `kl[r] = −½ Σ_j (1 + logvar − mu² − exp(logvar))`. `kl` is `rows × 1`.
    fn kl_divergence(&mut self, stats: &Tensor, kl: &Tensor) -> Result<()>;

    /// Binary cross-entropy on logits, forward and backward in one pass:
    /// `loss[r] = Σ_c max(x,0) − x·t + log(1 + exp(−|x|))` and `grad = grad_scale·(σ(x) − t)`.
    /// Targets may be any value in [0, 1]. `loss` is `rows × 1`.
    fn bce_with_logits(
        &mut self,
        logits: &Tensor,
        targets: &Tensor,
        grad_scale: f32,
        grad: &Tensor,
        loss: &Tensor,
    ) -> Result<()>;

    /// Softmax cross-entropy on logits against one class per row, forward and backward in one
    /// pass: `loss[r] = log Σ_c exp(x_rc) − x_r,label` (computed from the row's maximum, never
    /// overflowing) and `grad = grad_scale·(softmax(x) − one-hot(label))`. `labels` (`rows × 1`)
    /// holds class indices as values (as [`Backend::gather`] writes label bytes); a label past
    /// the last class is read as the last. `loss` is `rows × 1`.
    fn softmax_cross_entropy(
        &mut self,
        logits: &Tensor,
        labels: &Tensor,
        grad_scale: f32,
        grad: &Tensor,
        loss: &Tensor,
    ) -> Result<()>;

    /// Batch normalization over the rows of `x` (`rows × C`) with `act` fused:
    /// `y = act(γ·(x − μ)/√(σ² + eps) + β)`. `gamma_beta` is `2 × C` (γ, then β); `saved`
    /// (`2 × C`) receives the batch mean and 1/√(σ² + eps) for the backward; `running`
    /// (`2 × C`) holds the running mean and (unbiased) running variance. With `training`, batch
    /// statistics are used and the running ones updated with `norm.momentum`; otherwise the
    /// running ones are used and nothing but `y` is written.
    #[allow(clippy::too_many_arguments)]
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
    ) -> Result<()>;

    /// The backward of a training-mode [`Backend::batch_norm`] from `dy`, the gradient of its
    /// activated output, with the statistics it `saved`: `dx`, and `d_gamma_beta` (`2 × C`:
    /// dγ, then dβ).
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_backward(
        &mut self,
        x: &Tensor,
        gamma_beta: &Tensor,
        saved: &Tensor,
        act: Activation,
        dy: &Tensor,
        dx: &Tensor,
        d_gamma_beta: &Tensor,
    ) -> Result<()>;

    /// One Adam (or AdamW, with `weight_decay`) update over flat buffers of equal length.
    fn adam(
        &mut self,
        step: &AdamStep,
        params: &Tensor,
        grads: &Tensor,
        m: &Tensor,
        v: &Tensor,
    ) -> Result<()>;

    /// `out[r, c] = scale · data[indices[first + r] · out.cols + c] + shift`: a batch gathered
    /// from a resident u8 dataset whose examples are `out.cols` bytes long
    /// (`data.example_bytes`). An index past the last example reads the last example (a kernel
    /// cannot fail; both backends clamp alike).
    fn gather(
        &mut self,
        data: &Bytes,
        indices: &Indices,
        first: usize,
        scale: f32,
        shift: f32,
        out: &Tensor,
    ) -> Result<()> {
        self.gather_augmented(data, indices, first, scale, shift, &Augment::NONE, out)
    }

    /// [`Backend::gather`] with the examples changed as `augment` says (shifted, binarized)
    /// before `scale` and `shift` are applied; the shift of row `r` is drawn from
    /// `(augment.seed, augment.stream, first + r)`.
    #[allow(clippy::too_many_arguments)]
    fn gather_augmented(
        &mut self,
        data: &Bytes,
        indices: &Indices,
        first: usize,
        scale: f32,
        shift: f32,
        augment: &Augment,
        out: &Tensor,
    ) -> Result<()>;

    /// The patches of a 2-d convolution (im2col): row `(n·Ho + oy)·Wo + ox` of `patches`, at
    /// column `(c·k + i)·k + j`, is pixel `(oy·stride + i − padding, ox·stride + j − padding)`,
    /// channel `c`, of image `n` (0 outside the image). `image` is `N × image_len` (NHWC),
    /// `patches` `N·Ho·Wo × patch_len` (see [`ConvGeometry`]). A convolution is then one matmul
    /// of the patches by its weight.
    fn im2col(&mut self, geometry: &ConvGeometry, image: &Tensor, patches: &Tensor) -> Result<()>;

    /// The adjoint of [`Backend::im2col`] (col2im), then a bias and an activation: each pixel
    /// of `image` is `act(s + bias[c])`, `s` the sum of the patch values taken from it, added
    /// in the order of the kernel's rows then columns. It is a convolution's input gradient from
    /// its patches' gradient, and a transposed convolution's output from its input times its
    /// weight.
    fn col2im(
        &mut self,
        geometry: &ConvGeometry,
        patches: &Tensor,
        bias: Option<&Tensor>,
        act: Activation,
        image: &Tensor,
    ) -> Result<()>;

    /// Ends a step: everything recorded so far is sent to the device, without waiting for it.
    fn submit(&mut self) -> Result<()>;

    /// How [`Backend::finish_timed`] measures, in words.
    fn timing_method(&self) -> &'static str;

    /// Submits what is recorded and waits until the device has run it, for benchmarks and
    /// tuning (never inside a training step). Returns the seconds the device took where the
    /// backend can tell (GPU timestamp queries, else host time around the completed submit);
    /// `None` where operations run as they are recorded (the CPU), so that the caller times
    /// the recording itself.
    fn finish_timed(&mut self) -> Result<Option<f64>>;

    /// Records the device's peak probe, a kernel of independent fp32 multiply-add chains that
    /// shows the arithmetic rate the device can reach, and returns its floating-point operation
    /// count; `None` where the backend has no such probe (the CPU backend, whose reference is
    /// its own large-matrix GEMM).
    fn record_peak_probe(&mut self) -> Result<Option<u64>>;

    /// The name of the matmul variant the backend runs for these operands (on the GPU, the one
    /// autotuning chose for their shape class, tuning it now if it is new).
    fn matmul_variant(
        &mut self,
        form: MatmulForm,
        a: &Tensor,
        b: &Tensor,
        c: &Tensor,
    ) -> Result<String>;

    /// The counts so far.
    fn counters(&self) -> Counters;
}

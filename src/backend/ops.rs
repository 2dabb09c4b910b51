//! Operation descriptors and the shape rules both backends enforce identically.

use super::{BackendError, Contraction, Result, Tensor};

/// Elementwise activations, fused into matmul epilogues or applied alone.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Activation {
    Identity,
    Relu,
    /// `x` for `x > 0`, else `slope·x`.
    LeakyRelu(f32),
    Sigmoid,
    Tanh,
}

impl Activation {
    /// The code the shaders switch on (see `act_apply` in `elementwise.wgsl` and `matmul.wgsl`).
    pub(crate) fn code(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::LeakyRelu(_) => 2,
            Activation::Sigmoid => 3,
            Activation::Tanh => 4,
        }
    }

    /// The slope of a leaky ReLU (0 for the others).
    pub(crate) fn slope(self) -> f32 {
        match self {
            Activation::LeakyRelu(slope) => slope,
            _ => 0.0,
        }
    }

    /// `act(x)`, the CPU reference.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu(slope) => {
                if x > 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
        }
    }

    /// `act'(x)` expressed through `y = act(x)`, the CPU reference; `fma` rounds `1 − y·y`.
    pub fn derivative_from_output(self, y: f32, fma: Contraction) -> f32 {
        match self {
            Activation::Identity => 1.0,
            Activation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu(slope) => {
                if y > 0.0 {
                    1.0
                } else {
                    slope
                }
            }
            Activation::Sigmoid => y * (1.0 - y),
            Activation::Tanh => fma.mul_add(-y, y, 1.0),
        }
    }
}

/// The logistic function, written so that it neither overflows nor loses precision.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Which operands of `C = op(A)·op(B)` are transposed: the forms forward (`NT`: X·Wᵀ) and
/// backward (`NN`: dY·W, `TN`: dYᵀ·X) passes need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulForm {
    NN,
    NT,
    TN,
}

impl MatmulForm {
    fn transposes(self) -> (bool, bool) {
        match self {
            MatmulForm::NN => (false, false),
            MatmulForm::NT => (false, true),
            MatmulForm::TN => (true, false),
        }
    }

    /// Checks the operand shapes and returns `(m, n, k)`.
    pub(crate) fn dims(
        self,
        a: &Tensor,
        b: &Tensor,
        bias: Option<&Tensor>,
        c: &Tensor,
    ) -> Result<(usize, usize, usize)> {
        let (ta, tb) = self.transposes();
        let (m, ka) = if ta {
            (a.cols, a.rows)
        } else {
            (a.rows, a.cols)
        };
        let (kb, n) = if tb {
            (b.cols, b.rows)
        } else {
            (b.rows, b.cols)
        };
        let detail = || {
            format!(
                "{self:?}: A {}×{}, B {}×{}, C {}×{}",
                a.rows, a.cols, b.rows, b.cols, c.rows, c.cols
            )
        };
        if ka != kb || c.rows != m || c.cols != n || m == 0 || n == 0 {
            return Err(BackendError::Shape {
                op: "matmul",
                detail: detail(),
            });
        }
        if let Some(bias) = bias
            && bias.len() != n
        {
            return Err(BackendError::Shape {
                op: "matmul",
                detail: format!("bias has {} values for {n} columns", bias.len()),
            });
        }
        Ok((m, n, ka))
    }

    /// `(row stride, k stride)` of the A operand and `(k stride, column stride)` of B, in
    /// elements: one kernel serves every form by walking memory with these.
    pub(crate) fn strides(self, m: usize, n: usize, k: usize) -> [usize; 4] {
        let (ta, tb) = self.transposes();
        let (a_row, a_k) = if ta { (1, m) } else { (k, 1) };
        let (b_k, b_col) = if tb { (1, k) } else { (n, 1) };
        [a_row, a_k, b_k, b_col]
    }

    /// The operand shapes `(rows, cols)` of A and B for an `m × n × k` product of this form.
    pub fn operand_shapes(self, m: usize, n: usize, k: usize) -> ((usize, usize), (usize, usize)) {
        let (ta, tb) = self.transposes();
        let a = if ta { (k, m) } else { (m, k) };
        let b = if tb { (n, k) } else { (k, n) };
        (a, b)
    }
}

/// Floating-point operations of an `m × n × k` product: a multiply and an add per term.
pub fn matmul_flop((m, n, k): (usize, usize, usize)) -> u64 {
    2 * (m as u64) * (n as u64) * (k as u64)
}

/// The coefficients of one Adam (AdamW) update, as the kernels take them: the optimizer
/// (`crate::optim::Adam`) computes them from its settings and the step number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// `lr / (1 − β1^t)`, computed in f64 (the CPU backend uses it).
    pub step_size: f32,
    /// `1 / √(1 − β2^t)`, computed in f64 (the CPU backend uses it).
    pub inv_sqrt_bc2: f32,
    /// `1 − lr·weight_decay` (decoupled weight decay; 1 for plain Adam).
    pub decay: f32,
    /// The learning rate and the step number `t` (from 1): the GPU kernel derives the two bias
    /// corrections from them on the device, so that its parameters change by one word, by one,
    /// per step, which the device advances itself (nothing is uploaded per step).
    pub lr: f32,
    pub t: u32,
}

/// Random changes made to each example as a batch is gathered (data augmentation), drawn on
/// the device from `(seed, stream)` like all of gengpu's noise, so both backends make the
/// same ones. [`Augment::NONE`] changes nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Augment {
    /// Each row is an image `width` pixels wide, moved by a whole number of pixels drawn
    /// uniformly from `−max_shift..=max_shift` across and down, the uncovered pixels filled
    /// with byte 0 (0 for none).
    pub max_shift: u32,
    /// The images' width (used when `max_shift > 0`; the rows must be whole lines of it).
    pub width: u32,
    /// Dynamic binarization: each pixel byte `b` becomes 255 with probability `b/255`, else 0.
    /// The draw depends on the example and pixel, not on the row, so that an example gathered
    /// twice under one stream is binarized alike.
    pub binarize: bool,
    pub seed: u32,
    pub stream: u32,
}

impl Augment {
    /// No change: the bytes as they are.
    pub const NONE: Augment = Augment {
        max_shift: 0,
        width: 0,
        binarize: false,
        seed: 0,
        stream: 0,
    };

    /// The keys of the shift draws (one per batch row) and of the binarization draws (one per
    /// example pixel).
    pub(crate) fn keys(&self) -> (u32, u32) {
        let key = super::rng::key(self.seed, self.stream);
        (key, super::rng::hash(key ^ BINARIZE_KEY))
    }

    /// The shift `(across, down)` of batch row `row` under `shift_key`.
    pub(crate) fn shift_of(&self, shift_key: u32, row: u32) -> (i64, i64) {
        let side = 2 * self.max_shift + 1;
        let bits = super::rng::bits(shift_key, row);
        let m = i64::from(self.max_shift);
        (
            i64::from(bits % side) - m,
            i64::from((bits / side) % side) - m,
        )
    }
}

/// Mixed into the key of the binarization draws, so that they are independent of the shifts.
const BINARIZE_KEY: u32 = 0xb1a7_2e5d;

/// Byte `value` binarized by the 32 random bits `bits`: 255 with probability `value/255`
/// (to within 2^-24), else 0, in integers so that every device agrees exactly.
pub(crate) fn binarized(value: u32, bits: u32) -> u32 {
    if (bits >> 8) * 255 < value << 24 {
        255
    } else {
        0
    }
}

/// Batch normalization's constants.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchNormHyper {
    /// Added to the variance before the square root.
    pub eps: f32,
    /// Weight of the new batch in the running averages.
    pub momentum: f32,
}

/// Fails unless every tensor has `len` elements.
pub(crate) fn same_len(op: &'static str, len: usize, tensors: &[&Tensor]) -> Result<()> {
    match tensors.iter().find(|t| t.len() != len) {
        None => Ok(()),
        Some(t) => Err(BackendError::Shape {
            op,
            detail: format!("expected {len} elements, found {}×{}", t.rows, t.cols),
        }),
    }
}

/// Fails unless every tensor has the shape `rows × cols`.
pub(crate) fn same_shape(op: &'static str, rows: usize, cols: usize, ts: &[&Tensor]) -> Result<()> {
    match ts.iter().find(|t| t.rows != rows || t.cols != cols) {
        None => Ok(()),
        Some(t) => Err(BackendError::Shape {
            op,
            detail: format!("expected {rows}×{cols}, found {}×{}", t.rows, t.cols),
        }),
    }
}

/// A shape error with a message.
pub(crate) fn shape_error(op: &'static str, detail: String) -> BackendError {
    BackendError::Shape { op, detail }
}

/// Fails if an output shares a buffer with any other operand: a GPU dispatch cannot bind a
/// buffer as writable and as anything else at once, and both backends keep the same rules.
pub(crate) fn outputs_apart(
    op: &'static str,
    outputs: &[&Tensor],
    others: &[&Tensor],
) -> Result<()> {
    for (i, out) in outputs.iter().enumerate() {
        let clash = outputs[i + 1..]
            .iter()
            .chain(others)
            .any(|t| t.buffer == out.buffer);
        if clash {
            return Err(BackendError::Aliasing { op });
        }
    }
    Ok(())
}

/// The geometry of a 2-d convolution over channels-last (NHWC) images: a square kernel
/// sliding over a `height × width × channels` image (`padding` zeros on every side), one
/// patch every `stride` pixels. A batch of such images is a tensor of `N` rows of
/// `height·width·channels` values; its patches ([`Backend::im2col`](super::Backend::im2col))
/// are `N·out_height·out_width` rows of [`ConvGeometry::patch_len`] values, ordered
/// `(channel, kernel row, kernel column)` as PyTorch orders a convolution's weight
/// (`out × in × k × k`), so that weights are stored exactly as PyTorch stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvGeometry {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl ConvGeometry {
    /// Patch rows down the image: `(height + 2·padding − kernel) / stride + 1`.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding).saturating_sub(self.kernel) / self.stride.max(1) + 1
    }

    /// Patch columns across the image.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding).saturating_sub(self.kernel) / self.stride.max(1) + 1
    }

    /// Values of one patch: `channels · kernel²`.
    pub fn patch_len(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    /// Values of one image: `height · width · channels`.
    pub fn image_len(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// Patches of one image: `out_height · out_width`.
    pub fn patches(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Why this geometry cannot be used, if it cannot: every size at least 1, a padding smaller
    /// than the kernel, and a kernel that fits the padded image.
    pub fn check(&self) -> Result<()> {
        let sizes = [
            self.height,
            self.width,
            self.channels,
            self.kernel,
            self.stride,
        ];
        if sizes.contains(&0)
            || self.padding >= self.kernel
            || self.kernel > self.height + 2 * self.padding
            || self.kernel > self.width + 2 * self.padding
        {
            return Err(shape_error(
                "convolution",
                format!("{self:?} has no patches"),
            ));
        }
        Ok(())
    }

    /// A transposed convolution (`kernel`, `stride`, `padding`) of `height × width` inputs
    /// seen from its output, an image of `(height − 1)·stride − 2·padding + kernel` pixels a
    /// side and `channels` channels: the convolution of that image has one patch per input
    /// pixel, and the transposed convolution is its adjoint. `None` if the image would be
    /// empty.
    pub fn transposed(
        height: usize,
        width: usize,
        channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Option<ConvGeometry> {
        let side = |n: usize| {
            n.checked_sub(1)?
                .checked_mul(stride)?
                .checked_add(kernel)?
                .checked_sub(2 * padding)
                .filter(|&s| s > 0)
        };
        let g = ConvGeometry {
            height: side(height)?,
            width: side(width)?,
            channels,
            kernel,
            stride,
            padding,
        };
        (g.check().is_ok() && g.out_height() == height && g.out_width() == width).then_some(g)
    }
}

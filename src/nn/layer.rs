//! What a layer computes before its normalization and activation: a linear map, a 2-d
//! convolution or a transposed convolution, forward and backward over any `Backend`.
//!
//! Examples are rows: a flat vector of `n` values, or an image stored channels-last (NHWC), row
//! after row of pixels, each pixel's channels together. A 1×1 image of `n` channels is the
//! vector of `n` values, so linear and convolutional layers chain without copies, and a
//! `rows × C` view of an image batch (`rows` = images × pixels) is what batch norm over
//! channels and the matmul over patches take.
//!
//! Convolutions are im2col, then the matmul, then (transposed) col2im: the matmul is the
//! autotuned kernel and the gathers are cheap against it. Weights are stored as PyTorch stores
//! them (`out × in × k × k` for a convolution, `in × out × k × k` for a transposed one), read
//! as the matrices the matmul multiplies by.

use crate::backend::{Activation, Backend, ConvGeometry, MatmulForm, Result, Tensor};

/// The shape of one example: `height × width × channels`, channels last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl ImageShape {
    /// A `height × width` image of `channels`.
    pub fn new(height: usize, width: usize, channels: usize) -> Self {
        ImageShape {
            height,
            width,
            channels,
        }
    }

    /// A flat vector of `n` values (a 1×1 image of `n` channels).
    pub fn flat(n: usize) -> Self {
        ImageShape {
            height: 1,
            width: 1,
            channels: n,
        }
    }

    /// Values per example.
    pub fn len(&self) -> usize {
        self.height * self.width * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pixels per example.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// `28×28` for grey images, `32×32 RGB` for colour, `H×W×C` otherwise.
    pub fn describe(&self) -> String {
        let (h, w) = (self.height, self.width);
        match self.channels {
            1 => format!("{h}×{w}"),
            3 => format!("{h}×{w} RGB"),
            c => format!("{h}×{w}×{c}"),
        }
    }
}

/// A layer's map, as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// `x·Wᵀ` on the example as a flat vector (PyTorch's `nn.Linear`, W `out × in`).
    Linear,
    /// A convolution with a square kernel (PyTorch's `nn.Conv2d`).
    Conv {
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    /// A transposed convolution (PyTorch's `nn.ConvTranspose2d`, no output padding).
    ConvTranspose {
        kernel: usize,
        stride: usize,
        padding: usize,
    },
}

/// A convolution run without the scratch [`Map::scratch`] asks for: a programming error.
const NO_SCRATCH: &str = "a convolution's layer is allocated with its scratch";

/// A layer's map with its shapes resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Map {
    Linear {
        inputs: usize,
    },
    /// The geometry of the input image.
    Conv(ConvGeometry),
    /// The geometry of the output image, whose patches are the input's pixels.
    ConvTranspose(ConvGeometry),
}

impl LayerKind {
    /// The map from examples of shape `input` to `outputs` values or channels, and the output
    /// shape; or why there is none.
    pub(super) fn resolve(
        self,
        input: ImageShape,
        outputs: usize,
    ) -> std::result::Result<(Map, ImageShape), String> {
        match self {
            LayerKind::Linear => Ok((
                Map::Linear {
                    inputs: input.len(),
                },
                ImageShape::flat(outputs),
            )),
            LayerKind::Conv {
                kernel,
                stride,
                padding,
            } => {
                let g = ConvGeometry {
                    height: input.height,
                    width: input.width,
                    channels: input.channels,
                    kernel,
                    stride,
                    padding,
                };
                g.check().map_err(|e| e.to_string())?;
                let out = ImageShape {
                    height: g.out_height(),
                    width: g.out_width(),
                    channels: outputs,
                };
                Ok((Map::Conv(g), out))
            }
            LayerKind::ConvTranspose {
                kernel,
                stride,
                padding,
            } => {
                let g = ConvGeometry::transposed(
                    input.height,
                    input.width,
                    outputs,
                    kernel,
                    stride,
                    padding,
                )
                .ok_or_else(|| {
                    format!(
                        "a {kernel}×{kernel} transposed convolution (stride {stride}, padding \
                         {padding}) has no output for {}×{} inputs",
                        input.height, input.width
                    )
                })?;
                let out = ImageShape {
                    height: g.height,
                    width: g.width,
                    channels: outputs,
                };
                Ok((Map::ConvTranspose(g), out))
            }
        }
    }
}

impl Map {
    /// The weight's saved shape (PyTorch's) for `outputs` values or channels from `inputs`
    /// channels (values, for a linear map).
    pub(super) fn weight_shape(&self, inputs: usize, outputs: usize) -> Vec<usize> {
        match self {
            Map::Linear { inputs } => vec![outputs, *inputs],
            Map::Conv(g) => vec![outputs, inputs, g.kernel, g.kernel],
            Map::ConvTranspose(g) => vec![inputs, outputs, g.kernel, g.kernel],
        }
    }

    /// The fan-in PyTorch's default initialization divides by: the weight's second dimension
    /// times the kernel's area (so a transposed convolution's output channels, as PyTorch
    /// computes it).
    pub(super) fn fan_in(&self, inputs: usize, outputs: usize) -> usize {
        let shape = self.weight_shape(inputs, outputs);
        shape[1..].iter().product()
    }

    /// The scratch a batch of `batch` examples needs: a convolution's patches, a transposed
    /// convolution's columns (`rows × cols`).
    pub(super) fn scratch(&self, batch: usize) -> Option<(usize, usize)> {
        match self {
            Map::Linear { .. } => None,
            Map::Conv(g) | Map::ConvTranspose(g) => Some((batch * g.patches(), g.patch_len())),
        }
    }

    /// `out = act(map(x) + bias)` for a batch `x`; `bias` has one value per output channel.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward(
        &self,
        backend: &mut dyn Backend,
        x: &Tensor,
        weight: &Tensor,
        bias: Option<&Tensor>,
        act: Activation,
        scratch: Option<&Tensor>,
        out: &Tensor,
    ) -> Result<()> {
        let batch = x.rows;
        match (self, scratch) {
            (Map::Conv(g), Some(patches)) => {
                let patches = patches.top_rows(batch * g.patches());
                backend.im2col(g, x, &patches)?;
                let out = out.reshape(patches.rows, weight.rows);
                backend.matmul(MatmulForm::NT, &patches, weight, bias, act, &out)
            }
            (Map::ConvTranspose(g), Some(columns)) => {
                let columns = columns.top_rows(batch * g.patches());
                let x = x.reshape(columns.rows, weight.rows);
                let none = Activation::Identity;
                backend.matmul(MatmulForm::NN, &x, weight, None, none, &columns)?;
                backend.col2im(g, &columns, bias, act, out)
            }
            (Map::Linear { .. }, _) => backend.matmul(MatmulForm::NT, x, weight, bias, act, out),
            (_, None) => unreachable!("{}", NO_SCRATCH),
        }
    }

    /// The backward from `d_pre`, the gradient of `map(x) + bias`, after a forward on `x` (whose
    /// patches a convolution still holds in `scratch`): the weight's and bias's gradients into
    /// `grads` if given, and the input's into `d_input` if given. `scratch` is overwritten.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn backward(
        &self,
        backend: &mut dyn Backend,
        x: &Tensor,
        weight: &Tensor,
        d_pre: &Tensor,
        scratch: Option<&Tensor>,
        grads: Option<(&Tensor, Option<&Tensor>)>,
        d_input: Option<&Tensor>,
    ) -> Result<()> {
        let batch = x.rows;
        let none = Activation::Identity;
        match (self, scratch) {
            (Map::Conv(g), Some(patches)) => {
                let patches = patches.top_rows(batch * g.patches());
                let d_pre = d_pre.reshape(patches.rows, weight.rows);
                if let Some((dw, db)) = grads {
                    backend.matmul(MatmulForm::TN, &d_pre, &patches, None, none, dw)?;
                    if let Some(db) = db {
                        backend.column_sum(&d_pre, db)?;
                    }
                }
                if let Some(dx) = d_input {
                    // The patches' gradient overwrites the patches, read above for the last time.
                    backend.matmul(MatmulForm::NN, &d_pre, weight, None, none, &patches)?;
                    backend.col2im(g, &patches, None, none, dx)?;
                }
                Ok(())
            }
            (Map::ConvTranspose(g), Some(columns)) => {
                let columns = columns.top_rows(batch * g.patches());
                backend.im2col(g, d_pre, &columns)?;
                if let Some((dw, db)) = grads {
                    let x = x.reshape(columns.rows, weight.rows);
                    backend.matmul(MatmulForm::TN, &x, &columns, None, none, dw)?;
                    if let Some(db) = db {
                        let per_channel = d_pre.reshape(batch * g.height * g.width, g.channels);
                        backend.column_sum(&per_channel, db)?;
                    }
                }
                if let Some(dx) = d_input {
                    let dx = dx.reshape(columns.rows, weight.rows);
                    backend.matmul(MatmulForm::NT, &columns, weight, None, none, &dx)?;
                }
                Ok(())
            }
            (Map::Linear { .. }, _) => {
                if let Some((dw, db)) = grads {
                    backend.matmul(MatmulForm::TN, d_pre, x, None, none, dw)?;
                    if let Some(db) = db {
                        backend.column_sum(d_pre, db)?;
                    }
                }
                match d_input {
                    Some(dx) => backend.matmul(MatmulForm::NN, d_pre, weight, None, none, dx),
                    None => Ok(()),
                }
            }
            (_, None) => unreachable!("{}", NO_SCRATCH),
        }
    }
}

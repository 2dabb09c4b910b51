//! The convolutional architectures: stride-2 pyramids that halve an image's side at every
//! level down to a small base, and double it back up. DCGAN's discriminator and the
//! convolutional VAE's encoder go down; DCGAN's generator and the VAE's decoder go up.
//!
//! Scaled to the data as PyTorch's examples/dcgan is written for 64×64: a side `s = b·2^L`
//! (base `b` from 4 to 16, `L ≥ 1` levels, `L` as large as that allows) has `L` stride-2
//! 4×4 convolutions (padding 1) between `s` and `b`, and one `b×b` convolution between `b×b`
//! and 1×1. 64 = 4·2^4 gives examples/dcgan exactly; 32 = 4·2^3 is its 32×32 form; MNIST's 28
//! = 7·2^2 trains on digits as they are, with no padding or resizing.

use super::ConfigError;
use crate::backend::{Activation, BatchNormHyper};
#[cfg(test)]
use crate::nn::ImageShape;
use crate::nn::{LayerKind, LayerSpec};

/// Smallest and largest base side.
const BASE: std::ops::RangeInclusive<usize> = 4..=16;

/// A stride-2 4×4 convolution with padding 1: halves (or, transposed, doubles) a side.
const HALVE: (usize, usize, usize) = (4, 2, 1);

/// How an image side decomposes: `side = base · 2^levels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pyramid {
    pub base: usize,
    pub levels: usize,
}

impl Pyramid {
    /// The pyramid of `height × width` images, or why they have none.
    pub fn of(model: &str, height: usize, width: usize) -> Result<Self, ConfigError> {
        let unsupported = || {
            ConfigError(format!(
                "the convolutional {model} takes square images whose side is b·2^L with b from \
                 {} to {} and L ≥ 1 (e.g. 28, 32 or 64), not {height}×{width}",
                BASE.start(),
                BASE.end()
            ))
        };
        if height != width || height == 0 {
            return Err(unsupported());
        }
        let mut pyramid = Pyramid {
            base: height,
            levels: 0,
        };
        while pyramid.base.is_multiple_of(2) && pyramid.base / 2 >= *BASE.start() {
            pyramid.base /= 2;
            pyramid.levels += 1;
        }
        if pyramid.levels == 0 || !BASE.contains(&pyramid.base) {
            return Err(unsupported());
        }
        Ok(pyramid)
    }

    /// Channels at level `i` (0 at the image) of a pyramid of `features` at the top: doubled
    /// at every level down.
    fn width(&self, features: usize, level: usize) -> usize {
        features << level
    }

    /// Down from `channels × side²` to `outputs` values: level 0 a convolution to `features`
    /// channels with `act` and no batch norm, each further level doubling the channels with
    /// `norm` (if any) and `act`, then a base-sized convolution to `outputs` at 1×1.
    pub fn down(
        &self,
        features: usize,
        outputs: usize,
        act: Activation,
        norm: Option<BatchNormHyper>,
        bias: bool,
    ) -> Vec<LayerSpec> {
        let (kernel, stride, padding) = HALVE;
        let mut specs: Vec<LayerSpec> = (0..self.levels)
            .map(|level| {
                let batch_norm = norm.filter(|_| level > 0);
                LayerSpec {
                    kind: LayerKind::Conv {
                        kernel,
                        stride,
                        padding,
                    },
                    outputs: self.width(features, level),
                    act,
                    batch_norm,
                    bias: bias && batch_norm.is_none(),
                }
            })
            .collect();
        specs.push(LayerSpec {
            kind: LayerKind::Conv {
                kernel: self.base,
                stride: 1,
                padding: 0,
            },
            outputs,
            act: Activation::Identity,
            batch_norm: None,
            bias,
        });
        specs
    }

    /// Up from a vector (a 1×1 image) to `channels × side²`: a base-sized transposed
    /// convolution to the widest level, then each level halving the channels, every one with
    /// `norm` (if any) and `act`, and a last level to `channels` with `out_act`.
    pub fn up(
        &self,
        features: usize,
        channels: usize,
        act: Activation,
        out_act: Activation,
        norm: Option<BatchNormHyper>,
        bias: bool,
    ) -> Vec<LayerSpec> {
        let (kernel, stride, padding) = HALVE;
        let hidden = |kind, outputs| LayerSpec {
            kind,
            outputs,
            act,
            batch_norm: norm,
            bias: bias && norm.is_none(),
        };
        let mut specs = vec![hidden(
            LayerKind::ConvTranspose {
                kernel: self.base,
                stride: 1,
                padding: 0,
            },
            self.width(features, self.levels - 1),
        )];
        let halve = LayerKind::ConvTranspose {
            kernel,
            stride,
            padding,
        };
        specs.extend(
            (1..self.levels)
                .rev()
                .map(|level| hidden(halve, self.width(features, level - 1))),
        );
        specs.push(LayerSpec {
            kind: halve,
            outputs: channels,
            act: out_act,
            batch_norm: None,
            bias,
        });
        specs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::output_shapes;

    #[test]
    fn sides_decompose_into_a_base_and_levels() {
        let of = |s| Pyramid::of("test", s, s).map(|p| (p.base, p.levels)).ok();
        assert_eq!(of(28), Some((7, 2)));
        assert_eq!(of(32), Some((4, 3)));
        assert_eq!(of(64), Some((4, 4)));
        assert_eq!(of(8), Some((4, 1)));
        assert_eq!(of(48), Some((6, 3)));
        assert_eq!(of(7), None);
        assert_eq!(of(27), None);
        assert_eq!(of(68), None);
        assert!(Pyramid::of("test", 28, 32).is_err());
    }

    #[test]
    fn dcgan_64_is_pytorchs_examples_dcgan() {
        let p = Pyramid::of("DCGAN", 64, 64).unwrap();
        let leaky = Activation::LeakyRelu(0.2);
        let norm = Some(BatchNormHyper {
            eps: 1e-5,
            momentum: 0.1,
        });
        let g = p.up(64, 3, Activation::Relu, Activation::Tanh, norm, false);
        let shapes = output_shapes(ImageShape::flat(100), &g).unwrap();
        let sides: Vec<(usize, usize)> = shapes.iter().map(|s| (s.height, s.channels)).collect();
        assert_eq!(sides, [(4, 512), (8, 256), (16, 128), (32, 64), (64, 3)]);
        let d = p.down(64, 1, leaky, norm, false);
        let input = ImageShape {
            height: 64,
            width: 64,
            channels: 3,
        };
        let shapes = output_shapes(input, &d).unwrap();
        let sides: Vec<(usize, usize)> = shapes.iter().map(|s| (s.height, s.channels)).collect();
        assert_eq!(sides, [(32, 64), (16, 128), (8, 256), (4, 512), (1, 1)]);
        assert!(d[0].batch_norm.is_none() && d[1..4].iter().all(|l| l.batch_norm.is_some()));
        assert!(g.iter().chain(&d).all(|l| !l.bias));
    }
}

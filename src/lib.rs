//! gengpu: generative models (VAE, GAN) trained with hand-written WGSL kernels, with a CPU
//! reference backend that computes the very same functions.

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod export;
pub mod fsutil;
pub mod model;
pub mod nn;
pub mod optim;
pub mod picture;
pub mod progress;
pub mod score;
pub mod train;

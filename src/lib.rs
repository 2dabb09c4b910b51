//! gengpu: generative models (VAE, GAN) trained with hand-written WGSL kernels, with a CPU
//! reference backend that computes the very same functions.

pub mod backend;
pub mod data;
pub mod picture;

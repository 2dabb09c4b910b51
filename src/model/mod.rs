//! The generative models, written once over any `Backend`.

pub mod vae;

pub use vae::{Vae, VaeConfig};

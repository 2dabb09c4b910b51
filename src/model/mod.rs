//! The generative models, written once over any `Backend`.

pub mod gan;
pub mod vae;

pub use gan::{Gan, GanConfig};
pub use vae::{Vae, VaeConfig};

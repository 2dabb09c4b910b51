//! Layers written once over any `Backend`: flat parameter storage and MLPs.

pub mod mlp;
pub mod params;

pub use mlp::{LayerSpec, Mlp};
pub use params::{ParamEntry, ParamLayout, ParamSlot, ParamStore};

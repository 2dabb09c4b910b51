//! Layers written once over any `Backend`: flat parameter storage, MLPs, and the named state
//! they are saved as.

pub mod mlp;
pub mod params;
pub mod state;

pub use mlp::{LayerSpec, Mlp};
pub use params::{ParamEntry, ParamLayout, ParamSlot, ParamStore};
pub use state::{LoadError, MOMENT_PREFIX, NamedTensor, State, StateError};

//! Layers written once over any `Backend`: flat parameter storage, linear and convolutional
//! layers stacked into networks, and the named state they are saved as.

pub mod layer;
pub mod network;
pub mod params;
pub mod state;

pub use layer::{ImageShape, LayerKind};
pub use network::{Init, LayerSpec, Network, output_shapes};
pub use params::{ParamEntry, ParamLayout, ParamSlot, ParamStore};
pub use state::{LoadError, MOMENT_PREFIX, NamedTensor, State, StateError};

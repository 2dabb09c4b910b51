//! Pictures a run writes: image grids (torchvision's layout), the GAN's progress animation
//! and per-epoch charts; each is encoded in memory, then written atomically.

mod animation;
mod atomic;
mod chart;
mod error;
mod grid;
mod png;

pub use animation::save_gif;
pub use chart::save_chart;
pub use error::PictureError;
pub use grid::{grid, save_grid};
pub use png::{save_dynamic, save_png};

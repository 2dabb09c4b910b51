//! Pictures: image grids, loss curves, animations.

mod animation;
mod atomic;
mod curve;
mod error;
mod font;
mod grid;
mod png;

pub use animation::save_gif;
pub use curve::{Series, line_chart};
pub use error::PictureError;
pub use font::{draw_text, draw_text_scaled, draw_text_up, text_width};
pub use grid::{grid, upscale};
pub use png::save_png;

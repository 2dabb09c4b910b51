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

/// A fresh, empty folder for one test's files, unique per process and test.
#[cfg(test)]
fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gengpu-picture-{}-{test}", std::process::id()));
    // A leftover from an earlier run with the same pid may or may not exist.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

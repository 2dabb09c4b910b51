//! The pictures a run writes: image grids and per-epoch charts.

use std::path::Path;

use super::TrainError;
use crate::picture::{self, Series};

/// Line colors, in series order (matplotlib's first four).
const PALETTE: [[u8; 3]; 4] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];

/// Draws `series` (name, (epoch, value) points) against the epoch and saves the chart.
pub fn save_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[(&str, &[(f64, f64)])],
) -> Result<(), TrainError> {
    let lines: Vec<Series> = series
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|(&(name, points), &color)| Series {
            name,
            points,
            color,
        })
        .collect();
    picture::save_png(&picture::line_chart(title, "epoch", y_label, &lines), path)?;
    Ok(())
}

/// Saves a torchvision-style grid of `count` `h × w` images in [0, 1], `per_row` to a row.
pub fn save_grid(
    images: &[f32],
    count: usize,
    (h, w): (usize, usize),
    per_row: usize,
    path: &Path,
) -> Result<(), TrainError> {
    picture::save_png(&picture::grid(images, count, h, w, per_row), path)?;
    Ok(())
}

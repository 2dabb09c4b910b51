//! Image grids laid out exactly like torchvision's `make_grid` + `save_image`, so dumps look
//! like the ones users know from PyTorch's examples.

use std::path::Path;

use ::image::{DynamicImage, GrayImage, RgbImage};

use super::{PictureError, save_dynamic};

/// Pixels of padding around and between cells (torchvision's default).
const PADDING: usize = 2;

/// Lays out `count` row-major `height`×`width` images of `channels` values per pixel (1: grey,
/// 3: RGB, channels last) with values in [0, 1] into one grid, `per_row` cells per row, 2 px of
/// black padding around and between cells.
///
/// As torchvision: the grid has `min(per_row, count)` columns and `ceil(count / per_row)` rows;
/// a single image is returned alone, without padding; values become bytes by
/// `v·255 + 0.5` clamped to [0, 255] and truncated (NaN becomes 0). Zero images give a 2×2
/// grid of padding.
///
/// # Panics
///
/// If `images.len() != count·height·width·channels`, if `per_row` is 0, if `channels` is
/// neither 1 nor 3, or if the grid would be more than `u32::MAX` pixels on a side: all are bugs
/// of the caller, not bad input.
pub fn grid(
    images: &[f32],
    count: usize,
    (height, width, channels): (usize, usize, usize),
    per_row: usize,
) -> DynamicImage {
    let cell = height * width * channels;
    assert_eq!(
        images.len(),
        count * cell,
        "grid: {count} images of {height}x{width}x{channels} need {} values",
        count * cell
    );
    assert!(per_row > 0, "grid: per_row must be at least 1");
    if count == 1 {
        let pixels = images.iter().map(|&v| to_byte(v)).collect();
        return image(width, height, channels, pixels);
    }
    let columns = per_row.min(count);
    let rows = count.div_ceil(per_row);
    let grid_width = columns * (width + PADDING) + PADDING;
    let grid_height = rows * (height + PADDING) + PADDING;
    let mut pixels = vec![to_byte(0.0); grid_width * grid_height * channels];
    let line = (width * channels).max(1);
    for k in 0..count {
        let image = &images[k * cell..(k + 1) * cell];
        let top = (k / per_row) * (height + PADDING) + PADDING;
        let left = (k % per_row) * (width + PADDING) + PADDING;
        for (y, row) in image.chunks_exact(line).enumerate() {
            let start = ((top + y) * grid_width + left) * channels;
            for (out, &v) in pixels[start..start + row.len()].iter_mut().zip(row) {
                *out = to_byte(v);
            }
        }
    }
    image(grid_width, grid_height, channels, pixels)
}

/// Saves the [`grid`] of `count` `h`×`w` images of `c` channels in [0, 1], `per_row` to a
/// row, as a grey or RGB PNG (what torchvision's `save_image` writes for one and three
/// channels).
pub fn save_grid(
    images: &[f32],
    count: usize,
    shape: (usize, usize, usize),
    per_row: usize,
    path: &Path,
) -> Result<(), PictureError> {
    save_dynamic(&grid(images, count, shape, per_row), path)
}

/// torchvision's `mul(255).add_(0.5).clamp_(0, 255)` then a cast to u8 (which truncates);
/// Rust's float-to-int cast maps NaN to 0.
fn to_byte(v: f32) -> u8 {
    (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8
}

fn image(width: usize, height: usize, channels: usize, pixels: Vec<u8>) -> DynamicImage {
    let side = |n: usize| u32::try_from(n).expect("grid: image too large");
    let (w, h) = (side(width), side(height));
    let fits = "grid: pixel count matches the dimensions";
    match channels {
        1 => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, pixels).expect(fits)),
        3 => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels).expect(fits)),
        c => panic!("grid: {c} channels (1 or 3)"),
    }
}

#[cfg(test)]
mod tests {
    use ::image::ImageReader;

    use super::*;
    use crate::fsutil::{file_names, scratch_dir};

    /// Image k has value k/10 everywhere except one marked pixel at (row 1, col 2) of 1.0.
    fn marked_images(count: usize, height: usize, width: usize) -> Vec<f32> {
        let mut images = Vec::with_capacity(count * height * width);
        for k in 0..count {
            for y in 0..height {
                for x in 0..width {
                    images.push(if (y, x) == (1, 2) {
                        1.0
                    } else {
                        k as f32 / 10.0
                    });
                }
            }
        }
        images
    }

    #[test]
    fn dimensions_follow_torchvision() {
        // (count, per_row) -> (width, height) for 28x28 images.
        let cases = [
            (64, 8, 8 * 30 + 2, 8 * 30 + 2),
            (16, 8, 8 * 30 + 2, 2 * 30 + 2),
            (10, 8, 8 * 30 + 2, 2 * 30 + 2),
            (3, 8, 3 * 30 + 2, 30 + 2),
            (2, 1, 30 + 2, 2 * 30 + 2),
            (1, 8, 28, 28),
            (0, 8, 2, 2),
        ];
        for (count, per_row, width, height) in cases {
            let img = grid(&vec![0.5; count * 28 * 28], count, (28, 28, 1), per_row);
            use ::image::GenericImageView;
            assert_eq!(
                img.dimensions(),
                (width, height),
                "count {count}, per_row {per_row}"
            );
        }
    }

    #[test]
    fn pixels_land_where_torchvision_puts_them() {
        let (count, height, width, per_row) = (11, 4, 5, 4);
        let img = grid(
            &marked_images(count, height, width),
            count,
            (height, width, 1),
            per_row,
        )
        .into_luma8();
        assert_eq!(img.dimensions(), (4 * 7 + 2, 3 * 6 + 2));
        for k in 0..count {
            let left = (k % per_row) * (width + 2) + 2;
            let top = (k / per_row) * (height + 2) + 2;
            let marked = img.get_pixel(left as u32 + 2, top as u32 + 1).0[0];
            assert_eq!(marked, 255, "image {k}");
            let plain = img.get_pixel(left as u32, top as u32).0[0];
            // k/10·255 + 0.5 truncated, computed in f32 as torch does.
            assert_eq!(plain, (k as f32 / 10.0 * 255.0 + 0.5) as u8, "image {k}");
        }
        // Padding is 0 and no image pixel is lost: only image 0's plain pixels are also 0.
        let mut in_cell = vec![false; (img.width() * img.height()) as usize];
        for k in 0..count {
            let left = (k % per_row) * (width + 2) + 2;
            let top = (k / per_row) * (height + 2) + 2;
            for y in top..top + height {
                in_cell[y * img.width() as usize + left..][..width].fill(true);
            }
        }
        for (i, (&p, inside)) in img.as_raw().iter().zip(in_cell).enumerate() {
            if !inside {
                assert_eq!(p, 0, "padding at pixel {i}");
            }
        }
        let nonzero = img.as_raw().iter().filter(|&&p| p != 0).count();
        assert_eq!(nonzero, count * height * width - (height * width - 1));
    }

    #[test]
    fn values_are_scaled_rounded_and_clamped_like_torchvision() {
        let values = [
            0.0,
            1.0,
            0.5,
            0.1,
            1.0 / 255.0,
            0.5 / 255.0,
            0.49 / 255.0,
            -3.0,
            7.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        let expected = [0, 255, 128, 26, 1, 1, 0, 0, 255, 0, 255, 0];
        let img = grid(&values, 1, (1, values.len(), 1), 8).into_luma8();
        assert_eq!(img.as_raw().as_slice(), &expected);
    }

    #[test]
    fn colour_images_keep_their_channels_in_place() {
        // Two 1×2 RGB images: red then green, and blue then white.
        let images = [
            1.0, 0.0, 0.0, 0.0, 1.0, 0.0, //
            0.0, 0.0, 1.0, 1.0, 1.0, 1.0,
        ];
        let img = grid(&images, 2, (1, 2, 3), 2).into_rgb8();
        assert_eq!(img.dimensions(), (2 * 4 + 2, 3 + 2));
        let px = |x: u32, y: u32| img.get_pixel(x, y).0;
        assert_eq!(px(2, 2), [255, 0, 0]);
        assert_eq!(px(3, 2), [0, 255, 0]);
        assert_eq!(px(6, 2), [0, 0, 255]);
        assert_eq!(px(7, 2), [255, 255, 255]);
        assert_eq!(px(0, 0), [0, 0, 0]);
    }

    #[test]
    fn save_grid_writes_the_grid_as_a_gray_png() {
        let dir = scratch_dir("grid-save");
        let path = dir.join("sample_1.png");
        let images = marked_images(3, 4, 5);
        save_grid(&images, 3, (4, 5, 1), 2, &path).expect("save");
        let back = ImageReader::open(&path)
            .expect("open")
            .decode()
            .expect("decode");
        assert_eq!(
            back.into_luma8(),
            grid(&images, 3, (4, 5, 1), 2).into_luma8()
        );
        assert_eq!(file_names(&dir), ["sample_1.png"]);
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}

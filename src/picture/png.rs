//! PNG output for grids (grey or RGB) and charts (RGB), written atomically.

use std::path::Path;

use ::image::codecs::png::PngEncoder;
use ::image::{ImageBuffer, ImageEncoder, Pixel, PixelWithColorType};

use super::PictureError;
use super::atomic::write_atomically;

/// Saves an 8-bit image (e.g. a [`GrayImage`](::image::GrayImage) grid or an
/// [`RgbImage`](::image::RgbImage) chart) as a PNG, via a temporary file and a rename.
pub fn save_png<P>(
    img: &ImageBuffer<P, Vec<u8>>,
    path: impl AsRef<Path>,
) -> Result<(), PictureError>
where
    P: Pixel<Subpixel = u8> + PixelWithColorType,
{
    write_atomically(path.as_ref(), |writer| {
        PngEncoder::new(writer).write_image(img.as_raw(), img.width(), img.height(), P::COLOR_TYPE)
    })
}

/// Saves a grey or RGB [`DynamicImage`](::image::DynamicImage) (a grid) as a PNG of its own
/// colour type, via a temporary file and a rename.
pub fn save_dynamic(
    img: &::image::DynamicImage,
    path: impl AsRef<Path>,
) -> Result<(), PictureError> {
    match img {
        ::image::DynamicImage::ImageLuma8(grey) => save_png(grey, path),
        other => save_png(&other.to_rgb8(), path),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use ::image::{GrayImage, ImageReader, RgbImage};

    use super::*;
    use crate::fsutil::{file_names, scratch_dir};

    #[test]
    fn gray_and_rgb_round_trip_and_leave_no_temporary_file() {
        let dir = scratch_dir("png-round-trip");
        let gray = GrayImage::from_fn(7, 3, |x, y| ::image::Luma([(x * 30 + y) as u8]));
        let rgb = RgbImage::from_fn(4, 5, |x, y| ::image::Rgb([x as u8, y as u8, 200]));
        let (gray_path, rgb_path) = (dir.join("gray.png"), dir.join("rgb.png"));
        save_png(&gray, &gray_path).expect("save gray");
        save_png(&rgb, &rgb_path).expect("save rgb");
        let decoded = |path| {
            ImageReader::open(path)
                .expect("open")
                .decode()
                .expect("decode")
        };
        assert_eq!(decoded(&gray_path).into_luma8(), gray);
        assert_eq!(decoded(&rgb_path).into_rgb8(), rgb);
        assert_eq!(file_names(&dir), ["gray.png", "rgb.png"]);
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn overwrites_an_existing_file() {
        let dir = scratch_dir("png-overwrite");
        let path = dir.join("out.png");
        fs::write(&path, b"old contents").expect("write");
        let img = GrayImage::from_pixel(2, 2, ::image::Luma([9]));
        save_png(&img, &path).expect("save");
        let back = ImageReader::open(&path)
            .expect("open")
            .decode()
            .expect("decode");
        assert_eq!(back.into_luma8(), img);
        assert_eq!(file_names(&dir), ["out.png"]);
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn errors_name_the_path_and_leave_nothing_behind() {
        let dir = scratch_dir("png-errors");
        let img = GrayImage::new(2, 2);
        let missing = dir.join("no such folder").join("out.png");
        let error = save_png(&img, &missing).expect_err("folder is missing");
        assert!(matches!(error, PictureError::Io { .. }), "{error:?}");
        assert!(error.to_string().contains("out.png"), "{error}");

        // An encoder error (an empty image is not a valid PNG) removes the temporary file.
        let path = dir.join("empty.png");
        let error = save_png(&GrayImage::new(0, 0), &path).expect_err("0x0 PNG");
        assert!(error.to_string().contains("empty.png"), "{error}");
        assert!(!path.exists());
        assert!(file_names(&dir).is_empty());
        fs::remove_dir_all(dir).expect("clean up");
    }
}

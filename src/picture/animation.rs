//! Animated GIFs of image grids over epochs, to watch a model learn (e.g. a GAN's samples).

use std::path::Path;

use ::image::codecs::gif::{GifEncoder, Repeat};
use ::image::{Delay, DynamicImage, Frame, GenericImageView};

use super::PictureError;
use super::atomic::write_atomically;

/// Saves `frames` as a GIF that loops forever, showing each frame for `delay_ms`
/// (GIF stores hundredths of a second, so the delay is truncated to a multiple of 10 ms, and
/// many viewers show delays under 20 ms as 100 ms). Written via a temporary file and a rename.
///
/// All frames must have the size of the first; grey levels are kept exactly (a GIF palette
/// holds all 256); colour frames are quantized to the GIF's 256-colour palette.
pub fn save_gif(
    frames: &[DynamicImage],
    delay_ms: u32,
    path: impl AsRef<Path>,
) -> Result<(), PictureError> {
    let path = path.as_ref();
    let first = frames.first().ok_or_else(|| PictureError::NoFrames {
        path: path.to_owned(),
    })?;
    if let Some((index, frame)) = frames
        .iter()
        .enumerate()
        .find(|(_, f)| f.dimensions() != first.dimensions())
    {
        return Err(PictureError::FrameSize {
            path: path.to_owned(),
            index,
            expected: first.dimensions(),
            found: frame.dimensions(),
        });
    }
    let delay = Delay::from_numer_denom_ms(delay_ms, 1);
    write_atomically(path, |writer| {
        let mut encoder = GifEncoder::new(writer);
        encoder.set_repeat(Repeat::Infinite)?;
        encoder.try_encode_frames(
            frames
                .iter()
                .map(|frame| Ok(Frame::from_parts(frame.to_rgba8(), 0, 0, delay))),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::fs::{self, File};
    use std::io::BufReader;

    use ::image::codecs::gif::GifDecoder;
    use ::image::{AnimationDecoder, GrayImage, Luma};

    use super::*;
    use crate::fsutil::{file_names, scratch_dir};

    fn frames(count: u8) -> Vec<DynamicImage> {
        (0..count)
            .map(|k| GrayImage::from_fn(10, 6, |x, y| Luma([k * 40 + (x * 10 + y) as u8])).into())
            .collect()
    }

    #[test]
    fn writes_a_looping_gif_with_every_frame() {
        let dir = scratch_dir("gif-frames");
        let path = dir.join("progress.gif");
        let written = frames(5);
        save_gif(&written, 200, &path).expect("save");

        let bytes = fs::read(&path).expect("read");
        // The looping extension with a loop count of 0: repeat forever.
        let forever = b"NETSCAPE2.0\x03\x01\x00\x00";
        assert!(bytes.windows(forever.len()).any(|w| w == forever), "loops");
        let reader = BufReader::new(File::open(&path).expect("open"));
        let decoded = GifDecoder::new(reader)
            .expect("a GIF")
            .into_frames()
            .collect_frames()
            .expect("frames");
        assert_eq!(decoded.len(), written.len());
        for (frame, gray) in decoded.iter().zip(&written) {
            assert_eq!(frame.delay().numer_denom_ms(), (200, 1));
            let back = DynamicImage::ImageRgba8(frame.buffer().clone()).into_luma8();
            assert_eq!(back, gray.to_luma8(), "gray levels survive the palette");
        }
        assert_eq!(file_names(&dir), ["progress.gif"], "no temporary file left");
        fs::remove_dir_all(dir).expect("clean up");
    }

    #[test]
    fn refuses_no_frames_and_mixed_sizes() {
        let dir = scratch_dir("gif-errors");
        let path = dir.join("bad.gif");
        let error = save_gif(&[], 100, &path).expect_err("no frames");
        assert!(matches!(error, PictureError::NoFrames { .. }));
        assert!(error.to_string().contains("bad.gif"), "{error}");

        let mut mixed = frames(3);
        mixed[2] = GrayImage::new(3, 3).into();
        let error = save_gif(&mixed, 100, &path).expect_err("mixed sizes");
        assert!(
            matches!(error, PictureError::FrameSize { index: 2, .. }),
            "{error:?}"
        );
        assert!(file_names(&dir).is_empty());
        fs::remove_dir_all(dir).expect("clean up");
    }
}

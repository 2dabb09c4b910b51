//! IDX files, the format MNIST and its look-alikes are distributed in: a big-endian header
//! (magic number, then one u32 size per dimension) followed by the raw u8 data, usually
//! gzip-compressed. Both forms are read; gzip is recognized by its magic bytes, not the name.
//!
//! Corrupt input never panics and never makes the reader allocate what a header merely
//! claims: data is read as it arrives, at most one byte past what the header declares.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::GzDecoder;

use super::DataError;

/// u8 data (0x08) in 3 dimensions: count, rows, cols.
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// u8 data (0x08) in 1 dimension: count.
const LABELS_MAGIC: u32 = 0x0000_0801;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The images of an IDX file: `count` images of `rows`×`cols` pixels, row-major, one after
/// the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Reads an IDX image file (magic 0x00000803), gzip-compressed or raw.
pub fn read_images(path: impl AsRef<Path>) -> Result<Images, DataError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    images_from(BufReader::new(file), &path.display().to_string())
}

/// Reads an IDX label file (magic 0x00000801), gzip-compressed or raw.
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    labels_from(BufReader::new(file), &path.display().to_string())
}

/// Parses the bytes of an IDX image file; `name` is what errors call it.
pub fn parse_images(bytes: &[u8], name: &str) -> Result<Images, DataError> {
    images_from(bytes, name)
}

/// Parses the bytes of an IDX label file; `name` is what errors call it.
pub fn parse_labels(bytes: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    labels_from(bytes, name)
}

fn images_from(reader: impl BufRead, name: &str) -> Result<Images, DataError> {
    let mut stream = Stream::open(reader, name)?;
    let dims = stream.header(IMAGES_MAGIC, "image")?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::EmptyImages {
            name: name.to_string(),
            rows,
            cols,
        });
    }
    let pixels = stream.payload(&dims)?;
    Ok(Images {
        count: count as usize,
        rows: rows as usize,
        cols: cols as usize,
        pixels,
    })
}

fn labels_from(reader: impl BufRead, name: &str) -> Result<Vec<u8>, DataError> {
    let mut stream = Stream::open(reader, name)?;
    let dims = stream.header(LABELS_MAGIC, "label")?;
    stream.payload(&dims)
}

/// The decompressed bytes of one IDX file, read in order, with errors named after the file.
struct Stream<'a> {
    reader: Box<dyn Read + 'a>,
    name: &'a str,
    gzip: bool,
    /// Bytes consumed so far (decompressed), for "expected N bytes, found M".
    consumed: u64,
}

impl<'a> Stream<'a> {
    fn open(mut reader: impl BufRead + 'a, name: &'a str) -> Result<Self, DataError> {
        let gzip = reader
            .fill_buf()
            .map_err(|e| DataError::io(name, e))?
            .starts_with(&GZIP_MAGIC);
        let reader: Box<dyn Read + 'a> = if gzip {
            Box::new(GzDecoder::new(reader))
        } else {
            Box::new(reader)
        };
        Ok(Stream {
            reader,
            name,
            gzip,
            consumed: 0,
        })
    }

    /// Reads up to `limit` bytes; fewer only at the end of the data.
    fn read_up_to(&mut self, limit: u64) -> Result<Vec<u8>, DataError> {
        let mut bytes = Vec::new();
        (&mut self.reader)
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|source| {
                if self.gzip {
                    DataError::Gzip {
                        name: self.name.to_string(),
                        source,
                    }
                } else {
                    DataError::io(self.name, source)
                }
            })?;
        self.consumed += bytes.len() as u64;
        Ok(bytes)
    }

    /// Reads exactly `n` bytes, or fails as truncated.
    fn read_exact(&mut self, n: u64) -> Result<Vec<u8>, DataError> {
        let start = self.consumed;
        let bytes = self.read_up_to(n)?;
        if (bytes.len() as u64) < n {
            return Err(self.truncated(start + n));
        }
        Ok(bytes)
    }

    /// Checks the magic number against `magic` (whose low byte is the dimension count) and
    /// returns the dimension sizes.
    fn header(&mut self, magic: u32, kind: &'static str) -> Result<Vec<u32>, DataError> {
        let found = be_u32s(&self.read_exact(4)?)[0];
        // Two zero bytes, then the data type (0x08: u8), then the number of dimensions.
        if found & 0xffff_ff00 != magic & 0xffff_ff00 {
            return Err(DataError::BadMagic {
                name: self.name.to_string(),
                kind,
                found,
                expected: magic,
            });
        }
        let (dims, expected) = ((found & 0xff) as u8, (magic & 0xff) as u8);
        if dims != expected {
            return Err(DataError::Dimensions {
                name: self.name.to_string(),
                kind,
                expected,
                found: dims,
            });
        }
        Ok(be_u32s(&self.read_exact(4 * u64::from(dims))?))
    }

    /// Reads the data after the header: exactly the product of `dims` bytes, no more.
    fn payload(&mut self, dims: &[u32]) -> Result<Vec<u8>, DataError> {
        let len = dims
            .iter()
            .fold(1u64, |n, &d| n.saturating_mul(u64::from(d)));
        let start = self.consumed;
        let bytes = self.read_up_to(len.saturating_add(1))?;
        match (bytes.len() as u64).cmp(&len) {
            std::cmp::Ordering::Less => Err(self.truncated(start.saturating_add(len))),
            std::cmp::Ordering::Equal => Ok(bytes),
            std::cmp::Ordering::Greater => Err(DataError::TrailingData {
                name: self.name.to_string(),
                expected: start + len,
            }),
        }
    }

    fn truncated(&self, expected: u64) -> DataError {
        DataError::Truncated {
            name: self.name.to_string(),
            expected,
            found: self.consumed,
        }
    }
}

fn be_u32s(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use flate2::{Compression, write::GzEncoder};

    use super::*;

    /// The bytes of an (uncompressed) IDX file: what the tests of this module and of
    /// `dataset` build their inputs from.
    pub(crate) fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn two_images() -> Vec<u8> {
        idx(
            IMAGES_MAGIC,
            &[2, 2, 3],
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        )
    }

    #[test]
    fn parses_raw_and_gzip_images() {
        let expected = Images {
            count: 2,
            rows: 2,
            cols: 3,
            pixels: (0..12).collect(),
        };
        assert_eq!(parse_images(&two_images(), "raw").unwrap(), expected);
        assert_eq!(parse_images(&gzip(&two_images()), "gz").unwrap(), expected);
    }

    #[test]
    fn parses_raw_and_gzip_labels() {
        let bytes = idx(LABELS_MAGIC, &[3], &[7, 2, 1]);
        assert_eq!(parse_labels(&bytes, "raw").unwrap(), [7, 2, 1]);
        assert_eq!(parse_labels(&gzip(&bytes), "gz").unwrap(), [7, 2, 1]);
    }

    #[test]
    fn truncated_data_says_how_much_is_missing() {
        let bytes = two_images();
        let err = parse_images(&bytes[..bytes.len() - 5], "short.idx").unwrap_err();
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 28,
                found: 23,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "short.idx: truncated: expected 28 bytes, found 23"
        );
        // Also inside the header, and inside a gzip stream.
        let err = parse_images(&bytes[..10], "x").unwrap_err();
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 16,
                found: 10,
                ..
            }
        ));
        let err = parse_labels(&gzip(&[0, 0]), "x").unwrap_err();
        assert!(matches!(err, DataError::Truncated { found: 2, .. }));
        assert!(matches!(
            parse_labels(&[], "empty").unwrap_err(),
            DataError::Truncated { found: 0, .. }
        ));
    }

    #[test]
    fn absurd_header_fails_as_truncated_without_allocating() {
        let bytes = idx(IMAGES_MAGIC, &[4_000_000_000, 28, 28], &[1, 2, 3]);
        let err = parse_images(&gzip(&bytes), "huge").unwrap_err();
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 3_136_000_000_016,
                found: 19,
                ..
            }
        ));
        let bytes = idx(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(matches!(
            parse_images(&bytes, "overflow").unwrap_err(),
            DataError::Truncated { .. }
        ));
    }

    #[test]
    fn trailing_data_is_an_error() {
        let mut bytes = two_images();
        bytes.push(0);
        assert!(matches!(
            parse_images(&bytes, "long").unwrap_err(),
            DataError::TrailingData { expected: 28, .. }
        ));
    }

    #[test]
    fn wrong_magic_or_dimensions() {
        let labels = idx(LABELS_MAGIC, &[1], &[0]);
        let err = parse_images(&labels, "labels.idx").unwrap_err();
        assert!(matches!(
            err,
            DataError::Dimensions {
                expected: 3,
                found: 1,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "labels.idx: IDX image files must have 3 dimensions, the header says 1"
        );

        let png = b"\x89PNG\r\n\x1a\n0000000000";
        let err = parse_images(png, "picture.png").unwrap_err();
        assert!(matches!(
            err,
            DataError::BadMagic {
                found: 0x8950_4e47,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "picture.png: not an IDX image file (magic number 0x89504e47, expected 0x00000803)"
        );
        // Float data (type 0x0d) is not u8.
        let floats = idx(0x0000_0d01, &[1], &[0, 0, 0, 0]);
        assert!(matches!(
            parse_labels(&floats, "f").unwrap_err(),
            DataError::BadMagic { .. }
        ));
    }

    #[test]
    fn empty_images_are_rejected() {
        let bytes = idx(IMAGES_MAGIC, &[5, 0, 28], &[]);
        assert!(matches!(
            parse_images(&bytes, "x").unwrap_err(),
            DataError::EmptyImages { rows: 0, .. }
        ));
    }

    #[test]
    fn corrupt_gzip_is_reported_as_such() {
        let mut bytes = gzip(&two_images());
        let n = bytes.len();
        bytes[n / 2] ^= 0xff;
        bytes[n / 2 + 1] ^= 0xff;
        let err = parse_images(&bytes, "bad.gz").unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        assert!(err.to_string().starts_with("bad.gz: corrupt gzip data"));
        // A cut gzip stream.
        let bytes = gzip(&two_images());
        let err = parse_images(&bytes[..bytes.len() - 12], "cut.gz").unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        // Only the gzip magic.
        assert!(matches!(
            parse_labels(&GZIP_MAGIC, "magic.gz").unwrap_err(),
            DataError::Gzip { .. }
        ));
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_labels("/nonexistent/labels.gz").unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        // The path here, the OS's reason once, in the source chain.
        assert_eq!(err.to_string(), "/nonexistent/labels.gz");
        assert!(std::error::Error::source(&err).is_some());
    }
}

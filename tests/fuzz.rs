//! Random and mutated inputs to everything that reads a user's files: the IDX reader (raw and
//! gzip), the safetensors checkpoint loader and its JSON description. None may panic, and none
//! may allocate more than the file justifies (a damaged header or description is refused
//! before the model it describes is built).
//!
//! A bounded run is part of `cargo test`; for a longer one, `PROPTEST_CASES=100000 cargo test
//! --release --test fuzz`.

mod common;

use std::io::Write;
use std::path::PathBuf;

use proptest::prelude::*;

use gengpu::backend::cpu::CpuBackend;
use gengpu::checkpoint::Checkpoint;
use gengpu::data::idx::{parse_images, parse_labels};

/// `PROPTEST_CASES` if set (a longer run), else `bounded`.
fn cases(bounded: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(bounded)
}

/// An IDX file: big-endian magic (`0x0000_08nn`, nn dimensions), the sizes, then the bytes.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = (0x0800 + dims.len() as u32).to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("in memory");
    encoder.finish().expect("in memory")
}

/// A mutation of `bytes`: some bytes overwritten, then cut at `cut` (if shorter).
fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    if !bytes.is_empty() {
        for &(at, value) in edits {
            let at = at % bytes.len();
            bytes[at] = value;
        }
    }
    bytes.truncate(cut);
    bytes
}

/// Parses as images and as labels, raw and gzipped: errors are fine, panics are not; what
/// parses holds exactly what its header declares.
fn reads_without_panic(bytes: &[u8]) {
    for input in [bytes.to_vec(), gzip(bytes)] {
        if let Ok(images) = parse_images(&input, "fuzz") {
            assert_eq!(
                images.pixels.len(),
                images.count * images.rows * images.cols
            );
        }
        let _ = parse_labels(&input, "fuzz");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn random_bytes_never_panic_the_idx_reader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        reads_without_panic(&bytes);
    }

    #[test]
    fn mutated_idx_files_never_panic_the_reader(
        count in 0u32..4,
        side in 0u32..5,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in 0usize..200,
    ) {
        let pixels = vec![7u8; (count * side * side) as usize];
        reads_without_panic(&mutate(idx(&[count, side, side], &pixels), &edits, cut));
        let labels = vec![3u8; count as usize];
        reads_without_panic(&mutate(idx(&[count], &labels), &edits, cut));
    }

    #[test]
    fn mutated_gzip_never_panics_the_reader(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in 0usize..200,
    ) {
        let file = gzip(&idx(&[2, 3, 3], &[1; 18]));
        for input in [mutate(file.clone(), &edits, cut), mutate(file, &edits, usize::MAX)] {
            let _ = parse_images(&input, "fuzz");
        }
    }
}

/// A real (tiny) checkpoint, written once by a one-epoch CPU run.
fn checkpoint_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let out = std::env::temp_dir().join(format!("gengpu-fuzz-{}", std::process::id()));
        common::cli::train_vae(
            &out,
            "--backend cpu --epochs 1 --limit 64 --batch-size 32 --hidden 8 --latent 2 --overwrite",
        );
        let bytes = std::fs::read(out.join("checkpoint.safetensors")).expect("checkpoint");
        std::fs::remove_dir_all(out).ok();
        bytes
    })
}

/// Loads `bytes` as a checkpoint the way `eval` and `sample` do: errors are fine, panics not.
fn loads_without_panic(bytes: &[u8], name: &str) {
    let path: PathBuf = std::env::temp_dir().join(format!(
        "gengpu-fuzz-{}-{name}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, bytes).expect("write");
    if let Ok(file) = Checkpoint::open(&path) {
        let _ = file.meta::<gengpu::train::CheckpointMeta>();
        let _ = gengpu::train::load(&mut CpuBackend::new(), &path, 4);
    }
    std::fs::remove_file(path).ok();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    #[test]
    fn mutated_checkpoints_never_panic_the_loader(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in 0usize..8192,
        header_only in any::<bool>(),
    ) {
        let bytes = checkpoint_bytes().to_vec();
        // Half the cases aim at the header (length and JSON), where a change means most.
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        let edits: Vec<(usize, u8)> = if header_only {
            edits.iter().map(|&(at, v)| (at % header, v)).collect()
        } else {
            edits
        };
        let cut = if header_only { usize::MAX } else { cut.max(1) * bytes.len() / 8192 };
        loads_without_panic(&mutate(bytes, &edits, cut), "mutated");
    }

    #[test]
    fn random_bytes_never_panic_the_loader(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        loads_without_panic(&bytes, "random");
    }
}

/// A description that claims a huge model in a small file is refused before the model is
/// allocated (a VAE of 100,000 hidden units would take gigabytes).
#[test]
fn a_description_larger_than_its_file_is_refused_before_allocating() {
    let bytes = checkpoint_bytes();
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let text = String::from_utf8(bytes[8..header].to_vec()).expect("JSON header");
    // The description is a JSON string inside the header's JSON: its quotes are escaped.
    let grown = text.replacen("\\\"hidden\\\":[8]", "\\\"hidden\\\":[100000]", 1);
    assert_ne!(grown, text, "the header names the hidden width");
    // Same length for the header (padding with spaces), so the tensors still line up.
    let mut new_header = grown.into_bytes();
    let padded = new_header.len().next_multiple_of(8);
    new_header.resize(padded, b' ');
    let mut file = (new_header.len() as u64).to_le_bytes().to_vec();
    file.extend(&new_header);
    file.extend(&bytes[header..]);
    let path = std::env::temp_dir().join(format!(
        "gengpu-fuzz-{}-huge.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, &file).expect("write");
    let error = match gengpu::train::load(&mut CpuBackend::new(), &path, 4) {
        Ok(_) => panic!("a model larger than its file was built"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("holds"), "{error}");
    std::fs::remove_file(path).ok();
}

//! Random and mutated inputs to everything that reads a user's files: the IDX reader (raw and
//! gzip), the safetensors checkpoint loader and its JSON description (byte edits, and valid
//! JSON with hostile values, for every kind of model). None may panic, and none may allocate
//! more than the file justifies: the largest single allocation each input causes is measured
//! (a damaged header or description is refused before the model it describes is built).
//!
//! A bounded run is part of `cargo test`; for a longer one, `PROPTEST_CASES=100000 cargo test
//! --release --test fuzz`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::path::PathBuf;

use proptest::prelude::*;

use gengpu::backend::cpu::CpuBackend;
use gengpu::checkpoint::Checkpoint;
use gengpu::data::idx::{parse_images, parse_labels};

/// The system allocator, noting the largest single allocation of each thread (tests run on
/// threads of their own, so one test's measurement is not another's).
struct Metered;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // After the thread's locals are gone (at its exit) there is nothing to measure.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is passed to `System` unchanged; noting a size allocates nothing.
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static METERED: Metered = Metered;

/// The largest single allocation `work` makes on this thread.
fn largest_allocation(work: impl FnOnce()) -> usize {
    LARGEST.with(|largest| largest.set(0));
    work();
    LARGEST.with(Cell::get)
}

/// What reading `len` bytes of content justifies: a copy or two of it (a growing buffer
/// doubles), and fixed buffers (gzip's 32 KiB window, a reader's 8 KiB, a model's small
/// tensors).
fn justified(len: usize) -> usize {
    2 * len + (256 << 10)
}

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

/// What a gzip stream decompresses to, as far as it goes (all of `bytes` if it is not gzip).
fn content(bytes: &[u8]) -> usize {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return bytes.len();
    }
    let mut out = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out);
    out.len().max(bytes.len())
}

/// Parses as images and as labels, raw and gzipped: errors are fine, panics are not, nor an
/// allocation beyond what the content justifies; what parses holds exactly what its header
/// declares.
fn reads_without_panic(bytes: &[u8]) {
    for input in [bytes.to_vec(), gzip(bytes)] {
        reads_within_bounds(&input);
    }
}

/// Parses `input` as images and as labels (see [`reads_without_panic`]).
fn reads_within_bounds(input: &[u8]) {
    let largest = largest_allocation(|| {
        if let Ok(images) = parse_images(input, "fuzz") {
            assert_eq!(
                images.pixels.len(),
                images.count * images.rows * images.cols
            );
        }
        let _ = parse_labels(input, "fuzz");
    });
    let bound = justified(content(input));
    assert!(
        largest <= bound,
        "{largest} bytes allocated for {} bytes of input",
        input.len()
    );
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
            reads_within_bounds(&input);
        }
    }
}

/// Real (tiny) checkpoints of every kind of model, each written once by a one-epoch CPU run.
fn checkpoints() -> &'static [Vec<u8>] {
    static FILES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let base = "--backend cpu --epochs 1 --limit 64 --batch-size 32 --overwrite";
        [
            ("vae", "--hidden 8 --latent 2"),
            ("vae", "--arch conv --features 2 --latent 2"),
            ("gan", "--g-hidden 8 --d-hidden 8 --latent 4"),
            (
                "gan",
                "--arch dcgan --g-features 2 --d-features 2 --latent 4",
            ),
            ("classifier", "--hidden 8"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (model, flags))| {
            let out = std::env::temp_dir().join(format!("gengpu-fuzz-{}-{i}", std::process::id()));
            let mut args = vec!["train", model];
            args.extend(base.split_whitespace());
            args.extend(flags.split_whitespace());
            args.extend(["--out", out.to_str().expect("utf-8 path")]);
            common::cli::succeeds(&args);
            let bytes = std::fs::read(out.join("checkpoint.safetensors")).expect("checkpoint");
            std::fs::remove_dir_all(out).ok();
            bytes
        })
        .collect()
    })
}

/// The first checkpoint: an MLP VAE's.
fn checkpoint_bytes() -> &'static [u8] {
    &checkpoints()[0]
}

/// The length of a checkpoint's header (with its 8-byte length).
fn header_len(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize
}

/// `bytes` with the header's `gengpu` description replaced by `description` (the header padded
/// with spaces to a multiple of 8, the tensors after it unchanged).
fn with_description(bytes: &[u8], description: &str) -> Vec<u8> {
    let header = header_len(bytes);
    let mut json: serde_json::Value =
        serde_json::from_slice(&bytes[8..header]).expect("the header is JSON");
    json["__metadata__"]["gengpu"] = serde_json::Value::String(description.to_string());
    let mut new_header = serde_json::to_vec(&json).expect("JSON");
    new_header.resize(new_header.len().next_multiple_of(8), b' ');
    let mut file = (new_header.len() as u64).to_le_bytes().to_vec();
    file.extend(&new_header);
    file.extend(&bytes[header..]);
    file
}

/// The description (JSON) a checkpoint holds.
fn description(bytes: &[u8]) -> serde_json::Value {
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..header_len(bytes)]).expect("the header is JSON");
    serde_json::from_str(
        header["__metadata__"]["gengpu"]
            .as_str()
            .expect("a description"),
    )
    .expect("the description is JSON")
}

/// Every path to a value in `json` (objects' keys and arrays' indices), the whole included.
fn paths(json: &serde_json::Value) -> Vec<Vec<String>> {
    let mut all = vec![Vec::new()];
    let children: Vec<(String, &serde_json::Value)> = match json {
        serde_json::Value::Object(fields) => fields.iter().map(|(k, v)| (k.clone(), v)).collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        for mut path in paths(child) {
            path.insert(0, key.clone());
            all.push(path);
        }
    }
    all
}

/// The value at `path` in `json`, to replace.
fn at_path<'a>(json: &'a mut serde_json::Value, path: &[String]) -> &'a mut serde_json::Value {
    path.iter().fold(json, |v, key| match v {
        serde_json::Value::Array(items) => &mut items[key.parse::<usize>().expect("an index")],
        other => &mut other[key.as_str()],
    })
}

/// Values that a hand-edited or hostile description might hold where a setting is.
fn hostile() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!(0),
        json!(-1),
        json!(1),
        json!(3),
        json!(65_536),
        json!(4_294_967_296u64),
        json!(u64::MAX),
        json!(1e300),
        json!(-1e300),
        json!(1e-300),
        json!(0.5),
        json!(null),
        json!(true),
        json!(""),
        json!("conv"),
        json!("../../etc/passwd"),
        json!([]),
        json!([0]),
        json!([1_000_000_000]),
        json!([4_294_967_295u64, 4_294_967_295u64]),
        json!(vec![1; 1000]),
        json!({}),
        json!({"conv": {"features": 1_000_000}}),
        json!({"dcgan": {"g_features": 0, "d_features": 4_294_967_295u64}}),
    ]
}

/// Loads `bytes` as a checkpoint the way `eval` and `sample` do: errors are fine, panics are
/// not, nor an allocation beyond what the file justifies.
fn loads_without_panic(bytes: &[u8], name: &str) {
    let path: PathBuf = std::env::temp_dir().join(format!(
        "gengpu-fuzz-{}-{name}-{:?}.safetensors",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, bytes).expect("write");
    let largest = largest_allocation(|| {
        if let Ok(file) = Checkpoint::open(&path) {
            let _ = file.meta::<gengpu::train::CheckpointMeta>();
            let _ = gengpu::train::load(&mut CpuBackend::new(), &path, 4);
        }
    });
    std::fs::remove_file(path).ok();
    assert!(
        largest <= justified(bytes.len()),
        "{largest} bytes allocated for a checkpoint of {} bytes",
        bytes.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    #[test]
    fn mutated_checkpoints_never_panic_the_loader(
        which in 0usize..5,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in 0usize..8192,
        header_only in any::<bool>(),
    ) {
        let bytes = checkpoints()[which].clone();
        // Half the cases aim at the header (length and JSON), where a change means most.
        let header = header_len(&bytes);
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

    /// Valid JSON with hostile values at one to three places of every model's description:
    /// what a hand edit or a crafted file can say, past the parser's syntax checks.
    #[test]
    fn hostile_descriptions_never_panic_the_loader(
        which in 0usize..5,
        changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..4),
    ) {
        let bytes = &checkpoints()[which];
        let mut json = description(bytes);
        let values = hostile();
        for (place, value) in changes {
            let places = paths(&json);
            let path = place.get(&places).clone();
            *at_path(&mut json, &path) = value.get(&values).clone();
        }
        loads_without_panic(&with_description(bytes, &json.to_string()), "hostile");
    }
}

/// A description that claims a huge model in a small file is refused before the model is
/// allocated (a VAE of 100,000 hidden units would take gigabytes).
#[test]
fn a_description_larger_than_its_file_is_refused_before_allocating() {
    let bytes = checkpoint_bytes();
    let header = header_len(bytes);
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

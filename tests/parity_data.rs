//! Parity of the data family: gathering a batch from a byte dataset against the CPU reference and
//! the bytes themselves, from datasets of one buffer and from datasets split into chunks.
//!
//! Kernel `shaders/data.wgsl`, GPU host `src/backend/gpu/kernels/data.rs`, CPU twin
//! `src/backend/cpu/data.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`). The split path runs on small data
//! through `GpuBackend::limit_dataset_chunks`, which makes chunks as small as a test likes.

mod common;

use common::accuracy::{Approx, assert_within};
use common::parity::{output, read, run_all};
use common::{gpu, rng};
use gengpu::backend::cpu::CpuBackend;
use gengpu::backend::{Augment, Backend, BackendError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};

/// `scale·b + shift` for the bytes of the examples `indices` pick, an index past the end
/// picking the last example: the gather's definition, straight from the bytes (one product
/// and one sum, which a device may fuse).
fn direct(bytes: &[u8], cols: usize, indices: &[u32], scale: f32, shift: f32) -> Vec<Approx> {
    let last = bytes.len() / cols - 1;
    indices
        .iter()
        .flat_map(|&e| {
            let e = (e as usize).min(last);
            bytes[e * cols..(e + 1) * cols].iter()
        })
        .map(|&b| Approx::from(scale).mul(f32::from(b)).add(shift))
        .collect()
}

/// What one gather of `rows` rows from `indices[first..]` gives on a backend, and how many
/// dataset buffers and dispatches it took.
struct Gathered {
    values: Vec<f32>,
    chunks: usize,
    dispatches: u64,
}

#[allow(clippy::too_many_arguments)]
fn gather_on(
    be: &mut dyn Backend,
    bytes: &[u8],
    cols: usize,
    indices: &[u32],
    first: usize,
    rows: usize,
    (scale, shift): (f32, f32),
    augment: &Augment,
    out_offset: usize,
    what: &str,
) -> Gathered {
    let data = be.upload_bytes(bytes, cols).unwrap();
    let idx = be.alloc_indices(indices.len()).unwrap();
    be.upload_indices(&idx, indices).unwrap();
    let out = output(be, rows, cols, out_offset);
    be.submit().unwrap();
    let before = be.counters().dispatches;
    be.gather_augmented(&data, &idx, first, scale, shift, augment, &out.view)
        .unwrap();
    be.submit().unwrap();
    let dispatches = be.counters().dispatches - before;
    Gathered {
        values: read(be, &out, what),
        chunks: data.chunks(),
        dispatches,
    }
}

#[test]
fn gather_from_a_byte_dataset() {
    let Some(mut gpu) = gpu("gather") else { return };
    let mut rng = rng("gather");
    // (examples, bytes per example): byte lengths 7, 91, 377, 15, 8635 (none a multiple of 4)
    // and 3136 (one).
    let datasets = [(7, 1), (13, 7), (29, 13), (5, 3), (11, 785), (4, 784)];
    for (k, &(examples, cols)) in datasets.iter().enumerate() {
        let bytes: Vec<u8> = (0..examples * cols).map(|_| rng.random()).collect();
        let first = [1, 3, 5][k % 3];
        let rows = rng.random_range(1..=2 * examples);
        // Every example, the last one (whose bytes end in a partial word) included.
        let mut indices: Vec<u32> = (0..first + rows + 2)
            .map(|_| rng.random_range(0..examples as u32))
            .collect();
        indices[first] = examples as u32 - 1;
        indices[first + rows - 1] = examples as u32 - 1;
        for pair in [(1.0 / 255.0, 0.0), (2.0 / 255.0, -1.0), (1.0, 0.0)] {
            let o_out = if k % 2 == 0 { 0 } else { 37 };
            let what = format!(
                "gather {rows} rows from {examples}×{cols} bytes, first {first}, scale/shift {pair:?}, offset {o_out}"
            );
            let runs = run_all(&mut gpu, |be| {
                gather_on(
                    be,
                    &bytes,
                    cols,
                    &indices,
                    first,
                    rows,
                    pair,
                    &Augment::NONE,
                    o_out,
                    &what,
                )
            });
            let model = direct(&bytes, cols, &indices[first..first + rows], pair.0, pair.1);
            for (who, got) in runs.each() {
                // A dataset that fits one binding is one buffer, gathered by one dispatch.
                assert_eq!((got.chunks, got.dispatches), (1, 1), "{what}, {who}");
                assert_within(&format!("{what}, {who}"), &got.values, &model);
            }
        }
    }
}

/// The indices of a batch that reads every chunk of `examples` split `per_chunk` to a chunk:
/// both sides of every border between chunks, the first and last examples, indices past the
/// end (clamped to the last), and random ones, shuffled.
fn across_borders(rng: &mut StdRng, examples: usize, per_chunk: usize) -> Vec<u32> {
    let mut picks: Vec<u32> = (per_chunk..examples)
        .step_by(per_chunk)
        .flat_map(|border| [border - 1, border])
        .map(|e| e as u32)
        .collect();
    let n = examples as u32;
    picks.extend([0, n - 1, n, n + 1, u32::MAX]);
    picks.extend((0..examples).map(|_| rng.random_range(0..n + 3)));
    picks.shuffle(rng);
    picks
}

#[test]
fn gather_across_chunks() {
    let Some(mut gpu) = gpu("gather_across_chunks") else {
        return;
    };
    let mut rng = rng("gather_across_chunks");
    // (examples, bytes per example, chunk limit in bytes, examples per chunk): a chunk holds
    // the whole examples that fit the limit once its buffer is padded to 16 bytes. Most chunks
    // end inside a u32 word of the unsplit layout (examples of 3, 5, 7, 13, 785 bytes), and some
    // chunks are not whole words themselves (28, 30, 52, 1570 bytes).
    let cases = [
        (37, 1, 16, 16),
        (23, 3, 16, 5),
        (40, 7, 40, 4),
        (50, 6, 47, 5),
        (17, 13, 64, 4),
        (31, 5, 17, 3),
        (9, 785, 1600, 2),
        (12, 784, 1600, 2),
        (6, 4, 16, 4),
    ];
    for (k, &(examples, cols, limit, per_chunk)) in cases.iter().enumerate() {
        gpu.limit_dataset_chunks(limit);
        let bytes: Vec<u8> = (0..examples * cols).map(|_| rng.random()).collect();
        let first = k % 3;
        let picks = across_borders(&mut rng, examples, per_chunk);
        let rows = picks.len();
        let indices: Vec<u32> = (0..first)
            .map(|_| rng.random())
            .chain(picks.iter().copied())
            .chain([7, 7])
            .collect();
        for pair in [(1.0, 0.0), (2.0 / 255.0, -1.0)] {
            let o_out = 5 * (k % 2);
            let what = format!(
                "gather {rows} rows from {examples}×{cols} bytes in chunks of {limit} bytes, \
                 first {first}, scale/shift {pair:?}, offset {o_out}"
            );
            let runs = run_all(&mut gpu, |be| {
                gather_on(
                    be,
                    &bytes,
                    cols,
                    &indices,
                    first,
                    rows,
                    pair,
                    &Augment::NONE,
                    o_out,
                    &what,
                )
            });
            let chunks = examples.div_ceil(per_chunk);
            assert!(chunks > 1, "{what}: the case does not split");
            assert_eq!(
                (runs.gpu.chunks, runs.gpu.dispatches),
                (chunks, chunks as u64),
                "{what}"
            );
            assert_eq!(
                (runs.cpu.chunks, runs.cpu.dispatches),
                (1, 1),
                "{what} (cpu)"
            );
            let model = direct(&bytes, cols, &picks, pair.0, pair.1);
            for (who, got) in runs.each() {
                assert_within(&format!("{what}, {who}"), &got.values, &model);
            }
        }
    }
}

#[test]
fn a_dataset_is_refused_alike_and_an_example_never_split() {
    let Some(mut gpu) = gpu("dataset refusals") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let bytes = [0u8; 300];
    for be in [&mut gpu as &mut dyn Backend, &mut cpu] {
        let refused = be.upload_bytes(&bytes, 7).unwrap_err();
        assert!(matches!(refused, BackendError::Shape { .. }), "{refused}");
        let data = be.upload_bytes(&bytes, 100).unwrap();
        let idx = be.alloc_indices(2).unwrap();
        let out = be.alloc(2, 50).unwrap();
        let refused = be.gather(&data, &idx, 0, 1.0, 0.0, &out).unwrap_err();
        assert!(
            refused.to_string().contains("examples of 100 bytes"),
            "{refused}"
        );
    }
    // Chunks of 64 bytes cannot hold an example of 100: refused, with what to know.
    gpu.limit_dataset_chunks(64);
    let refused = gpu.upload_bytes(&bytes, 100).unwrap_err().to_string();
    assert!(
        refused.contains("example of 100 bytes") && refused.contains("(64 bytes)"),
        "{refused}"
    );
}

/// CIFAR-10's size (50,000 images of 3072 bytes, 153.6 MB) is more than WebGPU's 128 MiB
/// storage bindings: the dataset is held in two buffers, and a batch with rows from both,
/// from both sides of the border and past the end, is gathered exactly.
#[test]
fn a_cifar_sized_dataset_on_128_mib_bindings() {
    let Some(mut gpu) = gpu("cifar-sized dataset") else {
        return;
    };
    gpu.limit_dataset_chunks(128 << 20);
    let mut rng = rng("cifar-sized dataset");
    let (examples, cols) = (50_000, 3072);
    let mut bytes = vec![0u8; examples * cols];
    rng.fill_bytes(&mut bytes);
    assert!(bytes.len() > 128 << 20);
    // 43,690 whole examples fit 128 MiB.
    let border = 43_690;
    let mut indices = vec![0, border - 1, border, border + 1, 49_999, 50_000, u32::MAX];
    indices.extend((0..57).map(|_| rng.random_range(0..examples as u32)));
    let rows = indices.len();
    let gathered = gather_on(
        &mut gpu,
        &bytes,
        cols,
        &indices,
        0,
        rows,
        (1.0, 0.0),
        &Augment::NONE,
        3,
        "cifar-sized gather",
    );
    assert_eq!((gathered.chunks, gathered.dispatches), (2, 2));
    let model = direct(&bytes, cols, &indices, 1.0, 0.0);
    assert_within("cifar-sized gather", &gathered.values, &model);
}

/// `limit_dataset_chunks(u64::MAX)` gives back the device's own limit: a dataset that fits one
/// binding is one buffer again.
#[test]
fn the_device_limit_is_restored() {
    let Some(mut gpu) = gpu("restored chunk limit") else {
        return;
    };
    gpu.limit_dataset_chunks(16);
    assert_eq!(gpu.upload_bytes(&[1; 40], 8).unwrap().chunks(), 3);
    gpu.limit_dataset_chunks(u64::MAX);
    assert_eq!(gpu.upload_bytes(&[1; 40], 8).unwrap().chunks(), 1);
}

/// The image `image` (`width` wide) moved `(across, down)` pixels, byte 0 where nothing covers.
fn shifted(image: &[u8], width: usize, (across, down): (i64, i64)) -> Vec<u8> {
    let height = image.len() / width;
    (0..image.len())
        .map(|c| {
            let x = (c % width) as i64 - across;
            let y = (c / width) as i64 - down;
            if (0..width as i64).contains(&x) && (0..height as i64).contains(&y) {
                image[y as usize * width + x as usize]
            } else {
                0
            }
        })
        .collect()
}

/// Augmented gathers (shifts, binarization, both) agree exactly on every backend, and each does
/// what it says, checked from the bytes without the generator: every row is its example moved
/// by some shift within the range (all shifts occurring), binarized pixels are 0 or 255 with
/// bytes 0 and 255 kept, a pixel of byte b is 255 about b/255 of the time, and an example
/// gathered twice under one stream is binarized alike; on chunked datasets too.
#[test]
fn augmented_gathers_agree_and_do_what_they_say() {
    let Some(mut gpu) = gpu("augmented gather") else {
        return;
    };
    let mut rng = rng("augmented gather");
    // (examples, width, height, max shift, chunk limit in bytes): odd sides, a 1-pixel image,
    // shifts larger than the image, and a dataset split into chunks.
    let cases = [
        (9, 28, 28, 2usize, u64::MAX),
        (5, 5, 3, 1, u64::MAX),
        (3, 1, 1, 1, u64::MAX),
        (6, 4, 7, 9, u64::MAX),
        (40, 6, 5, 2, 96),
    ];
    for &(examples, width, height, max_shift, limit) in &cases {
        gpu.limit_dataset_chunks(limit);
        let cols = width * height;
        let bytes: Vec<u8> = (0..examples * cols)
            .map(|_| match rng.random_range(0..4) {
                0 => 0,
                1 => 255,
                _ => rng.random(),
            })
            .collect();
        let rows = 4 * examples + 3;
        let first = 2;
        let mut indices: Vec<u32> = (0..first + rows)
            .map(|_| rng.random_range(0..examples as u32))
            .collect();
        // One example twice in the batch.
        indices[first + 1] = indices[first];
        for (shift, binarize) in [(max_shift, false), (0, true), (max_shift, true)] {
            let augment = Augment {
                max_shift: shift as u32,
                width: width as u32,
                binarize,
                seed: rng.random(),
                stream: rng.random(),
            };
            let what = format!(
                "gather {rows} rows of {width}×{height} from {examples} examples, \
                 chunks of {limit} bytes, {augment:?}"
            );
            let runs = run_all(&mut gpu, |be| {
                gather_on(
                    be,
                    &bytes,
                    cols,
                    &indices,
                    first,
                    rows,
                    (1.0, 0.0),
                    &augment,
                    0,
                    &what,
                )
            });
            for (who, got) in runs.each() {
                assert_eq!(got.values, runs.cpu.values, "{what}: {who} against the cpu");
            }
            let got: Vec<u8> = runs.cpu.values.iter().map(|&v| v as u8).collect();
            let mut seen_shifts = std::collections::HashSet::new();
            for (r, row) in got.chunks_exact(cols).enumerate() {
                let e = indices[first + r] as usize;
                let image = &bytes[e * cols..(e + 1) * cols];
                let m = shift as i64;
                let fits = |s| {
                    let moved = shifted(image, width, s);
                    row.iter().zip(&moved).all(|(&g, &b)| {
                        if binarize {
                            // 0 or 255, and bytes 0 and 255 kept.
                            match g {
                                0 => b != 255,
                                255 => b != 0,
                                _ => false,
                            }
                        } else {
                            g == b
                        }
                    })
                };
                let fitting: Vec<(i64, i64)> = (-m..=m)
                    .flat_map(|a| (-m..=m).map(move |d| (a, d)))
                    .filter(|&s| fits(s))
                    .collect();
                assert!(
                    !fitting.is_empty(),
                    "{what}: row {r} is no shift of its example"
                );
                if fitting.len() == 1 {
                    seen_shifts.insert(fitting[0]);
                }
            }
            if shift > 0 && 2 * shift < width.min(height) {
                let all = (2 * shift + 1).pow(2);
                assert!(
                    seen_shifts.len() * 2 >= all.min(rows),
                    "{what}: only the shifts {seen_shifts:?} occur"
                );
            }
            if binarize && shift == 0 {
                let twice = (&got[..cols], &got[cols..2 * cols]);
                assert_eq!(
                    twice.0, twice.1,
                    "{what}: one example binarized twice differs"
                );
            }
        }
    }
    gpu.limit_dataset_chunks(u64::MAX);
}

/// A pixel of byte b is 255 after binarization with probability b/255: counted over 200,000
/// draws per byte value, within 5 standard deviations.
#[test]
fn binarization_draws_each_pixel_with_its_intensity() {
    let mut cpu = CpuBackend::new();
    let values = [1u8, 64, 128, 200, 254];
    let (examples, cols) = (2000, 100);
    for &b in &values {
        let data = cpu.upload_bytes(&vec![b; examples * cols], cols).unwrap();
        let idx = cpu.alloc_indices(examples).unwrap();
        let all: Vec<u32> = (0..examples as u32).collect();
        cpu.upload_indices(&idx, &all).unwrap();
        let out = cpu.alloc(examples, cols).unwrap();
        let augment = Augment {
            binarize: true,
            seed: 7,
            stream: 3,
            ..Augment::NONE
        };
        cpu.gather_augmented(&data, &idx, 0, 1.0 / 255.0, 0.0, &augment, &out)
            .unwrap();
        let ones: f64 = cpu.read(&out).unwrap().iter().map(|&v| f64::from(v)).sum();
        let n = (examples * cols) as f64;
        let p = f64::from(b) / 255.0;
        let sigma = (n * p * (1.0 - p)).sqrt();
        assert!(
            (ones - n * p).abs() < 5.0 * sigma,
            "byte {b}: {ones} ones in {n} draws, expected {} ± {sigma}",
            n * p
        );
    }
}

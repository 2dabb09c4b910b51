//! Parity of the random family: uniform and normal fills against the CPU reference and the
//! counter-based generator (`src/backend/rng.rs`).
//!
//! Kernel `shaders/random.wgsl`, GPU host `src/backend/gpu/kernels/random.rs`, CPU twin
//! `src/backend/cpu/random.rs`. Awkward shapes, on views with guards at offsets and with
//! poisoned outputs (see `common::parity`).

mod common;

use common::accuracy::{Approx, assert_within};
use common::formulas::{cos_turns, ln_unit};
use common::gpu;
use common::parity::{ELEMENTWISE_SHAPES, assert_bits, output, read, run_all};
use gengpu::backend::rng;

/// (seed, stream) pairs, including the wrap-around ends of both.
const RANDOM_KEYS: [(u32, u32); 5] = [(0, 0), (1, 0), (0, 1), (12345, 7), (u32::MAX, u32::MAX)];

#[test]
fn fill_uniform_is_bit_identical() {
    let Some(mut gpu) = gpu("fill_uniform") else {
        return;
    };
    for (k, &(seed, stream)) in RANDOM_KEYS.iter().enumerate() {
        for &(rows, cols) in &ELEMENTWISE_SHAPES {
            let offset = if k % 2 == 0 { 0 } else { 19 };
            let what =
                format!("fill_uniform seed {seed} stream {stream} {rows}×{cols} offset {offset}");
            let runs = run_all(&mut gpu, |be| {
                let t = output(be, rows, cols, offset);
                be.fill_uniform(&t.view, seed, stream).unwrap();
                read(be, &t, &what)
            });
            // Integer hashing and an exact conversion: element i is draw i of the stream,
            // whatever the view's offset, bit for bit everywhere.
            let direct: Vec<f32> = (0..rows * cols)
                .map(|i| rng::uniform(seed, stream, i as u32))
                .collect();
            for (who, got) in runs.each() {
                assert_bits(&format!("{what}, {who}"), got, &direct);
            }
        }
    }
}

#[test]
fn fill_normal_within_a_few_ulp() {
    let Some(mut gpu) = gpu("fill_normal") else {
        return;
    };
    // The shapes of the other kernels, and one of 2^18 + 1 draws for the rare ones (radius
    // near 0 or near its largest, 5.6).
    let shapes: Vec<(usize, usize)> = ELEMENTWISE_SHAPES
        .iter()
        .copied()
        .chain([(1, (1 << 18) + 1)])
        .collect();
    for (k, &(seed, stream)) in RANDOM_KEYS.iter().enumerate() {
        for &(rows, cols) in &shapes {
            let offset = if k % 2 == 0 { 23 } else { 0 };
            let what =
                format!("fill_normal seed {seed} stream {stream} {rows}×{cols} offset {offset}");
            let runs = run_all(&mut gpu, |be| {
                let t = output(be, rows, cols, offset);
                be.fill_normal(&t.view, seed, stream).unwrap();
                read(be, &t, &what)
            });
            let direct: Vec<f32> = (0..rows * cols)
                .map(|i| rng::normal(seed, stream, i as u32))
                .collect();
            assert_bits(&format!("{what} (cpu vs rng::normal)"), &runs.cpu, &direct);
            // sqrt(−2·ln u1)·cos(2π·u2), the kernel's formula from the two uniform draws.
            let model: Vec<Approx> = (0..rows * cols)
                .map(|i| {
                    let u1 = rng::uniform(seed, stream, 2 * i as u32);
                    let u2 = rng::uniform(seed, stream, 2 * i as u32 + 1);
                    ln_unit(u1).mul(-2.0).sqrt().mul(cos_turns(u2))
                })
                .collect();
            for (who, got) in runs.each() {
                assert_within(&format!("{what}, {who}"), got, &model);
            }
        }
    }
}

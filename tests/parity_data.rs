//! Parity of the data family: gathering a batch from a byte dataset against the CPU reference and
//! the bytes themselves.
//!
//! Kernel `shaders/data.wgsl`, GPU host `src/backend/gpu/kernels/data.rs`, CPU twin
//! `src/backend/cpu/data.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::parity::{ULP, assert_bits, both, output, read};
use common::{assert_close, gpu, rng};
use gengpu::backend::cpu::CpuBackend;
use rand::Rng;

#[test]
fn gather_from_a_byte_dataset() {
    let Some(mut gpu) = gpu("gather") else { return };
    let mut cpu = CpuBackend::new();
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
        for (scale, shift) in [(1.0 / 255.0, 0.0), (2.0 / 255.0, -1.0), (1.0, 0.0)] {
            let o_out = if k % 2 == 0 { 0 } else { 37 };
            let what = format!(
                "gather {rows} rows from {examples}×{cols} bytes, first {first}, scale {scale} shift {shift}, offset {o_out}"
            );
            let (got, want) = both(&mut gpu, &mut cpu, |be| {
                let data = be.upload_bytes(&bytes).unwrap();
                let idx = be.alloc_indices(indices.len()).unwrap();
                be.upload_indices(&idx, &indices).unwrap();
                let out = output(be, rows, cols, o_out);
                be.gather(&data, &idx, first, scale, shift, &out.view)
                    .unwrap();
                read(be, &out, &what)
            });
            // Straight from the bytes.
            let direct: Vec<f32> = (0..rows * cols)
                .map(|i| {
                    let b = bytes[indices[first + i / cols] as usize * cols + i % cols];
                    scale * f32::from(b) + shift
                })
                .collect();
            assert_bits(&format!("{what} (cpu vs bytes)"), &want, &direct);
            // scale·b + shift may be fused into an fma: half an ULP of |shift| (1) at most.
            assert_close(&what, &got, &want, ULP, 0.0);
        }
    }
}

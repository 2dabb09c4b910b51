//! Parity of the reduce family: column sums and accumulated totals against the CPU reference.
//!
//! Kernel `shaders/reduce.wgsl`, GPU host `src/backend/gpu/kernels/reduce.rs`, CPU twin
//! `src/backend/cpu/reduce.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::parity::{both, input, output, read};
use common::{assert_close, gpu, rng, values};
use gengpu::backend::cpu::CpuBackend;
use rand::Rng;

#[test]
fn column_sum_on_awkward_shapes() {
    let Some(mut gpu) = gpu("column_sum") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("column_sum");
    let shapes = [
        (1, 1),
        (1, 65),
        (7, 1),
        (300, 3),
        (129, 67),
        (33, 257),
        (2, 64),
        (5, 128),
        (128, 400),
    ];
    for (k, &(rows, cols)) in shapes.iter().enumerate() {
        let [o_x, o_out] = if k % 2 == 0 { [11, 5] } else { [0, 0] };
        let x = values(&mut rng, rows * cols, -1.0, 1.0);
        let what = format!("column_sum {rows}×{cols} offsets {o_x}/{o_out}");
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let tx = input(be, rows, cols, o_x, &x);
            let out = output(be, 1, cols, o_out);
            be.column_sum(&tx.view, &out.view).unwrap();
            read(be, &out, &what)
        });
        assert_close(&what, &got, &want, 1e-5, 1e-4);
    }
}

#[test]
fn accumulate_sum_adds_into_the_accumulator() {
    let Some(mut gpu) = gpu("accumulate_sum") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("accumulate_sum");
    let shapes = [
        (1, 1),
        (7, 13),
        (129, 1),
        (3, 1000),
        (1, 256),
        (1, 257),
        (17, 31),
        (128, 1),
    ];
    for (k, &(rows, cols)) in shapes.iter().enumerate() {
        let [o_x, o_acc] = if k % 2 == 0 { [0, 0] } else { [13, 7] };
        // Per-row losses are positive; a signed sum checks the scale's sign too.
        let x1 = values(&mut rng, rows * cols, 0.0, 10.0);
        let x2 = values(&mut rng, rows * cols, -1.0, 1.0);
        let start = rng.random_range(-5.0..5.0);
        let (s1, s2) = (rng.random_range(0.1..2.0), -rng.random_range(0.1..2.0));
        let what = format!("accumulate_sum {rows}×{cols} offsets {o_x}/{o_acc}");
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let t1 = input(be, rows, cols, o_x, &x1);
            let t2 = input(be, rows, cols, o_x + 1, &x2);
            let acc = input(be, 1, 1, o_acc, &[start]);
            be.accumulate_sum(&t1.view, &acc.view, s1).unwrap();
            let after_one = read(be, &acc, &what);
            // Twice in a row, with nothing read in between: `+=`, not `=`.
            be.accumulate_sum(&t2.view, &acc.view, s2).unwrap();
            be.accumulate_sum(&t1.view, &acc.view, s1).unwrap();
            [after_one, read(be, &acc, &what)].concat()
        });
        // The reference in f64, to make sure the CPU reference adds too.
        let sum = |x: &[f32]| x.iter().map(|&v| f64::from(v)).sum::<f64>();
        let exact = f64::from(start) + f64::from(s1) * sum(&x1);
        let exact = [
            exact,
            exact + f64::from(s2) * sum(&x2) + f64::from(s1) * sum(&x1),
        ]
        .map(|v| v as f32);
        assert_close(&format!("{what} (cpu vs f64)"), &want, &exact, 1e-5, 1e-4);
        assert_close(&what, &got, &want, 1e-5, 1e-4);
    }
}

//! Parity of the reduce family: column sums and accumulated totals against the CPU reference.
//!
//! Kernel `shaders/reduce.wgsl`, GPU host `src/backend/gpu/kernels/reduce.rs`, CPU twin
//! `src/backend/cpu/reduce.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::accuracy::{Approx, assert_within};
use common::parity::{input, output, read, run_all};
use common::{gpu, rng, values};
use rand::Rng;

/// `x` as exact operands of a sum.
fn terms(x: &[f32]) -> impl Iterator<Item = Approx> + '_ {
    x.iter().map(|&v| Approx::from(v))
}

#[test]
fn column_sum_on_awkward_shapes() {
    let Some(mut gpu) = gpu("column_sum") else {
        return;
    };
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
        let runs = run_all(&mut gpu, |be| {
            let tx = input(be, rows, cols, o_x, &x);
            let out = output(be, 1, cols, o_out);
            be.column_sum(&tx.view, &out.view).unwrap();
            read(be, &out, &what)
        });
        let model: Vec<Approx> = (0..cols)
            .map(|c| Approx::sum(terms(&x[c..]).step_by(cols)))
            .collect();
        for (who, got) in runs.each() {
            assert_within(&format!("{what}, {who}"), got, &model);
        }
    }
}

#[test]
fn accumulate_sum_adds_into_the_accumulator() {
    let Some(mut gpu) = gpu("accumulate_sum") else {
        return;
    };
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
        let runs = run_all(&mut gpu, |be| {
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
        // acc + scale·Σx, twice with nothing read in between.
        let add = |acc: Approx, x: &[f32], scale: f32| acc.add(Approx::sum(terms(x)).mul(scale));
        let after_one = add(Approx::from(start), &x1, s1);
        let model = [after_one, add(add(after_one, &x2, s2), &x1, s1)];
        for (who, got) in runs.each() {
            assert_within(&format!("{what}, {who}"), got, &model);
        }
    }
}

#[test]
fn record_non_finite_keeps_the_first_step_whose_sums_broke() {
    let Some(mut gpu) = gpu("record_non_finite") else {
        return;
    };
    // Every kind of non-finite word (both infinities, a quiet and a signalling-pattern NaN, a
    // negative NaN), in each position of sums of 1 to 4 values, at offsets; the largest finite
    // value and a subnormal are finite.
    let broken = [
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc0_0000),
    ];
    for values in 1..=4 {
        for position in 0..values {
            for (k, &bad) in broken.iter().enumerate() {
                let offset = (values + position + k) % 3 * 5;
                let what = format!("{values} sums, word {position} is {bad:?}, offset {offset}");
                let runs = run_all(&mut gpu, |be| {
                    let mut sums = vec![f32::MAX, 1.0e-40, -3.5, 0.0];
                    sums.truncate(values);
                    sums.push(0.0);
                    let t = input(be, 1, values + 1, offset, &sums);
                    // Finite sums: nothing recorded.
                    be.record_non_finite(&t.view, 7).unwrap();
                    let finite = read(be, &t, &what);
                    // Broken at step 8; step 9 must not overwrite it, even with nothing read
                    // in between.
                    sums[position] = bad;
                    be.upload(&t.view, &sums).unwrap();
                    be.record_non_finite(&t.view, 8).unwrap();
                    be.record_non_finite(&t.view, 9).unwrap();
                    let record = read(be, &t, &what)[values].to_bits();
                    (finite[values].to_bits(), record)
                });
                for (who, &got) in runs.each() {
                    assert_eq!(got, (0, 8), "{what}, {who}");
                }
            }
        }
    }
}

#[test]
fn record_non_finite_needs_a_value_and_a_record_word() {
    let Some(mut gpu) = gpu("record_non_finite") else {
        return;
    };
    let runs = run_all(&mut gpu, |be| {
        let t = be.alloc(1, 1).unwrap();
        be.record_non_finite(&t, 1).unwrap_err().to_string()
    });
    for (who, got) in runs.each() {
        assert!(got.contains("record_non_finite"), "{who}: {got}");
    }
}

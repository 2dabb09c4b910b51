//! Parity of the loss family: binary and softmax cross-entropy on logits (gradient and per-row loss) against
//! the CPU reference.
//!
//! Kernel `shaders/loss.wgsl`, GPU host `src/backend/gpu/kernels/loss.rs`, CPU twin
//! `src/backend/cpu/loss.rs`. Fresh random inputs on awkward shapes, on views with guards at
//! offsets and with poisoned outputs (see `common::parity`).

mod common;

use common::accuracy::{Approx, assert_within};
use common::formulas::sigmoid;
use common::parity::{input, output, read, run_all};
use common::{gpu, rng, values};
use rand::Rng;

#[test]
fn bce_with_logits_matches() {
    let Some(mut gpu) = gpu("bce_with_logits") else {
        return;
    };
    let mut rng = rng("bce_with_logits");
    let shapes = [
        (1, 1),
        (3, 63),
        (2, 64),
        (5, 65),
        (17, 129),
        (4, 784),
        (257, 3),
        (1, 300),
    ];
    for (k, &(rows, cols)) in shapes.iter().enumerate() {
        let [o_x, o_t, o_g, o_l] = if k % 2 == 0 {
            [0, 0, 0, 0]
        } else {
            [1, 6, 13, 4]
        };
        let n = rows * cols;
        let mut logits = values(&mut rng, n, -10.0, 10.0);
        for x in logits.iter_mut() {
            if rng.random_bool(0.1) {
                *x = [30.0, -30.0, 0.0, 50.0, -50.0][rng.random_range(0..5)];
            }
        }
        // Any target in [0, 1], the ends included (pixel/255 is both).
        let targets: Vec<f32> = (0..n)
            .map(|_| match rng.random_range(0..4) {
                0 => 0.0,
                1 => 1.0,
                _ => rng.random_range(0.0..=1.0),
            })
            .collect();
        let grad_scale = [1.0, 1.0 / 128.0, -0.5][k % 3];
        let what = format!(
            "bce_with_logits {rows}×{cols} scale {grad_scale} offsets {o_x}/{o_t}/{o_g}/{o_l}"
        );
        let runs = run_all(&mut gpu, |be| {
            let tx = input(be, rows, cols, o_x, &logits);
            let tt = input(be, rows, cols, o_t, &targets);
            let grad = output(be, rows, cols, o_g);
            let loss = output(be, rows, 1, o_l);
            be.bce_with_logits(&tx.view, &tt.view, grad_scale, &grad.view, &loss.view)
                .unwrap();
            (read(be, &grad, &what), read(be, &loss, &what))
        });
        // grad = scale·(σ(x) − t); loss = Σ (max(x, 0) − x·t + log(1 + exp(−|x|))): one
        // running sum of every element's three terms, then a workgroup tree, so any order.
        let pairs = || {
            logits
                .iter()
                .zip(&targets)
                .map(|(&x, &t)| (Approx::from(x), t))
        };
        let grad_model: Vec<Approx> = pairs()
            .map(|(x, t)| sigmoid(x).sub(t).mul(grad_scale))
            .collect();
        let terms = |(x, t): (Approx, f32)| {
            let softplus = x.neg().max(x).neg().exp().add(1.0).log();
            [x.max(0.0), x.mul(t).neg(), softplus]
        };
        let all_terms: Vec<[Approx; 3]> = pairs().map(terms).collect();
        let loss_model: Vec<Approx> = all_terms
            .chunks(cols)
            .map(|row| Approx::sum(row.iter().flatten().copied()))
            .collect();
        for (who, (grad, loss)) in runs.each() {
            assert_within(&format!("{what} grad, {who}"), grad, &grad_model);
            assert_within(&format!("{what} loss, {who}"), loss, &loss_model);
        }
    }
}

#[test]
fn softmax_cross_entropy_matches() {
    let Some(mut gpu) = gpu("softmax_cross_entropy") else {
        return;
    };
    let mut rng = rng("softmax_cross_entropy");
    // One class, fewer classes than threads, exactly the workgroup, more, many rows.
    let shapes = [
        (1, 1),
        (3, 10),
        (2, 64),
        (5, 65),
        (17, 129),
        (300, 10),
        (1, 3),
    ];
    for (k, &(rows, cols)) in shapes.iter().enumerate() {
        let [o_x, o_t, o_g, o_l] = if k % 2 == 0 {
            [0, 0, 0, 0]
        } else {
            [3, 1, 7, 2]
        };
        let mut logits = values(&mut rng, rows * cols, -10.0, 10.0);
        for x in logits.iter_mut() {
            if rng.random_bool(0.1) {
                *x = [80.0, -80.0, 0.0, 30.0][rng.random_range(0..4)];
            }
        }
        // Class indices as the label gather writes them; some past the last class (clamped).
        let labels: Vec<f32> = (0..rows)
            .map(|_| rng.random_range(0..cols + 2).min(cols + 1) as f32)
            .collect();
        let grad_scale = [1.0, 1.0 / 128.0, -0.5][k % 3];
        let what = format!("softmax_cross_entropy {rows}×{cols} scale {grad_scale}");
        let runs = run_all(&mut gpu, |be| {
            let tx = input(be, rows, cols, o_x, &logits);
            let tl = input(be, rows, 1, o_t, &labels);
            let grad = output(be, rows, cols, o_g);
            let loss = output(be, rows, 1, o_l);
            be.softmax_cross_entropy(&tx.view, &tl.view, grad_scale, &grad.view, &loss.view)
                .unwrap();
            (read(be, &grad, &what), read(be, &loss, &what))
        });
        // e = exp(x − max) (the max is exact), softmax = e / Σ e in any order, grad =
        // scale·(softmax − one-hot), loss = (max − x_label) + log Σ e.
        let mut grad_model = Vec::with_capacity(rows * cols);
        let mut loss_model = Vec::with_capacity(rows);
        for (row, &label) in logits.chunks(cols).zip(&labels) {
            let top = row.iter().copied().fold(row[0], f32::max);
            let e: Vec<Approx> = row
                .iter()
                .map(|&x| Approx::from(x).sub(top).exp())
                .collect();
            let total = Approx::sum(e.iter().copied());
            let label = (label as usize).min(cols - 1);
            grad_model.extend(e.iter().enumerate().map(|(c, &e)| {
                let one_hot = if c == label { 1.0 } else { 0.0 };
                e.div(total).sub(one_hot).mul(grad_scale)
            }));
            loss_model.push(Approx::from(top).sub(row[label]).add(total.log()));
        }
        for (who, (grad, loss)) in runs.each() {
            assert_within(&format!("{what} grad, {who}"), grad, &grad_model);
            assert_within(&format!("{what} loss, {who}"), loss, &loss_model);
        }
    }
}

//! Every kernel family but the matmul (see `parity_matmul.rs`) against the CPU reference:
//! fresh random inputs, awkward shapes (1, primes, element counts just above a multiple of the
//! 256-invocation workgroup), GPU outputs poisoned with NaN, and operands that are views at
//! non-zero offsets into larger buffers, as parameters are views into one flat buffer.
//!
//! Every operand lives in a buffer with guard elements after it (and before it, at a non-zero
//! offset): a kernel that ignores an offset, or writes past the end of its view, changes a guard
//! and fails the test.

mod common;

use common::{POISON, assert_close, gpu, rng, values};
use gengpu::backend::cpu::CpuBackend;
use gengpu::backend::gpu::GpuBackend;
use gengpu::backend::{Activation, Backend, Tensor};
use gengpu::optim::Adam;
use rand::Rng;
use rand::rngs::StdRng;

/// The value of the guard elements around every view.
const GUARD: f32 = -1234.5;
/// Guard elements after every view.
const TAIL: usize = 3;
/// The unit round-off of f32 (2^-23): tolerances of transcendental kernels are a few of it.
const ULP: f32 = f32::EPSILON;

/// A `rows × cols` view `offset` elements into a buffer that has guards around it.
#[derive(Clone, Copy)]
struct Slot {
    whole: Tensor,
    view: Tensor,
    offset: usize,
}

fn slot(be: &mut dyn Backend, rows: usize, cols: usize, offset: usize) -> Slot {
    let whole = be.alloc(1, offset + rows * cols + TAIL).unwrap();
    be.fill(&whole, GUARD).unwrap();
    Slot {
        whole,
        view: whole.view(offset, rows, cols),
        offset,
    }
}

/// An operand holding `data`.
fn input(be: &mut dyn Backend, rows: usize, cols: usize, offset: usize, data: &[f32]) -> Slot {
    let s = slot(be, rows, cols, offset);
    be.upload(&s.view, data).unwrap();
    s
}

/// An output, poisoned so that an element the kernel leaves unwritten fails the comparison.
fn output(be: &mut dyn Backend, rows: usize, cols: usize, offset: usize) -> Slot {
    let s = slot(be, rows, cols, offset);
    be.fill(&s.view, POISON).unwrap();
    s
}

/// The values of the view, after checking that every guard around it is intact.
#[track_caller]
fn read(be: &mut dyn Backend, s: &Slot, what: &str) -> Vec<f32> {
    let all = be.read(&s.whole).unwrap();
    let end = s.offset + s.view.len();
    for (i, v) in all.iter().enumerate() {
        if i < s.offset || i >= end {
            assert!(
                v.to_bits() == GUARD.to_bits(),
                "{what} ({}): element {i} of the buffer, outside the view [{}, {end}), was overwritten with {v}",
                be.kind(),
                s.offset
            );
        }
    }
    all[s.offset..end].to_vec()
}

/// Runs `f` on both backends: `(gpu, cpu)`.
fn both<T>(
    gpu: &mut GpuBackend,
    cpu: &mut CpuBackend,
    f: impl Fn(&mut dyn Backend) -> T,
) -> (T, T) {
    (f(gpu), f(cpu))
}

/// Fails unless `|got − want| ≤ bound[i]` everywhere (a per-element bound, for kernels whose
/// error scales with the size of intermediate terms rather than of the result); NaN never passes.
#[track_caller]
fn assert_bounded(what: &str, got: &[f32], want: &[f32], bound: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, ((&g, &w), &b)) in got.iter().zip(want).zip(bound).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= b && !err.is_nan(),
            "{what}: element {i} is {g} but the reference is {w} (error {err:e}, bound {b:e})"
        );
    }
}

/// Fails unless the two slices are identical bit for bit.
#[track_caller]
fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == w.to_bits(),
            "{what}: element {i} is {g} ({:#010x}) but the reference is {w} ({:#010x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

/// Shapes of the elementwise kernels: 1, primes, and element counts just above 256·k.
const ELEMENTWISE_SHAPES: [(usize, usize); 10] = [
    (1, 1),
    (1, 7),
    (13, 17),
    (1, 256),
    (1, 257),
    (3, 257),
    (5, 103),
    (1, 1025),
    (41, 251),
    (2, 1),
];

/// Random values with the special points of the activations mixed in: 0, ±0, tiny, and
/// saturating inputs (±15 is where the tanh kernel clamps, ±50 and ±100 overflow a naive exp).
fn activation_inputs(rng: &mut StdRng, n: usize) -> Vec<f32> {
    const SPECIAL: [f32; 18] = [
        0.0, -0.0, 1e-6, -1e-6, 1e-3, -1e-3, 15.0, -15.0, 15.5, -15.5, 30.0, -30.0, 50.0, -50.0,
        88.0, -88.0, 100.0, -100.0,
    ];
    let mut x = values(rng, n, -8.0, 8.0);
    for v in x.iter_mut() {
        if rng.random_bool(0.15) {
            *v = SPECIAL[rng.random_range(0..SPECIAL.len())];
        }
    }
    x
}

const ACTIVATIONS: [Activation; 5] = [
    Activation::Identity,
    Activation::Relu,
    Activation::LeakyRelu(0.2),
    Activation::Sigmoid,
    Activation::Tanh,
];

#[test]
fn activation_forward_and_backward() {
    let Some(mut gpu) = gpu("activation") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("activation");
    for act in ACTIVATIONS {
        for (k, &(rows, cols)) in ELEMENTWISE_SHAPES.iter().enumerate() {
            let n = rows * cols;
            // Every other shape runs on views at distinct offsets.
            let [o_x, o_dy, o_out] = if k % 2 == 1 { [3, 17, 41] } else { [0, 0, 0] };
            let x = activation_inputs(&mut rng, n);
            let dy = values(&mut rng, n, -2.0, 2.0);
            let what = format!("{act:?} {rows}×{cols} offsets {o_x}/{o_dy}/{o_out}");

            // Forward.
            let (got, want) = both(&mut gpu, &mut cpu, |be| {
                let tx = input(be, rows, cols, o_x, &x);
                let ty = output(be, rows, cols, o_out);
                be.activation(act, &tx.view, &ty.view).unwrap();
                read(be, &ty, &what)
            });
            assert!(
                got.iter().all(|v| v.is_finite()),
                "{what}: forward is not finite"
            );
            match act {
                // Exact: the same single operation on both sides.
                Activation::Identity | Activation::Relu | Activation::LeakyRelu(_) => {
                    assert_bits(&format!("{what} forward"), &got, &want)
                }
                // exp/tanh: a few ULP relative, and an absolute few ULP of 1 (the outputs'
                // scale) where a driver computes tanh near 0 through exp.
                _ => assert_close(
                    &format!("{what} forward"),
                    &got,
                    &want,
                    2.0 * ULP,
                    8.0 * ULP,
                ),
            }

            // Backward, from the reference forward output so both sides see the same y.
            let y = want;
            let (got, want) = both(&mut gpu, &mut cpu, |be| {
                let ty = input(be, rows, cols, o_x, &y);
                let tdy = input(be, rows, cols, o_dy, &dy);
                let tdx = output(be, rows, cols, o_out);
                be.activation_backward(act, &ty.view, &tdy.view, &tdx.view)
                    .unwrap();
                read(be, &tdx, &what)
            });
            match act {
                Activation::Identity | Activation::Relu | Activation::LeakyRelu(_) => {
                    assert_bits(&format!("{what} backward"), &got, &want)
                }
                // y·(1 − y) and 1 − y²: a driver may fuse them into an fma, which changes the
                // result by about one ULP of the product times |dy|.
                _ => {
                    let bound: Vec<f32> = dy.iter().map(|d| 2.0 * ULP * d.abs() + 1e-30).collect();
                    assert_bounded(&format!("{what} backward"), &got, &want, &bound)
                }
            }
        }
    }
}

#[test]
fn fill_sets_every_element_and_nothing_else() {
    let Some(mut gpu) = gpu("fill") else { return };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("fill");
    for (k, &(rows, cols)) in ELEMENTWISE_SHAPES.iter().enumerate() {
        let offset = if k % 2 == 1 { 29 } else { 0 };
        for value in [
            rng.random_range(-10.0..10.0),
            -0.0,
            0.0,
            f32::MIN_POSITIVE / 4.0,
        ] {
            let what = format!("fill {rows}×{cols} offset {offset} with {value}");
            let (got, want) = both(&mut gpu, &mut cpu, |be| {
                let t = output(be, rows, cols, offset);
                be.fill(&t.view, value).unwrap();
                read(be, &t, &what)
            });
            assert_bits(&what, &got, &want);
            assert!(got.iter().all(|v| v.to_bits() == value.to_bits()), "{what}");
        }
    }
}

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

/// (seed, stream) pairs, including the wrap-around ends of both.
const RANDOM_KEYS: [(u32, u32); 5] = [(0, 0), (1, 0), (0, 1), (12345, 7), (u32::MAX, u32::MAX)];

#[test]
fn fill_uniform_is_bit_identical() {
    let Some(mut gpu) = gpu("fill_uniform") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    for (k, &(seed, stream)) in RANDOM_KEYS.iter().enumerate() {
        for &(rows, cols) in &ELEMENTWISE_SHAPES {
            let offset = if k % 2 == 0 { 0 } else { 19 };
            let what =
                format!("fill_uniform seed {seed} stream {stream} {rows}×{cols} offset {offset}");
            let (got, want) = both(&mut gpu, &mut cpu, |be| {
                let t = output(be, rows, cols, offset);
                be.fill_uniform(&t.view, seed, stream).unwrap();
                read(be, &t, &what)
            });
            assert_bits(&what, &got, &want);
            // Element i is draw i of the stream, whatever the view's offset.
            let direct: Vec<f32> = (0..rows * cols)
                .map(|i| gengpu::backend::rng::uniform(seed, stream, i as u32))
                .collect();
            assert_bits(&format!("{what} (cpu vs rng::uniform)"), &want, &direct);
        }
    }
}

#[test]
fn fill_normal_within_a_few_ulp() {
    let Some(mut gpu) = gpu("fill_normal") else {
        return;
    };
    let mut cpu = CpuBackend::new();
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
            let (got, want) = both(&mut gpu, &mut cpu, |be| {
                let t = output(be, rows, cols, offset);
                be.fill_normal(&t.view, seed, stream).unwrap();
                read(be, &t, &what)
            });
            let direct: Vec<f32> = (0..rows * cols)
                .map(|i| gengpu::backend::rng::normal(seed, stream, i as u32))
                .collect();
            assert_bits(&format!("{what} (cpu vs rng::normal)"), &want, &direct);
            // r·cos(θ) with r = sqrt(−2 ln u1): a few ULP of the radius r (an error of the
            // cosine near its zeros is absolute, so a relative bound would be meaningless).
            let bound: Vec<f32> = (0..rows * cols)
                .map(|i| {
                    let u1 = gengpu::backend::rng::uniform(seed, stream, 2 * i as u32);
                    6.0 * ULP * (-2.0 * u1.ln()).sqrt()
                })
                .collect();
            assert_bounded(&what, &got, &want, &bound);
        }
    }
}

/// (rows, L) of the latent kernels.
const LATENT_SHAPES: [(usize, usize); 7] = [
    (1, 1),
    (5, 3),
    (128, 20),
    (7, 67),
    (1, 257),
    (257, 1),
    (3, 86),
];

/// `[mu | logvar]` rows: mu in [−3, 3], logvar in [−8, 4], with mu = logvar = 0 mixed in.
fn latent_stats(rng: &mut StdRng, rows: usize, l: usize) -> Vec<f32> {
    let mut stats = Vec::with_capacity(rows * 2 * l);
    for _ in 0..rows {
        stats.extend(values(rng, l, -3.0, 3.0));
        stats.extend(values(rng, l, -8.0, 4.0));
    }
    for v in stats.iter_mut() {
        if rng.random_bool(0.05) {
            *v = 0.0;
        }
    }
    stats
}

/// Standard normal draws from the test's generator (not the kernels').
fn normals(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let (u1, u2): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
            (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect()
}

#[test]
fn reparameterize_matches() {
    let Some(mut gpu) = gpu("reparameterize") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("reparameterize");
    for (k, &(rows, l)) in LATENT_SHAPES.iter().enumerate() {
        let [o_s, o_e, o_z] = if k % 2 == 0 { [0, 0, 0] } else { [7, 2, 31] };
        let stats = latent_stats(&mut rng, rows, l);
        let eps = normals(&mut rng, rows * l);
        let what = format!("reparameterize {rows}×{l} offsets {o_s}/{o_e}/{o_z}");
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let te = input(be, rows, l, o_e, &eps);
            let tz = output(be, rows, l, o_z);
            be.reparameterize(&ts.view, &te.view, &tz.view).unwrap();
            read(be, &tz, &what)
        });
        // A few ULP of each term, as mu + exp(logvar/2)·eps may cancel: two for the sum (or an
        // fma), eight for exp (llvmpipe is within 3.5; WGSL allows 3 + 2·|x|).
        let bound: Vec<f32> = (0..rows * l)
            .map(|i| {
                let (r, j) = (i / l, i % l);
                let (mu, lv) = (stats[r * 2 * l + j], stats[r * 2 * l + l + j]);
                ULP * (2.0 * mu.abs() + 8.0 * (0.5 * lv).exp() * eps[i].abs()) + 1e-30
            })
            .collect();
        assert_bounded(&what, &got, &want, &bound);
    }
}

#[test]
fn latent_backward_matches() {
    let Some(mut gpu) = gpu("latent_backward") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("latent_backward");
    for (k, &(rows, l)) in LATENT_SHAPES.iter().enumerate() {
        let [o_dz, o_s, o_e, o_out] = if k % 2 == 1 {
            [0, 0, 0, 0]
        } else {
            [5, 9, 1, 17]
        };
        let stats = latent_stats(&mut rng, rows, l);
        let eps = normals(&mut rng, rows * l);
        let dz = values(&mut rng, rows * l, -1.0, 1.0);
        let kl_scale = [1.0, 0.0, 0.37][k % 3];
        let what = format!(
            "latent_backward {rows}×{l} kl_scale {kl_scale} offsets {o_dz}/{o_s}/{o_e}/{o_out}"
        );
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let tdz = input(be, rows, l, o_dz, &dz);
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let te = input(be, rows, l, o_e, &eps);
            let out = output(be, rows, 2 * l, o_out);
            be.latent_backward(&tdz.view, &ts.view, &te.view, kl_scale, &out.view)
                .unwrap();
            read(be, &out, &what)
        });
        // A few ULP of the terms of each sum: two where there is no transcendental (an fma
        // changes the last bit), eight where there is an exp (as in reparameterize).
        let mut bound = vec![0.0f32; rows * 2 * l];
        for r in 0..rows {
            for j in 0..l {
                let (mu, lv) = (stats[r * 2 * l + j], stats[r * 2 * l + l + j]);
                let (g, e) = (dz[r * l + j], eps[r * l + j]);
                bound[r * 2 * l + j] = 2.0 * ULP * (g.abs() + (kl_scale * mu).abs()) + 1e-30;
                bound[r * 2 * l + l + j] = 8.0
                    * ULP
                    * (0.5 * (g * e).abs() * (0.5 * lv).exp() + 0.5 * kl_scale * (lv.exp() + 1.0))
                    + 1e-30;
            }
        }
        assert_bounded(&what, &got, &want, &bound);
    }
}

#[test]
fn kl_divergence_matches() {
    let Some(mut gpu) = gpu("kl_divergence") else {
        return;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("kl_divergence");
    for (k, &(rows, l)) in LATENT_SHAPES
        .iter()
        .chain(&[(300, 2), (2, 300)])
        .enumerate()
    {
        let [o_s, o_out] = if k % 2 == 0 { [0, 0] } else { [3, 11] };
        let stats = latent_stats(&mut rng, rows, l);
        let what = format!("kl_divergence {rows}×{l} offsets {o_s}/{o_out}");
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let ts = input(be, rows, 2 * l, o_s, &stats);
            let out = output(be, rows, 1, o_out);
            be.kl_divergence(&ts.view, &out.view).unwrap();
            read(be, &out, &what)
        });
        assert!(
            want.iter().all(|&v| v >= 0.0),
            "{what}: KL is never negative"
        );
        assert_close(&what, &got, &want, 1e-5, 1e-4);
    }
}

#[test]
fn bce_with_logits_matches() {
    let Some(mut gpu) = gpu("bce_with_logits") else {
        return;
    };
    let mut cpu = CpuBackend::new();
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
        let (got, want) = both(&mut gpu, &mut cpu, |be| {
            let tx = input(be, rows, cols, o_x, &logits);
            let tt = input(be, rows, cols, o_t, &targets);
            let grad = output(be, rows, cols, o_g);
            let loss = output(be, rows, 1, o_l);
            be.bce_with_logits(&tx.view, &tt.view, grad_scale, &grad.view, &loss.view)
                .unwrap();
            (read(be, &grad, &what), read(be, &loss, &what))
        });
        // Per-element gradient: σ(x) − t cancels, so the bound is a few ULP of both terms, and
        // at least two ULP of 1, the gradients' scale (exp(−50) may be ~1e-6 off relatively:
        // WGSL allows exp an error of 3 + 2·|x| ULP).
        let bound: Vec<f32> = logits
            .iter()
            .zip(&targets)
            .map(|(&x, &t)| ULP * grad_scale.abs() * (8.0 * (sigmoid(x) + t) + 2.0))
            .collect();
        assert_bounded(&format!("{what} grad"), &got.0, &want.0, &bound);
        // Per-row loss: a reduction.
        assert_close(&format!("{what} loss"), &got.1, &want.1, 1e-5, 1e-4);
        assert!(
            got.1.iter().all(|v| v.is_finite() && *v >= 0.0),
            "{what}: loss {:?}",
            got.1
        );
    }
}

fn sigmoid(x: f32) -> f32 {
    Activation::Sigmoid.apply(x)
}

#[test]
fn adam_consecutive_steps() {
    let Some(mut gpu) = gpu("adam") else { return };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("adam");
    for (k, &n) in [1usize, 7, 256, 257, 1000, 4099].iter().enumerate() {
        for weight_decay in [0.0, 0.01] {
            let [o_p, o_g, o_m, o_v] = if k % 2 == 0 {
                [0, 0, 0, 0]
            } else {
                [17, 3, 29, 8]
            };
            let params = values(&mut rng, n, -1.0, 1.0);
            // One gradient per step, with exact zeros in them.
            let grads: Vec<Vec<f32>> = (0..5)
                .map(|_| {
                    let mut g = values(&mut rng, n, -1.0, 1.0);
                    g.iter_mut().for_each(|v| {
                        if rng.random_bool(0.05) {
                            *v = 0.0;
                        }
                    });
                    g
                })
                .collect();
            let hyper = Adam {
                lr: 1e-2,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay,
            };
            let what =
                format!("adam n={n} weight_decay {weight_decay} offsets {o_p}/{o_g}/{o_m}/{o_v}");
            let (got, want) = both(&mut gpu, &mut cpu, |be| {
                let tp = input(be, 1, n, o_p, &params);
                let tg = input(be, 1, n, o_g, &grads[0]);
                let tm = input(be, 1, n, o_m, &vec![0.0; n]);
                let tv = input(be, 1, n, o_v, &vec![0.0; n]);
                let mut states = Vec::new();
                for (step, g) in (1..=5).zip(&grads) {
                    be.upload(&tg.view, g).unwrap();
                    be.adam(&hyper.at_step(step), &tp.view, &tg.view, &tm.view, &tv.view)
                        .unwrap();
                    states.push([
                        read(be, &tp, &what),
                        read(be, &tm, &what),
                        read(be, &tv, &what),
                    ]);
                }
                states
            });
            for (step, (g, w)) in (1..).zip(got.iter().zip(&want)) {
                // No transcendental: at most a rounding (an fma, a division or square root
                // within a few ULP) apart.
                assert_close(
                    &format!("{what} step {step} params"),
                    &g[0],
                    &w[0],
                    1e-7,
                    1e-6,
                );
                assert_close(
                    &format!("{what} step {step} m"),
                    &g[1],
                    &w[1],
                    1e-12,
                    2.0 * ULP,
                );
                assert_close(
                    &format!("{what} step {step} v"),
                    &g[2],
                    &w[2],
                    1e-15,
                    2.0 * ULP,
                );
            }
            // The parameters did move, and by at most a few lr per step.
            let moved = want[4][0]
                .iter()
                .zip(&params)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                moved > 0.0 && moved < 5.0 * 4.0 * hyper.lr,
                "{what}: parameters moved by {moved}"
            );
        }
    }
}

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

//! The CPU reference backend, the yardstick of every GPU kernel, checked on its own (no GPU
//! needed): (a) against values computed by hand and independent f64 formulas, (b) every
//! backward operation against central finite differences of the forward operations it
//! differentiates, with the scalar losses summed in f64.

mod common;

use common::{assert_close, rng, values};
use gengpu::backend::cpu::CpuBackend;
use gengpu::backend::{Activation, Backend, MatmulForm, Tensor, rng as counter_rng};
use gengpu::optim::Adam;
use rand::Rng;
use rand::rngs::StdRng;

/// A tensor holding `data`.
fn tensor(be: &mut CpuBackend, rows: usize, cols: usize, data: &[f32]) -> Tensor {
    let t = be.alloc(rows, cols).unwrap();
    be.upload(&t, data).unwrap();
    t
}

/// `Σ w ∘ values`, in f64.
fn dot(w: &[f32], values: &[f32]) -> f64 {
    w.iter()
        .zip(values)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

fn sum(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v)).sum()
}

// ---------------------------------------------------------------------------------------------
// (a) Hand-computed values.
// ---------------------------------------------------------------------------------------------

#[test]
fn matmul_2x2_by_hand() {
    let mut be = CpuBackend::new();
    // A = [1 2; 3 4], B = [5 6; 7 8].
    let a = tensor(&mut be, 2, 2, &[1.0, 2.0, 3.0, 4.0]);
    let b = tensor(&mut be, 2, 2, &[5.0, 6.0, 7.0, 8.0]);
    let c = be.alloc(2, 2).unwrap();
    let cases: [(MatmulForm, [f32; 4]); 3] = [
        // A·B = [1·5+2·7, 1·6+2·8; 3·5+4·7, 3·6+4·8]
        (MatmulForm::NN, [19.0, 22.0, 43.0, 50.0]),
        // A·Bᵀ = [1·5+2·6, 1·7+2·8; 3·5+4·6, 3·7+4·8]
        (MatmulForm::NT, [17.0, 23.0, 39.0, 53.0]),
        // Aᵀ·B = [1·5+3·7, 1·6+3·8; 2·5+4·7, 2·6+4·8]
        (MatmulForm::TN, [26.0, 30.0, 38.0, 44.0]),
    ];
    for (form, want) in cases {
        be.matmul(form, &a, &b, None, Activation::Identity, &c)
            .unwrap();
        assert_eq!(be.read(&c).unwrap(), want, "{form:?}");
    }
    // A·Bᵀ + [−20, −30] = [−3, −7; 19, 23], then the activations.
    let bias = tensor(&mut be, 1, 2, &[-20.0, -30.0]);
    for (act, want) in [
        (Activation::Identity, [-3.0, -7.0, 19.0, 23.0]),
        (Activation::Relu, [0.0, 0.0, 19.0, 23.0]),
        (Activation::LeakyRelu(0.5), [-1.5, -3.5, 19.0, 23.0]),
    ] {
        be.matmul(MatmulForm::NT, &a, &b, Some(&bias), act, &c)
            .unwrap();
        assert_eq!(be.read(&c).unwrap(), want, "NT + bias, {act:?}");
    }
    // Not square: [1 2 3] · [1 0; 0 1; 1 1] = [4 5].
    let x = tensor(&mut be, 1, 3, &[1.0, 2.0, 3.0]);
    let y = tensor(&mut be, 3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let z = be.alloc(1, 2).unwrap();
    be.matmul(MatmulForm::NN, &x, &y, None, Activation::Identity, &z)
        .unwrap();
    assert_eq!(be.read(&z).unwrap(), [4.0, 5.0]);
    // Mismatched inner sizes are refused.
    assert!(
        be.matmul(MatmulForm::NN, &a, &x, None, Activation::Identity, &c)
            .is_err()
    );
}

#[test]
fn activations_by_hand() {
    let mut be = CpuBackend::new();
    let ln3 = 3.0f32.ln();
    let ln2 = 2.0f32.ln();
    // sigmoid(ln 3) = 1/(1 + 1/3) = 3/4; tanh(ln 2) = (2 − 1/2)/(2 + 1/2) = 3/5.
    let x = [-2.0, 0.0, 3.0, ln3, ln2, -100.0, 100.0, -50.0, 50.0];
    let cases: [(Activation, [f32; 9]); 5] = [
        (Activation::Identity, x),
        (
            Activation::Relu,
            [0.0, 0.0, 3.0, ln3, ln2, 0.0, 100.0, 0.0, 50.0],
        ),
        (
            Activation::LeakyRelu(0.2),
            [-0.4, 0.0, 3.0, ln3, ln2, -20.0, 100.0, -10.0, 50.0],
        ),
        (
            Activation::Sigmoid,
            [
                0.119_202_92,
                0.5,
                0.952_574_1,
                0.75,
                2.0 / 3.0,
                // σ(−100) ≈ e^−100 = 3.72e−44, a subnormal in f32.
                (-100.0f64).exp() as f32,
                1.0,
                1.928_749_8e-22,
                1.0,
            ],
        ),
        (
            Activation::Tanh,
            [
                -0.964_027_6,
                0.0,
                0.995_054_8,
                0.8,
                0.6,
                -1.0,
                1.0,
                -1.0,
                1.0,
            ],
        ),
    ];
    let tx = tensor(&mut be, 1, x.len(), &x);
    let ty = be.alloc(1, x.len()).unwrap();
    for (act, want) in cases {
        be.activation(act, &tx, &ty).unwrap();
        let got = be.read(&ty).unwrap();
        assert!(got.iter().all(|v| v.is_finite()), "{act:?}: {got:?}");
        // The subnormal sigmoid(−100) is compared with an absolute tolerance like the rest.
        assert_close(&format!("{act:?}"), &got, &want, 1e-30, 2e-7);
    }
    // Derivatives from the output y: relu'(y=0) = 0, leaky'(y<0) = slope, σ' = y(1−y),
    // tanh' = 1 − y².
    let y = [0.0, -0.4, 0.75, 0.6, 2.0];
    let dy = [3.0, 3.0, 2.0, 2.0, -1.0];
    let (ty, tdy, tdx) = (
        tensor(&mut be, 1, 5, &y),
        tensor(&mut be, 1, 5, &dy),
        be.alloc(1, 5).unwrap(),
    );
    for (act, want) in [
        (Activation::Identity, [3.0, 3.0, 2.0, 2.0, -1.0]),
        (Activation::Relu, [0.0, 0.0, 2.0, 2.0, -1.0]),
        (Activation::LeakyRelu(0.2), [0.6, 0.6, 2.0, 2.0, -1.0]),
        (
            Activation::Sigmoid,
            [0.0, 3.0 * -0.4 * 1.4, 2.0 * 0.1875, 2.0 * 0.24, 2.0],
        ),
        (
            Activation::Tanh,
            [3.0, 3.0 * 0.84, 2.0 * 0.4375, 2.0 * 0.64, 3.0],
        ),
    ] {
        be.activation_backward(act, &ty, &tdy, &tdx).unwrap();
        assert_close(
            &format!("{act:?} backward"),
            &be.read(&tdx).unwrap(),
            &want,
            1e-7,
            1e-6,
        );
    }
}

#[test]
fn reductions_by_hand() {
    let mut be = CpuBackend::new();
    // [1 2 3; 4 5 6]: column sums [5 7 9], total 21.
    let x = tensor(&mut be, 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let out = tensor(&mut be, 1, 3, &[f32::NAN; 3]);
    be.column_sum(&x, &out).unwrap();
    assert_eq!(be.read(&out).unwrap(), [5.0, 7.0, 9.0]);
    // acc = 1, + 0.5·21 = 11.5, + 2·21 = 53.5: accumulated, not overwritten.
    let acc = tensor(&mut be, 1, 1, &[1.0]);
    be.accumulate_sum(&x, &acc, 0.5).unwrap();
    assert_eq!(be.read(&acc).unwrap(), [11.5]);
    be.accumulate_sum(&x, &acc, 2.0).unwrap();
    assert_eq!(be.read(&acc).unwrap(), [53.5]);
    // fill, on a view: the rest of the buffer is untouched.
    let whole = tensor(&mut be, 1, 6, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    be.fill(&whole.view(2, 1, 3), -0.5).unwrap();
    assert_eq!(be.read(&whole).unwrap(), [1.0, 2.0, -0.5, -0.5, -0.5, 6.0]);
}

#[test]
fn bce_with_logits_by_hand() {
    let mut be = CpuBackend::new();
    let ln2 = std::f32::consts::LN_2;
    let ln3 = 3.0f32.ln();
    // Row 0: logit 0 against targets 1, 0 and ½: each loss is ln 2, gradients σ(0) − t.
    // Row 1: logit ln 3 (σ = 3/4) against 1: loss ln(1 + 1/3) = ln(4/3), gradient −1/4;
    //        logit 100 against 0: loss 100, gradient 1; logit −100 against 1: loss 100,
    //        gradient −1 (the stable form neither overflows nor loses the 100).
    let logits = [0.0, 0.0, 0.0, ln3, 100.0, -100.0];
    let targets = [1.0, 0.0, 0.5, 1.0, 0.0, 1.0];
    let tx = tensor(&mut be, 2, 3, &logits);
    let tt = tensor(&mut be, 2, 3, &targets);
    let (grad, loss) = (be.alloc(2, 3).unwrap(), be.alloc(2, 1).unwrap());
    be.bce_with_logits(&tx, &tt, 1.0, &grad, &loss).unwrap();
    assert_close(
        "bce loss",
        &be.read(&loss).unwrap(),
        &[3.0 * ln2, (4.0f32 / 3.0).ln() + 200.0],
        1e-6,
        1e-6,
    );
    assert_close(
        "bce grad",
        &be.read(&grad).unwrap(),
        &[-0.5, 0.5, 0.0, -0.25, 1.0, -1.0],
        1e-7,
        1e-6,
    );
    // The gradient is scaled, the loss is not.
    be.bce_with_logits(&tx, &tt, -2.0, &grad, &loss).unwrap();
    assert_close(
        "bce grad ×−2",
        &be.read(&grad).unwrap(),
        &[1.0, -1.0, 0.0, 0.5, -2.0, 2.0],
        1e-7,
        1e-6,
    );
    assert_close(
        "bce loss (unscaled)",
        &be.read(&loss).unwrap()[..1],
        &[3.0 * ln2],
        1e-6,
        1e-6,
    );
}

#[test]
fn bce_with_logits_matches_the_textbook_formula_in_f64() {
    let mut rng = rng("bce f64");
    let mut be = CpuBackend::new();
    let (rows, cols) = (4, 25);
    let logits = values(&mut rng, rows * cols, -12.0, 12.0);
    let targets = values(&mut rng, rows * cols, 0.0, 1.0);
    let (tx, tt) = (
        tensor(&mut be, rows, cols, &logits),
        tensor(&mut be, rows, cols, &targets),
    );
    let (grad, loss) = (be.alloc(rows, cols).unwrap(), be.alloc(rows, 1).unwrap());
    be.bce_with_logits(&tx, &tt, 1.0, &grad, &loss).unwrap();
    // −[t ln σ(x) + (1 − t) ln(1 − σ(x))], fine in f64 for |x| ≤ 12.
    let mut want_loss = vec![0.0f32; rows];
    let mut want_grad = vec![0.0f32; rows * cols];
    for i in 0..rows * cols {
        let (x, t) = (f64::from(logits[i]), f64::from(targets[i]));
        let s = 1.0 / (1.0 + (-x).exp());
        want_loss[i / cols] += (-(t * s.ln() + (1.0 - t) * (1.0 - s).ln())) as f32;
        want_grad[i] = (s - t) as f32;
    }
    assert_close(
        "bce loss vs f64",
        &be.read(&loss).unwrap(),
        &want_loss,
        1e-5,
        1e-5,
    );
    assert_close(
        "bce grad vs f64",
        &be.read(&grad).unwrap(),
        &want_grad,
        1e-7,
        1e-6,
    );
}

#[test]
fn latent_ops_by_hand() {
    let mut be = CpuBackend::new();
    let ln2 = std::f32::consts::LN_2;
    // Two rows, L = 2, stats = [mu1 mu2 | lv1 lv2].
    // Row 0: mu = (0, 1), logvar = (0, 0); row 1: mu = (0, −1), logvar = (ln 2, 2 ln 3).
    let stats = tensor(
        &mut be,
        2,
        4,
        &[0.0, 1.0, 0.0, 0.0, 0.0, -1.0, ln2, 2.0 * 3.0f32.ln()],
    );
    // KL per latent: −½(1 + lv − mu² − e^lv). Row 0: 0 + ½ = ½.
    // Row 1: −½(1 + ln 2 − 2) = ½(1 − ln 2), and −½(1 + 2 ln 3 − 1 − 9) = 9/2 − ln 3.
    let kl = be.alloc(2, 1).unwrap();
    be.kl_divergence(&stats, &kl).unwrap();
    let want = [0.5, 0.5 * (1.0 - ln2) + 4.5 - 3.0f32.ln()];
    assert_close("kl", &be.read(&kl).unwrap(), &want, 1e-6, 1e-6);
    // mu = 0, logvar = 0 is the prior itself: KL 0 exactly.
    let prior = tensor(&mut be, 1, 6, &[0.0; 6]);
    let kl1 = be.alloc(1, 1).unwrap();
    be.kl_divergence(&prior, &kl1).unwrap();
    assert_eq!(be.read(&kl1).unwrap(), [0.0]);

    // z = mu + exp(lv/2)·eps: eps = 0 gives mu; row 1, latent 2: −1 + 3·1 = 2.
    let z = be.alloc(2, 2).unwrap();
    let zero = tensor(&mut be, 2, 2, &[0.0; 4]);
    be.reparameterize(&stats, &zero, &z).unwrap();
    assert_eq!(be.read(&z).unwrap(), [0.0, 1.0, 0.0, -1.0]);
    let eps = tensor(&mut be, 2, 2, &[2.0, -2.0, 1.0, 1.0]);
    be.reparameterize(&stats, &eps, &z).unwrap();
    // Row 0: 0 + 1·2, 1 + 1·(−2); row 1: 0 + √2·1, −1 + 3·1.
    assert_close(
        "z",
        &be.read(&z).unwrap(),
        &[2.0, -1.0, 2.0f32.sqrt(), 2.0],
        1e-6,
        1e-6,
    );

    // dmu = dz + k·mu, dlogvar = ½·dz·eps·e^(lv/2) + ½·k·(e^lv − 1). With k = 1:
    // row 0, latent 1 (mu 0, lv 0, eps 2, dz 3): dmu = 3, dlv = ½·3·2 = 3.
    // row 0, latent 2 (mu 1, lv 0, eps −2, dz 1): dmu = 1 + 1 = 2, dlv = ½·1·(−2) = −1.
    // row 1, latent 1 (mu 0, lv ln 2, eps 1, dz 0): dmu = 0, dlv = ½·(2 − 1) = ½.
    // row 1, latent 2 (mu −1, lv 2 ln 3, eps 1, dz −2): dmu = −2 − 1 = −3,
    //   dlv = ½·(−2)·1·3 + ½·(9 − 1) = −3 + 4 = 1.
    let dz = tensor(&mut be, 2, 2, &[3.0, 1.0, 0.0, -2.0]);
    let dstats = be.alloc(2, 4).unwrap();
    be.latent_backward(&dz, &stats, &eps, 1.0, &dstats).unwrap();
    let want = [3.0, 2.0, 3.0, -1.0, 0.0, -3.0, 0.5, 1.0];
    assert_close(
        "latent_backward",
        &be.read(&dstats).unwrap(),
        &want,
        1e-6,
        1e-6,
    );
    // k = 0: the reparameterization's backward alone.
    be.latent_backward(&dz, &stats, &eps, 0.0, &dstats).unwrap();
    let want = [3.0, 1.0, 3.0, -1.0, 0.0, -2.0, 0.0, -3.0];
    assert_close(
        "latent_backward k=0",
        &be.read(&dstats).unwrap(),
        &want,
        1e-6,
        1e-6,
    );
}

#[test]
fn adam_by_hand() {
    let mut be = CpuBackend::new();
    // From zero moments, step 1: m = (1−β1)·g, v = (1−β2)·g², and the bias corrections make
    // m̂ = g, v̂ = g², so each parameter moves by −lr·g/(|g| + eps) ≈ −lr·sign(g) (0 for g = 0).
    let g = [0.5, -2.0, 0.0, 1e-3];
    let lr = 0.1;
    let (p, tg) = (tensor(&mut be, 1, 4, &[1.0; 4]), tensor(&mut be, 1, 4, &g));
    let (m, v) = (be.alloc(1, 4).unwrap(), be.alloc(1, 4).unwrap());
    let hyper = Adam::pytorch(lr);
    be.adam(&hyper.at_step(1), &p, &tg, &m, &v).unwrap();
    // 1e-3/(1e-3 + 1e-8) = 0.99999: eps shows at the fifth digit.
    assert_close(
        "adam params",
        &be.read(&p).unwrap(),
        &[0.9, 1.1, 1.0, 1.0 - 0.1 * 0.99999],
        1e-7,
        1e-6,
    );
    assert_close(
        "adam m",
        &be.read(&m).unwrap(),
        &[0.05, -0.2, 0.0, 1e-4],
        1e-12,
        1e-6,
    );
    // 1 − β2 is 1e-3 to within 1.3e-5 only: 0.999 is not exact in f32, and the host's bias
    // correction uses the same f32 β2 (so v̂ = g² all the same).
    let one_minus_beta2 = (1.0 - 0.999f32) / 1e-3;
    assert_close(
        "adam v",
        &be.read(&v).unwrap(),
        &[2.5e-4, 4e-3, 0.0, 1e-9].map(|x| x * one_minus_beta2),
        1e-15,
        1e-6,
    );
    // The same gradient at steps 2..5: m̂ = g and v̂ = g² still (the corrections are exact
    // for a constant gradient), so each step moves by −lr·sign(g) again.
    for step in 2..=5 {
        be.adam(&hyper.at_step(step), &p, &tg, &m, &v).unwrap();
    }
    let n = 0.999_99f32;
    assert_close(
        "adam 5 steps",
        &be.read(&p).unwrap(),
        &[0.5, 1.5, 1.0, 1.0 - 0.5 * n],
        1e-6,
        1e-5,
    );

    // AdamW: the parameter first shrinks by lr·weight_decay, then moves as above.
    let p = tensor(&mut be, 1, 4, &[2.0; 4]);
    let (m, v) = (be.alloc(1, 4).unwrap(), be.alloc(1, 4).unwrap());
    be.adam(
        &Adam {
            weight_decay: 0.5,
            ..hyper
        }
        .at_step(1),
        &p,
        &tg,
        &m,
        &v,
    )
    .unwrap();
    // 2·(1 − 0.1·0.5) = 1.9.
    let want = [1.8, 2.0, 1.9, 1.9 - 0.1 * n];
    assert_close("adamw params", &be.read(&p).unwrap(), &want, 1e-7, 1e-6);
}

#[test]
fn adam_matches_pytorch_formula_in_f64() {
    let mut rng = rng("adam f64");
    let mut be = CpuBackend::new();
    let n = 37;
    for weight_decay in [0.0, 0.01] {
        let hyper = Adam {
            lr: 2e-3,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            ..Adam::pytorch(2e-3)
        };
        let p0 = values(&mut rng, n, -1.0, 1.0);
        let (p, g) = (tensor(&mut be, 1, n, &p0), be.alloc(1, n).unwrap());
        let (m, v) = (be.alloc(1, n).unwrap(), be.alloc(1, n).unwrap());
        let mut want_p: Vec<f64> = p0.iter().map(|&x| f64::from(x)).collect();
        let (mut want_m, mut want_v) = (vec![0.0f64; n], vec![0.0f64; n]);
        for step in 1..=6u32 {
            let grads = values(&mut rng, n, -1.0, 1.0);
            be.upload(&g, &grads).unwrap();
            be.adam(&hyper.at_step(step), &p, &g, &m, &v).unwrap();
            // torch.optim.AdamW (Adam when weight_decay = 0), in f64.
            let (b1, b2) = (f64::from(hyper.beta1), f64::from(hyper.beta2));
            let (bc1, bc2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
            for i in 0..n {
                let gi = f64::from(grads[i]);
                want_p[i] *= 1.0 - f64::from(hyper.lr) * f64::from(weight_decay);
                want_m[i] = b1 * want_m[i] + (1.0 - b1) * gi;
                want_v[i] = b2 * want_v[i] + (1.0 - b2) * gi * gi;
                let denom = (want_v[i] / bc2).sqrt() + f64::from(hyper.eps);
                want_p[i] -= f64::from(hyper.lr) / bc1 * want_m[i] / denom;
            }
            let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
            let what = format!("adam step {step} weight_decay {weight_decay}");
            assert_close(
                &format!("{what} params"),
                &be.read(&p).unwrap(),
                &f32s(&want_p),
                1e-6,
                1e-5,
            );
            assert_close(
                &format!("{what} m"),
                &be.read(&m).unwrap(),
                &f32s(&want_m),
                1e-7,
                1e-5,
            );
            assert_close(
                &format!("{what} v"),
                &be.read(&v).unwrap(),
                &f32s(&want_v),
                1e-9,
                1e-5,
            );
        }
    }
}

#[test]
fn gather_by_hand() {
    let mut be = CpuBackend::new();
    // Three examples of three bytes (9 bytes, not a multiple of 4).
    let data = be
        .upload_bytes(&[0, 255, 128, 1, 2, 3, 4, 5, 6], 3)
        .unwrap();
    let idx = be.alloc_indices(5).unwrap();
    be.upload_indices(&idx, &[1, 2, 0, 2, 1]).unwrap();
    let out = be.alloc(3, 3).unwrap();
    // Rows from index 1 on: examples 2, 0, 2.
    be.gather(&data, &idx, 1, 1.0, 0.0, &out).unwrap();
    assert_eq!(
        be.read(&out).unwrap(),
        [4.0, 5.0, 6.0, 0.0, 255.0, 128.0, 4.0, 5.0, 6.0]
    );
    be.gather(&data, &idx, 1, 1.0 / 255.0, 0.0, &out).unwrap();
    let want = [4.0, 5.0, 6.0, 0.0, 255.0, 128.0, 4.0, 5.0, 6.0].map(|b: f32| b / 255.0);
    assert_close("gather /255", &be.read(&out).unwrap(), &want, 1e-7, 1e-6);
    // To [−1, 1]: 0 → −1, 255 → 1, 128 → 1/255.
    be.gather(&data, &idx, 2, 2.0 / 255.0, -1.0, &out).unwrap();
    let got = be.read(&out).unwrap();
    assert_close(
        "gather [-1, 1]",
        &got[..3],
        &[-1.0, 1.0, 1.0 / 255.0],
        1e-7,
        1e-6,
    );
    // Into a view, from index 4 (example 1) only: one row.
    let whole = tensor(&mut be, 1, 7, &[9.0; 7]);
    be.gather(&data, &idx, 4, 1.0, 0.0, &whole.view(2, 1, 3))
        .unwrap();
    assert_eq!(
        be.read(&whole).unwrap(),
        [9.0, 9.0, 1.0, 2.0, 3.0, 9.0, 9.0]
    );
    // An index past the dataset reads the last example, as the kernel does.
    be.upload_indices(&idx, &[0, 3, 0, 0, 0]).unwrap();
    be.gather(&data, &idx, 0, 1.0, 0.0, &out).unwrap();
    assert_eq!(be.read(&out).unwrap()[3..6], [4.0, 5.0, 6.0]);
    // Rows past the index buffer are an error.
    assert!(be.gather(&data, &idx, 3, 1.0, 0.0, &out).is_err());
}

#[test]
fn random_fills_are_the_rng_functions() {
    let mut be = CpuBackend::new();
    let whole = be.alloc(1, 40).unwrap();
    let view = whole.view(7, 3, 9);
    be.fill_uniform(&view, 11, 5).unwrap();
    let got = be.read(&view).unwrap();
    let want: Vec<f32> = (0..27).map(|i| counter_rng::uniform(11, 5, i)).collect();
    assert_eq!(got, want, "element i of the view is draw i");
    be.fill_normal(&view, 11, 5).unwrap();
    let got = be.read(&view).unwrap();
    let want: Vec<f32> = (0..27).map(|i| counter_rng::normal(11, 5, i)).collect();
    assert_eq!(got, want);
    let all = be.read(&whole).unwrap();
    assert!(
        all[..7].iter().chain(&all[34..]).all(|&v| v == 0.0),
        "outside the view"
    );
}

/// log N(x; mean, exp(logvar)) of one coordinate, with its ½·log 2π.
fn log_normal(x: f64, mean: f64, logvar: f64) -> f64 {
    -0.5 * ((x - mean).powi(2) / logvar.exp() + logvar + (2.0 * std::f64::consts::PI).ln())
}

#[test]
fn iw_log_weight_is_the_log_density_ratio_of_each_draw() {
    let mut rng = rng("iw_log_weight_is_the_log_density_ratio_of_each_draw");
    let mut be = CpuBackend::new();
    // 3 examples, L = 5, 4 draws each: stats broadcast over consecutive sample rows.
    let (examples, l, draws) = (3, 5, 4);
    let rows = examples * draws;
    let mut stats_data = Vec::new();
    for _ in 0..examples {
        stats_data.extend(values(&mut rng, l, -2.0, 2.0));
        stats_data.extend(values(&mut rng, l, -4.0, 1.0));
    }
    let eps_data = values(&mut rng, rows * l, -2.5, 2.5);
    let bce = values(&mut rng, rows, 50.0, 200.0);
    let stats = tensor(&mut be, examples, 2 * l, &stats_data);
    let eps = tensor(&mut be, rows, l, &eps_data);
    let z = be.alloc(rows, l).unwrap();
    be.reparameterize(&stats, &eps, &z).unwrap();
    let z_data = be.read(&z).unwrap();
    let weight = tensor(&mut be, rows, 1, &bce);
    be.iw_log_weight(&stats, &eps, &z, &weight).unwrap();
    // log p(x|z) + log N(z; 0, I) − log N(z; mu, σ²), from z as drawn.
    let want: Vec<f32> = (0..rows)
        .map(|r| {
            let s = &stats_data[(r / draws) * 2 * l..][..2 * l];
            let ratio: f64 = (0..l)
                .map(|j| {
                    let zj = f64::from(z_data[r * l + j]);
                    log_normal(zj, 0.0, 0.0) - log_normal(zj, f64::from(s[j]), f64::from(s[l + j]))
                })
                .sum();
            (ratio - f64::from(bce[r])) as f32
        })
        .collect();
    // The kernel takes (z − mu)/σ as the eps that made z: equal up to z's own rounding.
    assert_close(
        "iw_log_weight",
        &be.read(&weight).unwrap(),
        &want,
        1e-3,
        1e-5,
    );
}

// ---------------------------------------------------------------------------------------------
// (b) Gradients against central finite differences.
// ---------------------------------------------------------------------------------------------

/// Central differences of `loss` at `x`, one coordinate at a time, step `h`.
fn numeric_grad(x: &[f32], h: f32, mut loss: impl FnMut(&[f32]) -> f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| central_difference(&mut xp, i, h, &mut loss))
        .collect()
}

/// The central difference of `loss` in coordinate `i` of `xp` (restored after), step `h`. The
/// step actually taken is measured in f64 from the perturbed f32 values.
fn central_difference(
    xp: &mut [f32],
    i: usize,
    h: f32,
    loss: &mut impl FnMut(&[f32]) -> f64,
) -> f64 {
    let x = xp[i];
    let (plus, minus) = (x + h, x - h);
    xp[i] = plus;
    let up = loss(xp);
    xp[i] = minus;
    let down = loss(xp);
    xp[i] = x;
    (up - down) / (f64::from(plus) - f64::from(minus))
}

/// The derivative of `loss` at `x`, one coordinate at a time, by Ridders' method (Numerical
/// Recipes' `dfridr`): central differences at steps shrinking from `h` by 1.4, extrapolated to
/// step zero (Neville's tableau), keeping the estimate whose neighbours agree best. For
/// strongly curved functions: batch norm over a few values is off by 1% at a step of 1e-2 and
/// still by 2× the tolerance at 2e-3 (seed 8067827468511445426), while a step small enough for
/// it drowns in f32 rounding noise. Smooth losses with large values keep `numeric_grad`: the
/// extrapolation amplifies their rounding noise past the tolerance.
fn numeric_grad_extrapolated(x: &[f32], h: f32, mut loss: impl FnMut(&[f32]) -> f64) -> Vec<f64> {
    const SHRINK: f32 = 1.4;
    const LEVELS: usize = 6;
    let ratio = f64::from(SHRINK * SHRINK);
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            let mut step = h;
            // The previous level's estimates, extrapolated 0, 1, … times.
            let mut tableau = vec![central_difference(&mut xp, i, step, &mut loss)];
            let (mut best, mut best_error) = (tableau[0], f64::INFINITY);
            for _ in 1..LEVELS {
                step /= SHRINK;
                let mut row = vec![central_difference(&mut xp, i, step, &mut loss)];
                let mut factor = ratio;
                for j in 1..=tableau.len() {
                    let next = (row[j - 1] * factor - tableau[j - 1]) / (factor - 1.0);
                    factor *= ratio;
                    let error = (next - row[j - 1]).abs().max((next - tableau[j - 1]).abs());
                    if error <= best_error {
                        (best, best_error) = (next, error);
                    }
                    row.push(next);
                }
                let last = tableau.len();
                let drift = (row[last] - tableau[last - 1]).abs();
                tableau = row;
                // Rounding noise has taken over: the extrapolations diverge.
                if drift >= 2.0 * best_error {
                    break;
                }
            }
            best
        })
        .collect()
}

/// Fails unless the analytic gradient is within `atol + rtol·|numeric|` of the numeric one.
#[track_caller]
fn assert_grad(what: &str, analytic: &[f32], numeric: &[f64], atol: f64, rtol: f64) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: lengths differ");
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let err = (f64::from(a) - n).abs();
        assert!(
            err <= atol + rtol * n.abs(),
            "{what}: element {i}: analytic {a}, finite differences {n} (error {err:e})"
        );
    }
}

/// Step of the differences (f32 forward passes: rounding error ~1e-7/h, truncation ~h²).
const H: f32 = 1e-2;
const ATOL: f64 = 2e-4;
const RTOL: f64 = 2e-3;

/// Inputs away from the kink of relu and leaky relu by more than the step.
fn away_from_zero(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    values(rng, n, lo, hi)
        .into_iter()
        .map(|v| {
            if v.abs() < 5.0 * H {
                v.signum() * 5.0 * H + v
            } else {
                v
            }
        })
        .collect()
}

#[test]
fn activation_backward_vs_finite_differences() {
    let mut rng = rng("activation fd");
    let mut be = CpuBackend::new();
    let (rows, cols) = (3, 7);
    for act in [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu(0.2),
        Activation::Sigmoid,
        Activation::Tanh,
    ] {
        let x = away_from_zero(&mut rng, rows * cols, -4.0, 4.0);
        let w = values(&mut rng, rows * cols, -1.0, 1.0);
        let (tx, ty) = (be.alloc(rows, cols).unwrap(), be.alloc(rows, cols).unwrap());
        // L(x) = Σ w ∘ act(x).
        let mut loss = |x: &[f32]| {
            be.upload(&tx, x).unwrap();
            be.activation(act, &tx, &ty).unwrap();
            dot(&w, &be.read(&ty).unwrap())
        };
        let numeric = numeric_grad(&x, H, &mut loss);
        loss(&x);
        // dL/dx = w · act'(x), from the output y = act(x).
        let (tw, tdx) = (
            tensor(&mut be, rows, cols, &w),
            be.alloc(rows, cols).unwrap(),
        );
        be.activation_backward(act, &ty, &tw, &tdx).unwrap();
        assert_grad(
            &format!("{act:?}"),
            &be.read(&tdx).unwrap(),
            &numeric,
            ATOL,
            RTOL,
        );
    }
}

/// `L = Σ g ∘ act(op(a)·op(b) + bias)` for the given form.
fn matmul_loss(
    be: &mut CpuBackend,
    form: MatmulForm,
    tensors: (Tensor, Tensor, Tensor, Tensor),
    operands: (&[f32], &[f32], &[f32]),
    act: Activation,
    g: &[f32],
) -> f64 {
    dot(g, &matmul_values(be, form, tensors, operands, act))
}

/// `act(op(a)·op(b) + bias)`.
fn matmul_values(
    be: &mut CpuBackend,
    form: MatmulForm,
    (a, b, bias, c): (Tensor, Tensor, Tensor, Tensor),
    (av, bv, biasv): (&[f32], &[f32], &[f32]),
    act: Activation,
) -> Vec<f32> {
    be.upload(&a, av).unwrap();
    be.upload(&b, bv).unwrap();
    be.upload(&bias, biasv).unwrap();
    be.matmul(form, &a, &b, Some(&bias), act, &c).unwrap();
    be.read(&c).unwrap()
}

/// A linear layer's forward `Y = act(X·Wᵀ + b)` (NT), and its backward through the other forms:
/// `dZ = act'·G`, `dX = dZ·W` (NN), `dW = dZᵀ·X` (TN), `db = column_sum(dZ)`.
#[test]
fn linear_layer_backward_vs_finite_differences() {
    let mut rng = rng("linear fd");
    let mut be = CpuBackend::new();
    let (batch, inputs, outputs) = (3, 4, 5);
    for act in [
        Activation::Identity,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::LeakyRelu(0.2),
    ] {
        let tensors = (
            be.alloc(batch, inputs).unwrap(),
            be.alloc(outputs, inputs).unwrap(),
            be.alloc(1, outputs).unwrap(),
            be.alloc(batch, outputs).unwrap(),
        );
        let form = MatmulForm::NT;
        // Inputs whose pre-activations are all farther from leaky relu's kink than a step of
        // the differences moves them (|Δz| ≤ H·max(|w|, |x|, 1) = H).
        let (x, w, b) = loop {
            let x = values(&mut rng, batch * inputs, -1.0, 1.0);
            let w = values(&mut rng, outputs * inputs, -1.0, 1.0);
            let b = values(&mut rng, outputs, -0.5, 0.5);
            let z = matmul_values(&mut be, form, tensors, (&x, &w, &b), Activation::Identity);
            if z.iter().all(|z| z.abs() > 3.0 * H) {
                break (x, w, b);
            }
        };
        let g = values(&mut rng, batch * outputs, -1.0, 1.0);
        let num_x = numeric_grad(&x, H, |x| {
            matmul_loss(&mut be, form, tensors, (x, &w, &b), act, &g)
        });
        let num_w = numeric_grad(&w, H, |w| {
            matmul_loss(&mut be, form, tensors, (&x, w, &b), act, &g)
        });
        let num_b = numeric_grad(&b, H, |b| {
            matmul_loss(&mut be, form, tensors, (&x, &w, b), act, &g)
        });
        // The forward at (x, w, b) leaves Y in its tensor for the backward.
        matmul_loss(&mut be, form, tensors, (&x, &w, &b), act, &g);
        let (tx, tw, _, ty) = tensors;
        let tg = tensor(&mut be, batch, outputs, &g);
        let dz = be.alloc(batch, outputs).unwrap();
        be.activation_backward(act, &ty, &tg, &dz).unwrap();
        let dx = be.alloc(batch, inputs).unwrap();
        be.matmul(MatmulForm::NN, &dz, &tw, None, Activation::Identity, &dx)
            .unwrap();
        let dw = be.alloc(outputs, inputs).unwrap();
        be.matmul(MatmulForm::TN, &dz, &tx, None, Activation::Identity, &dw)
            .unwrap();
        let db = be.alloc(1, outputs).unwrap();
        be.column_sum(&dz, &db).unwrap();
        let what = format!("linear {act:?}");
        assert_grad(
            &format!("{what} dX = dZ·W"),
            &be.read(&dx).unwrap(),
            &num_x,
            ATOL,
            RTOL,
        );
        assert_grad(
            &format!("{what} dW = dZᵀ·X"),
            &be.read(&dw).unwrap(),
            &num_w,
            ATOL,
            RTOL,
        );
        assert_grad(
            &format!("{what} db = column_sum(dZ)"),
            &be.read(&db).unwrap(),
            &num_b,
            ATOL,
            RTOL,
        );
    }
}

/// `C = A·B` (NN): `dA = G·Bᵀ` (NT) and `dB = Aᵀ·G` (TN).
#[test]
fn matmul_nn_backward_vs_finite_differences() {
    let mut rng = rng("matmul fd");
    let mut be = CpuBackend::new();
    let (m, k, n) = (3, 5, 2);
    let a = values(&mut rng, m * k, -1.0, 1.0);
    let b = values(&mut rng, k * n, -1.0, 1.0);
    let zero_bias = vec![0.0; n];
    let g = values(&mut rng, m * n, -1.0, 1.0);
    let tensors = (
        be.alloc(m, k).unwrap(),
        be.alloc(k, n).unwrap(),
        be.alloc(1, n).unwrap(),
        be.alloc(m, n).unwrap(),
    );
    let (form, act) = (MatmulForm::NN, Activation::Identity);
    let num_a = numeric_grad(&a, H, |a| {
        matmul_loss(&mut be, form, tensors, (a, &b, &zero_bias), act, &g)
    });
    let num_b = numeric_grad(&b, H, |b| {
        matmul_loss(&mut be, form, tensors, (&a, b, &zero_bias), act, &g)
    });
    let (ta, tb, _, _) = tensors;
    be.upload(&ta, &a).unwrap();
    be.upload(&tb, &b).unwrap();
    let tg = tensor(&mut be, m, n, &g);
    let (da, db) = (be.alloc(m, k).unwrap(), be.alloc(k, n).unwrap());
    be.matmul(MatmulForm::NT, &tg, &tb, None, act, &da).unwrap();
    be.matmul(MatmulForm::TN, &ta, &tg, None, act, &db).unwrap();
    assert_grad("dA = G·Bᵀ", &be.read(&da).unwrap(), &num_a, ATOL, RTOL);
    assert_grad("dB = Aᵀ·G", &be.read(&db).unwrap(), &num_b, ATOL, RTOL);
}

#[test]
fn bce_gradient_vs_finite_differences() {
    let mut rng = rng("bce fd");
    let mut be = CpuBackend::new();
    let (rows, cols) = (3, 5);
    let mut logits = values(&mut rng, rows * cols, -4.0, 4.0);
    logits[0] = 20.0;
    logits[1] = -20.0;
    let mut targets = values(&mut rng, rows * cols, 0.0, 1.0);
    targets[2] = 0.0;
    targets[3] = 1.0;
    let (tx, tt) = (
        be.alloc(rows, cols).unwrap(),
        tensor(&mut be, rows, cols, &targets),
    );
    let (grad, loss) = (be.alloc(rows, cols).unwrap(), be.alloc(rows, 1).unwrap());
    let scale = 0.7;
    // L = Σ_rows loss; the kernel's gradient is scale·dL/dx.
    let numeric = numeric_grad(&logits, H, |x| {
        be.upload(&tx, x).unwrap();
        be.bce_with_logits(&tx, &tt, scale, &grad, &loss).unwrap();
        sum(&be.read(&loss).unwrap())
    });
    be.upload(&tx, &logits).unwrap();
    be.bce_with_logits(&tx, &tt, scale, &grad, &loss).unwrap();
    let numeric: Vec<f64> = numeric.iter().map(|d| f64::from(scale) * d).collect();
    assert_grad("bce grad", &be.read(&grad).unwrap(), &numeric, ATOL, RTOL);
}

/// Softmax cross-entropy: its gradient against finite differences of its loss, and its loss
/// against the textbook `−log softmax(x)_label` in f64, on rows with large logits.
#[test]
fn softmax_cross_entropy_vs_finite_differences_and_f64() {
    let mut rng = rng("softmax fd");
    let mut be = CpuBackend::new();
    let (rows, cols) = (4, 7);
    let mut logits = values(&mut rng, rows * cols, -3.0, 3.0);
    logits[0] = 40.0;
    logits[cols + 1] = -40.0;
    let labels: Vec<f32> = (0..rows).map(|r| ((3 * r + 1) % cols) as f32).collect();
    let tx = be.alloc(rows, cols).unwrap();
    let tl = tensor(&mut be, rows, 1, &labels);
    let (grad, loss) = (be.alloc(rows, cols).unwrap(), be.alloc(rows, 1).unwrap());
    let scale = 0.25;
    let numeric = numeric_grad(&logits, H, |x| {
        be.upload(&tx, x).unwrap();
        be.softmax_cross_entropy(&tx, &tl, scale, &grad, &loss)
            .unwrap();
        sum(&be.read(&loss).unwrap())
    });
    be.upload(&tx, &logits).unwrap();
    be.softmax_cross_entropy(&tx, &tl, scale, &grad, &loss)
        .unwrap();
    let numeric: Vec<f64> = numeric.iter().map(|d| f64::from(scale) * d).collect();
    assert_grad(
        "softmax cross-entropy grad",
        &be.read(&grad).unwrap(),
        &numeric,
        ATOL,
        RTOL,
    );
    let got = be.read(&loss).unwrap();
    for (r, row) in logits.chunks(cols).enumerate() {
        let top = row.iter().map(|&x| f64::from(x)).fold(f64::MIN, f64::max);
        let lse = top
            + row
                .iter()
                .map(|&x| (f64::from(x) - top).exp())
                .sum::<f64>()
                .ln();
        let want = lse - f64::from(row[labels[r] as usize]);
        assert!(
            (f64::from(got[r]) - want).abs() <= 1e-5 * (1.0 + want.abs()),
            "row {r}: loss {} against {want}",
            got[r]
        );
    }
}

#[test]
fn latent_backward_vs_finite_differences() {
    let mut rng = rng("latent fd");
    let mut be = CpuBackend::new();
    let (rows, l) = (2, 3);
    let mut stats = Vec::new();
    for _ in 0..rows {
        stats.extend(values(&mut rng, l, -2.0, 2.0));
        stats.extend(values(&mut rng, l, -2.0, 2.0));
    }
    let eps: Vec<f32> = (0..rows * l).map(|_| rng.random_range(-2.0..2.0)).collect();
    let w = values(&mut rng, rows * l, -1.0, 1.0);
    for kl_scale in [1.0f32, 0.0, 0.37] {
        let ts = be.alloc(rows, 2 * l).unwrap();
        let te = tensor(&mut be, rows, l, &eps);
        let (z, kl) = (be.alloc(rows, l).unwrap(), be.alloc(rows, 1).unwrap());
        // L = Σ w ∘ z + kl_scale · Σ KL, with z = mu + exp(logvar/2)·eps.
        let numeric = numeric_grad(&stats, H, |s| {
            be.upload(&ts, s).unwrap();
            be.reparameterize(&ts, &te, &z).unwrap();
            be.kl_divergence(&ts, &kl).unwrap();
            dot(&w, &be.read(&z).unwrap()) + f64::from(kl_scale) * sum(&be.read(&kl).unwrap())
        });
        be.upload(&ts, &stats).unwrap();
        let tw = tensor(&mut be, rows, l, &w);
        let dstats = be.alloc(rows, 2 * l).unwrap();
        be.latent_backward(&tw, &ts, &te, kl_scale, &dstats)
            .unwrap();
        assert_grad(
            &format!("latent_backward kl_scale {kl_scale}"),
            &be.read(&dstats).unwrap(),
            &numeric,
            ATOL,
            RTOL,
        );
    }
}

/// Batch norm's constants for the network tests: PyTorch's.
const NORM: gengpu::backend::BatchNormHyper = gengpu::backend::BatchNormHyper {
    eps: 1e-5,
    momentum: 0.1,
};

/// A network's backward (every layer kind, with and without bias and batch norm) against
/// finite differences of its forward: `L = Σ g ∘ net(x)`, for the parameters and the input.
/// The convolutions' backward is the adjoint pair im2col / col2im around the matmul's other
/// forms, so this checks the two gathers against each other as well.
#[test]
fn convolutional_network_backward_vs_finite_differences() {
    use gengpu::nn::{ImageShape, Init, LayerKind, LayerSpec, Network, ParamLayout, ParamStore};
    let conv = |kernel, stride, padding| LayerKind::Conv {
        kernel,
        stride,
        padding,
    };
    let transposed = |kernel, stride, padding| LayerKind::ConvTranspose {
        kernel,
        stride,
        padding,
    };
    let layer = |kind, outputs, act, batch_norm: Option<_>| LayerSpec {
        kind,
        outputs,
        act,
        batch_norm,
        bias: batch_norm.is_none(),
    };
    let (tanh, id, sig) = (Activation::Tanh, Activation::Identity, Activation::Sigmoid);
    let nets = [
        // An encoder: stride 2 with and without padding, batch norm over channels, a linear
        // head on the flattened image.
        (
            ImageShape {
                height: 5,
                width: 5,
                channels: 3,
            },
            vec![
                layer(conv(3, 2, 1), 4, tanh, None),
                layer(conv(2, 1, 0), 5, tanh, Some(NORM)),
                layer(LayerKind::Linear, 3, id, None),
            ],
        ),
        // A decoder: a vector to a 4×4 image through the transposed forms.
        (
            ImageShape::flat(3),
            vec![
                layer(transposed(2, 1, 0), 4, tanh, Some(NORM)),
                layer(transposed(4, 2, 1), 3, sig, None),
                layer(transposed(3, 1, 1), 2, id, None),
            ],
        ),
        // Odd sides, a 1×1 kernel, a kernel the size of the image.
        (
            ImageShape {
                height: 3,
                width: 7,
                channels: 2,
            },
            vec![
                layer(conv(1, 1, 0), 3, id, Some(NORM)),
                layer(conv(3, 2, 0), 2, tanh, None),
                layer(conv(1, 1, 0), 2, sig, None),
                layer(conv(3, 1, 1), 1, id, None),
            ],
        ),
    ];
    let mut rng = rng("network fd");
    let batch = 2;
    for (n, (input, specs)) in nets.into_iter().enumerate() {
        let mut be = CpuBackend::new();
        let (mut layout, mut running) = (ParamLayout::default(), ParamLayout::default());
        let mut net = Network::new(&mut layout, &mut running, "net", input, &specs).unwrap();
        let store = ParamStore::new(&mut be, layout).unwrap();
        let mut params = vec![0.0; store.layout.len()];
        let mut running_host = vec![0.0; running.len()];
        net.init(
            &store,
            &mut rng,
            Init::PyTorch,
            &mut params,
            &mut running_host,
        );
        // β away from zero, so that the normalized values are not all centred; every parameter
        // at least 0.1 from zero, since batch norm's output depends on the direction of the
        // weights before it only, with a curvature ∝ 1/|w|² that no step of 1e-2 resolves.
        let params: Vec<f32> = params
            .iter()
            .map(|p| {
                let v = p + rng.random_range(-0.3..0.3);
                if v.abs() < 0.1 {
                    v + 0.1f32.copysign(v)
                } else {
                    v
                }
            })
            .collect();
        running_host.push(0.0); // never empty: a buffer of one unused value
        let running_t = tensor(&mut be, 1, running_host.len(), &running_host);
        net.allocate(&mut be, batch, Some(running_t), None).unwrap();
        let out_len = net.output_shape().len();
        let x = values(&mut rng, batch * input.len(), -1.0, 1.0);
        let g = values(&mut rng, batch * out_len, -1.0, 1.0);
        let tx = tensor(&mut be, batch, input.len(), &x);
        let loss = |be: &mut CpuBackend, p: &[f32], x: &[f32]| {
            be.upload(&store.params, p).unwrap();
            be.upload(&tx, x).unwrap();
            let y = net.forward(be, &store, &tx, true).unwrap();
            dot(&g, &be.read(&y).unwrap())
        };
        // Batch norm after a 1×1 convolution of two channels is strongly curved in the weights
        // (its output does not change with their scale), and so in the input through it.
        let numeric_params = numeric_grad_extrapolated(&params, H, |p| loss(&mut be, p, &x));
        let numeric_x = numeric_grad_extrapolated(&x, H, |x| loss(&mut be, &params, x));
        loss(&mut be, &params, &x);
        let tg = tensor(&mut be, batch, out_len, &g);
        let dx = be.alloc(batch, input.len()).unwrap();
        be.fill(&store.grads, f32::NAN).unwrap();
        net.backward(&mut be, &store, &tx, &tg, Some(&dx), true)
            .unwrap();
        let what = format!("network {n}");
        assert_grad(
            &format!("{what}: parameters"),
            &be.read(&store.grads).unwrap(),
            &numeric_params,
            ATOL,
            RTOL,
        );
        assert_grad(
            &format!("{what}: input"),
            &be.read(&dx).unwrap(),
            &numeric_x,
            ATOL,
            RTOL,
        );
    }
}

//! Parity of the matmul family: the matmul against the CPU reference, in every form, with and
//! without the fused bias + activation epilogue, on awkward shapes, with every variant the
//! autotuner may choose (each pinned in turn; a variant that does not fit a shape leaves it to
//! the default, and each test checks that every variant ran somewhere).
//!
//! Kernel `shaders/matmul.wgsl`, GPU host `src/backend/gpu/kernels/matmul.rs`, CPU twin
//! `src/backend/cpu/matmul.rs`.

mod common;

use std::collections::BTreeSet;

use common::accuracy::{Approx, assert_within};
use common::formulas::activation;
use common::parity::ACTIVATIONS;
use common::{POISON, rng, shared_gpu, values};
use gengpu::backend::cpu::CpuBackend;
use gengpu::backend::gpu::GpuBackend;
use gengpu::backend::{Activation, Backend, Contraction, MatmulForm, Tensor};

/// Runs `form` on both backends and compares; returns the GPU variants that ran.
fn check(
    m: usize,
    n: usize,
    k: usize,
    form: MatmulForm,
    bias: bool,
    act: Activation,
) -> BTreeSet<String> {
    check_at(m, n, k, form, bias, act, 0)
}

/// Fails unless every variant ran in one of the checks whose variants are `ran`.
#[track_caller]
fn every_variant_ran(ran: &[BTreeSet<String>]) {
    let ran: BTreeSet<&str> = ran.iter().flatten().map(String::as_str).collect();
    let Some(gpu) = shared_gpu("every_variant_ran") else {
        return; // no GPU: skipped
    };
    let runs = gpu.matmul_variant_names();
    for name in &runs {
        assert!(ran.contains(name), "variant {name} never ran: {ran:?}");
    }
    let skipped: Vec<_> = GpuBackend::every_matmul_variant_name()
        .into_iter()
        .filter(|name| !runs.contains(name))
        .collect();
    if !skipped.is_empty() {
        eprintln!(
            "SKIPPED variants {skipped:?}: this device does not run them (see `gengpu info`)"
        );
    }
}

/// As [`check`], with every operand a view `offset` elements into a larger buffer, as
/// parameters are views into one flat buffer.
fn check_at(
    m: usize,
    n: usize,
    k: usize,
    form: MatmulForm,
    bias: bool,
    act: Activation,
    offset: usize,
) -> BTreeSet<String> {
    let mut ran = BTreeSet::new();
    let Some(mut gpu) = shared_gpu("matmul") else {
        return ran;
    };
    let mut cpu = CpuBackend::new();
    let mut rng = rng("matmul");
    let (a_shape, b_shape) = match form {
        MatmulForm::NN => ((m, k), (k, n)),
        MatmulForm::NT => ((m, k), (n, k)),
        MatmulForm::TN => ((k, m), (k, n)),
    };
    // Scaled like PyTorch's Linear init (±1/√k), so that outputs are O(1).
    let scale = 1.0 / (k as f32).sqrt();
    let a = values(&mut rng, a_shape.0 * a_shape.1, -scale, scale);
    let b = values(&mut rng, b_shape.0 * b_shape.1, -1.0, 1.0);
    let bias_values = values(&mut rng, n, -1.0, 1.0);
    // The product's values, and the variant that computed them.
    let run = |be: &mut dyn Backend, poison: f32| -> (Vec<f32>, String) {
        let mut at = |rows: usize, cols: usize| -> Tensor {
            let whole = be.alloc(1, offset + rows * cols).unwrap();
            whole.view(offset, rows, cols)
        };
        let ta = at(a_shape.0, a_shape.1);
        let tb = at(b_shape.0, b_shape.1);
        let tbias = at(1, n);
        let tc = at(m, n);
        be.upload(&ta, &a).unwrap();
        be.upload(&tb, &b).unwrap();
        be.upload(&tbias, &bias_values).unwrap();
        be.fill(&tc, poison).unwrap();
        let variant = be.matmul_variant(form, &ta, &tb, &tc).unwrap();
        be.fill(&tc, poison).unwrap();
        be.matmul(form, &ta, &tb, bias.then_some(&tbias), act, &tc)
            .unwrap();
        (be.read(&tc).unwrap(), variant)
    };
    let what = format!("matmul {form:?} m={m} n={n} k={k} bias={bias} {act:?} offset={offset}");
    // act(Σ_j a·b (+ bias)): k + 1 terms summed in any order, by any tiling, fused or not.
    let a_at = |i: usize, j: usize| match form {
        MatmulForm::TN => a[j * m + i],
        _ => a[i * k + j],
    };
    let b_at = |j: usize, c: usize| match form {
        MatmulForm::NT => b[c * k + j],
        _ => b[j * n + c],
    };
    let model: Vec<Approx> = (0..m * n)
        .map(|e| {
            let (i, c) = (e / n, e % n);
            let products = (0..k).map(|j| Approx::from(a_at(i, j)).mul(b_at(j, c)));
            let bias_term = bias.then(|| Approx::from(bias_values[c]));
            activation(act, Approx::sum(products.chain(bias_term)))
        })
        .collect();
    assert_within(&format!("{what}, cpu"), &run(&mut cpu, 0.0).0, &model);
    let mut fused = CpuBackend::with_contraction(Contraction::Fused);
    assert_within(
        &format!("{what}, cpu with fma"),
        &run(&mut fused, 0.0).0,
        &model,
    );
    for variant in gpu.matmul_variant_names() {
        gpu.pin_matmul_variant(Some(variant)).unwrap();
        let (got, used) = run(&mut *gpu, POISON);
        assert_within(
            &format!("{what}, gpu variant {variant} (ran {used})"),
            &got,
            &model,
        );
        ran.insert(used);
    }
    gpu.pin_matmul_variant(None).unwrap();
    ran
}

#[test]
fn matmul_forms_on_awkward_shapes() {
    let mut ran = Vec::new();
    for form in [MatmulForm::NN, MatmulForm::NT, MatmulForm::TN] {
        for &(m, n, k) in &[
            (1, 1, 1),
            (1, 7, 3),
            (5, 1, 13),
            (33, 31, 17),
            (64, 64, 64),
            (37, 97, 101),
            // Past one 64×64 tile and several 8-step slices of k, by a little.
            (72, 136, 40),
        ] {
            ran.push(check(m, n, k, form, false, Activation::Identity));
        }
    }
    every_variant_ran(&ran);
}

#[test]
fn matmul_fused_epilogue() {
    let mut ran = Vec::new();
    for act in ACTIVATIONS {
        for form in [MatmulForm::NN, MatmulForm::NT, MatmulForm::TN] {
            ran.push(check(29, 43, 19, form, true, act));
            ran.push(check(3, 5, 7, form, true, act));
            ran.push(check(16, 16, 8, form, true, act));
        }
    }
    every_variant_ran(&ran);
}

#[test]
fn matmul_vae_shapes() {
    let ran = [
        check(128, 400, 784, MatmulForm::NT, true, Activation::Relu),
        check(400, 784, 128, MatmulForm::TN, false, Activation::Identity),
        check(128, 400, 784, MatmulForm::NN, false, Activation::Identity),
    ];
    assert!(ran.iter().all(|r| r.is_empty() || r.len() >= 3));
}

/// Shapes and offsets that take the vec4 kernels (dimensions and offsets multiples of 4) at
/// edges that are not multiples of the 32×32 tile, and offsets that must fall back.
#[test]
fn matmul_vec4_paths_and_their_fallbacks() {
    let mut ran = Vec::new();
    for form in [MatmulForm::NN, MatmulForm::NT, MatmulForm::TN] {
        for &(m, n, k) in &[
            (4, 4, 4),
            (36, 44, 12),
            (12, 8, 100),
            (3, 8, 8),
            (8, 4, 7),
            (24, 16, 20),
        ] {
            for offset in [0, 4, 3] {
                ran.push(check_at(m, n, k, form, true, Activation::Relu, offset));
            }
        }
    }
    every_variant_ran(&ran);
}

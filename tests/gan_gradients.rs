//! The GAN step's gradients against finite differences of its losses (CPU reference): the
//! generator's through the discriminator, and the discriminator's on real and fake halves.

use gengpu::backend::Backend;
use gengpu::backend::cpu::CpuBackend;
use gengpu::data::Dataset;
use gengpu::model::Step;
use gengpu::model::gan::{Gan, GanConfig};
use gengpu::optim::Adam;
use gengpu::train::DeviceData;

const BATCH: usize = 8;

/// The real images of every step: decoded once.
fn real_images() -> &'static Dataset {
    static DATA: std::sync::OnceLock<Dataset> = std::sync::OnceLock::new();
    DATA.get_or_init(|| Dataset::bundled().take(BATCH))
}

fn config(batch_norm: bool) -> GanConfig {
    let preset = GanConfig::pytorch_gan(28, 28);
    GanConfig {
        latent: 6,
        g_hidden: vec![10, 12],
        d_hidden: vec![9],
        batch_norm: preset.batch_norm.filter(|_| batch_norm),
        ..preset
    }
}

/// One step with learning rate 0 (nothing moves); returns the (D, G) losses and both
/// gradient buffers.
fn step(g_params: &[f32], d_params: &[f32], batch_norm: bool) -> (f64, f64, Vec<f32>, Vec<f32>) {
    let mut be = CpuBackend::new();
    let mut gan = Gan::new(&mut be, config(batch_norm), BATCH, 3).unwrap();
    be.upload(&gan.g.params, g_params).unwrap();
    be.upload(&gan.d.params, d_params).unwrap();
    let data = DeviceData::upload(&mut be, real_images()).unwrap();
    data.gather(&mut be, 0, 2.0 / 255.0, -1.0, &gan.real_input())
        .unwrap();
    let adam = Adam {
        beta1: 0.5,
        ..Adam::pytorch(0.0)
    };
    gan.reset_sums(&mut be).unwrap();
    gan.train_step(&mut be, Step { seed: 1, index: 0 }, &adam)
        .unwrap();
    let sums = gan.read_sums(&mut be, 1).unwrap();
    let g_grads = be.read(&gan.g.grads).unwrap();
    let d_grads = be.read(&gan.d.grads).unwrap();
    (sums.d_loss, sums.g_loss, g_grads, d_grads)
}

fn initial(batch_norm: bool) -> (Vec<f32>, Vec<f32>) {
    let mut be = CpuBackend::new();
    let gan = Gan::new(&mut be, config(batch_norm), BATCH, 3).unwrap();
    (
        be.read(&gan.g.params).unwrap(),
        be.read(&gan.d.params).unwrap(),
    )
}

fn check(batch_norm: bool) {
    let (g0, d0) = initial(batch_norm);
    let (d_loss, g_loss, g_grads, d_grads) = step(&g0, &d0, batch_norm);
    // Small enough that few LeakyReLU kinks are crossed, large enough for f32 losses. Where a
    // kink is crossed anyway, the derivative is one of the one-sided differences, not their
    // mean: a gradient passes if it matches the central or either one-sided difference.
    let h = 2e-3_f32;
    let matches = |analytic: f32, at: f64, plus: f64, minus: f64| {
        let hh = f64::from(h);
        [
            (plus - minus) / (2.0 * hh),
            (plus - at) / hh,
            (at - minus) / hh,
        ]
        .iter()
        .any(|fd| (fd - f64::from(analytic)).abs() <= 2e-4 + 5e-2 * fd.abs())
    };
    let mut checked = 0;
    for i in (0..g0.len()).step_by(29) {
        let (mut plus, mut minus) = (g0.clone(), g0.clone());
        plus[i] += h;
        minus[i] -= h;
        let (lp, lm) = (
            step(&plus, &d0, batch_norm).1,
            step(&minus, &d0, batch_norm).1,
        );
        assert!(
            matches(g_grads[i], g_loss, lp, lm),
            "generator grad {i}: analytic {}, losses at -h, 0, +h: {lm}, {g_loss}, {lp}",
            g_grads[i]
        );
        checked += usize::from((lp - lm).abs() > 4e-7);
    }
    for i in (0..d0.len()).step_by(97) {
        let (mut plus, mut minus) = (d0.clone(), d0.clone());
        plus[i] += h;
        minus[i] -= h;
        let (lp, lm) = (
            step(&g0, &plus, batch_norm).0,
            step(&g0, &minus, batch_norm).0,
        );
        assert!(
            matches(d_grads[i], d_loss, lp, lm),
            "discriminator grad {i}: analytic {}, losses at -h, 0, +h: {lm}, {d_loss}, {lp}",
            d_grads[i]
        );
        checked += usize::from((lp - lm).abs() > 4e-7);
    }
    assert!(
        checked > 20,
        "only {checked} gradients were large enough to check"
    );
}

#[test]
fn gan_gradients_match_finite_differences_with_batch_norm() {
    check(true);
}

#[test]
fn gan_gradients_match_finite_differences_without_batch_norm() {
    check(false);
}

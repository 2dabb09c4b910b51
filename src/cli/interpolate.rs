//! `gengpu interpolate`: straight lines in a VAE's latent space between test digits.

use std::path::Path;

use anyhow::{Result, bail};

use super::VaeOnTest;
use super::args::{BackendArgs, DataArgs};
use gengpu::picture::save_grid;
use gengpu::train::vae::interpolate;

pub fn run(
    checkpoint: &Path,
    out: &Path,
    lines: usize,
    steps: usize,
    args: &DataArgs,
    choice: &BackendArgs,
) -> Result<()> {
    if lines == 0 || steps < 2 {
        bail!("--lines must be at least 1 and --steps at least 2");
    }
    let VaeOnTest {
        mut backend,
        mut vae,
        test,
        ..
    } = VaeOnTest::open(checkpoint, args, choice)?;
    let images = interpolate(backend.as_mut(), &mut vae, &test, lines, steps)?;
    let count = images.len() / vae.config.pixels();
    let shape = (vae.config.height, vae.config.width, vae.config.channels);
    save_grid(&images, count, shape, steps, out)?;
    eprintln!(
        "wrote {} lines of {steps} to {}",
        count / steps,
        out.display()
    );
    Ok(())
}

//! `gengpu sample`: a grid of draws from a checkpoint's model.

use std::path::Path;

use anyhow::{Result, bail};

use super::args::BackendArgs;
use super::{open_backend, with_generator};
use gengpu::model::sample;
use gengpu::picture::save_grid;

pub fn run(checkpoint: &Path, n: usize, seed: u32, out: &Path, choice: &BackendArgs) -> Result<()> {
    if n == 0 {
        bail!("--n must be at least 1");
    }
    let mut backend = open_backend(choice)?;
    with_generator(backend.as_mut(), checkpoint, |backend, model, shape| {
        let images = sample(backend, model, n, seed)?;
        Ok(save_grid(&images, n, shape, 8, out)?)
    })?;
    eprintln!("wrote {n} samples to {}", out.display());
    Ok(())
}

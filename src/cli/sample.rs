//! `gengpu sample`: a grid of draws from a checkpoint's model.

use std::path::Path;

use anyhow::{Result, bail};

use super::args::BackendArgs;
use super::{EVAL_BATCH, open_backend};
use gengpu::model::sample;
use gengpu::picture::save_grid;
use gengpu::train;

pub fn run(checkpoint: &Path, n: usize, seed: u32, out: &Path, choice: &BackendArgs) -> Result<()> {
    if n == 0 {
        bail!("--n must be at least 1");
    }
    let mut backend = open_backend(choice)?;
    let mut loaded = train::load(backend.as_mut(), checkpoint, EVAL_BATCH)?;
    let shape = loaded.image_shape();
    let Some(model) = loaded.generative() else {
        bail!(
            "{} holds a classifier, which draws no images",
            checkpoint.display()
        );
    };
    let images = sample(backend.as_mut(), model, n, seed)?;
    save_grid(&images, n, shape, 8, out)?;
    eprintln!("wrote {n} samples to {}", out.display());
    Ok(())
}

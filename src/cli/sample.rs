//! `gengpu sample`: a grid of draws from a checkpoint's model.

use std::path::Path;

use anyhow::{Result, bail};

use super::args::BackendArgs;
use super::{EVAL_BATCH, open_backend};
use gengpu::model::{Generative, sample};
use gengpu::picture::save_grid;
use gengpu::train::{self, Loaded};

pub fn run(checkpoint: &Path, n: usize, seed: u32, out: &Path, choice: &BackendArgs) -> Result<()> {
    if n == 0 {
        bail!("--n must be at least 1");
    }
    let mut backend = open_backend(choice)?;
    let mut loaded = train::load(backend.as_mut(), checkpoint, EVAL_BATCH)?;
    let shape = loaded.image_shape();
    let model: &mut dyn Generative = match &mut loaded {
        Loaded::Vae(vae, _) => vae.as_mut(),
        Loaded::Gan(gan, _) => gan.as_mut(),
    };
    let images = sample(backend.as_mut(), model, n, seed)?;
    save_grid(&images, n, shape, 8, out)?;
    eprintln!("wrote {n} samples to {}", out.display());
    Ok(())
}

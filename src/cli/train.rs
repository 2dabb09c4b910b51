//! `gengpu train vae|gan`.

use anyhow::{Context, Result};

use super::args::CommonTrainArgs;
use super::open_backend;
use gengpu::train::{self, ModelSettings};

/// Loads the data, opens the backend and trains the model whose settings `settings` builds
/// for the data's image size.
pub fn run(
    common: &CommonTrainArgs,
    settings: impl FnOnce((usize, usize)) -> ModelSettings,
) -> Result<()> {
    let data = gengpu::data::resolve(
        common.data.data.as_deref(),
        common.data.test_data.as_deref(),
        common.data.limit,
    )
    .context("cannot load the data")?;
    eprintln!(
        "data: {} ({} training, {} test examples)",
        data.description, data.train.count, data.test.count
    );
    let mut backend = open_backend(&common.backend)?;
    let settings = settings((data.train.rows, data.train.cols));
    train::train(backend.as_mut(), &data, &settings)?;
    eprintln!("wrote {}", common.out.display());
    Ok(())
}

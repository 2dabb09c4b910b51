//! `gengpu eval`: the test loss of a VAE checkpoint.

use std::path::Path;

use anyhow::Result;

use super::VaeOnTest;
use super::args::{BackendArgs, DataArgs};
use gengpu::train::vae::evaluate;

pub fn run(checkpoint: &Path, args: &DataArgs, choice: &BackendArgs, json: bool) -> Result<()> {
    let VaeOnTest {
        mut backend,
        mut vae,
        meta,
        test,
        description,
    } = VaeOnTest::open(checkpoint, args, choice)?;
    let seed = meta.settings.run().seed as u32;
    let (loss, bce, kl) = evaluate(backend.as_mut(), &mut vae, &test, seed)?;
    if json {
        let report = serde_json::json!({
            "checkpoint": checkpoint,
            "epoch": meta.epoch,
            "test_loss": loss,
            "test_bce": bce,
            "test_kl": kl,
            "examples": test.count,
            "data": description,
        });
        outln!("{report}");
    } else {
        outln!(
            "test loss {loss:.3} (BCE {bce:.3} + KL {kl:.3}) over {} examples ({description})",
            test.count
        );
    }
    Ok(())
}

//! `gengpu eval`: the test loss of a VAE checkpoint, and optionally the importance-weighted
//! estimate of −log p(x).

use std::path::Path;

use anyhow::Result;

use super::VaeOnTest;
use super::args::{BackendArgs, DataArgs};
use gengpu::train::vae::{evaluate, importance_weighted};

/// Sample rows per chunk of the importance-weighted estimate: large chunks keep the decoder's
/// matmuls efficient (measured on the CPU backend: see README).
const IW_CHUNK_ROWS: usize = 1024;

/// `iw_samples` draws per example for the importance-weighted estimate; 0 skips it.
pub fn run(
    checkpoint: &Path,
    args: &DataArgs,
    choice: &BackendArgs,
    iw_samples: usize,
    json: bool,
) -> Result<()> {
    let VaeOnTest {
        mut backend,
        mut vae,
        meta,
        test,
        description,
    } = VaeOnTest::open(checkpoint, args, choice)?;
    let seed = meta.settings.run().seed as u32;
    let (loss, bce, kl) = evaluate(backend.as_mut(), &mut vae, &test, seed)?;
    let iw_nll = if iw_samples == 0 {
        None
    } else {
        // The ELBO keeps its batch (and so its noise); the estimate gets larger chunks.
        let (mut sampler, _) =
            gengpu::train::load_vae(backend.as_mut(), checkpoint, IW_CHUNK_ROWS)?;
        Some(importance_weighted(
            backend.as_mut(),
            &mut sampler,
            &test,
            seed,
            iw_samples,
        )?)
    };
    if json {
        let mut report = serde_json::json!({
            "checkpoint": checkpoint,
            "epoch": meta.epoch,
            "test_loss": loss,
            "test_bce": bce,
            "test_kl": kl,
            "examples": test.count,
            "data": description,
        });
        if let Some(nll) = iw_nll {
            report["iw_nll"] = nll.into();
            report["iw_samples"] = iw_samples.into();
        }
        outln!("{report}");
    } else {
        let iw = iw_nll.map_or(String::new(), |nll| {
            let plural = if iw_samples == 1 { "" } else { "s" };
            format!(", importance-weighted −log p(x) {nll:.3} ({iw_samples} sample{plural})")
        });
        outln!(
            "test loss {loss:.3} (BCE {bce:.3} + KL {kl:.3}){iw} over {} examples ({description})",
            test.count
        );
    }
    Ok(())
}

//! `gengpu export`: a checkpoint's weights under PyTorch's reference modules' names, or a
//! classifier's weights alone in gengpu's format.

use std::path::Path;

use anyhow::{Context, Result};

pub fn run(checkpoint: &Path, out: &Path, weights_only: bool) -> Result<()> {
    if weights_only {
        let count = gengpu::export::classifier_weights(checkpoint, out)
            .with_context(|| format!("cannot export {}", checkpoint.display()))?;
        eprintln!(
            "wrote {count} tensors to {} (for gengpu score --classifier)",
            out.display()
        );
        return Ok(());
    }
    let tensors = gengpu::export::pytorch_tensors(checkpoint)
        .with_context(|| format!("cannot export {}", checkpoint.display()))?;
    gengpu::export::write(out, &tensors)?;
    eprintln!(
        "wrote {} tensors to {} (load with torch's load_state_dict, strict)",
        tensors.len(),
        out.display()
    );
    Ok(())
}

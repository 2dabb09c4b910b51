//! `gengpu export`: a checkpoint's weights under PyTorch's reference modules' names.

use std::path::Path;

use anyhow::{Context, Result};

pub fn run(checkpoint: &Path, out: &Path) -> Result<()> {
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

//! Choosing a backend: `auto` takes a hardware GPU when there is one and the CPU otherwise.

use super::cpu::CpuBackend;
use super::gpu::{AdapterChoice, GpuBackend};
use super::{Backend, Result};

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// A hardware GPU if there is one, else the CPU backend.
    Auto,
    /// wgpu on any adapter, software (llvmpipe) included.
    Gpu,
    /// The CPU backend.
    Cpu,
}

/// Opens the backend `choice` asks for; returns it with a sentence saying what was chosen and
/// why.
pub fn open(choice: BackendChoice) -> Result<(Box<dyn Backend>, String)> {
    match choice {
        BackendChoice::Cpu => {
            let cpu = CpuBackend::new();
            let why = format!("{} (--backend cpu)", cpu.device_name());
            Ok((Box::new(cpu), why))
        }
        BackendChoice::Gpu => {
            let gpu = GpuBackend::new(AdapterChoice::Any)?;
            let why = format!("gpu: {} (--backend gpu)", gpu.device_name());
            Ok((Box::new(gpu), why))
        }
        BackendChoice::Auto => match GpuBackend::new(AdapterChoice::HardwareOnly) {
            Ok(gpu) => {
                let why = format!(
                    "gpu: {} (auto: a hardware GPU was found)",
                    gpu.device_name()
                );
                Ok((Box::new(gpu), why))
            }
            Err(e) => {
                let cpu = CpuBackend::new();
                let why = format!(
                    "{} (auto: {e}; a software GPU would be slower than the CPU backend; \
                     --backend gpu forces it)",
                    cpu.device_name()
                );
                Ok((Box::new(cpu), why))
            }
        },
    }
}

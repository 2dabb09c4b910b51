//! Choosing a backend: `auto` takes a hardware GPU when there is one and the CPU otherwise;
//! an adapter the user names (`--adapter`, or wgpu's `WGPU_ADAPTER_NAME`) means the GPU
//! backend on that adapter.

use super::cpu::CpuBackend;
use super::gpu::{AdapterChoice, AdapterName, GpuBackend};
use super::{Backend, BackendError, Result};

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

/// The adapter `choice` and `--adapter` (`adapter`) ask for, with the reason to give, or
/// `None` for the CPU backend. `--adapter` with `--backend cpu` is a contradiction;
/// `WGPU_ADAPTER_NAME` is wgpu's and does not bind `--backend cpu`.
pub fn adapter_choice(
    choice: BackendChoice,
    adapter: Option<&str>,
) -> Result<Option<(AdapterChoice, String)>> {
    Ok(match (choice, AdapterName::from_user(adapter)) {
        (BackendChoice::Cpu, Some(AdapterName::Flag(flag))) => {
            return Err(BackendError::AdapterWithCpu(flag));
        }
        (BackendChoice::Cpu, _) => None,
        (_, Some(name)) => {
            let why = name.to_string();
            Some((AdapterChoice::Named(name), why))
        }
        (BackendChoice::Gpu, None) => Some((AdapterChoice::Any, "--backend gpu".into())),
        (BackendChoice::Auto, None) => Some((
            AdapterChoice::HardwareOnly,
            "auto: a hardware GPU was found".into(),
        )),
    })
}

/// Opens the backend `choice` and `adapter` (`--adapter`) ask for, with matmul autotuning on
/// the GPU unless `autotune` is false (`--no-autotune`); returns it with a sentence saying what
/// was chosen and why.
pub fn open(
    choice: BackendChoice,
    adapter: Option<&str>,
    autotune: bool,
) -> Result<(Box<dyn Backend>, String)> {
    let gpu = |adapter| -> Result<GpuBackend> {
        let mut gpu = GpuBackend::new(adapter)?;
        if !autotune {
            gpu.set_autotune(false);
        }
        Ok(gpu)
    };
    match adapter_choice(choice, adapter)? {
        None => {
            let cpu = CpuBackend::new();
            let why = format!("{} (--backend cpu)", cpu.device_name());
            Ok((Box::new(cpu), why))
        }
        Some((AdapterChoice::HardwareOnly, why)) => match gpu(AdapterChoice::HardwareOnly) {
            Ok(gpu) => {
                let why = format!("gpu: {} ({why})", gpu.device_name());
                Ok((Box::new(gpu), why))
            }
            Err(e) => {
                let cpu = CpuBackend::new();
                let reason = match e {
                    BackendError::OnlySoftware { .. } => {
                        format!("{e}, slower than the CPU backend; --backend gpu would use it")
                    }
                    _ => e.to_string(),
                };
                let why = format!("{} (auto: {reason})", cpu.device_name());
                Ok((Box::new(cpu), why))
            }
        },
        Some((adapter, why)) => {
            let gpu = gpu(adapter)?;
            let why = format!("gpu: {} ({why})", gpu.device_name());
            Ok((Box::new(gpu), why))
        }
    }
}

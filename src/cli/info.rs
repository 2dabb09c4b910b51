//! `gengpu info`: the adapters wgpu sees, their limits, and which one each choice uses.

use anyhow::Result;

use gengpu::backend::gpu::{AdapterChoice, list_adapters};

pub fn run() -> Result<()> {
    let (adapters, chosen) = list_adapters(AdapterChoice::Any);
    if adapters.is_empty() {
        println!("no GPU adapter found: --backend auto uses the CPU backend");
        println!(
            "(on Debian, `apt-get install mesa-vulkan-drivers` gives a software Vulkan device)"
        );
        return Ok(());
    }
    let (_, hardware) = list_adapters(AdapterChoice::HardwareOnly);
    for (i, a) in adapters.iter().enumerate() {
        let mark = if Some(i) == chosen { "*" } else { " " };
        println!(
            "{mark} [{i}] {} — {} {} ({})",
            a.name, a.backend, a.device_type, a.driver
        );
        println!(
            "      max buffer {} MiB, max storage binding {} MiB, workgroups/dim {}, invocations/group {}, workgroup memory {} KiB",
            a.max_buffer_size >> 20,
            a.max_storage_buffer_binding_size >> 20,
            a.max_compute_workgroups_per_dimension,
            a.max_compute_invocations_per_workgroup,
            a.max_compute_workgroup_storage_size >> 10
        );
    }
    if let Some(i) = chosen {
        println!("--backend gpu uses [{i}] {}", adapters[i].name);
    }
    match hardware {
        Some(i) => println!(
            "--backend auto uses [{i}] {} (a hardware GPU)",
            adapters[i].name
        ),
        None => println!(
            "--backend auto uses the CPU backend (no hardware GPU; software Vulkan is slower)"
        ),
    }
    Ok(())
}

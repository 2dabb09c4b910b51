//! What gengpu asks of a device (`src/backend/gpu/limits.rs`) and how it chooses an adapter
//! (`src/backend/gpu/context.rs`), on made-up adapters: no GPU needed.

use gengpu::backend::BackendError;
use gengpu::backend::gpu::kernels::FAMILIES;
use gengpu::backend::gpu::{
    AdapterChoice, AdapterList, AdapterName, AdapterSummary, LimitsMode, Rule, plan_limits,
};

const DOWNLEVEL: wgpu::Limits = wgpu::Limits::downlevel_defaults();

#[test]
fn every_kernel_binds_at_most_four_storage_buffers() {
    let most = DOWNLEVEL.max_storage_buffers_per_shader_stage as usize;
    assert_eq!(most, 4);
    for kernel in FAMILIES.iter().flat_map(|family| family.kernels) {
        assert!(
            kernel.bindings.len() <= most,
            "{} binds {} storage buffers; the downlevel limit is {most} per stage",
            kernel.entry,
            kernel.bindings.len()
        );
    }
}

#[test]
fn gengpu_runs_at_the_downlevel_defaults() {
    for mode in [LimitsMode::Adapter, LimitsMode::Downlevel] {
        let plan = plan_limits(&DOWNLEVEL, mode).expect("the shaders parse");
        assert!(plan.shortfalls.is_empty(), "{:?}", plan.shortfalls);
        assert!(
            plan.limits.check_limits(&DOWNLEVEL),
            "asks past the adapter"
        );
        for row in &plan.rows {
            assert_eq!(row.asked, row.downlevel, "{}", row.name);
            if let Rule::Needs(need) = row.rule {
                assert!(need <= row.asked, "{} needs {need}", row.name);
            }
        }
    }
}

/// An adapter with more than the downlevel defaults everywhere, like most GPUs.
fn generous() -> wgpu::Limits {
    wgpu::Limits {
        max_storage_buffers_per_shader_stage: 16,
        max_storage_buffer_binding_size: 2 << 30,
        max_buffer_size: 4 << 30,
        max_compute_workgroups_per_dimension: 1 << 20,
        max_compute_invocations_per_workgroup: 1024,
        min_uniform_buffer_offset_alignment: 64,
        ..wgpu::Limits::default()
    }
}

#[test]
fn only_sizes_and_alignment_are_raised_to_the_adapters() {
    let offered = generous();
    let plan = plan_limits(&offered, LimitsMode::Adapter).expect("the shaders parse");
    assert!(plan.shortfalls.is_empty());
    assert!(plan.limits.check_limits(&offered), "asks past the adapter");
    let l = &plan.limits;
    assert_eq!(l.max_storage_buffer_binding_size, 2 << 30);
    assert_eq!(l.max_buffer_size, 4 << 30);
    assert_eq!(l.max_compute_workgroups_per_dimension, 1 << 20);
    assert_eq!(l.min_uniform_buffer_offset_alignment, 64);
    // What the kernels need stays at the downlevel value although the adapter offers more.
    assert_eq!(l.max_storage_buffers_per_shader_stage, 4);
    assert_eq!(l.max_compute_invocations_per_workgroup, 256);
    for row in &plan.rows {
        assert!(row.asked <= row.offered || row.rule == Rule::Alignment);
        match row.rule {
            Rule::Needs(need) => assert!(need <= row.asked && row.asked == row.downlevel),
            Rule::Sizes | Rule::Alignment => assert_eq!(row.asked, row.offered, "{}", row.name),
        }
    }
}

#[test]
fn downlevel_mode_asks_for_the_downlevel_defaults_on_any_adapter() {
    let plan = plan_limits(&generous(), LimitsMode::Downlevel).expect("the shaders parse");
    assert!(plan.shortfalls.is_empty());
    assert_eq!(plan.limits, DOWNLEVEL);
}

/// An adapter that offers less than the downlevel defaults where gengpu does not care is still
/// opened, with its own values there.
#[test]
fn what_gengpu_does_not_need_is_clamped_to_the_adapter() {
    let offered = wgpu::Limits {
        max_texture_dimension_2d: 1024,
        max_compute_workgroup_storage_size: 4096,
        ..DOWNLEVEL
    };
    let plan = plan_limits(&offered, LimitsMode::Adapter).expect("the shaders parse");
    assert!(plan.shortfalls.is_empty(), "{:?}", plan.shortfalls);
    assert!(plan.limits.check_limits(&offered));
    assert_eq!(plan.limits.max_compute_workgroup_storage_size, 4096);
}

/// An adapter with 2 storage buffers per stage and 128-invocation workgroups, as some GL ES
/// devices.
fn too_small() -> wgpu::Limits {
    wgpu::Limits {
        max_storage_buffers_per_shader_stage: 2,
        max_compute_invocations_per_workgroup: 128,
        ..DOWNLEVEL
    }
}

#[test]
fn a_too_small_adapter_is_refused_naming_the_limits() {
    let plan = plan_limits(&too_small(), LimitsMode::Adapter).expect("the shaders parse");
    let lacks: Vec<_> = plan
        .shortfalls
        .iter()
        .map(|s| (s.limit, s.needed, s.offered))
        .collect();
    assert!(lacks.contains(&("max_storage_buffers_per_shader_stage", 4, 2)));
    assert!(lacks.contains(&("max_compute_invocations_per_workgroup", 256, 128)));
    let list = list_of(&[("Small GL", true, too_small())]);
    let e = list.choose(&AdapterChoice::Any).unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, BackendError::Unsuitable { .. }), "{message}");
    assert!(
        message.contains("Small GL")
            && message.contains("max_storage_buffers_per_shader_stage is 2, gengpu needs 4"),
        "{message}"
    );
}

/// A made-up adapter list: name, whether hardware, limits offered.
fn list_of(adapters: &[(&str, bool, wgpu::Limits)]) -> AdapterList {
    let mode = LimitsMode::Adapter;
    let adapters = adapters
        .iter()
        .enumerate()
        .map(|(index, (name, hardware, offered))| {
            let plan = plan_limits(offered, mode).expect("the shaders parse");
            AdapterSummary {
                index,
                name: name.to_string(),
                backend: "Vulkan".into(),
                device_type: if *hardware { "DiscreteGpu" } else { "Cpu" }.into(),
                driver: String::new(),
                hardware: *hardware,
                limits: plan.rows,
                shortfalls: plan.shortfalls,
                subgroup_lanes: None,
            }
        })
        .collect();
    AdapterList {
        apis: "test".into(),
        mode,
        adapters,
    }
}

fn flag(text: &str) -> AdapterChoice {
    AdapterChoice::Named(AdapterName::Flag(text.into()))
}

#[test]
fn adapters_are_chosen_by_index_name_or_rank() {
    let list = list_of(&[
        ("Old GL", true, too_small()),
        ("Big GPU", true, generous()),
        ("llvmpipe (LLVM 15)", false, DOWNLEVEL),
    ]);
    // The best usable one: an unusable adapter is passed over.
    assert_eq!(list.choose(&AdapterChoice::Any).unwrap(), 1);
    assert_eq!(list.choose(&AdapterChoice::HardwareOnly).unwrap(), 1);
    assert_eq!(list.choose(&flag("2")).unwrap(), 2);
    assert_eq!(list.choose(&flag("LLVMPIPE")).unwrap(), 2);
    assert_eq!(
        list.choose(&AdapterChoice::Named(AdapterName::Env("big".into())))
            .unwrap(),
        1
    );
    // Named, it is used or refused, never passed over.
    let refused = list.choose(&flag("0")).unwrap_err().to_string();
    assert!(
        refused.contains("max_storage_buffers_per_shader_stage"),
        "{refused}"
    );
    for asked in ["99", "no-such-gpu"] {
        let e = list.choose(&flag(asked)).unwrap_err();
        let message = e.to_string();
        assert!(matches!(e, BackendError::NoSuchAdapter { .. }), "{message}");
        assert!(
            message.contains(&format!("--adapter {asked}"))
                && message.contains("[2] llvmpipe (LLVM 15) (Vulkan, Cpu)"),
            "{message}"
        );
    }
    // `WGPU_ADAPTER_NAME` is a name: a number there is not an index.
    assert!(
        list.choose(&AdapterChoice::Named(AdapterName::Env("2".into())))
            .is_err()
    );
}

#[test]
fn software_only_is_not_a_hardware_gpu() {
    let list = list_of(&[("llvmpipe", false, DOWNLEVEL)]);
    assert_eq!(list.choose(&AdapterChoice::Any).unwrap(), 0);
    let e = list.choose(&AdapterChoice::HardwareOnly).unwrap_err();
    assert!(
        matches!(&e, BackendError::OnlySoftware { software } if software == &["llvmpipe"]),
        "{e}"
    );
    let empty = list_of(&[]);
    assert!(matches!(
        empty.choose(&AdapterChoice::Any),
        Err(BackendError::NoAdapter { .. })
    ));
}

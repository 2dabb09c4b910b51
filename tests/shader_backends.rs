//! Every kernel as each platform's driver receives it: naga translates every entry point to
//! SPIR-V (Vulkan), MSL (Metal), HLSL (DX12) and GLSL (GL), the back ends wgpu uses, with the
//! options wgpu passes where they matter, and `spirv-val` validates the SPIR-V. No GPU needed,
//! so a kernel that would fail on hardware we cannot see fails `cargo test` here.
//!
//! The subgroup families go where subgroup operations exist: SPIR-V 1.3 (Vulkan 1.1), MSL,
//! HLSL shader model 6.0 (DXC's wave intrinsics); wgpu's GL back end offers no subgroups, and
//! the host builds those families only on devices that have them.

use std::process::Command;

use gengpu::backend::gpu::kernels::FAMILIES;
use naga::ShaderStage;
use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};

/// Every compute entry point of every family: its file, name, module and validation info, and
/// whether it uses subgroup operations.
fn entry_points() -> Vec<(String, String, naga::Module, ModuleInfo, bool)> {
    let mut all = Vec::new();
    for family in FAMILIES {
        let source = family.source();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", family.file_name(), e.emit_to_string(&source)));
        let info = Validator::new(ValidationFlags::all(), family.capabilities())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", family.file_name(), e.emit_to_string(&source)));
        for kernel in family.kernels {
            all.push((
                family.file_name(),
                kernel.entry.to_string(),
                module.clone(),
                info.clone(),
                family.capabilities() != Capabilities::empty(),
            ));
        }
    }
    assert!(!all.is_empty());
    all
}

/// wgpu's bounds checks where the device has no robust buffer access.
fn restrict() -> naga::proc::BoundsCheckPolicies {
    naga::proc::BoundsCheckPolicies {
        index: naga::proc::BoundsCheckPolicy::Restrict,
        buffer: naga::proc::BoundsCheckPolicy::Restrict,
        image_load: naga::proc::BoundsCheckPolicy::Restrict,
        binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
    }
}

/// SPIR-V 1.0 (Vulkan 1.0) and 1.3 (Vulkan 1.1), each checked by `spirv-val` for its
/// environment.
#[test]
fn every_entry_point_translates_to_valid_spirv() {
    let validator = spirv_val();
    let dir = std::env::temp_dir().join(format!("gengpu-spirv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    for (file, entry, module, info, subgroups) in entry_points() {
        for (version, env) in [((1, 0), "vulkan1.0"), ((1, 3), "vulkan1.1")] {
            if subgroups && version < (1, 3) {
                continue;
            }
            let options = spv::Options {
                lang_version: version,
                bounds_check_policies: restrict(),
                ..spv::Options::default()
            };
            let pipeline = spv::PipelineOptions {
                shader_stage: ShaderStage::Compute,
                entry_point: entry.clone(),
            };
            let words = spv::write_vec(&module, &info, &options, Some(&pipeline))
                .unwrap_or_else(|e| panic!("{file} {entry}: SPIR-V {version:?}: {e}"));
            assert!(!words.is_empty());
            let Some(validator) = &validator else {
                continue;
            };
            let path = dir.join(format!("{entry}-{env}.spv"));
            std::fs::write(&path, bytemuck::cast_slice::<u32, u8>(&words)).expect("write");
            let out = Command::new(validator)
                .args(["--target-env", env])
                .arg(&path)
                .output()
                .expect("run spirv-val");
            assert!(
                out.status.success(),
                "{file} {entry}: spirv-val --target-env {env}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

/// `spirv-val` (Debian: spirv-tools), or `None` after saying so; with `GENGPU_REQUIRE_GPU=1`,
/// as in CI, its absence is a failure.
fn spirv_val() -> Option<&'static str> {
    let found = Command::new("spirv-val")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match found {
        true => Some("spirv-val"),
        false if std::env::var("GENGPU_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!(
                "GENGPU_REQUIRE_GPU=1 but spirv-val is not installed (apt-get install spirv-tools)"
            )
        }
        false => {
            eprintln!(
                "SKIPPED spirv-val: not installed (apt-get install spirv-tools); the SPIR-V is \
                 still written and checked by naga"
            );
            None
        }
    }
}

/// MSL 2.0 (the oldest Metal version wgpu's compute supports widely) and 3.0.
#[test]
fn every_entry_point_translates_to_msl() {
    for (file, entry, module, info, _) in entry_points() {
        for version in [(2, 0), (3, 0)] {
            let options = msl::Options {
                lang_version: version,
                bounds_check_policies: restrict(),
                ..msl::Options::default()
            };
            let pipeline = msl::PipelineOptions {
                entry_point: Some((ShaderStage::Compute, entry.clone())),
                ..msl::PipelineOptions::default()
            };
            let (source, _) = msl::write_string(&module, &info, &options, &pipeline)
                .unwrap_or_else(|e| panic!("{file} {entry}: MSL {version:?}: {e}"));
            assert!(
                source.contains("kernel void"),
                "{file} {entry}: no kernel in the MSL"
            );
        }
    }
}

/// HLSL shader models 5.1 and 6.0 (DX12's FXC and DXC).
#[test]
fn every_entry_point_translates_to_hlsl() {
    for (file, entry, module, info, subgroups) in entry_points() {
        for model in [hlsl::ShaderModel::V5_1, hlsl::ShaderModel::V6_0] {
            if subgroups && model == hlsl::ShaderModel::V5_1 {
                continue;
            }
            let options = hlsl::Options {
                shader_model: model,
                restrict_indexing: true,
                zero_initialize_workgroup_memory: true,
                ..hlsl::Options::default()
            };
            let pipeline = hlsl::PipelineOptions {
                entry_point: Some((ShaderStage::Compute, entry.clone())),
            };
            let mut source = String::new();
            hlsl::Writer::new(&mut source, &options, &pipeline)
                .write(&module, &info, None)
                .unwrap_or_else(|e| panic!("{file} {entry}: HLSL {model:?}: {e}"));
            assert!(
                source.contains("[numthreads("),
                "{file} {entry}: no kernel in the HLSL"
            );
        }
    }
}

/// GLSL ES 3.10 (GL ES 3.1, the least that has compute shaders) and desktop GLSL 4.30.
#[test]
fn every_entry_point_translates_to_glsl() {
    for (file, entry, module, info, subgroups) in entry_points() {
        if subgroups {
            continue;
        }
        for version in [glsl::Version::new_gles(310), glsl::Version::Desktop(430)] {
            let options = glsl::Options {
                version,
                writer_flags: glsl::WriterFlags::empty(),
                ..glsl::Options::default()
            };
            let pipeline = glsl::PipelineOptions {
                shader_stage: ShaderStage::Compute,
                entry_point: entry.clone(),
                multiview: None,
            };
            let mut source = String::new();
            glsl::Writer::new(&mut source, &module, &info, &options, &pipeline, restrict())
                .and_then(|mut writer| writer.write())
                .unwrap_or_else(|e| panic!("{file} {entry}: GLSL {version}: {e}"));
            assert!(
                source.contains("layout(local_size_x"),
                "{file} {entry}: no compute layout"
            );
        }
    }
}

//! Every shader parses and validates with naga: no GPU needed, so a shader error fails
//! `cargo test` on any machine.

use gengpu::backend::gpu::shaders::Module;

#[test]
fn every_shader_validates_with_naga() {
    for module in Module::ALL {
        let source = module.source();
        let parsed = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", module.file_name(), e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&parsed)
        .unwrap_or_else(|e| panic!("{}: {}", module.file_name(), e.emit_to_string(&source)));
    }
}

#[test]
fn every_kernel_entry_point_exists() {
    use gengpu::backend::gpu::shaders::Kernel;
    for kernel in Kernel::ALL {
        let (module, entry, _) = kernel.spec();
        let parsed = naga::front::wgsl::parse_str(&module.source()).expect("validated above");
        assert!(
            parsed.entry_points.iter().any(|e| e.name == entry),
            "{kernel:?}: no entry point {entry} in {}",
            module.file_name()
        );
    }
}

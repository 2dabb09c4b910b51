//! Every shader parses and validates with naga as compiled (host constants and preludes
//! included), and every kernel's host side matches its WGSL: binding tables, the layout of the
//! `Params` struct, workgroup sizes owned by the host. No GPU needed, so a shader error fails
//! `cargo test` on any machine.

use std::collections::{BTreeMap, BTreeSet};

use gengpu::backend::gpu::kernels::{Binding, FAMILIES, Family, Member, PARAMS_BYTES};

#[test]
fn every_shader_validates_with_naga() {
    for family in FAMILIES {
        parse_family(family);
    }
}

#[test]
fn every_kernel_entry_point_exists() {
    for family in FAMILIES {
        let parsed = naga::front::wgsl::parse_str(&family.source()).expect("validated above");
        for kernel in family.kernels {
            assert_eq!(
                kernel.family.name, family.name,
                "{} is listed by {} but belongs to {}",
                kernel.entry, family.name, kernel.family.name
            );
            assert!(
                parsed.entry_points.iter().any(|e| e.name == kernel.entry),
                "no entry point {} in {}",
                kernel.entry,
                family.file_name()
            );
        }
    }
}

/// The pipelines are named by entry point, and every WGSL file but the preludes is one family.
#[test]
fn every_shader_file_is_one_family_and_entry_points_are_unique() {
    let mut entries = BTreeSet::new();
    for kernel in FAMILIES.iter().flat_map(|family| family.kernels) {
        assert!(entries.insert(kernel.entry), "{} twice", kernel.entry);
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let files: BTreeSet<String> = std::fs::read_dir(dir)
        .expect("shaders/ exists")
        .map(|entry| {
            entry
                .expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".wgsl") && !PRELUDES.contains(&name.as_str()))
        .collect();
    let families: BTreeSet<String> = FAMILIES.iter().map(|f| f.file_name()).collect();
    assert_eq!(files, families);
}

/// The shared files prepended to families, not families themselves.
const PRELUDES: [&str; 4] = [
    "common.wgsl",
    "activation.wgsl",
    "hash.wgsl",
    "matmul_io.wgsl",
];

/// Each family's workgroup sizes are the host's constants: its WGSL names them, never a number.
#[test]
fn every_workgroup_size_comes_from_the_host() {
    for family in FAMILIES {
        let path = format!(
            "{}/shaders/{}",
            env!("CARGO_MANIFEST_DIR"),
            family.file_name()
        );
        let own = std::fs::read_to_string(&path).expect("a family's file exists");
        for (at, _) in own.match_indices("@workgroup_size(") {
            let size = &own[at + "@workgroup_size(".len()..];
            assert!(
                !size.starts_with(|c: char| c.is_ascii_digit()),
                "{path}: a literal workgroup size; name a constant of kernels/{}.rs",
                family.name
            );
        }
    }
}

#[test]
fn every_params_struct_matches_its_wgsl_layout() {
    let mut errors = Vec::new();
    for family in FAMILIES {
        let (module, _) = parse_family(family);
        errors.extend(layout_mismatches(
            &family.file_name(),
            &module,
            family.params.members,
            family.params.size,
        ));
    }
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

/// A module parsed and validated by naga, with its validation info.
fn parse_and_validate(name: &str, source: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    parse_and_validate_with(name, source, naga::valid::Capabilities::empty())
}

/// A family's module, validated with what it may use (subgroup operations, for the subgroup
/// families only).
fn parse_family(family: &Family) -> (naga::Module, naga::valid::ModuleInfo) {
    parse_and_validate_with(&family.file_name(), &family.source(), family.capabilities())
}

fn parse_and_validate_with(
    name: &str,
    source: &str,
    capabilities: naga::valid::Capabilities,
) -> (naga::Module, naga::valid::ModuleInfo) {
    let parsed = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
        .validate(&parsed)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    (parsed, info)
}

/// The global declared at `@group(0) @binding(binding)`, if any.
fn group0_global(
    module: &naga::Module,
    binding: u32,
) -> Option<(naga::Handle<naga::GlobalVariable>, &naga::GlobalVariable)> {
    module.global_variables.iter().find(|(_, var)| {
        var.binding
            .as_ref()
            .is_some_and(|b| b.group == 0 && b.binding == binding)
    })
}

/// How WGSL spells the address space of a `var` declaration.
fn wgsl_space(space: naga::AddressSpace) -> String {
    use naga::StorageAccess as A;
    match space {
        naga::AddressSpace::Uniform => "var<uniform>".into(),
        naga::AddressSpace::Storage { access } if access == A::LOAD => "var<storage, read>".into(),
        naga::AddressSpace::Storage { access } if access == A::LOAD | A::STORE => {
            "var<storage, read_write>".into()
        }
        other => format!("{other:?}"),
    }
}

/// Every way the host's binding table `bindings` for the entry point `entry` disagrees with
/// the WGSL of `module`, one message per mismatch naming `kernel` and the binding.
fn binding_mismatches(
    kernel: &str,
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
    bindings: &[Binding],
) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(index) = module.entry_points.iter().position(|e| e.name == entry) else {
        return vec![format!("{kernel}: no entry point {entry}")];
    };
    let uses = info.get_entry_point(index);

    // The resource bindings the entry point (with the functions it calls) touches.
    let mut used = BTreeMap::new();
    for (handle, var) in module.global_variables.iter() {
        let (Some(b), use_) = (&var.binding, uses[handle]) else {
            continue;
        };
        if use_.is_empty() {
            continue;
        }
        if b.group != 0 {
            errors.push(format!(
                "{kernel}: uses @group({}) @binding({}); the host binds group 0 only",
                b.group, b.binding
            ));
        } else {
            used.insert(b.binding, use_);
        }
    }

    // The host binds the uniform at 0 and the table's storage buffers.
    let mut expected = BTreeMap::from([(0, false)]);
    for &(binding, writable) in bindings {
        if expected.insert(binding, writable).is_some() {
            errors.push(format!(
                "{kernel}: binding {binding} is listed twice in the host table (or is 0, the uniform)"
            ));
        }
    }

    // (a) The entry point uses exactly {0} ∪ the table's bindings.
    for binding in used.keys().filter(|b| !expected.contains_key(b)) {
        errors.push(format!(
            "{kernel}: binding {binding} is used by {entry} but not in the host table"
        ));
    }
    for binding in expected.keys().filter(|b| !used.contains_key(b)) {
        errors.push(format!(
            "{kernel}: binding {binding} is bound by the host but not used by {entry}"
        ));
    }

    // (b) Binding 0 is the uniform of parameters.
    match group0_global(module, 0) {
        Some((_, var)) if var.space == naga::AddressSpace::Uniform => {}
        Some((_, var)) => errors.push(format!(
            "{kernel}: binding 0 is declared {}, not var<uniform>",
            wgsl_space(var.space)
        )),
        None => errors.push(format!("{kernel}: binding 0 (the uniform) is not declared")),
    }

    for &(binding, writable) in bindings {
        let Some((handle, var)) = group0_global(module, binding) else {
            errors.push(format!(
                "{kernel}: binding {binding} is not declared in WGSL"
            ));
            continue;
        };
        // (c) The declared storage access matches the table.
        let read_write = naga::StorageAccess::LOAD | naga::StorageAccess::STORE;
        match var.space {
            naga::AddressSpace::Storage { access } if writable && access != read_write => errors
                .push(format!(
                    "{kernel}: binding {binding} is writable in the host table but declared \
                     {}, not var<storage, read_write>",
                    wgsl_space(var.space)
                )),
            naga::AddressSpace::Storage { access }
                if !writable && access != naga::StorageAccess::LOAD =>
            {
                errors.push(format!(
                    "{kernel}: binding {binding} is read-only in the host table but declared \
                     {}, not var<storage, read>",
                    wgsl_space(var.space)
                ))
            }
            naga::AddressSpace::Storage { .. } => {}
            space => errors.push(format!(
                "{kernel}: binding {binding} is declared {}, not as a storage buffer",
                wgsl_space(space)
            )),
        }
        // (d) The entry point writes what the table marks writable.
        if writable && !uses[handle].contains(naga::valid::GlobalUse::WRITE) {
            errors.push(format!(
                "{kernel}: binding {binding} is writable in the host table but never written by \
                 {entry}"
            ));
        }
    }
    errors
}

/// (e) Every uniform of `module` fits the host's parameter block.
fn uniform_size_mismatches(name: &str, module: &naga::Module) -> Vec<String> {
    let mut layouter = naga::proc::Layouter::default();
    layouter
        .update(module.to_ctx())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    module
        .global_variables
        .iter()
        .filter(|(_, var)| var.space == naga::AddressSpace::Uniform)
        .filter_map(|(_, var)| {
            let size = layouter[var.ty].size;
            (u64::from(size) > PARAMS_BYTES).then(|| {
                let ty = module.types[var.ty].name.as_deref().unwrap_or("?");
                format!(
                    "{name}: uniform {} ({ty}) is {size} bytes, more than the host's \
                     PARAMS_BYTES = {PARAMS_BYTES}",
                    var.name.as_deref().unwrap_or("?")
                )
            })
        })
        .collect()
}

/// How WGSL spells a member's type (the scalars the host mirrors; anything else verbatim).
fn wgsl_type(module: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
    match module.types[ty].inner {
        naga::TypeInner::Scalar(naga::Scalar::U32) => "u32".into(),
        naga::TypeInner::Scalar(naga::Scalar::I32) => "i32".into(),
        naga::TypeInner::Scalar(naga::Scalar::F32) => "f32".into(),
        ref other => format!("{other:?}"),
    }
}

/// Every way the host's layout of `Params` disagrees with naga's layout of the struct of the
/// uniform at binding 0: member names, offsets and types in order, and the size.
fn layout_mismatches(
    name: &str,
    module: &naga::Module,
    host: &[Member],
    host_size: usize,
) -> Vec<String> {
    let Some((_, uniform)) = group0_global(module, 0) else {
        return vec![format!("{name}: no uniform at binding 0")];
    };
    let ty = &module.types[uniform.ty];
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        return vec![format!("{name}: the uniform at binding 0 is not a struct")];
    };
    let struct_name = ty.name.as_deref().unwrap_or("?");
    // (name, type, offset) of each member, in order.
    let wgsl: Vec<(&str, String, usize)> = members
        .iter()
        .map(|m| {
            let name = m.name.as_deref().unwrap_or("?");
            (name, wgsl_type(module, m.ty), m.offset as usize)
        })
        .collect();
    let host_members: Vec<(&str, String, usize)> = host
        .iter()
        .map(|m| (m.name, m.ty.to_string(), m.offset))
        .collect();
    let show = |m: Option<&(&str, String, usize)>| match m {
        Some((name, ty, offset)) => format!("{name}: {ty} at byte {offset}"),
        None => "nothing".into(),
    };
    let mut errors = Vec::new();
    for i in 0..wgsl.len().max(host_members.len()) {
        let (w, h) = (wgsl.get(i), host_members.get(i));
        if w != h {
            errors.push(format!(
                "{name}: member {i} of {struct_name} is {} in WGSL but {} on the host",
                show(w),
                show(h)
            ));
        }
    }
    if *span as usize != host_size {
        errors.push(format!(
            "{name}: {struct_name} is {span} bytes in WGSL but {host_size} on the host"
        ));
    }
    errors
}

#[test]
fn every_kernel_binding_table_matches_its_wgsl() {
    let mut errors = Vec::new();
    for family in FAMILIES {
        let name = family.file_name();
        let (parsed, info) = parse_family(family);
        errors.extend(uniform_size_mismatches(&name, &parsed));
        for kernel in family.kernels {
            let label = format!("{name}::{}", kernel.entry);
            errors.extend(binding_mismatches(
                &label,
                &parsed,
                &info,
                kernel.entry,
                kernel.bindings,
            ));
        }
    }
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

/// Each check above fails on a table or shader that breaks it.
#[test]
fn binding_checks_catch_each_kind_of_mismatch() {
    const SOURCE: &str = "
        struct Params { n: u32, }
        @group(0) @binding(0) var<uniform> p: Params;
        @group(0) @binding(1) var<storage, read> x: array<f32>;
        @group(0) @binding(2) var<storage, read_write> y: array<f32>;
        @group(0) @binding(3) var<storage, read_write> z: array<f32>;
        @group(1) @binding(0) var<storage, read> elsewhere: array<f32>;

        @compute @workgroup_size(1)
        fn copy(@builtin(global_invocation_id) id: vec3<u32>) {
            if (id.x < p.n) { y[id.x] = x[id.x]; }
        }

        @compute @workgroup_size(1)
        fn read_z(@builtin(global_invocation_id) id: vec3<u32>) {
            if (id.x < p.n) { let v = z[id.x]; }
        }

        @compute @workgroup_size(1)
        fn no_params(@builtin(global_invocation_id) id: vec3<u32>) {
            y[id.x] = 1.0;
        }

        @compute @workgroup_size(1)
        fn other_group(@builtin(global_invocation_id) id: vec3<u32>) {
            if (id.x < p.n) { y[id.x] = elsewhere[id.x]; }
        }
    ";
    let (module, info) = parse_and_validate("test", SOURCE);
    let check = |entry: &str, bindings: &[Binding]| {
        binding_mismatches("K", &module, &info, entry, bindings)
    };
    let fails = |entry: &str, bindings: &[Binding], expected: &[&str]| {
        let errors = check(entry, bindings);
        assert_eq!(
            errors.len(),
            expected.len(),
            "{entry} {bindings:?}: {errors:#?}"
        );
        for (error, expected) in errors.iter().zip(expected) {
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    };

    assert_eq!(
        check("copy", &[(1, false), (2, true)]),
        Vec::<String>::new()
    );
    fails("missing", &[], &["K: no entry point missing"]);
    // (a)
    fails(
        "copy",
        &[(2, true)],
        &["K: binding 1 is used by copy but not in the host table"],
    );
    fails(
        "copy",
        &[(1, false), (2, true), (2, true)],
        &["K: binding 2 is listed twice"],
    );
    fails(
        "copy",
        &[(1, false), (2, true), (7, false)],
        &[
            "K: binding 7 is bound by the host but not used by copy",
            "K: binding 7 is not declared in WGSL",
        ],
    );
    fails(
        "no_params",
        &[(2, true)],
        &["K: binding 0 is bound by the host but not used by no_params"],
    );
    fails(
        "other_group",
        &[(2, true)],
        &["K: uses @group(1) @binding(0); the host binds group 0 only"],
    );
    // (c)
    fails(
        "copy",
        &[(1, false), (2, false)],
        &[
            "K: binding 2 is read-only in the host table but declared var<storage, read_write>, not var<storage, read>",
        ],
    );
    fails(
        "copy",
        &[(1, true), (2, true)],
        &[
            "K: binding 1 is writable in the host table but declared var<storage, read>, not var<storage, read_write>",
            "K: binding 1 is writable in the host table but never written by copy",
        ],
    );
    // (d)
    fails(
        "read_z",
        &[(3, true)],
        &["K: binding 3 is writable in the host table but never written by read_z"],
    );

    // (b)
    const STORAGE_PARAMS: &str = "
        struct Params { n: u32, }
        @group(0) @binding(0) var<storage, read> p: Params;
        @compute @workgroup_size(1)
        fn main(@builtin(global_invocation_id) id: vec3<u32>) { let n = p.n; }
    ";
    let (module, info) = parse_and_validate("test", STORAGE_PARAMS);
    assert_eq!(
        binding_mismatches("K", &module, &info, "main", &[]),
        ["K: binding 0 is declared var<storage, read>, not var<uniform>"]
    );

    // (e)
    const LARGE_PARAMS: &str = "
        struct Params { a: array<vec4<u32>, 4>, b: u32, }
        @group(0) @binding(0) var<uniform> p: Params;
        @compute @workgroup_size(1)
        fn main(@builtin(global_invocation_id) id: vec3<u32>) { let n = p.b; }
    ";
    let (module, _) = parse_and_validate("test", LARGE_PARAMS);
    assert_eq!(
        uniform_size_mismatches("test", &module),
        ["test: uniform p (Params) is 80 bytes, more than the host's PARAMS_BYTES = 64"]
    );
}

/// The layout check fails on a host struct with swapped, missing, retyped or extra members.
#[test]
fn layout_check_catches_each_kind_of_mismatch() {
    const SOURCE: &str = "
        struct Params { n: u32, x_off: u32, scale: f32, _pad: u32, }
        @group(0) @binding(0) var<uniform> p: Params;
        @compute @workgroup_size(1)
        fn main(@builtin(global_invocation_id) id: vec3<u32>) { let n = p.n; }
    ";
    let (module, _) = parse_and_validate("test", SOURCE);
    const fn m(name: &'static str, offset: usize, ty: &'static str) -> Member {
        Member { name, offset, ty }
    }
    let check = |members: &[Member], size: usize| layout_mismatches("test", &module, members, size);
    const SAME: [Member; 4] = [
        m("n", 0, "u32"),
        m("x_off", 4, "u32"),
        m("scale", 8, "f32"),
        m("_pad", 12, "u32"),
    ];
    assert_eq!(check(&SAME, 16), Vec::<String>::new());
    assert_eq!(
        check(
            &[m("x_off", 0, "u32"), m("n", 4, "u32"), SAME[2], SAME[3]],
            16
        ),
        [
            "test: member 0 of Params is n: u32 at byte 0 in WGSL but x_off: u32 at byte 0 on the host",
            "test: member 1 of Params is x_off: u32 at byte 4 in WGSL but n: u32 at byte 4 on the host",
        ]
    );
    assert_eq!(
        check(&[SAME[0], SAME[1], m("scale", 8, "u32"), SAME[3]], 16),
        [
            "test: member 2 of Params is scale: f32 at byte 8 in WGSL but scale: u32 at byte 8 on the host"
        ]
    );
    assert_eq!(
        check(&[SAME[0], SAME[1], SAME[2]], 12),
        [
            "test: member 3 of Params is _pad: u32 at byte 12 in WGSL but nothing on the host",
            "test: Params is 16 bytes in WGSL but 12 on the host",
        ]
    );
    assert_eq!(
        check(
            &[SAME[0], SAME[1], SAME[2], SAME[3], m("extra", 16, "u32")],
            20
        ),
        [
            "test: member 4 of Params is nothing in WGSL but extra: u32 at byte 16 on the host",
            "test: Params is 16 bytes in WGSL but 20 on the host",
        ]
    );
}

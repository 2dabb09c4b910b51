//! What gengpu needs of a device, and the limits it opens the device with: WebGPU's
//! `Limits::downlevel_defaults()` (what GL ES 3.1 and older GPUs guarantee), raised only where
//! gengpu needs or gains from more, and never past what the adapter offers.
//!
//! `GENGPU_LIMITS=downlevel` opens the device as if the adapter offered no more than the
//! downlevel defaults, so that the GPU tests prove the kernels run there.

use std::sync::OnceLock;

use super::kernels::FAMILIES;
use super::kernels::PARAMS_BYTES;
use crate::backend::{BackendError, Result};

/// The environment variable that chooses the [`LimitsMode`].
pub const LIMITS_VARIABLE: &str = "GENGPU_LIMITS";

/// Up to what the device is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum LimitsMode {
    /// Up to the adapter's limits (`GENGPU_LIMITS` unset).
    Adapter,
    /// Up to `Limits::downlevel_defaults()`, whatever the adapter offers beyond them
    /// (`GENGPU_LIMITS=downlevel`).
    Downlevel,
}

impl LimitsMode {
    /// The mode `GENGPU_LIMITS` asks for.
    pub fn from_env() -> Result<Self> {
        match std::env::var(LIMITS_VARIABLE) {
            Err(_) => Ok(LimitsMode::Adapter),
            Ok(v) if v.is_empty() => Ok(LimitsMode::Adapter),
            Ok(v) if v.eq_ignore_ascii_case("downlevel") => Ok(LimitsMode::Downlevel),
            Ok(value) => Err(BackendError::Environment {
                variable: LIMITS_VARIABLE,
                value,
                expected: "`downlevel`, or unset for the adapter's limits",
            }),
        }
    }

    /// The most the device may be opened with on an adapter that offers `offered`.
    fn ceiling(self, offered: &wgpu::Limits) -> wgpu::Limits {
        match self {
            LimitsMode::Adapter => offered.clone(),
            LimitsMode::Downlevel => {
                wgpu::Limits::downlevel_defaults().or_worse_values_from(offered)
            }
        }
    }
}

impl std::fmt::Display for LimitsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitsMode::Adapter => f.write_str(
                "downlevel defaults, raised to the adapter's where gengpu gains from more",
            ),
            LimitsMode::Downlevel => {
                write!(
                    f,
                    "{LIMITS_VARIABLE}=downlevel: the downlevel defaults only"
                )
            }
        }
    }
}

/// What the kernels need, read from their registry ([`FAMILIES`]) and their WGSL (naga).
#[derive(Clone, Copy, Debug)]
struct KernelNeeds {
    /// Most storage buffers one kernel binds.
    storage_buffers: u32,
    /// One more than the highest binding number.
    bindings: u32,
    /// Largest workgroup, in invocations, and per dimension.
    invocations: u32,
    size: [u32; 3],
    /// Most workgroup memory one family declares, in bytes.
    workgroup_bytes: u32,
}

fn kernel_needs() -> Result<KernelNeeds> {
    static NEEDS: OnceLock<std::result::Result<KernelNeeds, String>> = OnceLock::new();
    NEEDS
        .get_or_init(read_kernel_needs)
        .clone()
        .map_err(BackendError::Shader)
}

fn read_kernel_needs() -> std::result::Result<KernelNeeds, String> {
    let mut needs = KernelNeeds {
        storage_buffers: 0,
        bindings: 1,
        invocations: 1,
        size: [1; 3],
        workgroup_bytes: 0,
    };
    for family in FAMILIES {
        let source = family.source();
        let module = naga::front::wgsl::parse_str(&source)
            .map_err(|e| format!("{}: {}", family.file_name(), e.emit_to_string(&source)))?;
        let mut layouter = naga::proc::Layouter::default();
        layouter
            .update(module.to_ctx())
            .map_err(|e| format!("{}: {e}", family.file_name()))?;
        let workgroup_bytes = module
            .global_variables
            .iter()
            .filter(|(_, var)| var.space == naga::AddressSpace::WorkGroup)
            .map(|(_, var)| layouter[var.ty].size)
            .sum::<u32>();
        needs.workgroup_bytes = needs.workgroup_bytes.max(workgroup_bytes);
        for kernel in family.kernels {
            let entry = module
                .entry_points
                .iter()
                .find(|e| e.name == kernel.entry)
                .ok_or_else(|| {
                    format!("{}: no entry point {}", family.file_name(), kernel.entry)
                })?;
            let size = entry.workgroup_size;
            needs.invocations = needs.invocations.max(size.iter().product());
            for (need, dim) in needs.size.iter_mut().zip(size) {
                *need = (*need).max(dim);
            }
            needs.storage_buffers = needs.storage_buffers.max(kernel.bindings.len() as u32);
            for &(binding, _) in kernel.bindings {
                needs.bindings = needs.bindings.max(binding + 1);
            }
        }
    }
    Ok(needs)
}

/// A limit an adapter offers less of than gengpu needs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shortfall {
    /// The field of `wgpu::Limits`.
    pub limit: &'static str,
    pub needed: u64,
    pub offered: u64,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is {}, gengpu needs {}",
            self.limit, self.offered, self.needed
        )
    }
}

/// How gengpu sets one limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Rule {
    /// The kernels need at least this much: asked as the downlevel value or the need if larger;
    /// an adapter that offers less cannot run gengpu.
    Needs(u64),
    /// How much depends on the model and data: asked as much as allowed, and each buffer and
    /// dispatch is checked against it when made, with an error that names the limit.
    Sizes,
    /// Smaller is better and nothing depends on it: asked as small as allowed.
    Alignment,
}

/// One limit gengpu sets: what it needs, asks for, and what the adapter offers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LimitRow {
    /// The field of `wgpu::Limits`.
    pub name: &'static str,
    pub rule: Rule,
    /// `Limits::downlevel_defaults()`'s value.
    pub downlevel: u64,
    /// What the device is opened with.
    pub asked: u64,
    /// What the adapter offers.
    pub offered: u64,
}

/// A field of `wgpu::Limits`, read and written as u64.
struct Field {
    name: &'static str,
    get: fn(&wgpu::Limits) -> u64,
    set: fn(&mut wgpu::Limits, u64),
}

macro_rules! field {
    ($name:ident) => {
        Field {
            name: stringify!($name),
            get: |l| u64::from(l.$name),
            // Values come from another `Limits`' same field, or are a need no larger than it.
            set: |l, v| l.$name = v.try_into().unwrap_or(l.$name),
        }
    };
}

/// Every limit gengpu sets, and why.
fn rules(needs: &KernelNeeds) -> [(Field, Rule); 16] {
    let need = |v: u32| Rule::Needs(u64::from(v));
    [
        // Every kernel fits the downlevel 4 (tests/limits.rs checks the registry).
        (
            field!(max_storage_buffers_per_shader_stage),
            need(needs.storage_buffers),
        ),
        // Its storage buffers and the parameter uniform.
        (
            field!(max_buffers_and_acceleration_structures_per_shader_stage),
            need(needs.storage_buffers + 1),
        ),
        // The parameter block of each dispatch: one uniform, bound at a dynamic offset.
        (field!(max_uniform_buffers_per_shader_stage), need(1)),
        (
            field!(max_dynamic_uniform_buffers_per_pipeline_layout),
            need(1),
        ),
        (
            field!(max_uniform_buffer_binding_size),
            need(PARAMS_BYTES as u32),
        ),
        (field!(max_bind_groups), need(1)),
        (field!(max_bindings_per_bind_group), need(needs.bindings)),
        // The workgroup sizes the kernels declare (256 invocations at most, within downlevel).
        (
            field!(max_compute_invocations_per_workgroup),
            need(needs.invocations),
        ),
        (field!(max_compute_workgroup_size_x), need(needs.size[0])),
        (field!(max_compute_workgroup_size_y), need(needs.size[1])),
        (field!(max_compute_workgroup_size_z), need(needs.size[2])),
        // The reductions' partial sums.
        (
            field!(max_compute_workgroup_storage_size),
            need(needs.workgroup_bytes),
        ),
        // Datasets and wide layers fit where the hardware allows: every tensor is one buffer
        // bound whole, and `GpuContext::check_size` names the limit a buffer exceeds.
        (field!(max_storage_buffer_binding_size), Rule::Sizes),
        (field!(max_buffer_size), Rule::Sizes),
        // Elementwise kernels spread past it into a second dimension; a matmul's tile grid
        // cannot, and is refused past it (`DispatchTooLarge`).
        (field!(max_compute_workgroups_per_dimension), Rule::Sizes),
        // The stride of the parameter arena's slots: smaller means fewer bytes uploaded.
        (field!(min_uniform_buffer_offset_alignment), Rule::Alignment),
    ]
}

/// The limits gengpu opens a device with on an adapter, and what it needs.
#[derive(Clone, Debug)]
pub struct LimitPlan {
    /// The `required_limits` of the device: never past what the adapter offers.
    pub limits: wgpu::Limits,
    pub rows: Vec<LimitRow>,
    /// What the adapter (under the mode) lacks; empty if gengpu can run on it.
    pub shortfalls: Vec<Shortfall>,
}

/// The limits to ask of an adapter that offers `offered`, under `mode`: the downlevel
/// defaults (clamped to the adapter's where it offers less), each limit of [`rules`] raised to
/// what gengpu needs or gains from, and what it lacks.
pub fn plan_limits(offered: &wgpu::Limits, mode: LimitsMode) -> Result<LimitPlan> {
    let needs = kernel_needs()?;
    let ceiling = mode.ceiling(offered);
    let mut limits = wgpu::Limits::downlevel_defaults().or_worse_values_from(&ceiling);
    let downlevel = wgpu::Limits::downlevel_defaults();
    let mut rows = Vec::new();
    let mut shortfalls = Vec::new();
    for (field, rule) in rules(&needs) {
        let allowed = (field.get)(&ceiling);
        let asked = match rule {
            Rule::Needs(need) => {
                if need > allowed {
                    shortfalls.push(Shortfall {
                        limit: field.name,
                        needed: need,
                        offered: allowed,
                    });
                }
                (field.get)(&limits).max(need).min(allowed)
            }
            Rule::Sizes | Rule::Alignment => allowed,
        };
        (field.set)(&mut limits, asked);
        rows.push(LimitRow {
            name: field.name,
            rule,
            downlevel: (field.get)(&downlevel),
            asked,
            offered: (field.get)(offered),
        });
    }
    Ok(LimitPlan {
        limits,
        rows,
        shortfalls,
    })
}

//! The kernels, one host file per WGSL family: `kernels/X.rs` owns `shaders/X.wgsl` — its
//! source as compiled, its entry points and bindings, its `Params` struct, its workgroup sizes
//! and its launch code. Its CPU twin is `src/backend/cpu/X.rs` and its parity test
//! `tests/parity_X.rs`, so one name finds all four.
//!
//! This file holds what the families share, and the registry of them all ([`FAMILIES`]): the
//! recorder builds every pipeline from it up front, and `tests/shaders.rs` checks every
//! family's WGSL against its host side.

use super::GpuBackend;
use crate::backend::{BackendError, BufferId, Result};

/// Defines a family's parameter struct: `#[repr(C)]` and `Pod`, so that its bytes are the
/// uniform block the WGSL `Params` reads, with its members listed (for the layout test against
/// naga's) and its size checked against the parameter slot at compile time.
macro_rules! shader_params {
    ($(#[$attr:meta])* struct $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$attr])*
        #[repr(C)]
        #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        struct $name {
            $($field: $ty),*
        }

        impl super::ShaderParams for $name {
            const MEMBERS: &'static [super::Member] = &[$(super::Member {
                name: stringify!($field),
                offset: std::mem::offset_of!($name, $field),
                ty: stringify!($ty),
            }),*];
        }

        const _: () = assert!(size_of::<$name>() <= super::PARAMS_BYTES as usize);
    };
}

/// The host constants a family prepends to its WGSL (workgroup sizes), each under its Rust
/// name, so that the number is written once.
macro_rules! wgsl_constants {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), $name)),*]
    };
}

pub(super) mod adam;
pub(super) mod batchnorm;
pub(super) mod conv;
pub(super) mod data;
pub(super) mod elementwise;
pub(super) mod latent;
pub(super) mod loss;
pub(super) mod matmul;
pub(super) mod probe;
pub(super) mod random;
pub(super) mod reduce;
pub(super) mod step;

/// Bytes of one dispatch's parameters (16 words; every family's `Params` is checked to fit
/// when it is defined).
pub const PARAMS_BYTES: u64 = 64;

/// Every family, for building every pipeline up front and for tests.
pub static FAMILIES: [&Family; 13] = [
    &matmul::FAMILY,
    &matmul::SUBGROUP_FAMILY,
    &elementwise::FAMILY,
    &reduce::FAMILY,
    &random::FAMILY,
    &latent::FAMILY,
    &loss::FAMILY,
    &adam::FAMILY,
    &data::FAMILY,
    &batchnorm::FAMILY,
    &conv::FAMILY,
    &probe::FAMILY,
    &step::FAMILY,
];

/// Prepended to every family (WGSL has no includes).
const COMMON: &str = include_str!("../../../../shaders/common.wgsl");
/// WGSL shared by several families, prepended to those that use it (WGSL has no includes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prelude {
    /// `shaders/activation.wgsl`: the activations and their derivatives.
    Activation,
    /// `shaders/hash.wgsl`: the counter-based generator's integer hash.
    Hash,
    /// `shaders/matmul_io.wgsl`: the matmul families' parameters, bindings and epilogue.
    MatmulIo,
}

impl Prelude {
    fn source(self) -> &'static str {
        match self {
            Prelude::Activation => include_str!("../../../../shaders/activation.wgsl"),
            Prelude::Hash => include_str!("../../../../shaders/hash.wgsl"),
            Prelude::MatmulIo => include_str!("../../../../shaders/matmul_io.wgsl"),
        }
    }
}

/// A WGSL file of `shaders/` (not a prelude) and what the host knows of it.
pub struct Family {
    /// The name shared by `shaders/X.wgsl`, `kernels/X.rs`, `cpu/X.rs`, `tests/parity_X.rs`.
    pub name: &'static str,
    /// The file's own WGSL, without preludes.
    wgsl: &'static str,
    /// The shared WGSL prepended to it.
    preludes: &'static [Prelude],
    /// `const NAME: u32 = value;` declarations prepended, owned by the host.
    constants: &'static [(&'static str, u32)],
    /// The layout of the host's twin of the WGSL `Params` struct.
    pub params: ParamsLayout,
    /// Its entry points.
    pub kernels: &'static [&'static Kernel],
    /// The subgroup width its kernels are written for, if they use subgroup operations: the
    /// family is built only on a device whose subgroups are exactly that wide.
    pub subgroup_lanes: Option<u32>,
}

impl Family {
    /// What naga must allow to validate it: subgroup operations for the subgroup families.
    pub fn capabilities(&self) -> naga::valid::Capabilities {
        match self.subgroup_lanes {
            Some(_) => naga::valid::Capabilities::SUBGROUP,
            None => naga::valid::Capabilities::empty(),
        }
    }

    /// Whether a device with subgroups `lanes` wide (`None`: no subgroup operations) runs it.
    pub fn runs_on(&self, lanes: Option<u32>) -> bool {
        self.subgroup_lanes.is_none() || self.subgroup_lanes == lanes
    }

    /// The file name under `shaders/`.
    pub fn file_name(&self) -> String {
        format!("{}.wgsl", self.name)
    }

    /// The complete WGSL source, as compiled: host constants, then the preludes, then the file.
    pub fn source(&self) -> String {
        let constants: String = self
            .constants
            .iter()
            .map(|(name, value)| format!("const {name}: u32 = {value}u;\n"))
            .collect();
        let preludes: String = self
            .preludes
            .iter()
            .map(|prelude| format!("{}\n", prelude.source()))
            .collect();
        format!("{constants}{COMMON}\n{preludes}\n{}", self.wgsl)
    }
}

/// A storage binding of a kernel: its index and whether the kernel writes it.
pub type Binding = (u32, bool);

const R: bool = false;
const W: bool = true;

/// One compute pipeline: an entry point of a family and the storage bindings it uses, in the
/// order its launch passes buffers. Binding 0 is always the dynamic-offset uniform of
/// parameters. Entry points are unique across families: they name the pipeline.
pub struct Kernel {
    pub family: &'static Family,
    pub entry: &'static str,
    pub bindings: &'static [Binding],
}

/// A host struct that mirrors a WGSL `Params` struct member for member (see
/// `shader_params!`): its bytes are uploaded as the kernel's uniform block.
pub trait ShaderParams: bytemuck::Pod {
    /// The members in declaration order.
    const MEMBERS: &'static [Member];
}

/// A member of a [`ShaderParams`] struct, named as in WGSL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: &'static str,
    /// Bytes from the start of the struct.
    pub offset: usize,
    /// The Rust type, spelled as WGSL spells it (`u32`, `f32`).
    pub ty: &'static str,
}

/// The members and size of a [`ShaderParams`] struct.
#[derive(Clone, Copy, Debug)]
pub struct ParamsLayout {
    pub members: &'static [Member],
    pub size: usize,
}

impl ParamsLayout {
    const fn of<P: ShaderParams>() -> Self {
        ParamsLayout {
            members: P::MEMBERS,
            size: size_of::<P>(),
        }
    }
}

/// An element count or offset as the kernels' 32-bit index: what does not fit is refused
/// rather than wrapped.
fn index(kernel: &Kernel, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| BackendError::Shape {
        op: kernel.entry,
        detail: format!("{n} is past the kernels' 32-bit element indices"),
    })
}

/// Launches a kernel of one invocation per element over `threads` elements, in 1-d
/// workgroups of `group` invocations (the WGSL computes its index with `linear_index`).
fn launch_linear<P: ShaderParams>(
    gpu: &mut GpuBackend,
    kernel: &Kernel,
    group: u32,
    threads: usize,
    buffers: &[BufferId],
    params: &P,
) -> Result<()> {
    let groups = gpu.groups_for(threads, group);
    gpu.run(kernel, buffers, params, groups)
}

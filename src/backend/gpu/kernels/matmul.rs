//! `C = act(op(A)·op(B) + bias)` in several variants: a general strided kernel for every
//! transpose form and shape, register-blocked vec4 kernels of two block sizes for one form
//! each where the operands allow, a workgroup-memory tiled kernel for every form, and, on
//! devices with 8-wide subgroups, kernels whose subgroups share their loads. Which variant runs
//! is chosen per shape class by timing them on the device (`gpu/tune.rs`), or is the default
//! where tuning is off.
//!
//! WGSL `shaders/matmul.wgsl`, and `shaders/matmul_subgroup.wgsl` for the subgroup variants (a
//! family of its own: a module that uses subgroup operations compiles only on devices that
//! have them), both with the prelude `shaders/matmul_io.wgsl`; CPU twin
//! `src/backend/cpu/matmul.rs`; parity test `tests/parity_matmul.rs` (every variant the device
//! runs).

use super::{Family, Kernel, ParamsLayout, Prelude, R, W, index};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Activation, BackendError, MatmulForm, Result, Tensor};

/// Invocations along each side of a register-blocked kernel's workgroup.
const GROUP_SIDE: u32 = 8;
/// Invocations along each side of `matmul_tiled`'s workgroup (each computes a 4×4 block).
const TILE_SIDE: u32 = 16;
/// The subgroup width the subgroup variants are written for (their broadcasts name each lane).
const SUBGROUP_LANES: u32 = 8;
/// Subgroups in a workgroup of the subgroup variants, one above the other and side by side:
/// a 64 × 64 tile, which fits the GAN's 64-row batches as well as the VAE's 128 (a 128 × 32
/// tile left half of each 64-row product's subgroups idle).
const SUBGROUP_ROWS: u32 = 4;
const SUBGROUP_COLS: u32 = 2;
/// Rows and columns of C one subgroup computes: two rows per lane, four columns per lane.
const SUBGROUP_TILE: (usize, usize) = (2 * SUBGROUP_LANES as usize, 4 * SUBGROUP_LANES as usize);

shader_params! {
    /// `Params` of matmul.wgsl, shared by every variant.
    struct Params {
        m: u32, n: u32, k: u32, has_bias: u32,
        a_off: u32, b_off: u32, bias_off: u32, c_off: u32,
        a_row: u32, a_k: u32, b_k: u32, b_col: u32,
        act: u32, slope: f32, _pad0: u32, _pad1: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "matmul",
    wgsl: include_str!("../../../../shaders/matmul.wgsl"),
    preludes: &[Prelude::Activation, Prelude::MatmulIo],
    constants: wgsl_constants![GROUP_SIDE, TILE_SIDE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[
        &MATMUL, &TILED, &NT_VEC4, &NT_8X4, &NN_VEC4, &NN_8X8, &TN_VEC4, &TN_8X8,
    ],
    subgroup_lanes: None,
};

/// The variants that share loads across a subgroup (`shaders/matmul_subgroup.wgsl`).
pub(crate) static SUBGROUP_FAMILY: Family = Family {
    name: "matmul_subgroup",
    wgsl: include_str!("../../../../shaders/matmul_subgroup.wgsl"),
    preludes: &[Prelude::Activation, Prelude::MatmulIo],
    constants: wgsl_constants![SUBGROUP_LANES, SUBGROUP_ROWS, SUBGROUP_COLS],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&NN_SG8, &NT_SG8, &TN_SG8],
    subgroup_lanes: Some(SUBGROUP_LANES),
};

/// The storage bindings of the strided kernels.
const STRIDED_BINDINGS: &[super::Binding] = &[(1, R), (2, R), (3, R), (4, W)];
/// The storage bindings of the vec4 variants: A and B as `array<vec4<f32>>`.
const VEC4_BINDINGS: &[super::Binding] = &[(5, R), (6, R), (3, R), (4, W)];

/// A kernel of the family with its bindings.
const fn kernel(entry: &'static str, bindings: &'static [super::Binding]) -> Kernel {
    kernel_of(&FAMILY, entry, bindings)
}

/// A kernel of `family` with its bindings.
const fn kernel_of(
    family: &'static Family,
    entry: &'static str,
    bindings: &'static [super::Binding],
) -> Kernel {
    Kernel {
        family,
        entry,
        bindings,
    }
}

static MATMUL: Kernel = kernel("matmul", STRIDED_BINDINGS);
static TILED: Kernel = kernel("matmul_tiled", STRIDED_BINDINGS);
static NT_VEC4: Kernel = kernel("matmul_nt_vec4", VEC4_BINDINGS);
static NT_8X4: Kernel = kernel("matmul_nt_8x4", VEC4_BINDINGS);
static NN_VEC4: Kernel = kernel("matmul_nn_vec4", VEC4_BINDINGS);
static NN_8X8: Kernel = kernel("matmul_nn_8x8", VEC4_BINDINGS);
static TN_VEC4: Kernel = kernel("matmul_tn_vec4", VEC4_BINDINGS);
static TN_8X8: Kernel = kernel("matmul_tn_8x8", VEC4_BINDINGS);
static NN_SG8: Kernel = kernel_of(&SUBGROUP_FAMILY, "matmul_nn_sg8", VEC4_BINDINGS);
static NT_SG8: Kernel = kernel_of(&SUBGROUP_FAMILY, "matmul_nt_sg8", VEC4_BINDINGS);
static TN_SG8: Kernel = kernel_of(&SUBGROUP_FAMILY, "matmul_tn_sg8", VEC4_BINDINGS);

/// What a variant asks of the operands beyond a valid product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Needs {
    /// Nothing: strided loads serve every form and shape.
    Nothing,
    /// One form, vec4 loads: offsets of A and B multiples of 4, and these dimensions
    /// multiples of these numbers (1: any).
    Vec4 {
        form: MatmulForm,
        m: usize,
        n: usize,
        k: usize,
    },
}

/// One way of computing a matmul: a kernel and the C tile one workgroup computes.
pub struct Variant {
    /// The name tuning caches and `gengpu bench` shows.
    pub name: &'static str,
    kernel: &'static Kernel,
    /// Rows and columns of C per workgroup.
    tile: (usize, usize),
    needs: Needs,
}

impl Variant {
    /// Whether the variant computes this product of these operands on a device whose
    /// subgroups are `lanes` wide.
    fn fits(
        &self,
        form: MatmulForm,
        (m, n, k): (usize, usize, usize),
        a: &Tensor,
        b: &Tensor,
        lanes: Option<u32>,
    ) -> bool {
        if !self.runs_on(lanes) {
            return false;
        }
        match self.needs {
            Needs::Nothing => true,
            Needs::Vec4 {
                form: f,
                m: mm,
                n: nn,
                k: kk,
            } => {
                f == form
                    && a.offset.is_multiple_of(4)
                    && b.offset.is_multiple_of(4)
                    && m.is_multiple_of(mm)
                    && n.is_multiple_of(nn)
                    && k.is_multiple_of(kk)
            }
        }
    }
}

impl Variant {
    /// Whether a device whose subgroups are `lanes` wide runs it (its family is built there).
    pub fn runs_on(&self, lanes: Option<u32>) -> bool {
        self.kernel.family.runs_on(lanes)
    }
}

/// Register blocks of `rows × cols` per invocation in workgroups of `GROUP_SIDE²`.
const fn blocked(rows: usize, cols: usize) -> (usize, usize) {
    (GROUP_SIDE as usize * rows, GROUP_SIDE as usize * cols)
}

/// The C tile of a workgroup of the subgroup variants: its subgroups' tiles.
const fn subgroup_tile() -> (usize, usize) {
    (
        SUBGROUP_ROWS as usize * SUBGROUP_TILE.0,
        SUBGROUP_COLS as usize * SUBGROUP_TILE.1,
    )
}

const fn vec4(form: MatmulForm, m: usize, n: usize, k: usize) -> Needs {
    Needs::Vec4 { form, m, n, k }
}

/// Every variant, in order of preference when tuning is off: for each form the first that fits
/// is the default (the register-blocked vec4 kernels, which were measured best on llvmpipe),
/// and the general kernel fits everything.
pub static VARIANTS: [Variant; 11] = [
    Variant {
        name: "nt_vec4_4x4",
        kernel: &NT_VEC4,
        tile: blocked(4, 4),
        needs: vec4(MatmulForm::NT, 1, 1, 4),
    },
    Variant {
        name: "nn_vec4_4x8",
        kernel: &NN_VEC4,
        tile: blocked(4, 8),
        needs: vec4(MatmulForm::NN, 1, 8, 4),
    },
    Variant {
        name: "tn_vec4_4x8",
        kernel: &TN_VEC4,
        tile: blocked(4, 8),
        needs: vec4(MatmulForm::TN, 4, 8, 1),
    },
    Variant {
        name: "general_4x4",
        kernel: &MATMUL,
        tile: blocked(4, 4),
        needs: Needs::Nothing,
    },
    Variant {
        name: "nt_vec4_8x4",
        kernel: &NT_8X4,
        tile: blocked(8, 4),
        needs: vec4(MatmulForm::NT, 1, 1, 4),
    },
    Variant {
        name: "nn_vec4_8x8",
        kernel: &NN_8X8,
        tile: blocked(8, 8),
        needs: vec4(MatmulForm::NN, 1, 8, 4),
    },
    Variant {
        name: "tn_vec4_8x8",
        kernel: &TN_8X8,
        tile: blocked(8, 8),
        needs: vec4(MatmulForm::TN, 8, 8, 1),
    },
    Variant {
        name: "nn_sg8_16x4",
        kernel: &NN_SG8,
        tile: subgroup_tile(),
        needs: vec4(MatmulForm::NN, 1, 4, 4),
    },
    Variant {
        name: "nt_sg8_16x4",
        kernel: &NT_SG8,
        tile: subgroup_tile(),
        needs: vec4(MatmulForm::NT, 1, 1, 4),
    },
    Variant {
        name: "tn_sg8_16x4",
        kernel: &TN_SG8,
        tile: subgroup_tile(),
        needs: vec4(MatmulForm::TN, 4, 4, 1),
    },
    Variant {
        name: "tiled_64x64",
        kernel: &TILED,
        tile: (4 * TILE_SIDE as usize, 4 * TILE_SIDE as usize),
        needs: Needs::Nothing,
    },
];

/// The variants that compute this product on a device whose subgroups are `lanes` wide, the
/// default first.
pub(crate) fn candidates(
    form: MatmulForm,
    dims: (usize, usize, usize),
    a: &Tensor,
    b: &Tensor,
    lanes: Option<u32>,
) -> Vec<&'static Variant> {
    VARIANTS
        .iter()
        .filter(|v| v.fits(form, dims, a, b, lanes))
        .collect()
}

/// The variant named `name`, if there is one.
pub fn variant_named(name: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.name == name)
}

/// `c = act(op(a)·op(b) + bias)` with the `(m, n, k)` validation found.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    gpu: &mut GpuBackend,
    form: MatmulForm,
    (m, n, k): (usize, usize, usize),
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    act: Activation,
    c: &Tensor,
) -> Result<()> {
    let variant = super::super::tune::choose(gpu, form, (m, n, k), a, b, c)?;
    record(gpu, variant, form, (m, n, k), a, b, bias, act, c)
}

/// Records `variant` (which must fit the operands) computing `c = act(op(a)·op(b) + bias)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    gpu: &mut GpuBackend,
    variant: &Variant,
    form: MatmulForm,
    (m, n, k): (usize, usize, usize),
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    act: Activation,
    c: &Tensor,
) -> Result<()> {
    let kernel = variant.kernel;
    gpu.recorder.counters.matmul_flop += crate::backend::matmul_flop((m, n, k));
    let [a_row, a_k, b_k, b_col] = form.strides(m, n, k);
    // Without a bias, bind A in its place: the kernel does not read it.
    let bias_tensor = bias.unwrap_or(a);
    let ix = |v| index(kernel, v);
    let p = Params {
        m: ix(m)?,
        n: ix(n)?,
        k: ix(k)?,
        has_bias: u32::from(bias.is_some()),
        a_off: ix(a.offset)?,
        b_off: ix(b.offset)?,
        bias_off: ix(bias_tensor.offset)?,
        c_off: ix(c.offset)?,
        a_row: ix(a_row)?,
        a_k: ix(a_k)?,
        b_k: ix(b_k)?,
        b_col: ix(b_col)?,
        act: act.code(),
        slope: act.slope(),
        _pad0: 0,
        _pad1: 0,
    };
    let (tile_rows, tile_cols) = variant.tile;
    let (x, y) = (n.div_ceil(tile_cols), m.div_ceil(tile_rows));
    let max = gpu.ctx.limits.max_compute_workgroups_per_dimension;
    if x.max(y) > max as usize {
        return Err(BackendError::DispatchTooLarge {
            what: format!("a {m}×{n} matmul"),
            groups: x.max(y) as u64,
            limit: u64::from(max),
            device: gpu.ctx.adapter.name.clone(),
        });
    }
    // Both fit in u32: they are at most `max`.
    let groups = (x as u32, y as u32);
    gpu.run(
        kernel,
        &[a.buffer, b.buffer, bias_tensor.buffer, c.buffer],
        &p,
        groups,
    )
}

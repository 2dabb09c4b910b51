//! `C = act(op(A)·op(B) + bias)`: a general strided kernel for every transpose form, and vec4
//! variants for one form each where the operands allow. Each invocation computes a block of C
//! in registers; the variant is chosen per call from the shapes and offsets.
//!
//! WGSL `shaders/matmul.wgsl`; CPU twin `src/backend/cpu/matmul.rs`; parity test
//! `tests/parity_matmul.rs`.

use super::{Family, Kernel, ParamsLayout, R, W, index};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Activation, BackendError, MatmulForm, Result, Tensor};

/// Invocations along each side of a workgroup (`@workgroup_size(GROUP_SIDE, GROUP_SIDE)`).
const GROUP_SIDE: u32 = 8;

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
    activation: true,
    constants: wgsl_constants![GROUP_SIDE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&MATMUL, &NT_VEC4, &NN_VEC4, &TN_VEC4],
};

/// The storage bindings of the vec4 variants: A and B as `array<vec4<f32>>`.
const VEC4_BINDINGS: &[super::Binding] = &[(5, R), (6, R), (3, R), (4, W)];

static MATMUL: Kernel = Kernel {
    family: &FAMILY,
    entry: "matmul",
    bindings: &[(1, R), (2, R), (3, R), (4, W)],
};

static NT_VEC4: Kernel = Kernel {
    family: &FAMILY,
    entry: "matmul_nt_vec4",
    bindings: VEC4_BINDINGS,
};

static NN_VEC4: Kernel = Kernel {
    family: &FAMILY,
    entry: "matmul_nn_vec4",
    bindings: VEC4_BINDINGS,
};

static TN_VEC4: Kernel = Kernel {
    family: &FAMILY,
    entry: "matmul_tn_vec4",
    bindings: VEC4_BINDINGS,
};

/// Rows × columns of the C block one invocation computes (`r0 = gid.y * 4u`,
/// `c0 = gid.x * 4u` or `8u` in the WGSL).
type Block = (usize, usize);

/// The fastest matmul kernel the operands allow, with its block: a vec4 form where the
/// dimensions read contiguously and the offsets are multiples of 4, else the general strided
/// kernel.
fn matmul_kernel(
    form: MatmulForm,
    m: usize,
    n: usize,
    k: usize,
    a: &Tensor,
    b: &Tensor,
) -> (&'static Kernel, Block) {
    let whole = |x: usize| x.is_multiple_of(4);
    let aligned = whole(a.offset) && whole(b.offset);
    match form {
        MatmulForm::NT if whole(k) && aligned => (&NT_VEC4, (4, 4)),
        MatmulForm::NN if whole(k) && n.is_multiple_of(8) && aligned => (&NN_VEC4, (4, 8)),
        MatmulForm::TN if whole(m) && n.is_multiple_of(8) && aligned => (&TN_VEC4, (4, 8)),
        _ => (&MATMUL, (4, 4)),
    }
}

/// Rows and columns of the C tile one workgroup computes: `GROUP_SIDE²` invocations of one
/// block each.
fn matmul_tile((rows, cols): Block) -> (usize, usize) {
    let side = GROUP_SIDE as usize;
    (side * rows, side * cols)
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
    let (kernel, block) = matmul_kernel(form, m, n, k, a, b);
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
    let (tile_rows, tile_cols) = matmul_tile(block);
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

/// The kernel [`matmul`] runs for these operands.
pub(crate) fn variant_name(
    _gpu: &mut GpuBackend,
    form: MatmulForm,
    (m, n, k): (usize, usize, usize),
    a: &Tensor,
    b: &Tensor,
) -> Result<String> {
    Ok(matmul_kernel(form, m, n, k, a, b).0.entry.to_string())
}

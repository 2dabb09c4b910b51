//! Convolution patches (im2col) and their adjoint with a fused bias and activation (col2im),
//! over channels-last images: with them a convolution, its gradients and a transposed
//! convolution are the (autotuned) matmul between two gathers.
//!
//! WGSL `shaders/conv.wgsl`; CPU twin `src/backend/cpu/conv.rs`; parity test
//! `tests/parity_conv.rs`.

use super::{Family, Kernel, ParamsLayout, Prelude, R, W, index, launch_linear};
use crate::backend::gpu::GpuBackend;
use crate::backend::{Activation, ConvGeometry, Result, Tensor};

/// Invocations per workgroup.
const WORKGROUP_SIZE: u32 = 256;

shader_params! {
    /// `Params` of conv.wgsl.
    struct Params {
        images: u32, height: u32, width: u32, channels: u32,
        kernel: u32, stride: u32, padding: u32, out_height: u32,
        out_width: u32, src_off: u32, dst_off: u32, bias_off: u32,
        has_bias: u32, act: u32, slope: f32, _pad0: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "conv",
    wgsl: include_str!("../../../../shaders/conv.wgsl"),
    preludes: &[Prelude::Activation],
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&IM2COL, &COL2IM],
    subgroup_lanes: None,
};

static IM2COL: Kernel = Kernel {
    family: &FAMILY,
    entry: "im2col",
    bindings: &[(1, R), (3, W)],
};

static COL2IM: Kernel = Kernel {
    family: &FAMILY,
    entry: "col2im",
    bindings: &[(1, R), (2, R), (3, W)],
};

/// The parameters of a pass from `src` to `dst` over `images` images of geometry `g`.
fn params(
    kernel: &Kernel,
    g: &ConvGeometry,
    images: usize,
    (src, dst): (&Tensor, &Tensor),
) -> Result<Params> {
    let ix = |v| index(kernel, v);
    // The largest sums the kernels form: offsets plus lengths.
    ix(src.offset + src.len())?;
    ix(dst.offset + dst.len())?;
    Ok(Params {
        images: ix(images)?,
        height: ix(g.height)?,
        width: ix(g.width)?,
        channels: ix(g.channels)?,
        kernel: ix(g.kernel)?,
        stride: ix(g.stride)?,
        padding: ix(g.padding)?,
        out_height: ix(g.out_height())?,
        out_width: ix(g.out_width())?,
        src_off: ix(src.offset)?,
        dst_off: ix(dst.offset)?,
        bias_off: 0,
        has_bias: 0,
        act: 0,
        slope: 0.0,
        _pad0: 0,
    })
}

/// `patches` of `image` (validated shapes).
pub(crate) fn im2col(
    gpu: &mut GpuBackend,
    g: &ConvGeometry,
    image: &Tensor,
    patches: &Tensor,
) -> Result<()> {
    let p = params(&IM2COL, g, image.rows, (image, patches))?;
    launch_linear(
        gpu,
        &IM2COL,
        WORKGROUP_SIZE,
        patches.len(),
        &[image.buffer, patches.buffer],
        &p,
    )
}

/// `image = act(col2im(patches) + bias)` (validated shapes).
pub(crate) fn col2im(
    gpu: &mut GpuBackend,
    g: &ConvGeometry,
    patches: &Tensor,
    bias: Option<&Tensor>,
    act: Activation,
    image: &Tensor,
) -> Result<()> {
    // Without a bias, bind the patches in its place: the kernel does not read it.
    let bias_tensor = bias.unwrap_or(patches);
    let p = Params {
        bias_off: index(&COL2IM, bias_tensor.offset)?,
        has_bias: u32::from(bias.is_some()),
        act: act.code(),
        slope: act.slope(),
        ..params(&COL2IM, g, image.rows, (patches, image))?
    };
    launch_linear(
        gpu,
        &COL2IM,
        WORKGROUP_SIZE,
        image.len(),
        &[patches.buffer, bias_tensor.buffer, image.buffer],
        &p,
    )
}

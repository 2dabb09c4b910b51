//! Gathers a batch from a resident u8 dataset by an index buffer, converting to f32; and how a
//! dataset is split into chunks of whole examples, one buffer each, when it is larger than one
//! storage binding.
//!
//! WGSL `shaders/data.wgsl`; CPU twin `src/backend/cpu/data.rs`; parity test
//! `tests/parity_data.rs`.
//!
//! One dispatch per chunk: each reads its chunk and writes the batch rows whose example lies in
//! it, leaving the others alone. A dataset of one chunk (any that fits one binding, MNIST's
//! 47 MB included) is gathered by one dispatch, as before chunks existed; CIFAR-10's 154 MB on
//! 128 MiB bindings takes two. The extra dispatches cost one index read per element of the
//! batch each, against the matmuls of a step, and 64 bytes of parameters per step. Binding all
//! chunks to one dispatch would need a binding per chunk, past the 4 storage buffers a kernel
//! may use; sorting the rows by chunk would need per-step uploads or a GPU sort.

use super::{Family, Kernel, ParamsLayout, Prelude, R, W, index, launch_linear};
use crate::backend::gpu::{BUFFER_GRANULE, GpuBackend};
use crate::backend::{Augment, Bytes, Indices, Result, Tensor};

/// Invocations per workgroup.
const WORKGROUP_SIZE: u32 = 256;

/// Most bytes of one chunk whatever the device allows: byte indices within a chunk are u32.
const MAX_CHUNK_BYTES: u64 = 1 << 32;

shader_params! {
    /// `Params` of data.wgsl.
    struct Params {
        rows: u32, cols: u32, first: u32, out_off: u32,
        examples: u32, scale: f32, shift: f32, chunk_first: u32,
        chunk_examples: u32, width: u32, max_shift: u32, binarize: u32,
        shift_key: u32, binarize_key: u32, _pad0: u32, _pad1: u32,
    }
}

pub(crate) static FAMILY: Family = Family {
    name: "data",
    wgsl: include_str!("../../../../shaders/data.wgsl"),
    preludes: &[Prelude::Hash],
    constants: wgsl_constants![WORKGROUP_SIZE],
    params: ParamsLayout::of::<Params>(),
    kernels: &[&GATHER],
    subgroup_lanes: None,
};

static GATHER: Kernel = Kernel {
    family: &FAMILY,
    entry: "gather",
    bindings: &[(1, R), (2, R), (3, W)],
};

/// The most bytes one chunk of a dataset may have on a device whose buffers may be
/// `max_buffer` and whose storage bindings `max_binding` bytes.
pub(crate) fn chunk_limit(max_buffer: u64, max_binding: u64) -> u64 {
    max_buffer.min(max_binding).min(MAX_CHUNK_BYTES)
}

/// Examples of `example_bytes` in each chunk: as many as fit `limit` bytes once the buffer is
/// padded to whole granules. `None` when not even one does.
pub(crate) fn chunk_examples(example_bytes: usize, limit: u64) -> Option<usize> {
    let usable = limit / BUFFER_GRANULE * BUFFER_GRANULE;
    let n = usize::try_from(usable).unwrap_or(usize::MAX) / example_bytes;
    (n > 0).then_some(n)
}

/// `out[r, c] = scale · data[indices[first + r] · out.cols + c] + shift`, the bytes changed as
/// `augment` says, one dispatch per chunk of `data`.
pub(crate) fn gather(
    gpu: &mut GpuBackend,
    data: &Bytes,
    indices: &Indices,
    first: usize,
    (scale, shift): (f32, f32),
    augment: &Augment,
    out: &Tensor,
) -> Result<()> {
    let (shift_key, binarize_key) = augment.keys();
    let ix = |v| index(&GATHER, v);
    // The sums the kernel forms: `first + r` and `out_off + i`.
    ix(first + out.rows)?;
    ix(out.offset + out.len())?;
    for k in 0..data.chunks {
        let (buffer, chunk_first, chunk_examples) = data.chunk(k);
        let p = Params {
            rows: ix(out.rows)?,
            cols: ix(out.cols)?,
            first: ix(first)?,
            out_off: ix(out.offset)?,
            examples: ix(data.examples())?,
            scale,
            shift,
            chunk_first: ix(chunk_first)?,
            chunk_examples: ix(chunk_examples)?,
            width: augment.width,
            max_shift: augment.max_shift,
            binarize: u32::from(augment.binarize),
            shift_key,
            binarize_key,
            _pad0: 0,
            _pad1: 0,
        };
        launch_linear(
            gpu,
            &GATHER,
            WORKGROUP_SIZE,
            out.len(),
            &[buffer, indices.buffer, out.buffer],
            &p,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_whole_examples_within_every_limit() {
        // 128 MiB bindings, CIFAR-10's 3072-byte images: 43,690 to a chunk, 134,215,680 bytes.
        let limit = chunk_limit(2 << 30, 128 << 20);
        assert_eq!(limit, 128 << 20);
        assert_eq!(chunk_examples(3072, limit), Some(43_690));
        // The buffer's padding counts: 3 examples of 5 bytes are 15, padded to 16.
        assert_eq!(chunk_examples(5, 16), Some(3));
        assert_eq!(chunk_examples(5, 31), Some(3));
        assert_eq!(chunk_examples(16, 16), Some(1));
        assert_eq!(chunk_examples(17, 31), None);
        // A device with no binding cap below 2^32 still gets u32 byte indices.
        let huge = chunk_limit(1 << 40, 1 << 40);
        assert_eq!(huge, 1 << 32);
        let n = chunk_examples(3, huge).expect("fits");
        assert!(n as u64 * 3 <= 1 << 32 && (n as u64 + 1) * 3 > (1 << 32) - 16);
    }
}

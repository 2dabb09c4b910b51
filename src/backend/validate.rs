//! Operand checks of every operation, shared by both backends so that they accept and refuse
//! exactly the same calls.

use super::ops::{outputs_apart, same_len, same_shape, shape_error};
use super::{Augment, BackendError, Bytes, ConvGeometry, Indices, MatmulForm, Result, Tensor};

/// Returns `(m, n, k)`.
pub(crate) fn matmul(
    form: MatmulForm,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    c: &Tensor,
) -> Result<(usize, usize, usize)> {
    let dims = form.dims(a, b, bias, c)?;
    match bias {
        Some(bias) => outputs_apart("matmul", &[c], &[a, b, bias])?,
        None => outputs_apart("matmul", &[c], &[a, b])?,
    }
    Ok(dims)
}

pub(crate) fn activation(x: &Tensor, y: &Tensor) -> Result<()> {
    same_len("activation", x.len(), &[y])?;
    outputs_apart("activation", &[y], &[x])
}

pub(crate) fn activation_backward(y: &Tensor, dy: &Tensor, dx: &Tensor) -> Result<()> {
    same_len("activation_backward", y.len(), &[dy, dx])?;
    outputs_apart("activation_backward", &[dx], &[y, dy])
}

pub(crate) fn column_sum(x: &Tensor, out: &Tensor) -> Result<()> {
    same_len("column_sum", x.cols, &[out])?;
    outputs_apart("column_sum", &[out], &[x])
}

pub(crate) fn accumulate_sum(x: &Tensor, acc: &Tensor) -> Result<()> {
    same_len("accumulate_sum", 1, &[acc])?;
    outputs_apart("accumulate_sum", &[acc], &[x])
}

pub(crate) fn record_non_finite(sums: &Tensor) -> Result<()> {
    if sums.len() < 2 {
        return Err(BackendError::Shape {
            op: "record_non_finite",
            detail: format!(
                "sums of {} words: the values and the record word",
                sums.len()
            ),
        });
    }
    Ok(())
}

/// Returns the latent size L of `stats = [mu | logvar]` (`rows × 2L`).
fn latent_size(op: &'static str, stats: &Tensor) -> Result<usize> {
    if !stats.cols.is_multiple_of(2) {
        return Err(shape_error(
            op,
            format!("stats must be [mu | logvar], found {} columns", stats.cols),
        ));
    }
    Ok(stats.cols / 2)
}

/// Checks `eps` and `z` (`rows × L`, equal shapes) against `stats` (`S × 2L`) whose rows serve
/// `rows / S` consecutive sample rows each, and returns that factor (1 when `rows` is 0).
fn samples_per_stats_row(
    op: &'static str,
    stats: &Tensor,
    eps: &Tensor,
    z: &Tensor,
) -> Result<usize> {
    let l = latent_size(op, stats)?;
    same_shape(op, eps.rows, l, &[eps, z])?;
    if eps.rows == 0 {
        return Ok(1);
    }
    if stats.rows == 0 || !eps.rows.is_multiple_of(stats.rows) {
        return Err(shape_error(
            op,
            format!(
                "{} sample rows are not a multiple of {} stats rows",
                eps.rows, stats.rows
            ),
        ));
    }
    Ok(eps.rows / stats.rows)
}

/// Returns the samples per stats row.
pub(crate) fn reparameterize(stats: &Tensor, eps: &Tensor, z: &Tensor) -> Result<usize> {
    let samples = samples_per_stats_row("reparameterize", stats, eps, z)?;
    outputs_apart("reparameterize", &[z], &[stats, eps])?;
    Ok(samples)
}

/// Returns the samples per stats row.
pub(crate) fn iw_log_weight(
    stats: &Tensor,
    eps: &Tensor,
    z: &Tensor,
    log_weight: &Tensor,
) -> Result<usize> {
    let op = "iw_log_weight";
    let samples = samples_per_stats_row(op, stats, eps, z)?;
    same_shape(op, eps.rows, 1, &[log_weight])?;
    outputs_apart(op, &[log_weight], &[stats, eps, z])?;
    Ok(samples)
}

pub(crate) fn latent_backward(
    dz: &Tensor,
    stats: &Tensor,
    eps: &Tensor,
    dstats: &Tensor,
) -> Result<()> {
    let l = latent_size("latent_backward", stats)?;
    same_shape("latent_backward", stats.rows, l, &[dz, eps])?;
    same_shape("latent_backward", stats.rows, stats.cols, &[dstats])?;
    outputs_apart("latent_backward", &[dstats], &[dz, stats, eps])
}

pub(crate) fn kl_divergence(stats: &Tensor, kl: &Tensor) -> Result<()> {
    latent_size("kl_divergence", stats)?;
    same_shape("kl_divergence", stats.rows, 1, &[kl])?;
    outputs_apart("kl_divergence", &[kl], &[stats])
}

pub(crate) fn bce_with_logits(
    logits: &Tensor,
    targets: &Tensor,
    grad: &Tensor,
    loss: &Tensor,
) -> Result<()> {
    same_shape(
        "bce_with_logits",
        logits.rows,
        logits.cols,
        &[targets, grad],
    )?;
    same_shape("bce_with_logits", logits.rows, 1, &[loss])?;
    outputs_apart("bce_with_logits", &[grad, loss], &[logits, targets])
}

pub(crate) fn softmax_cross_entropy(
    logits: &Tensor,
    labels: &Tensor,
    grad: &Tensor,
    loss: &Tensor,
) -> Result<()> {
    let op = "softmax_cross_entropy";
    same_shape(op, logits.rows, logits.cols, &[grad])?;
    same_shape(op, logits.rows, 1, &[labels, loss])?;
    outputs_apart(op, &[grad, loss], &[logits, labels])
}

pub(crate) fn adam(params: &Tensor, grads: &Tensor, m: &Tensor, v: &Tensor) -> Result<()> {
    same_len("adam", params.len(), &[grads, m, v])?;
    outputs_apart("adam", &[params, m, v], &[grads])
}

pub(crate) fn gather(
    data: &Bytes,
    indices: &Indices,
    first: usize,
    augment: &Augment,
    out: &Tensor,
) -> Result<()> {
    if augment.max_shift > 0
        && (augment.width == 0 || !out.cols.is_multiple_of(augment.width as usize))
    {
        return Err(shape_error(
            "gather",
            format!(
                "shifting rows of {} values as images {} pixels wide",
                out.cols, augment.width
            ),
        ));
    }
    // The row counter `first + r` of the shift draws is a u32.
    if first + out.rows > u32::MAX as usize {
        return Err(shape_error(
            "gather",
            format!("row {} is past the 32-bit row counter", first + out.rows),
        ));
    }
    if first + out.rows > indices.len {
        return Err(shape_error(
            "gather",
            format!(
                "rows {first}..{} of an index buffer of {}",
                first + out.rows,
                indices.len
            ),
        ));
    }
    if out.cols != data.example_bytes {
        return Err(shape_error(
            "gather",
            format!(
                "rows of {} values from examples of {} bytes",
                out.cols, data.example_bytes
            ),
        ));
    }
    if data.examples() == 0 {
        return Err(shape_error(
            "gather",
            "a dataset of no examples".to_string(),
        ));
    }
    Ok(())
}

/// A dataset of `len` bytes in examples of `example_bytes`: whole examples, and fewer than 2^32
/// of them, since the index buffers that pick them are u32 (an example past that could never be
/// gathered, and the kernels count examples in u32).
pub(crate) fn upload_bytes(len: usize, example_bytes: usize) -> Result<()> {
    if example_bytes == 0 || !len.is_multiple_of(example_bytes) {
        return Err(shape_error(
            "upload_bytes",
            format!("{len} bytes are not whole examples of {example_bytes}"),
        ));
    }
    let examples = len / example_bytes;
    if u32::try_from(examples).is_err() {
        return Err(BackendError::TooManyExamples {
            examples: examples as u64,
        });
    }
    Ok(())
}

pub(crate) fn upload(t: &Tensor, len: usize) -> Result<()> {
    same_len("upload", len, &[t])
}

pub(crate) fn upload_indices(indices: &Indices, len: usize) -> Result<()> {
    if indices.len != len {
        return Err(shape_error(
            "upload_indices",
            format!("{len} values for {} indices", indices.len),
        ));
    }
    Ok(())
}

pub(crate) fn batch_norm(
    x: &Tensor,
    gamma_beta: &Tensor,
    saved: &Tensor,
    running: &Tensor,
    y: &Tensor,
) -> Result<()> {
    same_shape("batch_norm", 2, x.cols, &[gamma_beta, saved, running])?;
    same_shape("batch_norm", x.rows, x.cols, &[y])?;
    outputs_apart("batch_norm", &[saved, running, y], &[x, gamma_beta])
}

pub(crate) fn batch_norm_backward(
    x: &Tensor,
    gamma_beta: &Tensor,
    saved: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
    d_gamma_beta: &Tensor,
) -> Result<()> {
    let op = "batch_norm_backward";
    same_shape(op, 2, x.cols, &[gamma_beta, d_gamma_beta, saved])?;
    same_shape(op, x.rows, x.cols, &[dy, dx])?;
    outputs_apart(op, &[dx, d_gamma_beta], &[x, gamma_beta, saved, dy])
}

/// Checks an image batch (`N × image_len`) against its patches (`N·patches × patch_len`).
fn conv_shapes(op: &'static str, g: &ConvGeometry, image: &Tensor, patches: &Tensor) -> Result<()> {
    g.check()?;
    if image.cols != g.image_len()
        || patches.cols != g.patch_len()
        || Some(patches.rows) != image.rows.checked_mul(g.patches())
    {
        return Err(shape_error(
            op,
            format!(
                "{g:?}: images {}×{} and patches {}×{} (want N×{} and N·{}×{})",
                image.rows,
                image.cols,
                patches.rows,
                patches.cols,
                g.image_len(),
                g.patches(),
                g.patch_len()
            ),
        ));
    }
    Ok(())
}

pub(crate) fn im2col(g: &ConvGeometry, image: &Tensor, patches: &Tensor) -> Result<()> {
    conv_shapes("im2col", g, image, patches)?;
    outputs_apart("im2col", &[patches], &[image])
}

pub(crate) fn col2im(
    g: &ConvGeometry,
    patches: &Tensor,
    bias: Option<&Tensor>,
    image: &Tensor,
) -> Result<()> {
    conv_shapes("col2im", g, image, patches)?;
    match bias {
        Some(bias) => {
            same_len("col2im", g.channels, &[bias])?;
            outputs_apart("col2im", &[image], &[patches, bias])
        }
        None => outputs_apart("col2im", &[image], &[patches]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BufferId;

    fn tensor(buffer: u32, rows: usize, cols: usize) -> Tensor {
        Tensor {
            buffer: BufferId(buffer),
            offset: 0,
            rows,
            cols,
        }
    }

    #[test]
    fn stats_rows_serve_whole_groups_of_sample_rows() {
        let stats = tensor(0, 3, 8);
        let (eps, z) = (tensor(1, 12, 4), tensor(2, 12, 4));
        assert_eq!(reparameterize(&stats, &eps, &z).unwrap(), 4);
        assert_eq!(
            reparameterize(&stats, &tensor(1, 3, 4), &tensor(2, 3, 4)).unwrap(),
            1
        );
        assert!(reparameterize(&stats, &tensor(1, 10, 4), &tensor(2, 10, 4)).is_err());
        assert!(reparameterize(&tensor(0, 0, 8), &eps, &z).is_err());
        let weight = tensor(3, 12, 1);
        assert_eq!(iw_log_weight(&stats, &eps, &z, &weight).unwrap(), 4);
        assert!(iw_log_weight(&stats, &eps, &z, &tensor(3, 3, 1)).is_err());
        assert!(iw_log_weight(&stats, &eps, &z, &tensor(2, 12, 1)).is_err());
    }

    #[test]
    fn a_dataset_is_whole_examples_and_fewer_than_2_to_the_32() {
        assert!(upload_bytes(12, 3).is_ok());
        assert!(upload_bytes(0, 3).is_ok());
        assert!(upload_bytes(13, 3).is_err());
        assert!(upload_bytes(12, 0).is_err());
        // The largest count u32 indices can reach, and one more (no memory is needed to ask).
        assert!(upload_bytes(u32::MAX as usize, 1).is_ok());
        let refused = upload_bytes(1 << 32, 1).unwrap_err().to_string();
        assert!(refused.contains("4294967296 examples"), "{refused}");
    }
}

//! A dataset resident on the backend, and the order its examples are visited in.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::backend::{Augment, Backend, Bytes, Indices, Result, Tensor};
use crate::data::Dataset;

/// The pixels (and labels, if any), uploaded once as bytes, and an index buffer holding the
/// visiting order.
pub struct DeviceData {
    pub bytes: Bytes,
    /// One byte per example.
    pub labels: Option<Bytes>,
    pub order: Indices,
    pub count: usize,
}

impl DeviceData {
    /// Uploads `data` in its own order: any size main memory holds (see
    /// [`Backend::upload_bytes`]).
    pub fn upload(backend: &mut dyn Backend, data: &Dataset) -> Result<Self> {
        let bytes = backend.upload_bytes(&data.images, data.pixels_per_example())?;
        let labels = if data.labels.is_empty() {
            None
        } else {
            Some(backend.upload_bytes(&data.labels, 1)?)
        };
        let order = backend.alloc_indices(data.count)?;
        let identity: Vec<u32> = (0..data.count as u32).collect();
        backend.upload_indices(&order, &identity)?;
        Ok(DeviceData {
            bytes,
            labels,
            order,
            count: data.count,
        })
    }

    /// Uploads a fresh permutation for `epoch`, a function of `seed` and `epoch` only.
    pub fn shuffle(&self, backend: &mut dyn Backend, seed: u64, epoch: usize) -> Result<()> {
        let mut order: Vec<u32> = (0..self.count as u32).collect();
        let mut rng =
            StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        order.shuffle(&mut rng);
        backend.upload_indices(&self.order, &order)
    }

    /// Number of batches of `batch` (the last may be smaller).
    pub fn batches(&self, batch: usize) -> usize {
        self.count.div_ceil(batch)
    }

    /// Gathers batch `b` into `out` (its rows are the batch's size), as `scale·byte + shift`.
    pub fn gather(
        &self,
        backend: &mut dyn Backend,
        first: usize,
        scale: f32,
        shift: f32,
        out: &Tensor,
    ) -> Result<()> {
        backend.gather(&self.bytes, &self.order, first, scale, shift, out)
    }

    /// [`DeviceData::gather`] of `scale·byte`, the examples changed as `augment` says.
    pub fn gather_augmented(
        &self,
        backend: &mut dyn Backend,
        first: usize,
        scale: f32,
        augment: &Augment,
        out: &Tensor,
    ) -> Result<()> {
        backend.gather_augmented(&self.bytes, &self.order, first, scale, 0.0, augment, out)
    }

    /// The labels of batch `b`'s examples into `out` (`rows × 1`), as class numbers.
    pub fn gather_labels(
        &self,
        backend: &mut dyn Backend,
        first: usize,
        out: &Tensor,
    ) -> Result<()> {
        let labels = self
            .labels
            .as_ref()
            .ok_or_else(|| crate::backend::BackendError::Shape {
                op: "gather",
                detail: "the data has no labels".into(),
            })?;
        backend.gather(labels, &self.order, first, 1.0, 0.0, out)
    }
}

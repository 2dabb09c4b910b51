//! A dataset resident on the backend, and the order its examples are visited in.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::backend::{Backend, Bytes, Indices, Result, Tensor};
use crate::data::Dataset;

/// The pixels, uploaded once as bytes, and an index buffer holding the visiting order.
pub struct DeviceData {
    pub bytes: Bytes,
    pub order: Indices,
    pub count: usize,
}

impl DeviceData {
    /// Uploads `data` in its own order: any size main memory holds (see
    /// [`Backend::upload_bytes`]).
    pub fn upload(backend: &mut dyn Backend, data: &Dataset) -> Result<Self> {
        let bytes = backend.upload_bytes(&data.images, data.pixels_per_example())?;
        let order = backend.alloc_indices(data.count)?;
        let identity: Vec<u32> = (0..data.count as u32).collect();
        backend.upload_indices(&order, &identity)?;
        Ok(DeviceData {
            bytes,
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
}

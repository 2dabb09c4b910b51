//! Device time of a submit from GPU timestamp queries, where the adapter has them
//! (`Features::TIMESTAMP_QUERY`): written at the start of the submit's first compute pass (the
//! parameter advance, when there is one) and at the end of its last (the step's), resolved and
//! read back after the submit completes. Benchmarks and tuning only.

use super::context::GpuContext;
use crate::backend::Result;

/// Bytes of the two resolved timestamps.
const BYTES: u64 = 2 * size_of::<u64>() as u64;

pub(crate) struct Timestamps {
    queries: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
}

impl Timestamps {
    /// The queries, or `None` when the device was opened without timestamp support.
    pub(crate) fn new(ctx: &GpuContext) -> Option<Self> {
        if !ctx
            .device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
        {
            return None;
        }
        let buffer = |label, usage| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: BYTES,
                usage,
                mapped_at_creation: false,
            })
        };
        Some(Timestamps {
            queries: ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("pass timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolved: buffer(
                "resolved timestamps",
                wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            ),
            readback: buffer(
                "timestamp read-back",
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            ),
            period_ns: f64::from(ctx.queue.get_timestamp_period()),
        })
    }

    /// The timestamp writes of a submit's pass: the start of the first pass (`first`) and
    /// the end of the last (`last`) are timed, so that a submit of two passes is timed whole.
    pub(crate) fn writes(&self, first: bool, last: bool) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: first.then_some(0),
            end_of_pass_write_index: last.then_some(1),
        }
    }

    /// After the pass: resolves the queries into a buffer the host can map.
    pub(crate) fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.queries, 0..2, &self.resolved, 0);
        encoder.copy_buffer_to_buffer(&self.resolved, 0, &self.readback, 0, BYTES);
    }

    /// Seconds between the two timestamps, once the submit has completed.
    pub(crate) fn seconds(&self, ctx: &GpuContext) -> Result<f64> {
        let bytes = ctx.read_mapped(&self.readback, BYTES)?;
        let ticks: &[u64] = bytemuck::cast_slice(&bytes);
        Ok(ticks[1].saturating_sub(ticks[0]) as f64 * self.period_ns * 1e-9)
    }
}

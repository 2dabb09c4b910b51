//! Records dispatches and runs them as one command buffer: pipelines and bind groups are made
//! once (on first use) and cached; parameters of all dispatches live in one uniform arena
//! selected by dynamic offset, advanced on the device from one step to the next
//! (`params.rs`), so that a steady step uploads nothing.

use std::collections::HashMap;
use std::num::NonZeroU64;

use std::time::Instant;

use super::context::GpuContext;
use super::kernels::step::ADVANCE_PARAMS;
use super::kernels::{FAMILIES, Kernel, PARAMS_BYTES};
use super::params::{Advance, ParamArena};
use super::timing::Timestamps;
use crate::backend::{BackendError, BufferId, Counters, Result};

/// Most storage buffers a kernel binds: the downlevel limit per stage, which every kernel
/// fits (`tests/limits.rs`).
const MAX_BOUND: usize =
    wgpu::Limits::downlevel_defaults().max_storage_buffers_per_shader_stage as usize;

/// A bind group is one kernel's view of particular buffers.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct BindKey {
    /// The kernel's entry point (unique across families).
    entry: &'static str,
    /// The bound buffers, padded with `u32::MAX`.
    ids: [BufferId; MAX_BOUND],
}

struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    slot: u32,
    groups: (u32, u32),
}

/// Everything between recording a dispatch and its submission.
pub(crate) struct Recorder {
    /// Compiled families, by name.
    modules: HashMap<&'static str, wgpu::ShaderModule>,
    /// By entry point.
    pipelines: HashMap<&'static str, (wgpu::ComputePipeline, wgpu::BindGroupLayout)>,
    bind_groups: HashMap<BindKey, wgpu::BindGroup>,
    params: ParamArena,
    /// The advancing dispatch's bind group (the arena's twin and deltas), made on first use.
    advance_group: Option<wgpu::BindGroup>,
    pending: Vec<Dispatch>,
    /// Where the device has them: what times [`Recorder::finish_timed`].
    timestamps: Option<Timestamps>,
    pub(crate) counters: Counters,
}

impl Recorder {
    pub(crate) fn new(ctx: &GpuContext) -> Self {
        Recorder {
            modules: HashMap::new(),
            pipelines: HashMap::new(),
            bind_groups: HashMap::new(),
            params: ParamArena::new(ctx),
            advance_group: None,
            pending: Vec::new(),
            timestamps: Timestamps::new(ctx),
            counters: Counters::default(),
        }
    }

    /// Builds every kernel's pipeline now, so that no step waits for a shader compiler (on a
    /// software device each pipeline is compiled by LLVM).
    pub(crate) fn build_pipelines(&mut self, ctx: &GpuContext) -> Result<()> {
        let lanes = ctx.adapter.subgroup_lanes;
        for kernel in FAMILIES
            .iter()
            .filter(|family| family.runs_on(lanes))
            .flat_map(|family| family.kernels)
        {
            self.pipeline(ctx, kernel);
        }
        ctx.check()
    }

    /// How many bind groups and pipelines are cached.
    pub(crate) fn cached(&self) -> (usize, usize) {
        (self.bind_groups.len(), self.pipelines.len())
    }

    /// Whether dispatches wait for a submit.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    fn pipeline(
        &mut self,
        ctx: &GpuContext,
        kernel: &Kernel,
    ) -> &(wgpu::ComputePipeline, wgpu::BindGroupLayout) {
        let Kernel {
            family,
            entry,
            bindings,
        } = *kernel;
        if !self.pipelines.contains_key(entry) {
            let shader = self.modules.entry(family.name).or_insert_with(|| {
                ctx.device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(&family.file_name()),
                        source: wgpu::ShaderSource::Wgsl(family.source().into()),
                    })
            });
            let mut entries = vec![wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: None,
                },
                count: None,
            }];
            entries.extend(bindings.iter().map(|&(binding, writable)| {
                wgpu::BindGroupLayoutEntry {
                    binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: !writable,
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                }
            }));
            let layout = ctx
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(entry),
                    entries: &entries,
                });
            let pipeline_layout =
                ctx.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(entry),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
            let pipeline = ctx
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&pipeline_layout),
                    module: shader,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    cache: None,
                });
            self.pipelines.insert(entry, (pipeline, layout));
        }
        &self.pipelines[entry]
    }

    /// Records one dispatch of `kernel` over `groups` workgroups, with the buffers `ids`
    /// (indices into `buffers`) bound in the order of the kernel's bindings and `params` (at
    /// most `PARAMS_BYTES`) as its uniform block. Nothing is allocated once the bind group
    /// exists.
    pub(crate) fn dispatch(
        &mut self,
        ctx: &GpuContext,
        buffers: &[wgpu::Buffer],
        ids: &[BufferId],
        kernel: &Kernel,
        params: &[u8],
        groups: (u32, u32),
    ) -> Result<()> {
        if self.pending.len() as u64 == self.params.dispatch_slots() {
            self.submit(ctx)?;
        }
        let pipeline = self.pipeline(ctx, kernel).0.clone();
        let mut key = BindKey {
            entry: kernel.entry,
            ids: [BufferId(u32::MAX); MAX_BOUND],
        };
        key.ids[..ids.len()].copy_from_slice(ids);
        let bind_group = match self.bind_groups.get(&key) {
            Some(group) => group.clone(),
            None => {
                let group = self.bind_group(ctx, buffers, ids, kernel)?;
                self.bind_groups.insert(key, group.clone());
                group
            }
        };
        let slot = self.pending.len();
        self.params.stage(slot, params);
        self.pending.push(Dispatch {
            pipeline,
            bind_group,
            slot: slot as u32,
            groups,
        });
        Ok(())
    }

    fn bind_group(
        &mut self,
        ctx: &GpuContext,
        buffers: &[wgpu::Buffer],
        ids: &[BufferId],
        kernel: &Kernel,
    ) -> Result<wgpu::BindGroup> {
        let layout = self.pipeline(ctx, kernel).1.clone();
        let bindings = kernel.bindings;
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: self.uniform_block(),
        }];
        for (&(binding, _), id) in bindings.iter().zip(ids) {
            let buffer = buffers
                .get(id.0 as usize)
                .ok_or(BackendError::UnknownBuffer(id.0))?;
            entries.push(wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            });
        }
        Ok(ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        }))
    }

    /// Binding 0 of every kernel: its block of the arena, by dynamic offset.
    fn uniform_block(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.params.uniform,
            offset: 0,
            size: NonZeroU64::new(PARAMS_BYTES),
        })
    }

    /// The advancing dispatch's pipeline and bind group.
    fn advance_pipeline(&mut self, ctx: &GpuContext) -> (wgpu::ComputePipeline, wgpu::BindGroup) {
        let (pipeline, layout) = self.pipeline(ctx, &ADVANCE_PARAMS).clone();
        if self.advance_group.is_none() {
            let group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("advance parameters"),
                layout: &layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: self.uniform_block(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: self.params.deltas.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: self.params.shadow.as_entire_binding(),
                    },
                ],
            });
            self.advance_group = Some(group);
        }
        let group = self.advance_group.clone().expect("made above");
        (pipeline, group)
    }

    /// Records the advancing dispatch and the copy of the arena's twin into the arena; with
    /// `timed`, the submit's time starts here.
    fn encode_advance(
        &mut self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        advance: &Advance,
        timed: bool,
    ) {
        let (pipeline, group) = self.advance_pipeline(ctx);
        let timestamps = self.timestamps.as_ref().filter(|_| timed);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("advance parameters"),
                timestamp_writes: timestamps.map(|t| t.writes(true, false)),
            });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &group, &[self.params.advance_offset()]);
            pass.dispatch_workgroups(advance.groups, 1, 1);
        }
        let bytes = 4 * u64::from(advance.words);
        encoder.copy_buffer_to_buffer(&self.params.shadow, 0, &self.params.uniform, 0, bytes);
        self.counters.param_advances += 1;
    }

    /// How [`Recorder::finish_timed`] measures.
    pub(crate) fn timing_method(&self) -> &'static str {
        match self.timestamps {
            Some(_) => "GPU timestamp queries around the submit's passes",
            None => "host time around a completed submit",
        }
    }

    /// Brings the parameter arena up to date (advanced on the device; only deltas that changed
    /// are uploaded), then encodes every pending dispatch into one compute pass and submits
    /// it. Does not wait.
    pub(crate) fn submit(&mut self, ctx: &GpuContext) -> Result<()> {
        self.submit_with(ctx, false)
    }

    /// Submits what is pending, waits for it, and returns the seconds the device took: from
    /// timestamps written around the pass where the device has them, else host time from the
    /// submit to its completion (the queue is idle before, since every submit before it was
    /// waited for or is included).
    pub(crate) fn finish_timed(&mut self, ctx: &GpuContext) -> Result<f64> {
        ctx.wait()?;
        let started = Instant::now();
        let timed = self.has_pending() && self.timestamps.is_some();
        self.submit_with(ctx, timed)?;
        ctx.wait()?;
        let host = started.elapsed().as_secs_f64();
        self.counters.host_waits += 1;
        match &self.timestamps {
            Some(timestamps) if timed => timestamps.seconds(ctx),
            _ => Ok(host),
        }
    }

    fn submit_with(&mut self, ctx: &GpuContext, timed: bool) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let advance = self
            .params
            .prepare(ctx, self.pending.len(), &mut self.counters);
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("step"),
            });
        if let Some(advance) = &advance {
            self.encode_advance(ctx, &mut encoder, advance, timed);
        }
        let timestamps = self.timestamps.as_ref().filter(|_| timed);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("step"),
                timestamp_writes: timestamps.map(|t| t.writes(advance.is_none(), true)),
            });
            for d in &self.pending {
                pass.set_pipeline(&d.pipeline);
                let offset = (u64::from(d.slot) * self.params.slot_bytes) as u32;
                pass.set_bind_group(0, &d.bind_group, &[offset]);
                pass.dispatch_workgroups(d.groups.0, d.groups.1, 1);
            }
        }
        if let Some(timestamps) = timestamps {
            timestamps.resolve(&mut encoder);
        }
        ctx.queue.submit([encoder.finish()]);
        self.counters.dispatches += self.pending.len() as u64;
        self.counters.submits += 1;
        ctx.submitted(self.counters.submits);
        self.pending.clear();
        ctx.check()
    }
}

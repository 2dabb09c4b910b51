//! The parameter arena: every dispatch's uniform block, in one buffer selected by dynamic
//! offset, kept up to date on the device with no upload in a steady training step.
//!
//! From one step to the next the blocks change only in words that move by a fixed amount: the
//! step number (Adam's bias correction), the random stream, the batch's position in the epoch.
//! So the host never uploads blocks; it uploads per-word *deltas*, and only when a word's delta
//! changes. Each submit then runs, before the step's own pass, one dispatch
//! (`shaders/step.wgsl`) that adds the deltas to the arena's storage twin and copies the twin
//! into the uniform arena. In a steady step every delta is what it was the step before: nothing
//! is uploaded. (A uniform buffer cannot be written by a shader that also reads its own
//! parameters from it, hence the twin and the copy.)

use super::context::GpuContext;
use super::kernels::PARAMS_BYTES;
use super::kernels::step::{self, STEP_GROUP};
use crate::backend::Counters;

/// Dispatches per submit, the slot of the advancing dispatch's own parameters included.
pub(crate) const SLOTS: u64 = 1024;

/// Changed deltas fewer than this many words apart are uploaded in one write.
const MERGE_GAP: usize = 4;

/// What the device must do before a submit's pass.
pub(crate) struct Advance {
    /// Words of the arena to advance and copy into the uniform arena.
    pub(crate) words: u32,
    /// Workgroups of the advancing dispatch.
    pub(crate) groups: u32,
}

pub(crate) struct ParamArena {
    /// What dispatches bind as their uniform block, by dynamic offset.
    pub(crate) uniform: wgpu::Buffer,
    /// Its storage twin, which the advancing dispatch updates; copied into `uniform`.
    pub(crate) shadow: wgpu::Buffer,
    /// Per-word deltas added to `shadow` at each submit.
    pub(crate) deltas: wgpu::Buffer,
    pub(crate) slot_bytes: u64,
    /// This submit's blocks, slot after slot.
    staged: Vec<u8>,
    /// What `shadow` holds, as words, and what `deltas` holds.
    device: Vec<u32>,
    delta: Vec<u32>,
    /// The parameters of the advancing dispatch, as last written into its slot.
    advance_words: u32,
}

impl ParamArena {
    pub(crate) fn new(ctx: &GpuContext) -> Self {
        let align = u64::from(ctx.limits.min_uniform_buffer_offset_alignment);
        let slot_bytes = PARAMS_BYTES.div_ceil(align) * align;
        let buffer = |label, usage| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: slot_bytes * SLOTS,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        ParamArena {
            uniform: buffer("dispatch parameters", U::UNIFORM | U::COPY_DST),
            shadow: buffer(
                "dispatch parameters (storage twin)",
                U::STORAGE | U::COPY_DST | U::COPY_SRC,
            ),
            deltas: buffer("dispatch parameter deltas", U::STORAGE | U::COPY_DST),
            slot_bytes,
            staged: Vec::new(),
            device: Vec::new(),
            delta: Vec::new(),
            advance_words: 0,
        }
    }

    /// Slots the step's dispatches may use: the last is the advancing dispatch's.
    pub(crate) fn dispatch_slots(&self) -> u64 {
        SLOTS - 1
    }

    /// The dynamic offset of the advancing dispatch's parameters.
    pub(crate) fn advance_offset(&self) -> u32 {
        ((SLOTS - 1) * self.slot_bytes) as u32
    }

    /// Sets slot `slot`'s block to `params` (at most `PARAMS_BYTES`).
    pub(crate) fn stage(&mut self, slot: usize, params: &[u8]) {
        let start = slot * self.slot_bytes as usize;
        self.staged.resize(start + self.slot_bytes as usize, 0);
        let block = &mut self.staged[start..start + self.slot_bytes as usize];
        block.fill(0);
        block[..params.len()].copy_from_slice(params);
    }

    /// Before a submit of `slots` dispatches: sets each word's delta to the change the staged
    /// blocks ask of it (uploading only the deltas that differ from last submit's) and says
    /// what the device must run, if anything changed. Words past this submit's slots keep
    /// moving by their deltas, which is harmless: they are set anew when next used.
    pub(crate) fn prepare(
        &mut self,
        ctx: &GpuContext,
        slots: usize,
        counters: &mut Counters,
    ) -> Option<Advance> {
        let used = slots * self.slot_bytes as usize / 4;
        if self.device.len() < used {
            self.device.resize(used, 0);
            self.delta.resize(used, 0);
        }
        let staged: &[u32] = bytemuck::cast_slice(&self.staged[..used * 4]);
        let mut moving = false;
        // Runs of words whose delta changed, `[first, end)`.
        let mut changed: Vec<(usize, usize)> = Vec::new();
        for w in 0..self.device.len() {
            let want = match staged.get(w) {
                Some(&word) => word,
                None => self.device[w].wrapping_add(self.delta[w]),
            };
            let d = want.wrapping_sub(self.device[w]);
            if d != self.delta[w] {
                self.delta[w] = d;
                match changed.last_mut() {
                    // Runs closer than a few words are one write (each write has a cost).
                    Some((_, end)) if w - *end < MERGE_GAP => *end = w + 1,
                    _ => changed.push((w, w + 1)),
                }
            }
            self.device[w] = want;
            moving |= d != 0;
        }
        for (first, end) in changed {
            let run = &self.delta[first..end];
            ctx.queue
                .write_buffer(&self.deltas, 4 * first as u64, bytemuck::cast_slice(run));
            counters.bytes_uploaded += 4 * run.len() as u64;
        }
        if !moving {
            return None;
        }
        let words = self.device.len() as u32;
        if words != self.advance_words {
            let block = step::params(words);
            ctx.queue
                .write_buffer(&self.uniform, u64::from(self.advance_offset()), &block);
            counters.bytes_uploaded += block.len() as u64;
            self.advance_words = words;
        }
        Some(Advance {
            words,
            groups: words.div_ceil(STEP_GROUP),
        })
    }
}

//! Errors of the backends.

use thiserror::Error;

use super::gpu::{LimitsMode, Shortfall};

/// What can go wrong in a backend.
#[derive(Debug, Error)]
pub enum BackendError {
    /// wgpu found no adapter at all.
    #[error(
        "wgpu found no GPU adapter ({apis}; on Debian, `apt-get install mesa-vulkan-drivers` \
         gives a software Vulkan one)"
    )]
    NoAdapter { apis: String },
    /// A hardware GPU was asked for, and every adapter is a software one.
    #[error("no hardware GPU: {} is a software adapter", software.join(", "))]
    OnlySoftware { software: Vec<String> },
    /// No adapter is the one the user named.
    #[error("{asked} matches no adapter; {adapters}")]
    NoSuchAdapter { asked: String, adapters: String },
    /// An adapter that offers less than the kernels need.
    #[error(
        "{adapter} offers less than gengpu's kernels need{}: {}",
        under(*mode),
        list(shortfalls)
    )]
    Unsuitable {
        adapter: String,
        mode: LimitsMode,
        shortfalls: Vec<Shortfall>,
    },
    /// `--adapter` with `--backend cpu`.
    #[error(
        "--adapter {0} asks for the GPU backend but --backend cpu for the CPU backend; drop one"
    )]
    AdapterWithCpu(String),
    /// An environment variable gengpu reads, set to something it does not understand.
    #[error("{variable}={value:?} is not understood: expected {expected}")]
    Environment {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A built-in shader that naga cannot read (`tests/shaders.rs` catches it first).
    #[error("a shader does not compile: {0}")]
    Shader(String),
    /// The adapter refused to make a device.
    #[error("could not open a device on {adapter}: {reason}")]
    DeviceRequest { adapter: String, reason: String },
    /// A buffer larger than the device allows.
    #[error(
        "{what} needs {bytes} bytes but the device allows at most {limit} bytes per buffer \
         ({limit_name} of {device}); use smaller layers or batches, or another device"
    )]
    TooLarge {
        what: String,
        bytes: u64,
        limit: u64,
        limit_name: &'static str,
        device: String,
    },
    /// A dispatch with more workgroups than the device allows.
    #[error(
        "{what} needs {groups} workgroups along one dimension but the device allows at most \
         {limit} (max_compute_workgroups_per_dimension of {device}); use smaller layers or \
         batches"
    )]
    DispatchTooLarge {
        what: String,
        groups: u64,
        limit: u64,
        device: String,
    },
    /// A dataset with more examples than 32-bit indices can pick.
    #[error(
        "a dataset of {examples} examples is too many: examples are picked by 32-bit indices, \
         so at most {max} (split it into several datasets)",
        max = u32::MAX
    )]
    TooManyExamples { examples: u64 },
    /// One example larger than the device's storage binding: a dataset is split into buffers
    /// of whole examples, never within one.
    #[error(
        "an example of {bytes} bytes is larger than one storage binding of {device} \
         ({limit} bytes): a dataset is split across buffers only between examples"
    )]
    ExampleTooLarge {
        bytes: u64,
        limit: u64,
        device: String,
    },
    /// Main memory could not hold a buffer (the CPU backend's tensors).
    #[error("cannot allocate {bytes} bytes of main memory for {what}")]
    HostMemory { what: String, bytes: u64 },
    /// Operands of an operation whose shapes do not fit together.
    #[error("shape mismatch in {op}: {detail}")]
    Shape { op: &'static str, detail: String },
    /// Two operands of one operation share a buffer in a way the GPU cannot bind.
    #[error("in {op}: an output shares a buffer with another operand")]
    Aliasing { op: &'static str },
    /// A matmul variant pinned by a name no variant has.
    #[error("no matmul variant is named {asked:?} (the variants: {known})")]
    UnknownMatmulVariant { asked: String, known: String },
    /// A handle that this backend did not make.
    #[error("unknown buffer {0} for this backend")]
    UnknownBuffer(u32),
    /// The device reported an error.
    #[error("GPU error: {0}")]
    Device(String),
    /// The device ran out of memory.
    #[error("out of GPU memory ({0}): use smaller layers or batches, or another device")]
    OutOfMemory(String),
    /// The driver or the system took the device away (a reset, a crash, a removed GPU).
    #[error("the GPU device was lost ({0})")]
    DeviceLost(String),
}

fn list(shortfalls: &[Shortfall]) -> String {
    let items: Vec<String> = shortfalls.iter().map(Shortfall::to_string).collect();
    items.join("; ")
}

fn under(mode: LimitsMode) -> String {
    match mode {
        LimitsMode::Adapter => String::new(),
        LimitsMode::Downlevel => format!(" under {}=downlevel", super::gpu::LIMITS_VARIABLE),
    }
}

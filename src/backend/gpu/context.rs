//! Adapter discovery and choice, and the device with the limits the models need.

use std::sync::{Arc, Mutex};

use crate::backend::{BackendError, Result};

/// What `gengpu info` shows of one adapter.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// Whether this is a real GPU (not a software rasterizer such as llvmpipe).
    pub hardware: bool,
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
}

/// Which adapters may be chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterChoice {
    /// The best adapter there is, software included.
    Any,
    /// Only a hardware GPU.
    HardwareOnly,
}

/// The native APIs; GL is asked only when none of them has an adapter (its probing is slow
/// and, on headless Linux, noisy).
const NATIVE: wgpu::Backends = wgpu::Backends::VULKAN
    .union(wgpu::Backends::METAL)
    .union(wgpu::Backends::DX12);

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    pollster::block_on(wgpu::Instance::new(desc).enumerate_adapters(backends))
}

fn is_hardware(info: &wgpu::AdapterInfo) -> bool {
    matches!(
        info.device_type,
        wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu
    )
}

/// Lower is better: discrete before integrated before virtual before software; native APIs
/// before GL, the last resort.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let device = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let api = u8::from(info.backend == wgpu::Backend::Gl);
    (device, api)
}

fn summary(adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    let limits = adapter.limits();
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        hardware: is_hardware(&info),
        max_buffer_size: limits.max_buffer_size,
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
    }
}

fn adapters_ranked() -> Vec<wgpu::Adapter> {
    let mut adapters = enumerate(NATIVE);
    if adapters.is_empty() {
        adapters = enumerate(wgpu::Backends::GL);
    }
    adapters.sort_by_key(|a| rank(&a.get_info()));
    adapters
}

/// Every adapter wgpu sees, best first, and the index of the one `choice` would take.
pub fn list_adapters(choice: AdapterChoice) -> (Vec<AdapterSummary>, Option<usize>) {
    let summaries: Vec<_> = adapters_ranked().iter().map(summary).collect();
    let chosen = summaries
        .iter()
        .position(|s| choice == AdapterChoice::Any || s.hardware);
    (summaries, chosen)
}

/// An open device: what the GPU backend runs on.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) adapter: AdapterSummary,
    pub(crate) limits: wgpu::Limits,
    /// The first error the device reported outside an error scope, taken at the next check.
    pub(crate) error: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Opens the best adapter `choice` allows, asking for its full limits rather than the
    /// defaults, so that large datasets and layers fit where the hardware allows.
    pub fn new(choice: AdapterChoice) -> Result<Self> {
        let adapters = adapters_ranked();
        let found = adapters.len();
        let adapter = adapters
            .into_iter()
            .find(|a| choice == AdapterChoice::Any || is_hardware(&a.get_info()))
            .ok_or_else(|| {
                BackendError::NoAdapter(match (choice, found) {
                    (_, 0) => "wgpu found no Vulkan, Metal, DX12 or GL adapter (on Debian, \
                               `apt-get install mesa-vulkan-drivers` gives a software one)"
                        .to_string(),
                    _ => format!("{found} adapter(s) found, none of them a hardware GPU"),
                })
            })?;
        let summary = summary(&adapter);
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("gengpu"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc)).map_err(|e| {
            BackendError::DeviceRequest {
                adapter: summary.name.clone(),
                reason: e.to_string(),
            }
        })?;
        let error = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&error);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        Ok(GpuContext {
            device,
            queue,
            adapter: summary,
            limits,
            error,
        })
    }

    /// Fails with the first error the device reported since the last check.
    pub(crate) fn check(&self) -> Result<()> {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some(message) => Err(BackendError::Device(message)),
            None => Ok(()),
        }
    }

    /// Fails unless a buffer of `bytes` fits the device's limits.
    pub(crate) fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self
            .limits
            .max_buffer_size
            .min(self.limits.max_storage_buffer_binding_size);
        if bytes > limit {
            return Err(BackendError::TooLarge {
                what: what.to_string(),
                bytes,
                limit,
                device: self.adapter.name.clone(),
            });
        }
        Ok(())
    }
}

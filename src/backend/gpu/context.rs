//! Adapter discovery and choice, and the device opened with the limits gengpu states
//! (`limits.rs`).
//!
//! Which APIs are asked: `WGPU_BACKEND` if set (wgpu's names: `vulkan`, `metal`, `dx12`,
//! `gl`, comma-separated); otherwise Vulkan, Metal and DX12, and GL only when none of them has
//! an adapter (its probing is slow and, on headless Linux, noisy). The adapters are ranked
//! (hardware before software, native APIs before GL) and numbered in that order, as
//! `gengpu info` prints them.

use std::sync::{Arc, Mutex};

use super::fault::InjectedFault;
use super::limits::{LimitRow, LimitsMode, Shortfall, plan_limits};
use crate::backend::{BackendError, Result};

/// The environment variables of wgpu's own that gengpu honours.
const BACKEND_VARIABLE: &str = "WGPU_BACKEND";
const ADAPTER_NAME_VARIABLE: &str = "WGPU_ADAPTER_NAME";

/// What `gengpu info` shows of one adapter.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    /// Its place in the ranked list: what `--adapter INDEX` takes.
    pub index: usize,
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// Whether this is a real GPU (not a software rasterizer such as llvmpipe).
    pub hardware: bool,
    /// Each limit gengpu sets: needed, asked, offered.
    pub limits: Vec<LimitRow>,
    /// What it lacks for gengpu's kernels; empty if it can run them.
    pub shortfalls: Vec<Shortfall>,
    /// The width of its subgroups, where it has subgroup operations and one fixed width
    /// (kernels written for one width run only there).
    pub subgroup_lanes: Option<u32>,
}

impl AdapterSummary {
    /// `[index] name (API, type)`.
    pub fn label(&self) -> String {
        format!(
            "[{}] {} ({}, {})",
            self.index, self.name, self.backend, self.device_type
        )
    }
}

/// An adapter the user named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdapterName {
    /// `--adapter`: an index in the list `gengpu info` prints, or part of a name.
    Flag(String),
    /// `WGPU_ADAPTER_NAME`: part of a name, as wgpu reads it.
    Env(String),
}

impl AdapterName {
    /// `--adapter`'s value if given, else `WGPU_ADAPTER_NAME`'s if set and not empty.
    pub fn from_user(flag: Option<&str>) -> Option<AdapterName> {
        match flag {
            Some(flag) => Some(AdapterName::Flag(flag.to_string())),
            None => std::env::var(ADAPTER_NAME_VARIABLE)
                .ok()
                .filter(|name| !name.is_empty())
                .map(AdapterName::Env),
        }
    }

    /// The first adapter of `adapters` it names: by index (`--adapter` only), else the first
    /// whose name contains it, ignoring case.
    fn find(&self, adapters: &[AdapterSummary]) -> Option<usize> {
        let text = match self {
            AdapterName::Flag(text) => {
                if let Ok(index) = text.trim().parse::<usize>() {
                    return (index < adapters.len()).then_some(index);
                }
                text
            }
            AdapterName::Env(text) => text,
        };
        let needle = text.to_lowercase();
        adapters
            .iter()
            .position(|a| a.name.to_lowercase().contains(&needle))
    }
}

impl std::fmt::Display for AdapterName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdapterName::Flag(text) => write!(f, "--adapter {text}"),
            AdapterName::Env(text) => write!(f, "{ADAPTER_NAME_VARIABLE}={text}"),
        }
    }
}

/// Which adapter to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdapterChoice {
    /// The best adapter that can run gengpu, software included.
    Any,
    /// The best hardware GPU that can run gengpu.
    HardwareOnly,
    /// The one the user named; an error if it cannot run gengpu.
    Named(AdapterName),
}

/// Every adapter wgpu sees on the APIs asked, best first, with what gengpu would ask of each.
#[derive(Clone, Debug)]
pub struct AdapterList {
    /// The APIs asked, and why.
    pub apis: String,
    /// How far the limits are raised (`GENGPU_LIMITS`).
    pub mode: LimitsMode,
    pub adapters: Vec<AdapterSummary>,
}

impl AdapterList {
    /// The index of the adapter `choice` takes, or why there is none.
    pub fn choose(&self, choice: &AdapterChoice) -> Result<usize> {
        let unsuitable = |a: &AdapterSummary| BackendError::Unsuitable {
            adapter: a.label(),
            mode: self.mode,
            shortfalls: a.shortfalls.clone(),
        };
        let wanted = |a: &&AdapterSummary| *choice == AdapterChoice::Any || a.hardware;
        match choice {
            AdapterChoice::Named(name) => {
                let index =
                    name.find(&self.adapters)
                        .ok_or_else(|| BackendError::NoSuchAdapter {
                            asked: name.to_string(),
                            adapters: self.describe(),
                        })?;
                let adapter = &self.adapters[index];
                if adapter.shortfalls.is_empty() {
                    Ok(index)
                } else {
                    Err(unsuitable(adapter))
                }
            }
            AdapterChoice::Any | AdapterChoice::HardwareOnly => {
                let mut candidates = self.adapters.iter().filter(wanted);
                if let Some(a) = candidates.clone().find(|a| a.shortfalls.is_empty()) {
                    return Ok(a.index);
                }
                Err(match candidates.next() {
                    Some(best) => unsuitable(best),
                    None if self.adapters.is_empty() => BackendError::NoAdapter {
                        apis: self.apis.clone(),
                    },
                    None => BackendError::OnlySoftware {
                        software: self.adapters.iter().map(|a| a.name.clone()).collect(),
                    },
                })
            }
        }
    }

    /// The adapters in one sentence, for an error.
    fn describe(&self) -> String {
        if self.adapters.is_empty() {
            return format!("wgpu found none ({})", self.apis);
        }
        let labels: Vec<String> = self.adapters.iter().map(AdapterSummary::label).collect();
        format!(
            "the adapters ({}) are {} (see `gengpu info`)",
            self.apis,
            labels.join(", ")
        )
    }
}

/// The native APIs.
const NATIVE: wgpu::Backends = wgpu::Backends::VULKAN
    .union(wgpu::Backends::METAL)
    .union(wgpu::Backends::DX12);

/// The APIs `WGPU_BACKEND` names, read as wgpu reads it; `None` when it is unset or empty.
fn backends_from_env() -> Result<Option<(wgpu::Backends, String)>> {
    let Some(value) = std::env::var(BACKEND_VARIABLE)
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    // wgpu skips names it does not know with a log warning nobody sees; refuse them instead.
    let unknown = value
        .split(',')
        .any(|name| wgpu::Backends::from_comma_list(name).is_empty());
    if unknown {
        return Err(BackendError::Environment {
            variable: BACKEND_VARIABLE,
            value,
            expected: "wgpu's API names, comma-separated: vulkan, metal, dx12, gl",
        });
    }
    let backends = wgpu::Backends::from_comma_list(&value);
    Ok(Some((backends, format!("{BACKEND_VARIABLE}={value}"))))
}

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

/// The adapters of an [`AdapterList`], each with the limits gengpu would open it with.
struct Found {
    list: AdapterList,
    adapters: Vec<(wgpu::Adapter, wgpu::Limits)>,
}

fn find_adapters() -> Result<Found> {
    let mode = LimitsMode::from_env()?;
    let (mut adapters, apis) = match backends_from_env()? {
        Some((backends, why)) => (enumerate(backends), why),
        None => {
            let native = enumerate(NATIVE);
            if native.is_empty() {
                let why = "GL, since no Vulkan, Metal or DX12 adapter was found";
                (enumerate(wgpu::Backends::GL), why.to_string())
            } else {
                (native, "Vulkan, Metal, DX12".to_string())
            }
        }
    };
    adapters.sort_by_key(|a| rank(&a.get_info()));
    let mut found = Found {
        list: AdapterList {
            apis,
            mode,
            adapters: Vec::new(),
        },
        adapters: Vec::new(),
    };
    for (index, adapter) in adapters.into_iter().enumerate() {
        let info = adapter.get_info();
        let plan = plan_limits(&adapter.limits(), mode)?;
        found.list.adapters.push(AdapterSummary {
            index,
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            hardware: is_hardware(&info),
            limits: plan.rows,
            shortfalls: plan.shortfalls,
            subgroup_lanes: fixed_subgroup_width(&adapter.features(), &info),
        });
        found.adapters.push((adapter, plan.limits));
    }
    Ok(found)
}

/// Every adapter wgpu sees, best first, with what gengpu needs and would ask of each.
pub fn list_adapters() -> Result<AdapterList> {
    Ok(find_adapters()?.list)
}

/// The width of an adapter's subgroups, if it has subgroup operations and its subgroups are
/// always that wide (llvmpipe: the SIMD width, 8 lanes of 32 bits on AVX2).
fn fixed_subgroup_width(features: &wgpu::Features, info: &wgpu::AdapterInfo) -> Option<u32> {
    (features.contains(wgpu::Features::SUBGROUP)
        && info.subgroup_min_size == info.subgroup_max_size)
        .then_some(info.subgroup_min_size)
}

/// An open device: what the GPU backend runs on.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) adapter: AdapterSummary,
    /// The limits the device was opened with: what every size is checked against.
    pub(crate) limits: wgpu::Limits,
    /// The first error the device reported outside an error scope, taken at the next check.
    pub(crate) error: Arc<Mutex<Option<BackendError>>>,
    /// A fault a test asked the device to report ([`InjectedFault`]).
    pub(crate) injected: Option<InjectedFault>,
}

impl GpuContext {
    /// Opens the adapter `choice` takes, with the limits gengpu states for it.
    pub fn new(choice: &AdapterChoice) -> Result<Self> {
        let injected = InjectedFault::from_env()?;
        let Found { list, adapters } = find_adapters()?;
        let index = list.choose(choice)?;
        let summary = list.adapters[index].clone();
        let (adapter, limits) = &adapters[index];
        // Timestamps time benchmarks and autotuning on the device itself, where it has them;
        // subgroup operations serve the kernels written for the device's subgroup width.
        let mut features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        if summary.subgroup_lanes.is_some() {
            features |= wgpu::Features::SUBGROUP;
        }
        let desc = wgpu::DeviceDescriptor {
            label: Some("gengpu"),
            required_features: features,
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
            slot.get_or_insert_with(|| fault(&e));
        }));
        let sink = Arc::clone(&error);
        device.set_device_lost_callback(move |reason, message| {
            // Destroyed is gengpu's own doing (the device dropped at the end); anything else
            // is the driver or the system taking it away.
            if reason != wgpu::DeviceLostReason::Destroyed {
                let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(BackendError::DeviceLost(message));
            }
        });
        Ok(GpuContext {
            limits: device.limits(),
            device,
            queue,
            adapter: summary,
            error,
            injected,
        })
    }

    /// Reports `submit` (counted from 1) done: the moment an injected fault strikes.
    pub(crate) fn submitted(&self, submit: u64) {
        if let Some(fault) = self.injected.filter(|f| f.at_submit == submit) {
            let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(fault.error());
        }
    }

    /// Fails with the first error the device reported since the last check.
    pub(crate) fn check(&self) -> Result<()> {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Waits for everything submitted, then maps the first `bytes` of `buffer` (a `MAP_READ`
    /// buffer a completed copy filled) and returns them.
    pub(crate) fn read_mapped(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let (sender, receiver) = std::sync::mpsc::channel();
        buffer.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
            let _ = sender.send(r);
        });
        self.wait()?;
        let mapped = receiver
            .recv()
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = mapped {
            // A failed map is the consequence of a fault reported before it (memory, a lost
            // device), which says more.
            self.check()?;
            return Err(BackendError::Device(format!(
                "cannot map a buffer to read it back: {e}"
            )));
        }
        let values = buffer
            .get_mapped_range(0..bytes)
            .map_err(|e| BackendError::Device(e.to_string()))?
            .to_vec();
        buffer.unmap();
        Ok(values)
    }

    /// Blocks until the device has run everything submitted.
    pub(crate) fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| BackendError::Device(e.to_string()))
    }

    /// Fails unless a buffer of `bytes` fits the device's limits: every buffer is bound whole
    /// as storage, so the smaller of the buffer and binding limits applies.
    pub(crate) fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let (limit, limit_name) =
            if self.limits.max_storage_buffer_binding_size <= self.limits.max_buffer_size {
                (
                    self.limits.max_storage_buffer_binding_size,
                    "max_storage_buffer_binding_size",
                )
            } else {
                (self.limits.max_buffer_size, "max_buffer_size")
            };
        if bytes > limit {
            return Err(BackendError::TooLarge {
                what: what.to_string(),
                bytes,
                limit,
                limit_name,
                device: self.adapter.name.clone(),
            });
        }
        Ok(())
    }
}

/// What a device error means for the user: out of memory, or another fault (named by wgpu).
fn fault(error: &wgpu::Error) -> BackendError {
    match error {
        wgpu::Error::OutOfMemory { .. } => BackendError::OutOfMemory(error.to_string()),
        _ => BackendError::Device(error.to_string()),
    }
}

#[cfg(test)]
mod fault_tests {
    use super::*;

    #[test]
    fn out_of_memory_is_reported_as_such() {
        let oom = wgpu::Error::OutOfMemory {
            source: Box::new(std::io::Error::other("no room")),
        };
        let e = fault(&oom);
        assert!(matches!(e, BackendError::OutOfMemory(_)));
        assert!(e.to_string().contains("out of GPU memory"), "{e}");
        let other = wgpu::Error::Internal {
            source: Box::new(std::io::Error::other("x")),
            description: "driver".into(),
        };
        assert!(matches!(fault(&other), BackendError::Device(_)));
    }
}

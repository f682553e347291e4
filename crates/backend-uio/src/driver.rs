//! UIO devices in the driver model: a [`UioDriver`] binds driver-core
//! devices to UIO devices found by a stable identity, maps them at probe
//! and drops every mapping and the descriptor at remove. A UIO device
//! inside an FPGA region is therefore torn down by the region's
//! reprogram (it is a consumer of the region) before the region is
//! written, and re-resolved afterwards — under whatever `uioN` number it
//! has then (spec `uio.md` §1.1, §1.10, §3.6).

use crate::device::{lock, UioDevice};
use crate::discover::Selector;
use crate::error::Result;
use crate::regs::Mapping;
use crate::root::UioRoot;
use devlink_core::{Device, Driver, ErrorKind, ProbeError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where UIO devices are opened: the real system (or a fixture tree) or
/// the simulator.
pub trait UioProvider: Send + Sync + 'static {
    /// Opens and locks the device `sel` picks, naming the holder `owner`.
    fn open_as(&self, sel: Selector, owner: &str) -> Result<UioDevice>;
}

/// The real system under a root.
#[derive(Debug, Clone)]
pub struct RealUio(pub UioRoot);

impl UioProvider for RealUio {
    fn open_as(&self, sel: Selector, owner: &str) -> Result<UioDevice> {
        UioDevice::open_as(&self.0, sel, owner)
    }
}

#[cfg(feature = "sim")]
impl UioProvider for crate::sim::SimUio {
    fn open_as(&self, sel: Selector, owner: &str) -> Result<UioDevice> {
        crate::sim::SimUio::open_as(self, sel, owner)
    }
}

/// What the driver did, in order (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UioEvent {
    /// Opened `node` for the driver-core device `device`.
    Opened {
        /// The driver-core device.
        device: String,
        /// `/dev/uioN`.
        node: String,
    },
    /// Mapped map `index`.
    Mapped {
        /// The driver-core device.
        device: String,
        /// The map index.
        index: usize,
    },
    /// Unmapped map `index`.
    Unmapped {
        /// The driver-core device.
        device: String,
        /// The map index.
        index: usize,
    },
    /// Closed the descriptor.
    Closed {
        /// The driver-core device.
        device: String,
        /// `/dev/uioN`.
        node: String,
    },
}

/// A bound UIO device: the open descriptor and every map, mapped.
#[derive(Debug)]
pub struct BoundUio {
    /// The device.
    pub device: UioDevice,
    /// Its maps, by index.
    pub maps: Vec<Mapping>,
}

type Observer = Arc<dyn Fn(&UioEvent) + Send + Sync>;

/// A driver-core driver for UIO devices. Each driver-core device it
/// handles is named with [`add_target`](Self::add_target) and a selector
/// that survives renumbering ([`Selector::Parent`] or
/// [`Selector::Identity`]).
///
/// Access to the mappings goes through [`with_bound`](Self::with_bound),
/// so no reference to them can outlive the binding: at `remove` every
/// mapping is unmapped and the descriptor closed, guaranteed.
pub struct UioDriver {
    name: String,
    provider: Arc<dyn UioProvider>,
    targets: Mutex<HashMap<String, Selector>>,
    bound: Mutex<HashMap<String, BoundUio>>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for UioDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UioDriver({})", self.name)
    }
}

impl UioDriver {
    /// A driver named `name` (it matches devices whose `compatible` is
    /// `name` and that have a target) over `provider`.
    pub fn new(name: &str, provider: Arc<dyn UioProvider>) -> UioDriver {
        UioDriver {
            name: name.to_string(),
            provider,
            targets: Mutex::new(HashMap::new()),
            bound: Mutex::new(HashMap::new()),
            observer: None,
        }
    }

    /// Reports every [`UioEvent`] to `f`.
    pub fn with_observer(mut self, f: impl Fn(&UioEvent) + Send + Sync + 'static) -> UioDriver {
        self.observer = Some(Arc::new(f));
        self
    }

    /// The driver-core device `device` (its name) is the UIO device `sel`
    /// selects.
    pub fn add_target(&self, device: &str, sel: Selector) {
        lock(&self.targets).insert(device.to_string(), sel);
    }

    /// Runs `f` on the bound UIO device of `device`, if it is bound.
    pub fn with_bound<R>(&self, device: &Device, f: impl FnOnce(&BoundUio) -> R) -> Option<R> {
        lock(&self.bound).get(device.name()).map(f)
    }

    /// Devices currently bound (names).
    pub fn bound_devices(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.bound).keys().cloned().collect();
        v.sort();
        v
    }

    fn emit(&self, e: UioEvent) {
        if let Some(o) = &self.observer {
            o(&e);
        }
    }
}

#[async_trait::async_trait]
impl Driver for UioDriver {
    fn name(&self) -> &str {
        &self.name
    }

    fn matches(&self, dev: &Device) -> bool {
        dev.compatible() == Some(self.name.as_str()) && lock(&self.targets).contains_key(dev.name())
    }

    /// Resolves the UIO device afresh (never a cached number), opens and
    /// locks it, and maps every map. A device not there (yet) defers.
    async fn probe(&self, dev: &Device) -> std::result::Result<(), ProbeError> {
        let sel = lock(&self.targets)
            .get(dev.name())
            .cloned()
            .ok_or_else(|| ProbeError::Failed(format!("{}: no UIO target", dev.name())))?;
        let uio = match self.provider.open_as(sel, dev.name()) {
            Ok(u) => u,
            Err(e) if e.kind() == ErrorKind::NoDevice => {
                return Err(ProbeError::Defer(format!("UIO device not present: {e}")))
            }
            Err(e) => return Err(ProbeError::Failed(e.to_string())),
        };
        self.emit(UioEvent::Opened {
            device: dev.name().to_string(),
            node: uio.node().to_string(),
        });
        let mut maps = Vec::new();
        for i in 0..uio.maps().len() {
            let m = uio.map(i).map_err(|e| ProbeError::Failed(e.to_string()))?;
            self.emit(UioEvent::Mapped {
                device: dev.name().to_string(),
                index: i,
            });
            maps.push(m);
        }
        lock(&self.bound).insert(dev.name().to_string(), BoundUio { device: uio, maps });
        Ok(())
    }

    /// Unmaps every map, then closes the descriptor (releasing the lock).
    async fn remove(&self, dev: &Device) {
        let Some(bound) = lock(&self.bound).remove(dev.name()) else {
            return;
        };
        let BoundUio { device, maps } = bound;
        for m in maps {
            let index = m.index();
            drop(m);
            self.emit(UioEvent::Unmapped {
                device: dev.name().to_string(),
                index,
            });
        }
        let node = device.node().to_string();
        drop(device);
        self.emit(UioEvent::Closed {
            device: dev.name().to_string(),
            node,
        });
    }
}

//! The FPGA subsystem of one driver core: the three classes (managers,
//! bridges, regions), their id allocators, the firmware search path, and
//! registrars that stand for the kernel's `THIS_MODULE` register macros.

use crate::bridge::{BridgeInner, FpgaBridge};
use crate::error::{FpgaError, Result};
use crate::manager::{FpgaManager, MgrInner};
use crate::ops::{FpgaBridgeOps, FpgaManagerOps};
use crate::region::{FpgaRegion, RegionInfo, RegionInner};
use crate::state::CompatId;
use devlink_core::{Device, DriverCore, Module};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One class: its registered members (lookup order = registration order)
/// and its id allocator. Ids are freed when the member's class device is
/// released, not at unregister (spec §2).
pub(crate) struct Class<T> {
    pub members: Mutex<Vec<Arc<T>>>,
    pub ids: Arc<Mutex<BTreeSet<u32>>>,
    prefix: &'static str,
    class: &'static str,
}

impl<T> Class<T> {
    fn new(prefix: &'static str, class: &'static str) -> Class<T> {
        Class {
            members: Mutex::new(Vec::new()),
            ids: Arc::new(Mutex::new(BTreeSet::new())),
            prefix,
            class,
        }
    }

    /// Allocates the lowest free id and creates (but does not add) the
    /// class device `<prefix><id>` under `parent`; its release frees the id.
    pub fn new_device(&self, core: &DriverCore, parent: &Device) -> (u32, Device) {
        let id = {
            let mut ids = lock(&self.ids);
            let id = (0..).find(|i| !ids.contains(i)).expect("ids left");
            ids.insert(id);
            id
        };
        let ids = Arc::clone(&self.ids);
        let dev = core
            .device(&format!("{}{id}", self.prefix))
            .class(self.class)
            .parent(parent)
            .on_release(move |_| {
                lock(&ids).remove(&id);
            })
            .create();
        (id, dev)
    }

    /// [`new_device`](Self::new_device), then `device_add`. On failure the
    /// device is dropped, which frees its id.
    pub async fn add_device(&self, core: &DriverCore, parent: &Device) -> Result<(u32, Device)> {
        let (id, dev) = self.new_device(core, parent);
        core.device_add(&dev)
            .await
            .map_err(|source| FpgaError::Core {
                object: dev.name().to_string(),
                source,
            })?;
        Ok((id, dev))
    }

    /// Takes `member` out of lookups and its class device out of sysfs.
    pub async fn detach(&self, core: &DriverCore, member: &Arc<T>, dev: &Device) {
        lock(&self.members).retain(|m| !Arc::ptr_eq(m, member));
        let _ = core.device_del(dev).await;
    }

    pub fn ids_in_use(&self) -> Vec<u32> {
        lock(&self.ids).iter().copied().collect()
    }
}

pub(crate) struct FpgaShared {
    pub core: DriverCore,
    pub managers: Class<MgrInner>,
    pub bridges: Class<BridgeInner>,
    pub regions: Class<RegionInner>,
    pub firmware_path: Mutex<Vec<PathBuf>>,
    pub xilinx: std::sync::atomic::AtomicBool,
}

/// The FPGA subsystem on a [`DriverCore`]. Cloning gives another handle.
///
/// ```
/// use fpga_core::Fpga;
/// let core = devlink_core::DriverCore::new().unwrap();
/// let fpga = Fpga::new(&core);
/// assert_eq!(fpga.firmware_path(), vec![std::path::PathBuf::from("/lib/firmware")]);
/// ```
#[derive(Clone)]
pub struct Fpga {
    pub(crate) shared: Arc<FpgaShared>,
}

impl std::fmt::Debug for Fpga {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fpga")
            .field("managers", &self.shared.managers.ids_in_use())
            .field("bridges", &self.shared.bridges.ids_in_use())
            .field("regions", &self.shared.regions.ids_in_use())
            .finish()
    }
}

impl Fpga {
    /// The subsystem on `core`, with the firmware search path
    /// `/lib/firmware`.
    pub fn new(core: &DriverCore) -> Fpga {
        Fpga {
            shared: Arc::new(FpgaShared {
                core: core.clone(),
                managers: Class::new("fpga", "fpga_manager"),
                bridges: Class::new("br", "fpga_bridge"),
                regions: Class::new("region", "fpga_region"),
                firmware_path: Mutex::new(vec![PathBuf::from("/lib/firmware")]),
                xilinx: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// The driver core.
    pub fn core(&self) -> &DriverCore {
        &self.shared.core
    }

    /// Sets the directories searched for firmware names, in order.
    pub fn set_firmware_path(&self, dirs: Vec<PathBuf>) {
        *lock(&self.shared.firmware_path) = dirs;
    }

    /// The firmware search path.
    pub fn firmware_path(&self) -> Vec<PathBuf> {
        lock(&self.shared.firmware_path).clone()
    }

    /// \[xlnx\] Xilinx mode: a missing `status` op fails the read with
    /// `ENOENT` instead of printing nothing (spec §3.9, §8.4).
    pub fn set_xilinx_mode(&self, on: bool) {
        self.shared
            .xilinx
            .store(on, std::sync::atomic::Ordering::Release);
    }

    /// A registrar whose registrations are owned by `module` (the Rust
    /// counterpart of `THIS_MODULE` in the kernel's register macros): a
    /// `get` pins `module`, and unloading `module` unregisters everything
    /// registered through it.
    pub fn registrar(&self, module: &Module) -> Registrar {
        Registrar {
            fpga: self.clone(),
            owner: Some(module.clone()),
        }
    }

    /// A registrar for built-in backends (owner "none": always pinnable).
    pub fn registrar_builtin(&self) -> Registrar {
        Registrar {
            fpga: self.clone(),
            owner: None,
        }
    }

    /// Registered managers, in registration order.
    pub fn managers(&self) -> Vec<FpgaManager> {
        lock(&self.shared.managers.members)
            .iter()
            .map(|i| FpgaManager::from_inner(Arc::clone(i)))
            .collect()
    }

    /// Registered bridges, in registration order.
    pub fn bridges(&self) -> Vec<FpgaBridge> {
        lock(&self.shared.bridges.members)
            .iter()
            .map(|i| FpgaBridge::from_inner(Arc::clone(i)))
            .collect()
    }

    /// Registered regions, in registration order.
    pub fn regions(&self) -> Vec<FpgaRegion> {
        lock(&self.shared.regions.members)
            .iter()
            .map(|i| FpgaRegion::from_inner(Arc::clone(i)))
            .collect()
    }
}

/// Registers managers, bridges and regions on behalf of one owner module.
#[derive(Clone)]
pub struct Registrar {
    pub(crate) fpga: Fpga,
    pub(crate) owner: Option<Module>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Registrar({})",
            self.owner.as_ref().map_or("built-in", |m| m.name())
        )
    }
}

/// What a manager is registered with (`struct fpga_manager_info`).
pub struct ManagerInfo {
    /// The registration name (sysfs `name`).
    pub name: String,
    /// The low-level driver.
    pub ops: Option<Arc<dyn FpgaManagerOps>>,
    /// Optional compatibility id.
    pub compat_id: Option<CompatId>,
}

impl ManagerInfo {
    /// A named manager with these ops.
    pub fn new(name: &str, ops: Arc<dyn FpgaManagerOps>) -> ManagerInfo {
        ManagerInfo {
            name: name.to_string(),
            ops: Some(ops),
            compat_id: None,
        }
    }
}

impl Registrar {
    /// The owner module (`None` for built-in).
    pub fn owner(&self) -> Option<&Module> {
        self.owner.as_ref()
    }

    /// `fpga_mgr_register_full(parent, info)` (spec §3.1).
    pub async fn register_manager(
        &self,
        parent: &Device,
        info: ManagerInfo,
    ) -> Result<FpgaManager> {
        crate::manager::register(self, parent, info).await
    }

    /// `fpga_bridge_register(parent, name, ops)` (spec §5.2).
    pub async fn register_bridge(
        &self,
        parent: &Device,
        name: &str,
        ops: Option<Arc<dyn FpgaBridgeOps>>,
    ) -> Result<FpgaBridge> {
        crate::bridge::register(self, parent, name, ops).await
    }

    /// `fpga_region_register_full(parent, info)` (spec §6.1).
    pub async fn register_region(
        &self,
        parent: &Device,
        info: Option<RegionInfo>,
    ) -> Result<FpgaRegion> {
        crate::region::register(self, parent, info).await
    }

    /// `devm_fpga_mgr_register_full(parent, info)`: [`register_manager`],
    /// and the manager is unregistered when `parent`'s driver unbinds (or
    /// its probe fails), or, for a parent with no driver, when `parent` is
    /// deleted or released (spec behaviour 42).
    ///
    /// [`register_manager`]: Self::register_manager
    pub async fn devm_register_manager(
        &self,
        parent: &Device,
        info: ManagerInfo,
    ) -> Result<FpgaManager> {
        let mgr = self.register_manager(parent, info).await?;
        let held = mgr.clone();
        parent.devres_add_async(move || Box::pin(async move { held.unregister().await }));
        Ok(mgr)
    }

    /// `devm_fpga_bridge_register`: [`register_bridge`], unregistered
    /// with `parent` as for [`devm_register_manager`].
    ///
    /// [`register_bridge`]: Self::register_bridge
    /// [`devm_register_manager`]: Self::devm_register_manager
    pub async fn devm_register_bridge(
        &self,
        parent: &Device,
        name: &str,
        ops: Option<Arc<dyn FpgaBridgeOps>>,
    ) -> Result<FpgaBridge> {
        let bridge = self.register_bridge(parent, name, ops).await?;
        let held = bridge.clone();
        parent.devres_add_async(move || Box::pin(async move { held.unregister().await }));
        Ok(bridge)
    }

    /// `devm_fpga_region_register_full`: [`register_region`],
    /// unregistered with `parent` as for [`devm_register_manager`].
    ///
    /// [`register_region`]: Self::register_region
    /// [`devm_register_manager`]: Self::devm_register_manager
    pub async fn devm_register_region(
        &self,
        parent: &Device,
        info: Option<RegionInfo>,
    ) -> Result<FpgaRegion> {
        let region = self.register_region(parent, info).await?;
        let held = region.clone();
        parent.devres_add_async(move || Box::pin(async move { held.unregister().await }));
        Ok(region)
    }

    /// Makes the owner's unload run `unregister` (spec §4.3: unload
    /// unregisters everything the module registered). Returns the hook id.
    pub(crate) fn on_unload(
        &self,
        unregister: impl FnOnce() -> devlink_core::ExitFuture + Send + 'static,
    ) -> Option<u64> {
        self.owner
            .as_ref()
            .map(|m| m.add_exit_hook(Box::new(unregister)))
    }

    pub(crate) fn check_owner_live(&self, object: &str) -> Result<()> {
        match &self.owner {
            Some(m) if m.state() != devlink_core::ModuleState::Live => Err(FpgaError::nodev(
                object,
                format!("owner module {} is {:?}", m.name(), m.state()),
            )),
            _ => Ok(()),
        }
    }
}

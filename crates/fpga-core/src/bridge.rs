//! FPGA bridges (`drivers/fpga/fpga-bridge.c`, spec `fpga.md` §5).

use crate::error::{FpgaError, OpError, Result};
use crate::fpga::{lock, Fpga, Registrar};
use crate::guard::OpsGuard;
use crate::image::ImageInfo;
use crate::ops::{BridgeCaps, BridgeCtx, FpgaBridgeOps};
use devlink_core::{Device, FwNode, PinToken};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

pub(crate) struct BridgeInner {
    fpga: Weak<crate::fpga::FpgaShared>,
    /// What every op is given: name, id, devices.
    ctx: BridgeCtx,
    ops: Arc<dyn FpgaBridgeOps>,
    caps: BridgeCaps,
    guard: OpsGuard,
    held: AtomicBool,
    info: Mutex<Option<ImageInfo>>,
}

impl std::ops::Deref for BridgeInner {
    type Target = BridgeCtx;
    fn deref(&self) -> &BridgeCtx {
        &self.ctx
    }
}

/// A registered FPGA bridge (the object; not a hold on it).
#[derive(Clone)]
pub struct FpgaBridge {
    inner: Arc<BridgeInner>,
}

/// Identity: two handles are equal when they are the same registered
/// object (`ptr_eq`), whatever their clones.
impl PartialEq for FpgaBridge {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
    }
}

impl Eq for FpgaBridge {}

impl std::hash::Hash for FpgaBridge {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.inner), state)
    }
}

impl FpgaBridge {
    /// Whether `self` and `other` are handles of the same object.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The parent device (the one it was registered on), as for managers
    /// and regions.
    pub fn parent(&self) -> &Device {
        &self.inner.parent
    }
}

impl std::fmt::Debug for FpgaBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FpgaBridge(br{}, {:?})", self.inner.id, self.inner.name)
    }
}

pub(crate) async fn register(
    reg: &Registrar,
    parent: &Device,
    name: &str,
    ops: Option<Arc<dyn FpgaBridgeOps>>,
) -> Result<FpgaBridge> {
    let ops = ops.ok_or_else(|| FpgaError::invalid("fpga bridge", "no ops table"))?;
    if name.is_empty() {
        return Err(FpgaError::invalid("fpga bridge", "empty name"));
    }
    reg.check_owner_live("fpga bridge")?;
    let shared = &reg.fpga.shared;
    let (id, dev) = shared.bridges.add_device(&shared.core, parent).await?;
    let inner = Arc::new(BridgeInner {
        fpga: Arc::downgrade(shared),
        ctx: BridgeCtx {
            id,
            name: name.to_string(),
            dev,
            parent: parent.clone(),
        },
        caps: ops.caps(),
        ops,
        guard: OpsGuard::new(reg.owner.clone()),
        held: AtomicBool::new(false),
        info: Mutex::new(None),
    });
    lock(&shared.bridges.members).push(Arc::clone(&inner));
    let weak = Arc::downgrade(&inner);
    let hook = reg.on_unload(move || {
        Box::pin(async move {
            if let Some(inner) = weak.upgrade() {
                FpgaBridge { inner }.unregister().await;
            }
        })
    });
    inner.guard.set_exit_hook(hook);
    Ok(FpgaBridge { inner })
}

impl BridgeInner {
    fn object(&self) -> &str {
        self.dev.name()
    }

    async fn enable_set(&self, enable: bool) -> Result<()> {
        let _t = self.guard.enter(self.object())?;
        if !self.caps.contains(BridgeCaps::ENABLE_SET) {
            return Ok(());
        }
        self.ops
            .enable_set(&self.ctx, enable)
            .await
            .map_err(|e: OpError| FpgaError::op(self.object(), "enable_set", e))
    }
}

impl FpgaBridge {
    pub(crate) fn from_inner(inner: Arc<BridgeInner>) -> FpgaBridge {
        FpgaBridge { inner }
    }

    /// What its ops are given: a backend's own tests call an op directly
    /// with it (`ops.enable_set(bridge.ctx(), true)`).
    pub fn ctx(&self) -> &BridgeCtx {
        &self.inner.ctx
    }

    /// The optional ops its backend has (asked once, at registration).
    pub fn caps(&self) -> BridgeCaps {
        self.inner.caps
    }

    /// The registration name (sysfs `name`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The id (`br<id>`).
    pub fn id(&self) -> u32 {
        self.inner.id
    }

    /// The class device `br<id>`.
    pub fn device(&self) -> &Device {
        &self.inner.dev
    }

    /// Whether someone holds the bridge.
    pub fn is_held(&self) -> bool {
        self.inner.held.load(Ordering::Acquire)
    }

    /// The image info stored by the current holder's `get`.
    pub fn info(&self) -> Option<ImageInfo> {
        lock(&self.inner.info).clone()
    }

    /// Whether the bridge was unregistered.
    pub fn is_unregistered(&self) -> bool {
        self.inner.guard.is_unregistered()
    }

    /// `fpga_bridge_enable`: `enable_set(true)`, or 0 without the op.
    /// Does not require holding the bridge; `ENODEV` after unregister.
    pub async fn enable(&self) -> Result<()> {
        self.inner.enable_set(true).await
    }

    /// `fpga_bridge_disable`.
    pub async fn disable(&self) -> Result<()> {
        self.inner.enable_set(false).await
    }

    /// sysfs `name`.
    pub fn sysfs_name(&self) -> String {
        format!("{}\n", self.inner.name)
    }

    /// sysfs `state`: `enabled\n` without `enable_show` or when it
    /// returns true, `disabled\n` when false; its error fails the read.
    pub async fn sysfs_state(&self) -> Result<String> {
        let inner = &self.inner;
        if !inner.caps.contains(BridgeCaps::ENABLE_SHOW) {
            return Ok("enabled\n".into());
        }
        let _t = inner.guard.enter(inner.object())?;
        match inner.ops.enable_show(&inner.ctx).await {
            Ok(true) => Ok("enabled\n".into()),
            Ok(false) => Ok("disabled\n".into()),
            Err(e) => Err(FpgaError::op(inner.object(), "enable_show", e)),
        }
    }

    /// `fpga_bridge_unregister`: calls `fpga_bridge_remove`, marks the
    /// bridge unregistered and removes it from lookups and sysfs. Returns
    /// without waiting for a holder; the holder keeps its hold until it
    /// puts it, and its enable/disable fail with `ENODEV`.
    pub async fn unregister(&self) {
        let inner = &self.inner;
        let remove = inner
            .caps
            .contains(BridgeCaps::REMOVE)
            .then(|| inner.ops.fpga_bridge_remove(&inner.ctx));
        let detach = async {
            if let Some(shared) = inner.fpga.upgrade() {
                shared.bridges.detach(&shared.core, inner, &inner.dev).await;
            }
        };
        inner
            .guard
            .unregister_once(inner.dev.name(), remove, detach)
            .await;
    }
}

/// An exclusive hold on a bridge (`fpga_bridge_get`): a device reference,
/// the bridge's lock and a pin on its owner. Dropping it is
/// `fpga_bridge_put`: clear `info`, release the pin, unlock, drop the
/// device reference.
pub struct BridgeHold {
    pin: Option<PinToken>,
    dev: Device,
    inner: Arc<BridgeInner>,
}

impl std::fmt::Debug for BridgeHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BridgeHold(br{})", self.inner.id)
    }
}

impl Drop for BridgeHold {
    fn drop(&mut self) {
        *lock(&self.inner.info) = None;
        self.inner.guard.unpin(self.pin.take());
        self.inner.held.store(false, Ordering::Release);
    }
}

impl BridgeHold {
    /// The bridge.
    pub fn bridge(&self) -> FpgaBridge {
        FpgaBridge {
            inner: Arc::clone(&self.inner),
        }
    }

    /// The class device (the reference this hold has).
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// `fpga_bridge_enable`.
    pub async fn enable(&self) -> Result<()> {
        self.inner.enable_set(true).await
    }

    /// `fpga_bridge_disable`.
    pub async fn disable(&self) -> Result<()> {
        self.inner.enable_set(false).await
    }
}

impl Fpga {
    /// `fpga_bridge_get(dev, info)`: exclusive; `EBUSY` if held (by anyone,
    /// the caller included), `ENODEV` if there is none, it is unregistered,
    /// or its owner cannot be pinned. `info` is stored only on success.
    pub fn bridge_get(&self, parent: &Device, info: Option<&ImageInfo>) -> Result<BridgeHold> {
        self.bridge_get_by(|b| &b.parent == parent, || parent.to_string(), info)
    }

    /// `of_fpga_bridge_get(node, info)`: by the parent's firmware node.
    pub fn of_bridge_get(&self, node: &FwNode, info: Option<&ImageInfo>) -> Result<BridgeHold> {
        self.bridge_get_by(
            |b| b.parent.fwnode().as_ref() == Some(node),
            || node.path().to_string(),
            info,
        )
    }

    fn bridge_get_by(
        &self,
        pred: impl Fn(&BridgeInner) -> bool,
        what: impl FnOnce() -> String,
        info: Option<&ImageInfo>,
    ) -> Result<BridgeHold> {
        let (inner, dev) = {
            let members = lock(&self.shared.bridges.members);
            let inner = members
                .iter()
                .find(|b| pred(b))
                .cloned()
                .ok_or_else(|| FpgaError::nodev(&what(), "no FPGA bridge"))?;
            let dev = inner.dev.clone();
            (inner, dev)
        };
        inner
            .held
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| FpgaError::busy(inner.object(), "bridge is held"))?;
        let pin = match inner.guard.pin(inner.object()) {
            Ok(p) => p,
            Err(e) => {
                inner.held.store(false, Ordering::Release);
                return Err(e);
            }
        };
        *lock(&inner.info) = info.cloned();
        Ok(BridgeHold { pin, dev, inner })
    }

    /// `fpga_bridge_get_to_list`: gets the bridge and inserts it at the
    /// **head** of `list`; on failure the list is unchanged.
    pub fn bridge_get_to_list(
        &self,
        parent: &Device,
        info: Option<&ImageInfo>,
        list: &mut BridgeList,
    ) -> Result<()> {
        let hold = self.bridge_get(parent, info)?;
        list.holds.push_front(hold);
        Ok(())
    }

    /// `of_fpga_bridge_get_to_list`.
    pub fn of_bridge_get_to_list(
        &self,
        node: &FwNode,
        info: Option<&ImageInfo>,
        list: &mut BridgeList,
    ) -> Result<()> {
        let hold = self.of_bridge_get(node, info)?;
        list.holds.push_front(hold);
        Ok(())
    }
}

/// A list of held bridges (a region's `bridge_list`), head first.
#[derive(Debug, Default)]
pub struct BridgeList {
    holds: VecDeque<BridgeHold>,
}

impl BridgeList {
    /// An empty list.
    pub fn new() -> BridgeList {
        BridgeList::default()
    }

    /// Number of bridges.
    pub fn len(&self) -> usize {
        self.holds.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.holds.is_empty()
    }

    /// The bridges, head first.
    pub fn bridges(&self) -> Vec<FpgaBridge> {
        self.holds.iter().map(BridgeHold::bridge).collect()
    }

    /// Adds a hold at the head.
    pub fn push_front(&mut self, hold: BridgeHold) {
        self.holds.push_front(hold);
    }

    /// `fpga_bridges_enable`: head to tail, stopping at the first error
    /// (bridges already switched stay switched).
    pub async fn enable_all(&self) -> Result<()> {
        for h in &self.holds {
            h.enable().await?;
        }
        Ok(())
    }

    /// `fpga_bridges_disable`.
    pub async fn disable_all(&self) -> Result<()> {
        for h in &self.holds {
            h.disable().await?;
        }
        Ok(())
    }

    /// `fpga_bridges_put`: puts every bridge; the list is empty afterwards.
    pub fn put_all(&mut self) {
        self.holds.clear();
    }
}

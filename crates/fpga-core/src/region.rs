//! FPGA regions (`drivers/fpga/fpga-region.c`, spec `fpga.md` §6).

use crate::bridge::BridgeList;
use crate::error::{FpgaError, Result};
use crate::fpga::{lock, Fpga, Registrar};
use crate::guard::OpsGuard;
use crate::image::ImageInfo;
use crate::manager::{ManagerLock, ManagerRef};
use crate::observe::{Observer, Step};
use crate::ops::RegionOps;
use crate::state::CompatId;
use devlink_core::{Device, PinToken};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// What a region is registered with (`struct fpga_region_info`).
pub struct RegionInfo {
    /// The manager that programs the region. The region keeps this
    /// reference (and so the pin on the manager's owner) for its lifetime,
    /// as the device-tree layer does.
    pub mgr: Option<ManagerRef>,
    /// Bridge discovery (`get_bridges`), if any.
    pub get_bridges: Option<Arc<dyn RegionOps>>,
    /// Optional compatibility id (sysfs `compat_id`).
    pub compat_id: Option<CompatId>,
}

impl RegionInfo {
    /// A region programmed by `mgr`, without bridge discovery.
    pub fn new(mgr: ManagerRef) -> RegionInfo {
        RegionInfo {
            mgr: Some(mgr),
            get_bridges: None,
            compat_id: None,
        }
    }
}

pub(crate) struct RegionInner {
    fpga: Weak<crate::fpga::FpgaShared>,
    id: u32,
    dev: Device,
    parent: Device,
    mgr: ManagerRef,
    get_bridges: Option<Arc<dyn RegionOps>>,
    compat_id: Option<CompatId>,
    guard: OpsGuard,
    held: AtomicBool,
    info: Mutex<Option<ImageInfo>>,
    bridge_list: Mutex<BridgeList>,
}

/// A registered FPGA region.
#[derive(Clone)]
pub struct FpgaRegion {
    inner: Arc<RegionInner>,
}

/// Identity: two handles are equal when they are the same registered
/// object (`ptr_eq`), whatever their clones.
impl PartialEq for FpgaRegion {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
    }
}

impl Eq for FpgaRegion {}

impl std::hash::Hash for FpgaRegion {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.inner), state)
    }
}

impl FpgaRegion {
    /// Whether `self` and `other` are handles of the same object.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for FpgaRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FpgaRegion(region{})", self.inner.id)
    }
}

pub(crate) async fn register(
    reg: &Registrar,
    parent: &Device,
    info: Option<RegionInfo>,
) -> Result<FpgaRegion> {
    let info = info.ok_or_else(|| FpgaError::invalid("fpga region", "no region info"))?;
    let mgr = info.mgr.ok_or_else(|| {
        FpgaError::invalid(
            "fpga region",
            "no FPGA manager (a region cannot be programmed without one)",
        )
    })?;
    reg.check_owner_live("fpga region")?;
    let shared = &reg.fpga.shared;
    let (id, dev) = shared.regions.add_device(&shared.core, parent).await?;
    let inner = Arc::new(RegionInner {
        fpga: Arc::downgrade(shared),
        id,
        dev,
        parent: parent.clone(),
        mgr,
        get_bridges: info.get_bridges,
        compat_id: info.compat_id,
        guard: OpsGuard::new(reg.owner.clone()),
        held: AtomicBool::new(false),
        info: Mutex::new(None),
        bridge_list: Mutex::new(BridgeList::new()),
    });
    lock(&shared.regions.members).push(Arc::clone(&inner));
    let weak = Arc::downgrade(&inner);
    let hook = reg.on_unload(move || {
        Box::pin(async move {
            if let Some(inner) = weak.upgrade() {
                FpgaRegion { inner }.unregister().await;
            }
        })
    });
    inner.guard.set_exit_hook(hook);
    Ok(FpgaRegion { inner })
}

/// A hold on a region (`fpga_region_get`): its lock, a device reference
/// and an owner pin. Dropping it is `fpga_region_put`.
pub struct RegionHold {
    pin: Option<PinToken>,
    dev: Device,
    inner: Arc<RegionInner>,
}

impl Drop for RegionHold {
    fn drop(&mut self) {
        self.inner.guard.unpin(self.pin.take());
        self.inner.held.store(false, Ordering::Release);
    }
}

impl RegionHold {
    /// The class device (the reference this hold has).
    pub fn device(&self) -> &Device {
        &self.dev
    }
}

impl FpgaRegion {
    pub(crate) fn from_inner(inner: Arc<RegionInner>) -> FpgaRegion {
        FpgaRegion { inner }
    }

    fn object(&self) -> &str {
        self.inner.dev.name()
    }

    /// The id (`region<id>`).
    pub fn id(&self) -> u32 {
        self.inner.id
    }

    /// The class device `region<id>`: devices that use the logic inside
    /// the region link to it as their supplier.
    pub fn device(&self) -> &Device {
        &self.inner.dev
    }

    /// The parent device.
    pub fn parent(&self) -> &Device {
        &self.inner.parent
    }

    /// The region's manager reference.
    pub fn manager(&self) -> &ManagerRef {
        &self.inner.mgr
    }

    /// The image to program (`region->info`).
    pub fn info(&self) -> Option<ImageInfo> {
        lock(&self.inner.info).clone()
    }

    /// Sets or clears the image to program.
    pub fn set_info(&self, info: Option<ImageInfo>) {
        *lock(&self.inner.info) = info;
    }

    /// The bridges currently held in the region's list.
    pub fn bridges(&self) -> Vec<crate::FpgaBridge> {
        lock(&self.inner.bridge_list).bridges()
    }

    /// Gives the region a static bridge list (for regions without
    /// `get_bridges`); programming never puts it.
    pub fn set_bridge_list(&self, list: BridgeList) {
        *lock(&self.inner.bridge_list) = list;
    }

    /// Whether bridges come from a `get_bridges` callback (rather than a
    /// static list).
    pub fn has_get_bridges(&self) -> bool {
        self.inner.get_bridges.is_some()
    }

    /// Takes the region's bridge list, leaving it empty.
    pub(crate) fn take_bridge_list(&self) -> BridgeList {
        std::mem::take(&mut *lock(&self.inner.bridge_list))
    }

    /// `fpga_bridges_put(&region->bridge_list)`.
    pub fn put_bridges(&self) {
        lock(&self.inner.bridge_list).put_all();
    }

    /// Whether someone holds the region.
    pub fn is_held(&self) -> bool {
        self.inner.held.load(Ordering::Acquire)
    }

    /// The compatibility id, if the region has one.
    pub fn compat_id(&self) -> Option<CompatId> {
        self.inner.compat_id
    }

    /// Reprograms the region with `image` while its users are safely down:
    /// [`crate::reprogram`] over the region's own driver core with a
    /// [`crate::RegionLoader`].
    pub async fn reprogram(
        &self,
        image: ImageInfo,
        obs: &dyn Observer,
    ) -> std::result::Result<crate::ReprogramReport, crate::ReprogramError> {
        let loader = crate::RegionLoader::new(self, image);
        match self.inner.dev.driver_core() {
            Some(core) => {
                crate::reprogram(&core, &loader, &crate::ReprogramOptions::default(), obs).await
            }
            None => Err(crate::ReprogramError {
                op: "reprogram",
                target: self.object().to_string(),
                stage: crate::Stage::Check,
                kind: crate::ErrorKind::NoDevice,
                errno: Some(crate::Errno::ENODEV),
                source: Box::new(FpgaError::nodev(self.object(), "the driver core is gone")),
                left_unbound: Vec::new(),
                state: Some(self.inner.mgr.state()),
                status: crate::MgrStatus::empty(),
            }),
        }
    }

    /// sysfs `compat_id`: 32 hex digits and `\n`, or `ENOENT` without one.
    pub fn sysfs_compat_id(&self) -> Result<String> {
        self.inner.compat_id.map(CompatId::sysfs).ok_or_else(|| {
            FpgaError::invalid_errno(self.object(), "no compat_id", crate::Errno::ENOENT)
        })
    }

    /// `fpga_region_get`: try-lock (`EBUSY`), device reference, owner pin
    /// (`ENODEV`; everything undone).
    pub fn get(&self) -> Result<RegionHold> {
        let inner = &self.inner;
        inner
            .held
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| FpgaError::busy(self.object(), "region is already in use"))?;
        let dev = inner.dev.clone();
        match inner.guard.pin(self.object()) {
            Ok(pin) => Ok(RegionHold {
                pin,
                dev,
                inner: Arc::clone(inner),
            }),
            Err(e) => {
                drop(dev);
                inner.held.store(false, Ordering::Release);
                Err(e)
            }
        }
    }

    /// `fpga_region_program_fpga` (spec §6.4): get the region, lock the
    /// manager, get the bridges, disable them, load, enable them, unlock,
    /// put the region. On failure it unwinds in the kernel's order —
    /// bridges put (only if `get_bridges` got them), manager unlocked,
    /// region put — and bridges are *not* re-enabled. On success bridges
    /// got by `get_bridges` stay held until [`put_bridges`](Self::put_bridges).
    pub async fn program(&self) -> Result<()> {
        self.program_observed(&crate::observe::ignore).await
    }

    /// [`program`](Self::program), reporting each step.
    pub async fn program_observed(&self, obs: &dyn Observer) -> Result<()> {
        if lock(&self.inner.info).is_none() {
            return Err(FpgaError::invalid(
                self.object(),
                "no image info to program",
            ));
        }
        let (hold, mgr_lock) = self.acquire(obs)?;
        let r = self.program_locked(hold, mgr_lock, obs).await.0;
        obs.step(&Step::Released);
        r
    }

    /// Steps 1–2 of §6.4: hold the region, then lock its manager (undoing
    /// the hold if the lock fails).
    pub(crate) fn acquire(&self, obs: &dyn Observer) -> Result<(RegionHold, ManagerLock)> {
        let hold = self.get()?;
        obs.step(&Step::RegionHeld {
            region: self.object().to_string(),
        });
        let mgr_lock = self.inner.mgr.lock()?;
        obs.step(&Step::ManagerLocked {
            manager: self.inner.mgr.device().name().to_string(),
        });
        Ok((hold, mgr_lock))
    }

    /// Steps 3–7 of §6.4 with the region held and the manager locked,
    /// loading `region->info` in place: what the manager's `parse_header`
    /// sets (`header_size`, `data_size`) stays in the region's info, as in
    /// the kernel (spec §3.3, §9.8, behaviour 38). The flag says whether
    /// it got as far as switching bridges (after which the hardware may
    /// have changed, even on failure). Drops the lock and the hold before
    /// it returns; the caller reports [`Step::Released`].
    pub(crate) async fn program_locked(
        &self,
        hold: RegionHold,
        mgr_lock: ManagerLock,
        obs: &dyn Observer,
    ) -> (Result<()>, bool) {
        // The info leaves its mutex for the load (which awaits) and comes
        // back with whatever the load wrote into it.
        let Some(mut info) = lock(&self.inner.info).take() else {
            return (
                Err(FpgaError::invalid(
                    self.object(),
                    "no image info to program",
                )),
                false,
            );
        };
        let from_callback = self.inner.get_bridges.is_some();
        // Work on the list outside its mutex (the callback awaits).
        let mut list = std::mem::take(&mut *lock(&self.inner.bridge_list));
        if let Some(cb) = &self.inner.get_bridges {
            // get_bridges reads the region's info (the overlay's
            // `fpga-bridges`): put it back while the callback runs.
            *lock(&self.inner.info) = Some(info);
            let got = cb.get_bridges(self, &mut list).await;
            info = match lock(&self.inner.info).take() {
                Some(i) => i,
                None => {
                    *lock(&self.inner.bridge_list) = list;
                    return (
                        Err(FpgaError::invalid(
                            self.object(),
                            "the image info was cleared while the bridges were got",
                        )),
                        false,
                    );
                }
            };
            if let Err(e) = got {
                *lock(&self.inner.info) = Some(info);
                *lock(&self.inner.bridge_list) = list;
                drop(mgr_lock);
                drop(hold);
                return (Err(e), false);
            }
            obs.step(&Step::BridgesGot { count: list.len() });
        }
        let result = async {
            list.disable_all().await?;
            obs.step(&Step::BridgesDisabled);
            let progress = |written, total| obs.step(&Step::Loading { written, total });
            mgr_lock.load_with_progress(&mut info, &progress).await?;
            obs.step(&Step::Loaded {
                state: mgr_lock.manager().state(),
            });
            list.enable_all().await?;
            obs.step(&Step::BridgesEnabled);
            Ok(())
        }
        .await;
        if result.is_err() && from_callback {
            list.put_all();
        }
        *lock(&self.inner.bridge_list) = list;
        {
            let mut slot = lock(&self.inner.info);
            if slot.is_none() {
                *slot = Some(info);
            }
        }
        drop(mgr_lock);
        drop(hold);
        (result, true)
    }

    /// `fpga_region_unregister`: removes the region from lookups and sysfs.
    pub async fn unregister(&self) {
        let inner = &self.inner;
        // Regions have no remove op (spec §6.1).
        let remove = None::<std::future::Ready<()>>;
        let detach = async {
            if let Some(shared) = inner.fpga.upgrade() {
                shared.regions.detach(&shared.core, inner, &inner.dev).await;
            }
        };
        inner
            .guard
            .unregister_once(inner.dev.name(), remove, detach)
            .await;
    }
}

impl Fpga {
    /// `fpga_region_class_find`: the first region after `start` (or from
    /// the beginning) for which `pred` holds. The returned handle is a new
    /// reference to the region's device.
    pub fn region_class_find(
        &self,
        start: Option<&FpgaRegion>,
        pred: impl Fn(&FpgaRegion) -> bool,
    ) -> Option<(FpgaRegion, Device)> {
        let members = lock(&self.shared.regions.members);
        let skip = match start {
            Some(s) => members.iter().position(|m| Arc::ptr_eq(m, &s.inner))? + 1,
            None => 0,
        };
        members[skip..]
            .iter()
            .map(|m| FpgaRegion::from_inner(Arc::clone(m)))
            .find(|r| pred(r))
            .map(|r| {
                let dev = r.inner.dev.clone();
                (r, dev)
            })
    }
}

//! FPGA managers (`drivers/fpga/fpga-mgr.c`, spec `fpga.md` §3–§4).

use crate::error::{Errno, FpgaError, OpError, Result};
use crate::fpga::{lock, Fpga, ManagerInfo, Registrar};
use crate::guard::OpsGuard;
use crate::image::{ImageInfo, ScatterTable};
use crate::ops::{FpgaManagerOps, ManagerCtx, MgrCaps};
use crate::state::{CompatId, MgrState, MgrStatus};
use bytes::Bytes;
use devlink_core::{Device, FwNode, PinToken};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Weak};

/// Progress of a load: `(bytes written so far, bytes to write)`.
///
/// During a scatter load through `write` it is called inside the write
/// phase, which counts as one op in flight: it must not unregister the
/// manager it reports on (the unregister would wait for the phase).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

pub(crate) struct MgrInner {
    pub(crate) fpga: Weak<crate::fpga::FpgaShared>,
    /// What every op is given: name, id, devices, state.
    pub(crate) ctx: ManagerCtx,
    pub(crate) ops: Arc<dyn FpgaManagerOps>,
    pub(crate) caps: MgrCaps,
    /// `initial_header_size` and `skip_header`, read once at registration:
    /// they are fields of the kernel's ops table, and reading them later
    /// would call the backend outside the ops guard.
    initial_header_size: usize,
    skip_header: bool,
    pub(crate) guard: OpsGuard,
    locked: AtomicBool,
    /// The last successful load's image, if its info said what it was;
    /// cleared when a load starts.
    loaded: std::sync::Mutex<Option<crate::LoadedImage>>,
    pub(crate) xlnx: std::sync::Mutex<crate::xlnx::XlnxAttrs>,
}

impl std::ops::Deref for MgrInner {
    type Target = ManagerCtx;
    fn deref(&self) -> &ManagerCtx {
        &self.ctx
    }
}

/// A registered FPGA manager (the object; not a reference that pins it).
///
/// ```
/// use fpga_core::{Fpga, ManagerInfo, MgrCaps, MgrState, ImageInfo, MockFpgaManagerOps};
/// use std::sync::Arc;
/// # futures::executor::block_on(async {
/// let core = devlink_core::DriverCore::new().unwrap();
/// let parent = core.device("soc:fpga").bus("platform").create();
/// core.device_add(&parent).await.unwrap();
/// let fpga = Fpga::new(&core);
/// let module = devlink_core::Module::new("my_fpga_driver");
///
/// let mut ops = MockFpgaManagerOps::new();
/// ops.expect_caps().return_const(MgrCaps::WRITE);
/// ops.expect_initial_header_size().return_const(0usize);
/// ops.expect_skip_header().return_const(false);
/// ops.expect_write().times(1).returning(|_, _| Ok(()));
/// let mgr = fpga.registrar(&module)
///     .register_manager(&parent, ManagerInfo::new("demo", Arc::new(ops))).await.unwrap();
/// assert_eq!(mgr.device().name(), "fpga0");
///
/// let held = fpga.mgr_get(&parent).unwrap();        // pins my_fpga_driver
/// let locked = held.lock().unwrap();                 // exclusive until dropped
/// locked.load(&mut ImageInfo::from_buffer(vec![1, 2, 3, 4])).await.unwrap();
/// assert_eq!(mgr.state(), MgrState::Operating);
/// # });
/// ```
#[derive(Clone)]
pub struct FpgaManager {
    pub(crate) inner: Arc<MgrInner>,
}

/// Identity: two handles are equal when they are the same registered
/// object (`ptr_eq`), whatever their clones.
impl PartialEq for FpgaManager {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
    }
}

impl Eq for FpgaManager {}

impl std::hash::Hash for FpgaManager {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.inner), state)
    }
}

impl FpgaManager {
    /// Whether `self` and `other` are handles of the same object.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for FpgaManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FpgaManager(fpga{}, {:?})",
            self.inner.id, self.inner.name
        )
    }
}

pub(crate) async fn register(
    reg: &Registrar,
    parent: &Device,
    info: ManagerInfo,
) -> Result<FpgaManager> {
    let ops = info
        .ops
        .ok_or_else(|| FpgaError::invalid("fpga manager", "no ops table"))?;
    if info.name.is_empty() {
        return Err(FpgaError::invalid("fpga manager", "empty name"));
    }
    reg.check_owner_live("fpga manager")?;
    let shared = &reg.fpga.shared;
    let caps = ops.caps();
    let (initial_header_size, skip_header) = (ops.initial_header_size(), ops.skip_header());
    let (id, dev) = shared.managers.new_device(&shared.core, parent);
    let inner = Arc::new(MgrInner {
        fpga: Arc::downgrade(shared),
        ctx: ManagerCtx {
            id,
            name: info.name,
            dev,
            parent: parent.clone(),
            state: AtomicU8::new(MgrState::Unknown as u8),
            compat_id: info.compat_id,
        },
        ops,
        caps,
        initial_header_size,
        skip_header,
        guard: OpsGuard::new(reg.owner.clone()),
        locked: AtomicBool::new(false),
        loaded: std::sync::Mutex::new(None),
        xlnx: std::sync::Mutex::new(Default::default()),
    });
    // The only time the backend is asked for its state (§3.1 step 6),
    // before the class device is added, as in the kernel.
    if caps.contains(MgrCaps::STATE) {
        let state = inner.ops.state(&inner.ctx).await;
        inner.set_state(state);
    }
    shared
        .core
        .device_add(&inner.dev)
        .await
        .map_err(|source| FpgaError::Core {
            object: inner.dev.name().to_string(),
            source,
        })?;
    lock(&shared.managers.members).push(Arc::clone(&inner));
    let weak = Arc::downgrade(&inner);
    let hook = reg.on_unload(move || {
        Box::pin(async move {
            if let Some(inner) = weak.upgrade() {
                FpgaManager { inner }.unregister().await;
            }
        })
    });
    inner.guard.set_exit_hook(hook);
    Ok(FpgaManager { inner })
}

impl FpgaManager {
    pub(crate) fn from_inner(inner: Arc<MgrInner>) -> FpgaManager {
        FpgaManager { inner }
    }

    /// What its ops are given: a backend's own tests call an op directly
    /// with it (`ops.write(mgr.ctx(), buf)`).
    pub fn ctx(&self) -> &ManagerCtx {
        &self.inner.ctx
    }

    /// The optional ops its backend has (asked once, at registration).
    pub fn caps(&self) -> MgrCaps {
        self.inner.caps
    }

    /// The image the last successful load recorded (a load whose
    /// [`ImageInfo::identity`] said what it was); `None` after a load
    /// that started without one, or failed.
    pub fn loaded_image(&self) -> Option<crate::LoadedImage> {
        lock(&self.inner.loaded).clone()
    }

    /// The registration name (sysfs `name`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The id (`fpga<id>`).
    pub fn id(&self) -> u32 {
        self.inner.id
    }

    /// The class device `fpga<id>`.
    pub fn device(&self) -> &Device {
        &self.inner.dev
    }

    /// The parent device.
    pub fn parent(&self) -> &Device {
        &self.inner.parent
    }

    /// The current state.
    pub fn state(&self) -> MgrState {
        self.inner.state()
    }

    /// The compatibility id given at registration.
    pub fn compat_id(&self) -> Option<CompatId> {
        self.inner.compat_id
    }

    /// Whether the manager was unregistered.
    pub fn is_unregistered(&self) -> bool {
        self.inner.guard.is_unregistered()
    }

    /// Whether someone holds the exclusive lock.
    pub fn is_locked(&self) -> bool {
        self.inner.locked.load(Ordering::Acquire)
    }

    /// sysfs `name`.
    pub fn sysfs_name(&self) -> String {
        format!("{}\n", self.inner.name)
    }

    /// sysfs `state`.
    pub fn sysfs_state(&self) -> String {
        format!("{}\n", self.state())
    }

    /// The status bits (`status` op); `ENOENT` where there is no op in
    /// Xilinx mode, empty in mainline.
    pub async fn status(&self) -> Result<MgrStatus> {
        self.inner.status().await
    }

    /// `fpga_mgr_get` of this manager: a device reference and a pin on its
    /// owner (`ENODEV` once it is unregistered or its owner is going).
    pub fn get(&self) -> Result<ManagerRef> {
        let inner = Arc::clone(&self.inner);
        let dev = inner.dev.clone();
        let pin = inner.guard.pin(inner.dev.name())?;
        Ok(ManagerRef { pin, dev, inner })
    }

    /// sysfs `status`: one line per set bit. With no `status` op, empty
    /// (mainline) or `ENOENT` (Xilinx mode).
    pub async fn sysfs_status(&self) -> Result<String> {
        self.inner.status().await.map(MgrStatus::sysfs)
    }

    /// `fpga_mgr_unregister`: calls `fpga_remove`, marks the manager
    /// unregistered (new gets and every later op of existing holders fail
    /// with `ENODEV`), and removes it from lookups and sysfs. Never waits
    /// for holders; the id is reused only once every holder has put it.
    pub async fn unregister(&self) {
        let inner = &self.inner;
        let remove = inner
            .caps
            .contains(MgrCaps::REMOVE)
            .then(|| inner.ops.fpga_remove(&inner.ctx));
        let detach = async {
            if let Some(shared) = inner.fpga.upgrade() {
                shared
                    .managers
                    .detach(&shared.core, inner, &inner.dev)
                    .await;
            }
        };
        inner
            .guard
            .unregister_once(inner.dev.name(), remove, detach)
            .await;
    }
}

impl Fpga {
    /// `fpga_mgr_get(dev)`: the first manager whose parent is `dev`, with a
    /// device reference and a pin on its owner (spec §3.11, §4.3). Not
    /// exclusive: see [`ManagerRef::lock`].
    pub fn mgr_get(&self, parent: &Device) -> Result<ManagerRef> {
        self.mgr_get_by(|m| &m.parent == parent, || parent.to_string())
    }

    /// `of_fpga_mgr_get(node)`: the first manager whose parent's firmware
    /// node is `node`.
    pub fn of_mgr_get(&self, node: &FwNode) -> Result<ManagerRef> {
        self.mgr_get_by(
            |m| m.parent.fwnode().as_ref() == Some(node),
            || node.path().to_string(),
        )
    }

    fn mgr_get_by(
        &self,
        pred: impl Fn(&MgrInner) -> bool,
        what: impl FnOnce() -> String,
    ) -> Result<ManagerRef> {
        // Lookup: a device reference (the class lock is the klist's).
        let (inner, dev) = {
            let members = lock(&self.shared.managers.members);
            let inner = members
                .iter()
                .find(|m| pred(m))
                .cloned()
                .ok_or_else(|| FpgaError::nodev(&what(), "no FPGA manager"))?;
            let dev = inner.dev.clone();
            (inner, dev)
        };
        // On failure `dev` drops here: the count is back where it was.
        let pin = inner.guard.pin(inner.dev.name())?;
        Ok(ManagerRef { pin, dev, inner })
    }
}

/// A reference to a manager from `get`: a device reference plus a pin on
/// the owner module. Dropping it is `fpga_mgr_put` (owner first, then the
/// device reference).
pub struct ManagerRef {
    pin: Option<PinToken>,
    dev: Device,
    inner: Arc<MgrInner>,
}

impl std::fmt::Debug for ManagerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManagerRef(fpga{})", self.inner.id)
    }
}

impl Drop for ManagerRef {
    fn drop(&mut self) {
        // fpga_mgr_put: the owner pin goes first, then the device reference.
        self.inner.guard.unpin(self.pin.take());
    }
}

impl ManagerRef {
    /// The manager.
    pub fn manager(&self) -> FpgaManager {
        FpgaManager {
            inner: Arc::clone(&self.inner),
        }
    }

    /// The class device (the reference this handle holds).
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// The current state.
    pub fn state(&self) -> MgrState {
        self.inner.state()
    }

    /// `fpga_mgr_lock`: exclusive use, as a guard whose drop unlocks.
    /// Never blocks: `EBUSY` if anyone (the caller included) holds it,
    /// `ENODEV` after unregister.
    pub fn lock(&self) -> Result<ManagerLock> {
        self.inner.try_lock()
    }

    /// sysfs `status` (see [`FpgaManager::sysfs_status`]).
    pub async fn status(&self) -> Result<MgrStatus> {
        self.inner.status().await
    }
}

/// The exclusive lock of a manager (`fpga_mgr_lock`); dropping it unlocks.
pub struct ManagerLock {
    inner: Arc<MgrInner>,
}

impl std::fmt::Debug for ManagerLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManagerLock(fpga{})", self.inner.id)
    }
}

impl Drop for ManagerLock {
    fn drop(&mut self) {
        self.inner.locked.store(false, Ordering::Release);
    }
}

impl ManagerLock {
    /// `fpga_mgr_load`: programs the image described by `info` (spec
    /// §3.4–§3.8). The state walks the load sequence and stops at the
    /// failing stage's error state.
    pub async fn load(&self, info: &mut ImageInfo) -> Result<()> {
        self.inner.load(info, None).await
    }

    /// [`load`](Self::load), reporting `(written, total)` as data goes out.
    pub async fn load_with_progress(
        &self,
        info: &mut ImageInfo,
        progress: Progress<'_>,
    ) -> Result<()> {
        self.inner.load(info, Some(progress)).await
    }

    /// The locked manager.
    pub fn manager(&self) -> FpgaManager {
        FpgaManager {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// Bytes of a segment the header assembly may copy (none of the data).
const BUFFER_AS_TABLE: usize = usize::MAX;

impl MgrInner {
    fn object(&self) -> &str {
        self.dev.name()
    }

    pub(crate) fn state(&self) -> MgrState {
        MgrState::from_u8(self.state.load(Ordering::Acquire))
    }

    fn set_state(&self, s: MgrState) {
        self.state.store(s as u8, Ordering::Release);
    }

    pub(crate) fn try_lock(self: &Arc<Self>) -> Result<ManagerLock> {
        if self.guard.is_unregistered() {
            return Err(FpgaError::nodev(self.object(), "unregistered"));
        }
        self.locked
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| FpgaError::busy(self.object(), "manager is in use (locked)"))?;
        Ok(ManagerLock {
            inner: Arc::clone(self),
        })
    }

    pub(crate) async fn status(&self) -> Result<MgrStatus> {
        if !self.caps.contains(MgrCaps::STATUS) {
            let xilinx = self
                .fpga
                .upgrade()
                .is_some_and(|f| f.xilinx.load(Ordering::Acquire));
            return if xilinx {
                Err(FpgaError::invalid_errno(
                    self.object(),
                    "no status op",
                    Errno::ENOENT,
                ))
            } else {
                Ok(MgrStatus::empty())
            };
        }
        let _t = self.guard.enter(self.object())?;
        Ok(self.ops.status(&self.ctx).await)
    }

    /// Runs one op through the guard, mapping its error.
    async fn call<T>(
        &self,
        op: &'static str,
        fut: impl std::future::Future<Output = std::result::Result<T, OpError>>,
    ) -> Result<T> {
        let _t = self.guard.enter(self.object())?;
        fut.await.map_err(|e| FpgaError::op(self.object(), op, e))
    }

    fn fail(&self, state: MgrState, e: FpgaError) -> Result<()> {
        self.set_state(state);
        Err(e)
    }

    pub(crate) async fn load(
        &self,
        info: &mut ImageInfo,
        progress: Option<Progress<'_>>,
    ) -> Result<()> {
        // Refuse before touching anything if the manager is gone.
        drop(self.guard.enter(self.object())?);
        // From here on what was loaded before is no longer known to be.
        *lock(&self.loaded) = None;
        self.load_paths(info, progress).await?;
        if let Some(id) = &info.identity {
            *lock(&self.loaded) = Some(crate::LoadedImage::now(id.clone(), info.flags.bits()));
        }
        Ok(())
    }

    async fn load_paths(&self, info: &mut ImageInfo, progress: Option<Progress<'_>>) -> Result<()> {
        info.header_size = self.initial_header_size;
        if let Some(sgt) = info.sgt.clone() {
            return self.load_sg(info, &sgt, progress).await;
        }
        if let Some(buf) = info.buf.clone().filter(|b| !b.is_empty()) {
            return self.load_buf(info, buf, progress).await;
        }
        if let Some(name) = info.firmware_name.clone() {
            return self.load_firmware(info, &name, progress).await;
        }
        Err(FpgaError::invalid(
            self.object(),
            "image info has no scatter table, buffer or firmware name",
        ))
    }

    async fn parse_header(
        &self,
        info: &mut ImageInfo,
        buf: &[u8],
    ) -> std::result::Result<(), OpError> {
        if !self.caps.contains(MgrCaps::PARSE_HEADER) {
            return Ok(());
        }
        let _t = self
            .guard
            .enter(self.object())
            .map_err(|_| OpError::new(Errno::ENODEV))?;
        self.ops.parse_header(&self.ctx, info, buf).await
    }

    async fn write_init(&self, info: &ImageInfo, buf: Option<&[u8]>) -> Result<()> {
        let buf = buf.unwrap_or(&[]);
        if !self.caps.contains(MgrCaps::WRITE_INIT) {
            drop(self.guard.enter(self.object())?);
            return Ok(());
        }
        self.call("write_init", self.ops.write_init(&self.ctx, info, buf))
            .await
    }

    async fn write(&self, buf: &[u8]) -> Result<()> {
        if !self.caps.contains(MgrCaps::WRITE) {
            return Err(FpgaError::op(
                self.object(),
                "write",
                OpError::new(Errno::EOPNOTSUPP),
            ));
        }
        self.call("write", self.ops.write(&self.ctx, buf)).await
    }

    /// §3.6: the contiguous sequence, or the scatter path for backends
    /// without `write`.
    async fn load_buf(
        &self,
        info: &mut ImageInfo,
        buf: Bytes,
        progress: Option<Progress<'_>>,
    ) -> Result<()> {
        if !self.caps.contains(MgrCaps::WRITE) {
            // One segment sharing the buffer: no copy.
            let sgt = ScatterTable::from_buffer(&buf, BUFFER_AS_TABLE);
            return self.load_sg(info, &sgt, progress).await;
        }
        let count = buf.len();
        self.set_state(MgrState::ParseHeader);
        let mut parsed = self
            .parse_header(info, &buf)
            .await
            .map_err(|e| FpgaError::op(self.object(), "parse_header", e));
        if info.header_size.saturating_add(info.data_size) > count {
            parsed = Err(FpgaError::invalid(
                self.object(),
                format!(
                    "data outruns image: header {} + data {} > {count} bytes",
                    info.header_size, info.data_size
                ),
            ));
        }
        if let Err(e) = parsed {
            return self.fail(MgrState::ParseHeaderErr, e);
        }
        self.set_state(MgrState::WriteInit);
        let init_buf = (info.header_size > 0).then_some(&buf[..]);
        if let Err(e) = self.write_init(info, init_buf).await {
            return self.fail(MgrState::WriteInitErr, e);
        }
        let mut data = &buf[..];
        if self.skip_header {
            data = &data[info.header_size..];
        }
        if info.data_size != 0 {
            data = &data[..info.data_size];
        }
        self.set_state(MgrState::Write);
        let total = data.len() as u64;
        if let Err(e) = self.write(data).await {
            return self.fail(MgrState::WriteErr, e);
        }
        if let Some(p) = progress {
            p(total, total);
        }
        self.complete(info).await
    }

    /// §3.5/§3.7: finds the `write_init` buffer, running `parse_header` on
    /// the first segment or on an assembled copy of the header.
    async fn sg_header(&self, info: &mut ImageInfo, sgt: &ScatterTable) -> Result<Option<Vec<u8>>> {
        // The header size the op saw in its last call, if it was called.
        let mut asked: Option<usize> = None;
        let mut result = match sgt.segments().first() {
            Some(seg) if seg.len() >= info.header_size => {
                asked = Some(info.header_size);
                self.parse_header(info, seg).await
            }
            _ => Err(OpError::new(Errno::EAGAIN)),
        };
        let mut assembled = None;
        loop {
            match result {
                Ok(()) => return Ok(assembled),
                Err(e) if e.errno == Errno::EAGAIN => {
                    let want = info.header_size;
                    if asked.is_some_and(|prev| want <= prev) {
                        return Err(FpgaError::invalid_errno(
                            self.object(),
                            format!("parse_header asked for more bytes without raising header_size ({want})"),
                            Errno::EFAULT,
                        ));
                    }
                    let Some(head) = sgt.head(want) else {
                        return Err(FpgaError::invalid_errno(
                            self.object(),
                            format!(
                                "header of {want} bytes is longer than the {}-byte image",
                                sgt.len()
                            ),
                            Errno::EFAULT,
                        ));
                    };
                    asked = Some(want);
                    result = self.parse_header(info, &head).await;
                    assembled = Some(head);
                }
                Err(e) => return Err(FpgaError::op(self.object(), "parse_header", e)),
            }
        }
    }

    /// §3.7: the scatter path.
    async fn load_sg(
        &self,
        info: &mut ImageInfo,
        sgt: &ScatterTable,
        progress: Option<Progress<'_>>,
    ) -> Result<()> {
        let short = info.header_size == 0 && !self.caps.contains(MgrCaps::PARSE_HEADER);
        let assembled = if short {
            None
        } else {
            self.set_state(MgrState::ParseHeader);
            match self.sg_header(info, sgt).await {
                Ok(a) => a,
                Err(e) => return self.fail(MgrState::ParseHeaderErr, e),
            }
        };
        self.set_state(MgrState::WriteInit);
        let init_buf: Option<&[u8]> = if info.header_size == 0 {
            None
        } else {
            let avail: &[u8] = match &assembled {
                Some(a) => a,
                None => sgt.segments().first().map_or(&[][..], |s| &s[..]),
            };
            if info.header_size > avail.len() {
                return self.fail(
                    MgrState::WriteInitErr,
                    FpgaError::invalid(
                        self.object(),
                        format!(
                            "header of {} bytes but write_init can be given only {}",
                            info.header_size,
                            avail.len()
                        ),
                    ),
                );
            }
            Some(avail)
        };
        if let Err(e) = self.write_init(info, init_buf).await {
            return self.fail(MgrState::WriteInitErr, e);
        }
        self.set_state(MgrState::Write);
        let written = if self.caps.contains(MgrCaps::WRITE_SG) {
            self.call("write_sg", self.ops.write_sg(&self.ctx, sgt))
                .await
                .map(|()| sgt.len() as u64)
        } else {
            self.write_chunks(info, sgt, progress).await
        };
        match written {
            Err(e) => return self.fail(MgrState::WriteErr, e),
            Ok(n) => {
                if let (Some(p), true) = (progress, self.caps.contains(MgrCaps::WRITE_SG)) {
                    p(n, n);
                }
            }
        }
        self.complete(info).await
    }

    /// Chunked `write` over the table (no `write_sg`): skip the header if
    /// asked, clip at `data_size`, stop at the first error.
    async fn write_chunks(
        &self,
        info: &ImageInfo,
        sgt: &ScatterTable,
        progress: Option<Progress<'_>>,
    ) -> Result<u64> {
        let mut skip = if self.skip_header {
            info.header_size
        } else {
            0
        };
        if skip > sgt.len() {
            return Err(FpgaError::invalid(
                self.object(),
                "header longer than the image",
            ));
        }
        let total = {
            let after_skip = (sgt.len() - skip) as u64;
            if info.data_size != 0 {
                after_skip.min(info.data_size as u64)
            } else {
                after_skip
            }
        };
        if !self.caps.contains(MgrCaps::WRITE) {
            return Err(FpgaError::op(
                self.object(),
                "write",
                OpError::new(Errno::EOPNOTSUPP),
            ));
        }
        // One ticket for the whole phase: the writes of one table are one
        // op in flight for an unregister to wait for, not one per segment
        // (a guard pass per 4 KiB segment was most of this path's cost).
        let _t = self.guard.enter(self.object())?;
        let mut sent: u64 = 0;
        for seg in sgt.segments() {
            let mut chunk: &[u8] = seg;
            if skip > 0 {
                let s = skip.min(chunk.len());
                chunk = &chunk[s..];
                skip -= s;
            }
            if chunk.is_empty() {
                continue;
            }
            if info.data_size != 0 {
                let left = info.data_size as u64 - sent;
                if left == 0 {
                    break;
                }
                chunk = &chunk[..chunk.len().min(left as usize)];
            }
            self.ops
                .write(&self.ctx, chunk)
                .await
                .map_err(|e| FpgaError::op(self.object(), "write", e))?;
            sent += chunk.len() as u64;
            if let Some(p) = progress {
                p(sent, total);
            }
            if info.data_size != 0 && sent == info.data_size as u64 {
                break;
            }
        }
        Ok(sent)
    }

    async fn complete(&self, info: &ImageInfo) -> Result<()> {
        self.set_state(MgrState::WriteComplete);
        if self.caps.contains(MgrCaps::WRITE_COMPLETE) {
            if let Err(e) = self
                .call("write_complete", self.ops.write_complete(&self.ctx, info))
                .await
            {
                return self.fail(MgrState::WriteCompleteErr, e);
            }
        } else {
            drop(self.guard.enter(self.object())?);
        }
        self.set_state(MgrState::Operating);
        Ok(())
    }

    /// §3.8: the firmware path.
    async fn load_firmware(
        &self,
        info: &mut ImageInfo,
        name: &str,
        progress: Option<Progress<'_>>,
    ) -> Result<()> {
        crate::firmware::check_name(self.object(), name)?;
        self.set_state(MgrState::FirmwareReq);
        let dirs = self
            .fpga
            .upgrade()
            .map(|f| lock(&f.firmware_path).clone())
            .unwrap_or_default();
        let data = match crate::firmware::read(&dirs, Path::new(name)) {
            Ok(d) => d,
            Err(source) => {
                return self.fail(
                    MgrState::FirmwareReqErr,
                    FpgaError::Firmware {
                        object: self.object().to_string(),
                        name: name.to_string(),
                        source,
                    },
                )
            }
        };
        self.load_buf(info, Bytes::from(data), progress).await
    }
}

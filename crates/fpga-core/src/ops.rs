//! What a backend provides: small traits, one capability set each, with
//! `mockall` mocks for unit tests (feature `mocks`).
//!
//! The kernel decides some paths by whether an op pointer is set, and an
//! absent op means the kernel's default behaviour. Here every optional op
//! has the kernel's default as its default body, and the capability set
//! that says which ops exist is written by [`manager_ops`](crate::manager_ops)
//! / [`bridge_ops`](crate::bridge_ops) from the methods an `impl` block
//! defines, so presence and body cannot disagree (spec `fpga.md` §3.2,
//! §5.1). A hand-written `caps()` is for test doubles that choose their
//! capabilities at run time.
//!
//! Every op gets the object it runs for ([`ManagerCtx`], [`BridgeCtx`]:
//! name, id, state, parent), the counterpart of the kernel's `mgr`/`bridge`
//! argument. The registrant's private data (`mgr->priv`) is the ops value
//! itself. The context is borrowed for the call and cannot be kept, so no
//! reference cycle can form.

use crate::error::{Errno, OpError};
use crate::image::{ImageInfo, ScatterTable};
use crate::state::{CompatId, MgrState, MgrStatus};
use async_trait::async_trait;
use devlink_core::Device;
use std::sync::atomic::{AtomicU8, Ordering};

/// What a manager op can see of the manager it runs for (the kernel's
/// `struct fpga_manager *mgr` argument).
pub struct ManagerCtx {
    pub(crate) id: u32,
    pub(crate) name: String,
    pub(crate) dev: Device,
    pub(crate) parent: Device,
    pub(crate) state: AtomicU8,
    pub(crate) compat_id: Option<CompatId>,
}

impl ManagerCtx {
    /// The registration name (sysfs `name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id: the class device is `fpga<id>`.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The class device (`fpga<id>`).
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// The device the manager was registered on.
    pub fn parent(&self) -> &Device {
        &self.parent
    }

    /// The state the op runs in (`write_init` runs in `WriteInit`, `write`
    /// in `Write`, and so on, as in the kernel).
    pub fn state(&self) -> MgrState {
        MgrState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// The compatibility id it was registered with.
    pub fn compat_id(&self) -> Option<CompatId> {
        self.compat_id
    }
}

impl std::fmt::Debug for ManagerCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ManagerCtx(fpga{}, {:?}, {})",
            self.id,
            self.name,
            self.state()
        )
    }
}

/// What a bridge op can see of the bridge it runs for (the kernel's
/// `struct fpga_bridge *bridge` argument).
pub struct BridgeCtx {
    pub(crate) id: u32,
    pub(crate) name: String,
    pub(crate) dev: Device,
    pub(crate) parent: Device,
}

impl BridgeCtx {
    /// The registration name (sysfs `name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id: the class device is `br<id>`.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The class device (`br<id>`).
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// The device the bridge was registered on.
    pub fn parent(&self) -> &Device {
        &self.parent
    }
}

impl std::fmt::Debug for BridgeCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BridgeCtx(br{}, {:?})", self.id, self.name)
    }
}

bitflags::bitflags! {
    /// The optional manager ops a backend implements.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct MgrCaps: u32 {
        /// `state`
        const STATE = 1 << 0;
        /// `status`
        const STATUS = 1 << 1;
        /// `parse_header`
        const PARSE_HEADER = 1 << 2;
        /// `write_init`
        const WRITE_INIT = 1 << 3;
        /// `write`
        const WRITE = 1 << 4;
        /// `write_sg`
        const WRITE_SG = 1 << 5;
        /// `write_complete`
        const WRITE_COMPLETE = 1 << 6;
        /// `fpga_remove`
        const REMOVE = 1 << 7;
    }
}

/// The low-level driver of an FPGA manager (`struct fpga_manager_ops`).
///
/// Write the `impl` under [`#[manager_ops]`](crate::manager_ops): it
/// derives [`caps`](Self::caps) from the ops you define. Only the ops in
/// `caps` are called; an op you leave out has the kernel's default, which
/// is also its default body here: `state` unknown, `status` empty,
/// `parse_header`, `write_init` and `write_complete` succeed, `write` and
/// `write_sg` fail with `EOPNOTSUPP` (with neither, nothing loads), and
/// `fpga_remove` does nothing.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FpgaManagerOps: Send + Sync + 'static {
    /// Which optional ops exist (written by `#[manager_ops]`).
    fn caps(&self) -> MgrCaps;
    /// `initial_header_size`: bytes the backend wants in `parse_header`
    /// and `write_init` (default 0).
    fn initial_header_size(&self) -> usize {
        0
    }
    /// `skip_header`: do not pass the header to `write` (default false).
    fn skip_header(&self) -> bool {
        false
    }
    /// `state`: asked once, at registration.
    async fn state(&self, _mgr: &ManagerCtx) -> MgrState {
        MgrState::Unknown
    }
    /// `status`: asked at each read of sysfs `status`.
    async fn status(&self, _mgr: &ManagerCtx) -> MgrStatus {
        MgrStatus::empty()
    }
    /// `parse_header`: may set `info.header_size` and `info.data_size`;
    /// returns `EAGAIN` after raising `header_size` to ask for more bytes.
    async fn parse_header(
        &self,
        _mgr: &ManagerCtx,
        _info: &mut ImageInfo,
        _buf: &[u8],
    ) -> Result<(), OpError> {
        Ok(())
    }
    /// `write_init`: the header bytes, or an empty slice when `header_size`
    /// is 0 (the kernel passes `(NULL, 0)`).
    async fn write_init(
        &self,
        _mgr: &ManagerCtx,
        _info: &ImageInfo,
        _buf: &[u8],
    ) -> Result<(), OpError> {
        Ok(())
    }
    /// `write`: a contiguous part of the image.
    async fn write(&self, _mgr: &ManagerCtx, _buf: &[u8]) -> Result<(), OpError> {
        Err(OpError::new(Errno::EOPNOTSUPP))
    }
    /// `write_sg`: the whole table, header included.
    async fn write_sg(&self, _mgr: &ManagerCtx, _sgt: &ScatterTable) -> Result<(), OpError> {
        Err(OpError::new(Errno::EOPNOTSUPP))
    }
    /// `write_complete`: success makes the manager `operating`.
    async fn write_complete(&self, _mgr: &ManagerCtx, _info: &ImageInfo) -> Result<(), OpError> {
        Ok(())
    }
    /// `fpga_remove`: put the FPGA in a safe state at unregister.
    async fn fpga_remove(&self, _mgr: &ManagerCtx) {}
}

bitflags::bitflags! {
    /// The optional bridge ops a backend implements.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct BridgeCaps: u32 {
        /// `enable_show`
        const ENABLE_SHOW = 1 << 0;
        /// `enable_set`
        const ENABLE_SET = 1 << 1;
        /// `fpga_bridge_remove`
        const REMOVE = 1 << 2;
    }
}

/// The low-level driver of an FPGA bridge (`struct fpga_bridge_ops`).
///
/// Write the `impl` under [`#[bridge_ops]`](crate::bridge_ops). Absent
/// ops have the kernel's defaults, also their default bodies: the bridge
/// reads as enabled, enabling and disabling succeed, removal does nothing.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FpgaBridgeOps: Send + Sync + 'static {
    /// Which optional ops exist (written by `#[bridge_ops]`).
    fn caps(&self) -> BridgeCaps;
    /// `enable_show`: whether traffic passes (read by sysfs `state`).
    async fn enable_show(&self, _bridge: &BridgeCtx) -> Result<bool, OpError> {
        Ok(true)
    }
    /// `enable_set`.
    async fn enable_set(&self, _bridge: &BridgeCtx, _enable: bool) -> Result<(), OpError> {
        Ok(())
    }
    /// `fpga_bridge_remove`.
    async fn fpga_bridge_remove(&self, _bridge: &BridgeCtx) {}
}

/// Region bridge discovery (the region's `get_bridges` callback): fills
/// the region's bridge list before programming, typically with
/// [`crate::Fpga::bridge_get_to_list`].
#[async_trait]
pub trait RegionOps: Send + Sync + 'static {
    /// Gets the bridges that gate `region` into `list`.
    async fn get_bridges(
        &self,
        region: &crate::FpgaRegion,
        list: &mut crate::BridgeList,
    ) -> crate::Result<()>;
}

//! What a backend provides: small traits, one capability set each, with
//! `mockall` mocks for unit tests (feature `mocks`). The kernel decides some paths by whether
//! an op pointer is set; here a backend says which optional ops it has
//! through `caps()`, and the core supplies the kernel's default for every
//! op it lacks (spec `fpga.md` §3.2, §5.1).

use crate::error::OpError;
use crate::image::{ImageInfo, ScatterTable};
use crate::state::{MgrState, MgrStatus};
use async_trait::async_trait;

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
/// Only the ops named in [`caps`](Self::caps) are ever called; for the
/// others the core uses the kernel's defaults (`write`/`write_sg` absent:
/// `EOPNOTSUPP`; others: success or "unknown").
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FpgaManagerOps: Send + Sync + 'static {
    /// Which optional ops exist.
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
    async fn state(&self) -> MgrState;
    /// `status`: asked at each read of sysfs `status`.
    async fn status(&self) -> MgrStatus;
    /// `parse_header`: may set `info.header_size` and `info.data_size`;
    /// returns `EAGAIN` after raising `header_size` to ask for more bytes.
    async fn parse_header(&self, info: &mut ImageInfo, buf: &[u8]) -> Result<(), OpError>;
    /// `write_init`: the header bytes, or an empty slice when `header_size`
    /// is 0 (the kernel passes `(NULL, 0)`).
    async fn write_init(&self, info: &ImageInfo, buf: &[u8]) -> Result<(), OpError>;
    /// `write`: a contiguous part of the image.
    async fn write(&self, buf: &[u8]) -> Result<(), OpError>;
    /// `write_sg`: the whole table, header included.
    async fn write_sg(&self, sgt: &ScatterTable) -> Result<(), OpError>;
    /// `write_complete`: success makes the manager `operating`.
    async fn write_complete(&self, info: &ImageInfo) -> Result<(), OpError>;
    /// `fpga_remove`: put the FPGA in a safe state at unregister.
    async fn fpga_remove(&self);
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
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FpgaBridgeOps: Send + Sync + 'static {
    /// Which optional ops exist.
    fn caps(&self) -> BridgeCaps;
    /// `enable_show`: whether traffic passes (read by sysfs `state`).
    async fn enable_show(&self) -> Result<bool, OpError>;
    /// `enable_set`.
    async fn enable_set(&self, enable: bool) -> Result<(), OpError>;
    /// `fpga_bridge_remove`.
    async fn fpga_bridge_remove(&self);
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

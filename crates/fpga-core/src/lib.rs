//! # fpga-core
//!
//! The Linux FPGA subsystem in user space, and the one reprogram engine
//! every backend runs.
//!
//! ## The engine
//!
//! [`reprogram`] is the safe sequence, written once: hold the region and
//! lock the manager (a busy target is refused before anything is touched),
//! take the region's users down consumers first, wait until every link
//! release has run, check that nothing leaked, load and verify, bring the
//! users back suppliers first. It is generic over two things:
//!
//! - the driver model, devlink-core's contract
//!   ([`DriverModel`](devlink_core::drive::DriverModel)): the in-process
//!   [`DriverCore`](devlink_core::DriverCore) or the running kernel;
//! - an [`ImageLoader`], how the image gets in: [`RegionLoader`] and
//!   [`ManagerLoader`] for a manager in this process (the simulator, the
//!   AXI HWICAP), the Xilinx `firmware` attribute or a configfs overlay on
//!   a live kernel (`backend-linux-sysfs`).
//!
//! Each step is a [`Step`] given to an [`Observer`] as it happens; a
//! failure is a [`ReprogramError`] that says at which [`Stage`], and
//! carries the users it left unbound as data. [`program`] is the plain
//! load (it refuses a target whose users are bound). [`ReadFpga`] reads
//! the managers, bridges and regions as an [`FpgaView`], on every backend.
//!
//! ```
//! use devlink_core::drive::DriverModel;
//! use fpga_core::{ImageLoader, LoadTarget, ReadFpga, ReprogramOptions, Step};
//!
//! /// Reprograms the first region of any backend.
//! async fn first_region<M: DriverModel, F: ReadFpga, L: ImageLoader>(
//!     model: &M,
//!     fpga: &F,
//!     loader_for: impl FnOnce(LoadTarget) -> L,
//! ) -> Result<(), Box<dyn std::error::Error>> {
//!     let view = fpga.fpga_view().await?;
//!     let region = view.regions.first().ok_or("no region")?;
//!     let target = view.region_target(region).ok_or("manager unknown")?;
//!     let show = |s: &Step| println!("{s:?}");
//!     let report =
//!         fpga_core::reprogram(model, &loader_for(target), &ReprogramOptions::default(), &show)
//!             .await?;
//!     println!("{} users back; the manager is {}", report.rebound.bound.len(), report.loaded.state);
//!     Ok(())
//! }
//! ```
//!
//! `examples/reprogram.rs` in the workspace runs this on the simulator and
//! on a kernel.
//!
//! ## The subsystem
//!
//! Managers load bitstreams through a backend's low-level ops
//! ([`FpgaManagerOps`]), bridges gate traffic while a region is
//! reprogrammed, and regions tie them together, with the kernel's states,
//! load sequence, sysfs strings and unwinding order (`spec/fpga.md`).
//! Managers, bridges and regions are class devices in a `devlink-core`
//! [`DriverCore`](devlink_core::DriverCore), owned by a
//! [`Module`](devlink_core::Module): a `get` pins the owner, and once the
//! owner is going, new gets fail cleanly with `ENODEV` and no backend op is
//! called after unregister (the §4.3 protocol that closes the race mainline
//! leaves open).
//!
//! Who calls it: backends register through a [`Registrar`] (the
//! `THIS_MODULE` counterpart); users get, lock and program through
//! [`Fpga`]. It never names a backend and spawns no tasks.

#![warn(missing_docs)]

// Under `--cfg loom` only the ops guard (and its errors) is built, with
// loom's atomics, for the model in `tests/loom_guard.rs`.
#[cfg(not(loom))]
mod bridge;
#[cfg(not(loom))]
pub mod engine;
mod error;
#[cfg(not(loom))]
mod firmware;
#[cfg(not(loom))]
mod fpga;
mod guard;
#[cfg(not(loom))]
mod image;
#[cfg(not(loom))]
mod loaders;
#[cfg(not(loom))]
mod manager;
#[cfg(not(loom))]
mod observe;
#[cfg(not(loom))]
mod of_region;
#[cfg(not(loom))]
mod ops;
#[cfg(not(loom))]
mod region;
#[cfg(all(feature = "serde", not(loom)))]
mod ser;
#[cfg(not(loom))]
mod state;
#[cfg(not(loom))]
mod view;
#[cfg(not(loom))]
mod xlnx;

#[cfg(not(loom))]
pub use bridge::{BridgeHold, BridgeList, FpgaBridge};
#[cfg(not(loom))]
pub use engine::{
    program, reprogram, ImageLoader, Journal, LoadFailed, LoadTarget, Loaded, ReprogramError,
    ReprogramOptions, ReprogramReport, Stage,
};
pub use error::{Errno, ErrorKind, FpgaError, OpError, Result};
#[cfg(not(loom))]
pub use firmware::MAX_NAME as MAX_FIRMWARE_NAME;
#[cfg(not(loom))]
pub use fpga::{Fpga, ManagerInfo, Registrar};
#[cfg(not(loom))]
pub use image::{ImageInfo, ScatterTable};
#[cfg(not(loom))]
pub use loaders::{ManagerLoader, RegionLoader};
#[cfg(not(loom))]
pub use manager::{FpgaManager, ManagerLock, ManagerRef, Progress};
#[cfg(not(loom))]
pub use observe::{ignore, Observer, Step};
#[cfg(not(loom))]
pub use of_region::{OfRegionDriver, OverlayAction, FPGA_REGION_COMPATIBLE};
#[cfg(not(loom))]
pub use ops::{BridgeCaps, FpgaBridgeOps, FpgaManagerOps, MgrCaps, RegionOps};
#[cfg(all(feature = "mocks", not(loom)))]
pub use ops::{MockFpgaBridgeOps, MockFpgaManagerOps};
#[cfg(not(loom))]
pub use region::{FpgaRegion, RegionHold, RegionInfo};
#[cfg(not(loom))]
pub use state::{CompatId, ImageFlags, MgrState, MgrStatus};
#[cfg(not(loom))]
pub use view::{BridgeView, FpgaView, ManagerView, ReadFpga, RegionView};
#[cfg(not(loom))]
pub use xlnx::MAX_KEY as MAX_XLNX_KEY;
mod sync;

/// The ops guard, exposed only to the loom model.
#[cfg(loom)]
#[doc(hidden)]
pub use guard::{OpTicket, OpsGuard};

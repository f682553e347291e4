//! # fpga-core
//!
//! The Linux FPGA subsystem in user space: managers that load bitstreams
//! through a backend's low-level ops, bridges that gate traffic while a
//! region is reprogrammed, and regions that tie them together, with the
//! kernel's states, load sequence, sysfs strings and unwinding order
//! (`spec/fpga.md`). Managers, bridges and regions are class devices in a
//! `devlink-core` [`DriverCore`](devlink_core::DriverCore), owned by a
//! [`Module`](devlink_core::Module): a `get` pins the owner, and once the
//! owner is going, new gets fail cleanly with `ENODEV` and no backend op is
//! called after unregister (the §4.3 protocol that closes the race mainline
//! leaves open).
//!
//! Who calls it: backends register through a [`Registrar`] (the
//! `THIS_MODULE` counterpart); users get, lock and program through
//! [`Fpga`]. It never names a backend and spawns no tasks.

#![warn(missing_docs)]

mod bridge;
mod error;
mod firmware;
mod fpga;
mod guard;
mod image;
mod manager;
mod observe;
mod of_region;
mod ops;
mod region;
mod reprogram;
mod state;
mod xlnx;

pub use bridge::{BridgeHold, BridgeList, FpgaBridge};
pub use error::{Errno, ErrorKind, FpgaError, OpError, Result};
pub use firmware::MAX_NAME as MAX_FIRMWARE_NAME;
pub use fpga::{Fpga, ManagerInfo, Registrar};
pub use image::{ImageInfo, ScatterTable};
pub use manager::{FpgaManager, ManagerLock, ManagerRef, Progress};
pub use observe::{Observer, Step};
pub use of_region::{OfRegionDriver, OverlayAction, FPGA_REGION_COMPATIBLE};
pub use ops::{
    BridgeCaps, FpgaBridgeOps, FpgaManagerOps, MgrCaps, MockFpgaBridgeOps, MockFpgaManagerOps,
    RegionOps,
};
pub use region::{FpgaRegion, RegionHold, RegionInfo};
pub use reprogram::{reprogram, ReprogramError, ReprogramReport};
pub use state::{CompatId, ImageFlags, MgrState, MgrStatus};
pub use xlnx::MAX_KEY as MAX_XLNX_KEY;

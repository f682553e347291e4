//! # backend-linux-sysfs
//!
//! The real kernel's driver model, read through `/sys`: devices with bus,
//! driver, parent and firmware node; every `/sys/class/devlink` entry with
//! all its attributes and its `supplier`/`consumer` ends;
//! `waiting_for_supplier`; the FPGA manager, bridge and region classes.
//! Strings map to the enums the core crates use, and an unknown string is
//! an error naming the file and the text, never a panic or a silent
//! default. Every path hangs off a [`SysfsRoot`], so tests run on fixture
//! trees and the same code runs on a real machine.
//!
//! ```
//! use backend_linux_sysfs::{Snapshot, SysfsRoot};
//! # let dir = tempfile::tempdir().unwrap();
//! # std::fs::create_dir_all(dir.path().join("class/devlink")).unwrap();
//! let snap = Snapshot::read(&SysfsRoot::at(dir.path())).unwrap();
//! for link in snap.links.values() {
//!     println!("{} is {}", link.name, link.status);
//! }
//! ```
//!
//! Driving: [`Kernel`] (bind and unbind in a safe order, the settle
//! wait), [`XlnxManager`] and [`XlnxOps`] (loads through the Xilinx
//! `firmware` attribute), [`Overlays`] (configfs), and
//! [`reprogram_region`] (one region in the order of spec `uio.md` §3.6).
//! The real-kernel lab (`cargo xtask lab`) runs these against Linux 6.12.

#![warn(missing_docs)]

mod attr;
mod drive;
mod error;
mod io;
mod lock;
mod overlay;
mod query;
mod reprogram;
mod root;
mod scan;
mod xlnx;

pub use attr::AutoRemove;
pub use drive::{Kernel, Settle, Unbound};
pub use error::{Result, SysfsError};
pub use io::{syscalls, Syscalls};
pub use lock::{safe_name, ManagerLock, NAME_MAX};
pub use overlay::{OverlaySlot, Overlays};
pub use query::Missing;
pub use reprogram::{reprogram_region, Load, RegionPlan, RegionReport, Step};
pub use root::SysfsRoot;
pub use scan::{Snapshot, SysBridge, SysDevice, SysLink, SysManager, SysRegion, SysUio};
pub use xlnx::{LoadReport, StagedFile, XlnxManager, XlnxOps};

/// The attribute parsers, public for fuzzing and for tools that read one
/// file at a time.
pub mod parse {
    pub use crate::attr::{
        auto_remove_on, bool01, bridge_state, compat_id, hex_u64, link_status, mgr_state,
        mgr_status, name, one_line, overlay_path, overlay_status, xlnx_flags,
    };
}

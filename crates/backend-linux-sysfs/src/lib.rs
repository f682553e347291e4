//! # backend-linux-sysfs
//!
//! The running kernel's driver model and FPGA classes, read and driven
//! through `/sys`, configfs and the firmware directory, as a backend of
//! the workspace's contracts: [`Kernel`] implements devlink-core's
//! [`DriverModel`](devlink_core::drive::DriverModel) (a
//! [`Topology`](devlink_core::Topology) read out of sysfs, unbind and bind
//! through the bus driver's files, the settle wait) and fpga-core's
//! [`ReadFpga`](fpga_core::ReadFpga); [`FirmwareLoader`] (the Xilinx
//! `firmware` attribute) and [`OverlayLoader`] (a configfs overlay) are
//! the reprogram engine's [`ImageLoader`](fpga_core::ImageLoader)s. The
//! queries and the reprogram sequence are the cores', the same on every
//! backend.
//!
//! ```
//! use backend_linux_sysfs::{Kernel, SysfsRoot};
//! # let dir = tempfile::tempdir().unwrap();
//! # std::fs::create_dir_all(dir.path().join("class/devlink")).unwrap();
//! let k = Kernel::new(SysfsRoot::at(dir.path())); // SysfsRoot::default() is /sys
//! let topo = k.read_topology().unwrap();
//! for link in topo.links() {
//!     println!("{} is {}", link.name, link.status);
//! }
//! ```
//!
//! Strings map to the enums the core crates use, and an unknown string is
//! an error naming the file and the text, never a panic or a silent
//! default. Every path hangs off a [`SysfsRoot`], so tests run on fixture
//! trees and the same code runs on a real machine. The real-kernel lab
//! (`cargo xtask lab`) runs all of it against Linux 6.12.

#![warn(missing_docs)]

mod attr;
pub mod capture;
mod drive;
mod error;
mod fpga;
pub mod identity;
mod io;
mod journal;
pub mod kmsg;
mod load;
mod lock;
mod overlay;
mod override_bind;
mod root;
mod scan;
mod settle;
pub mod uevent;
mod xlnx;

pub use attr::AutoRemove;
pub use capture::{capture, Captured};
pub use drive::Kernel;
pub use error::{Result, SysfsError};
pub use fpga::read_fpga;
pub use io::{syscalls, Syscalls};
pub use journal::{
    journal_of, journalled_managers, recover, remove_stale_staged, FileJournal, Interrupted,
    JournalStage, Recovered,
};
pub use load::{FirmwareLoader, FirmwareSession, OverlayLoader, OverlaySession};
pub use lock::{safe_name, ManagerLockFile, NAME_MAX};
pub use overlay::{
    resolve_target, resolved_targets, targets_of, AppliedOverlay, OverlayRemoval, OverlaySlot,
    Overlays,
};
pub use override_bind::OverrideBinding;
pub use root::{SysfsRoot, NAME_PREFIX};
pub use scan::read_topology;
pub use xlnx::{LoadReport, StagedFile, XlnxManager, XlnxOps};

/// The attribute parsers, public for fuzzing and for tools that read one
/// file at a time.
pub mod parse {
    pub use crate::attr::{
        auto_remove_on, bool01, bridge_state, compat_id, link_status, mgr_state, mgr_status, name,
        one_line, overlay_path, overlay_status, xlnx_flags,
    };
}

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
